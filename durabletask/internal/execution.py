"""The engine-owned state of one orchestration execution, and the verbs the replay engine applies to it.

One :class:`Execution` exists per orchestrator work item. It is the single owner of everything that changes
while history replays: the clock, the replay flag, pending actions and the tasks waiting on them, external
events, the suspension buffer, the generator and the outcome. The user-facing context
(:mod:`durabletask.internal.orchestration_context`) only forwards the public API calls to it.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import GeneratorType
from typing import Any

from durabletask import task
from durabletask.entities import EntityInstanceId, EntityLock, EntityOperationFailedException
from durabletask.internal import helpers as pbh
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.actions import CONFIRMATIONS, ActionKind, PendingAction, lock_set_key
from durabletask.internal.completion import Completion
from durabletask.internal.entity_calls import EntityCall, EntityCalls
from durabletask.internal.external_events import ExternalEventInbox
from durabletask.internal.registry import Registry
from durabletask.internal.timers import next_chunk_fire_at
from durabletask.task import TimerTask

logger = logging.getLogger("durabletask.replay")

_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_OID, "9e952958-5e33-4daf-827f-2fa12937b875")
_UUID_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(slots=True, eq=False)
class _Call:
    """An activity or sub-orchestration call waiting for its completion event."""

    task: task.CompletableTask[Any]
    action: PendingAction
    expected_type: Any
    last_failure: tuple[str, pb.TaskFailureDetails] | None = None  # kept while a retry waits
    timeout_timer: TimerTask | None = None  # the timer racing the call (extension: timeout=)


@dataclass(slots=True, eq=False)
class _Timer:
    """A timer chunk waiting for its TimerFired event."""

    task: task.TimerTask
    final_fire_at: datetime | None  # set when the timer is written as several chunks
    retry_of: _Call | None  # the call this timer delays the next attempt of
    timeout_of: _Call | None = None  # the call this timer bounds (extension: timeout=)


def _history_mismatch(event_id: int, expected: str, actual: str) -> task.NonDeterminismError:
    return task.NonDeterminismError(
        f"Non-deterministic orchestration: a previous execution called {expected} with ID={event_id}, but the "
        f"current execution is instead trying to call {actual}. This happens when an orchestrator has "
        f"non-deterministic logic or its code changed after the instance started running.")


def _missing_action(event_id: int, expected: str) -> task.NonDeterminismError:
    return task.NonDeterminismError(
        f"Non-deterministic orchestration: a previous execution called {expected} with ID={event_id}, but the "
        f"current execution doesn't have this action with this ID (it scheduled nothing there). This happens "
        f"when an orchestrator has non-deterministic logic or its code changed after the instance started running.")


class Execution:
    """State of one orchestration execution while the replay engine drives it."""

    def __init__(self, instance_id: str, registry: Registry, maximum_timer_interval: timedelta | None) -> None:
        self.instance_id = instance_id
        self.registry = registry
        self.maximum_timer_interval = maximum_timer_interval
        self.is_replaying = True
        self.current_utc_datetime = datetime(1000, 1, 1)
        self.version: str | None = None
        self.parent_instance_id: str | None = None
        self.encoded_custom_status: str | None = None
        self.converter = registry.data_converter
        self.completion = Completion(self.converter, registry.exception_properties_provider)
        self._sequence_number = 0
        self._new_uuid_counter = 0
        self._actions: dict[int, PendingAction] = {}
        self._pending: dict[int, _Call | _Timer] = {}
        self._cancelled_timer_ids: set[int] = set()
        self._abandoned_call_ids: set[int] = set()  # calls that timed out: their late results are dropped
        self._inbox = ExternalEventInbox(self.converter)
        self.entities = EntityCalls()
        self._generator: Generator[task.Task[Any], Any, Any] | None = None
        self._awaited: task.Task[Any] | None = None
        self._is_suspended = False
        self._suspended_events: list[pb.HistoryEvent] = []
        self._lock_context: task.OrchestrationContext | None = None

    # ------------------------------------------------------------------------------ ids and values

    def next_sequence_number(self) -> int:
        """Allocate the next action id."""
        self._sequence_number += 1
        return self._sequence_number

    def new_uuid(self) -> str:
        """A name-based UUID that is the same on every replay."""
        name = f"{self.instance_id}_{self.current_utc_datetime.strftime(_UUID_TIME_FORMAT)}_{self._new_uuid_counter}"
        self._new_uuid_counter += 1
        return str(uuid.uuid5(_UUID_NAMESPACE, name))

    def set_custom_status(self, custom_status: Any) -> None:
        """Record the custom status sent with this work item's answer."""
        self.encoded_custom_status = self.converter.serialize(custom_status)

    # ---------------------------------------------------------------------- scheduling (from the context)

    def call_activity(self, name: str, input: Any, tags: dict[str, str] | None,
                      retry_policy: task.RetryPolicy | None, return_type: Any,
                      timeout: timedelta | None = None) -> task.CompletableTask[Any]:
        """Schedule an activity; the task completes with its result."""
        action_id = self.next_sequence_number()
        action = PendingAction(action_id, ActionKind.SCHEDULE_TASK, name, self.converter.serialize(input), tags=tags)
        return self._schedule_call(action, retry_policy, return_type, is_sub_orch=False, timeout=timeout)

    def call_sub_orchestrator(self, name: str, input: Any, instance_id: str | None, version: str | None,
                              retry_policy: task.RetryPolicy | None, return_type: Any,
                              timeout: timedelta | None = None) -> task.CompletableTask[Any]:
        """Start a sub-orchestration (default id derived from ours, default version from the worker)."""
        action_id = self.next_sequence_number()
        if not instance_id:
            instance_id = pbh.derive_child_instance_id(self.instance_id, action_id)
        if not version:
            versioning = self.registry.versioning
            version = versioning.default_version if versioning is not None else None
        action = PendingAction(action_id, ActionKind.CREATE_SUB_ORCHESTRATION, name, self.converter.serialize(input),
                               instance_id=instance_id, version=version)
        return self._schedule_call(action, retry_policy, return_type, is_sub_orch=True, timeout=timeout)

    def _schedule_call(self, action: PendingAction, retry_policy: task.RetryPolicy | None, return_type: Any,
                       is_sub_orch: bool, timeout: timedelta | None = None) -> task.CompletableTask[Any]:
        call_task: task.CompletableTask[Any]
        if retry_policy is None:
            call_task = task.CompletableTask(expected_type=return_type)
        else:
            call_task = task.RetryableTask(retry_policy, action, self.current_utc_datetime, is_sub_orch,
                                           expected_type=return_type)
            call_task._use_clock(lambda: self.current_utc_datetime)
        call = _Call(call_task, action, return_type)
        self._track_call(call)
        if timeout is not None:
            if timeout <= timedelta(0):
                raise ValueError("timeout must be a positive timedelta")
            call.timeout_timer = self.create_timer(timeout, timeout_of=call)
        return call_task

    def _track_call(self, call: _Call) -> None:
        """Add (or, for a retry, add again under the first attempt's id) a call's action and task.

        Every attempt of a retried call re-uses the first attempt's action id (and a sub-orchestration's
        instance id), as the published SDK does, so a history written by either SDK replays on the other.
        """
        self._actions[call.action.id] = call.action
        self._pending[call.action.id] = call

    def create_timer(self, fire_at: datetime | timedelta, retry_of: _Call | None = None,
                     timeout_of: _Call | None = None) -> task.TimerTask:
        """A durable timer; one longer than the maximum interval is written as a chain of chunks."""
        if isinstance(fire_at, timedelta):
            final_fire_at = self.current_utc_datetime + fire_at
        elif isinstance(fire_at, datetime):
            final_fire_at = pbh.to_naive_utc(fire_at)
        else:
            raise TypeError(f"create_timer() expects a datetime or a timedelta, got '{type(fire_at).__name__}'.")
        first_fire_at = next_chunk_fire_at(self.current_utc_datetime, final_fire_at, self.maximum_timer_interval)
        chunked = first_fire_at != final_fire_at
        timer = _Timer(task.TimerTask(), final_fire_at if chunked else None, retry_of, timeout_of)
        self._add_timer_chunk(timer, first_fire_at)
        return timer.task

    def _add_timer_chunk(self, timer: _Timer, fire_at: datetime) -> None:
        timer_id = self.next_sequence_number()
        self._actions[timer_id] = PendingAction(timer_id, ActionKind.CREATE_TIMER, fire_at=fire_at)
        self._pending[timer_id] = timer

        def cancel() -> None:
            self._actions.pop(timer_id, None)
            if self._pending.pop(timer_id, None) is not None:
                self._cancelled_timer_ids.add(timer_id)

        timer.task.set_cancel_handler(cancel)

    def send_event(self, instance_id: str, event_name: str, data: Any) -> None:
        """Add a SendEvent action."""
        action_id = self.next_sequence_number()
        self._actions[action_id] = PendingAction(action_id, ActionKind.SEND_EVENT, event_name,
                                                 self.converter.serialize(data), instance_id=instance_id)

    def call_entity(self, entity_id: EntityInstanceId, operation: str, input: Any,
                    return_type: Any) -> task.CompletableTask[Any]:
        """Send an entity an operation call; the task completes with the operation's result."""
        self.entities.section.check_call(entity_id, one_way=False)
        action_id = self.next_sequence_number()
        request_id = self.new_uuid()
        message = pbh.new_call_entity_message(request_id, self.instance_id, str(entity_id), operation,
                                              self.converter.serialize(input))
        self._actions[action_id] = PendingAction(action_id, ActionKind.CALL_ENTITY, operation,
                                                 instance_id=str(entity_id), entity_message=message)
        call_task: task.CompletableTask[Any] = task.CompletableTask(expected_type=return_type)
        self.entities.add_call(action_id, request_id, EntityCall(call_task, entity_id, operation, return_type))
        return call_task

    def signal_entity(self, entity_id: EntityInstanceId, operation: str, input: Any,
                      signal_time: datetime | None) -> None:
        """Send an entity a one-way operation (delivered at ``signal_time`` when given)."""
        self.entities.section.check_call(entity_id, one_way=True)
        action_id = self.next_sequence_number()
        message = pbh.new_signal_entity_message(self.new_uuid(), str(entity_id), operation,
                                                self.converter.serialize(input), signal_time)
        self._actions[action_id] = PendingAction(action_id, ActionKind.SIGNAL_ENTITY, operation,
                                                 instance_id=str(entity_id), entity_message=message)

    def lock_entities(self, entities: list[EntityInstanceId],
                      context: task.OrchestrationContext) -> task.CompletableTask[EntityLock]:
        """Ask for the locks of ``entities``; the task completes with the :class:`EntityLock` of ``context``
        once all are held."""
        section = self.entities.section
        section.check_enter()
        entity_ids = [EntityInstanceId.parse(str(e)) for e in entities]
        if not entity_ids:
            raise ValueError("lock_entities() needs at least one entity id.")
        action_id = self.next_sequence_number()
        section_id = self.new_uuid()
        lock_set = [str(e) for e in section.enter(section_id, entity_ids)]
        message = pbh.new_lock_request_message(section_id, self.instance_id, lock_set)
        self._actions[action_id] = PendingAction(action_id, ActionKind.LOCK_ENTITIES,
                                                 instance_id=lock_set_key(lock_set), entity_message=message)
        lock_task: task.CompletableTask[EntityLock] = task.CompletableTask()
        self._lock_context = context
        self.entities.add_lock(action_id, section_id, lock_task)
        return lock_task

    def exit_critical_section(self) -> None:
        """Release the locks held (one unlock message per entity); nothing when no section is held."""
        section = self.entities.section
        if not section.is_active:
            return
        section_id, locked = section.leave()
        for entity_id in locked:
            action_id = self.next_sequence_number()
            message = pbh.new_unlock_message(section_id, self.instance_id, str(entity_id))
            self._actions[action_id] = PendingAction(action_id, ActionKind.UNLOCK_ENTITY,
                                                     instance_id=str(entity_id), entity_message=message)

    def wait_for_external_event(self, name: str, data_type: Any) -> task.CancellableTask[Any]:
        """A task completed by the next event named ``name``."""
        return self._inbox.wait(name, data_type)

    def continue_as_new(self, new_input: Any, save_events: bool, new_version: str | None) -> None:
        """Record a continue-as-new outcome."""
        self.completion.continue_as_new(new_input, save_events, new_version)

    # --------------------------------------------------------------------------------- the generator

    def start(self, returned: Any) -> None:
        """Take what the orchestrator function returned: run a generator up to its first yield, or complete."""
        if inspect.iscoroutine(returned) or inspect.isasyncgen(returned):
            kind = type(returned).__name__
            if inspect.iscoroutine(returned):
                returned.close()  # never awaited on purpose: no "never awaited" warning later
            raise TypeError(f"The orchestrator returned a {kind}: orchestrator functions must be generator "
                            f"functions ('def' with 'yield'), not 'async def' functions.")
        if not isinstance(returned, GeneratorType):
            self.completion.complete(returned)
            return
        self._generator = returned
        try:
            self._awaited = self._check_yielded(next(returned))
        except StopIteration as stop:
            self.completion.complete(stop.value)
            return
        self._drive()

    def _drive(self) -> None:
        """Resume the generator while the task it waits for is complete."""
        generator = self._generator
        while (not self.completion.is_complete and generator is not None and self._awaited is not None
               and self._awaited.is_complete):
            awaited = self._awaited
            try:
                if awaited.is_failed:
                    yielded = generator.throw(awaited.get_exception())
                else:
                    yielded = generator.send(awaited.get_result())
            except StopIteration as stop:
                self._generator = None
                self.completion.complete(stop.value)
                return
            self._awaited = self._check_yielded(yielded)

    @staticmethod
    def _check_yielded(value: Any) -> task.Task[Any]:
        if not isinstance(value, task.Task):
            raise TypeError(f"Orchestrator functions may only yield durable tasks (from the context, when_all or "
                            f"when_any); got a value of type '{type(value).__name__}'.")
        return value

    # -------------------------------------------------------------------------------- history events

    def confirm_action(self, event: pb.HistoryEvent, event_field: str) -> None:
        """A TaskScheduled/TimerCreated/... event confirms the action with its id, which must match."""
        spec = CONFIRMATIONS[event_field]
        action = self._actions.pop(event.eventId, None)
        if action is None:
            raise _missing_action(event.eventId, spec.describe_event(event))
        if action.kind is not spec.kind or not spec.matches(action, spec.read_event(event)):
            raise _history_mismatch(event.eventId, spec.describe_event(event), action.describe())
        if action.kind is ActionKind.CALL_ENTITY:
            self.entities.call_confirmed(action.id, event.entityOperationCalled.requestId)
        elif action.kind is ActionKind.LOCK_ENTITIES:
            self.entities.lock_confirmed(action.id, event.entityLockRequested.criticalSectionId)

    def confirm_unlocks(self, section_id: str) -> None:
        """An EntityUnlockSent event confirms the unlock actions of its critical section (matched by the
        section's id, as the published SDK does)."""
        for action_id, action in list(self._actions.items()):
            message = action.entity_message
            if action.kind is ActionKind.UNLOCK_ENTITY and message is not None \
                    and message.entityUnlockSent.criticalSectionId == section_id:
                del self._actions[action_id]

    def complete_entity_call(self, request_id: str, payload: str | None) -> None:
        """An entity operation this orchestration called succeeded: complete its task and resume."""
        call = self._take_entity_call(request_id, "entityOperationCompleted")
        if call is None:
            return
        self.entities.section.answered(call.entity_id)
        call.task.complete(self.converter.deserialize(payload or None, call.expected_type))
        self._drive()

    def fail_entity_call(self, request_id: str, details: pb.TaskFailureDetails) -> None:
        """An entity operation this orchestration called failed: fail its task with
        :class:`EntityOperationFailedException` and resume."""
        call = self._take_entity_call(request_id, "entityOperationFailed")
        if call is None:
            return
        self.entities.section.answered(call.entity_id)
        failure = EntityOperationFailedException(call.entity_id, call.operation, details)
        call.task.fail(str(failure), failure)
        self._drive()

    def grant_locks(self, section_id: str) -> None:
        """All locks of a critical section are held: complete the lock task with the EntityLock and resume."""
        lock_task = self.entities.take_lock(section_id)
        if lock_task is None or self._lock_context is None:
            level = logging.DEBUG if self.is_replaying else logging.WARNING
            logger.log(level, "%s: Ignoring unexpected entityLockGranted event for critical section '%s'.",
                       self.instance_id, section_id)
            return
        self.entities.section.granted()
        lock_task.complete(EntityLock(self._lock_context))
        self._drive()

    def _take_entity_call(self, request_id: str, event_field: str) -> EntityCall | None:
        call = self.entities.take_call(request_id)
        if call is None:
            level = logging.DEBUG if self.is_replaying else logging.WARNING
            logger.log(level, "%s: Ignoring unexpected %s event with request ID = %s.", self.instance_id,
                       event_field, request_id)
        return call

    def complete_task(self, task_id: int, payload: str | None, event_field: str) -> None:
        """An activity or sub-orchestration completed: resolve its task and resume the generator."""
        pending = self._take_pending(task_id, event_field)
        if pending is None:
            return
        expected_type = pending.expected_type if isinstance(pending, _Call) else None
        pending.task.complete(self.converter.deserialize(payload, expected_type))
        if isinstance(pending, _Call):
            self._stop_timeout(pending)
        self._drive()

    def fail_task(self, task_id: int, details: pb.TaskFailureDetails, message: str, event_field: str) -> None:
        """An activity or sub-orchestration failed: retry it if its policy says so, else fail its task."""
        pending = self._take_pending(task_id, event_field)
        if pending is None:
            return
        if isinstance(pending, _Call) and self._retry_later(pending, message, details):
            return
        self._fail_call(pending, message, details)

    def _fail_call(self, pending: _Call | _Timer, message: str, details: pb.TaskFailureDetails) -> None:
        pending.task.fail(message, details)
        if isinstance(pending, _Call):
            self._stop_timeout(pending)
        self._drive()

    def _stop_timeout(self, call: _Call) -> None:
        if call.timeout_timer is not None:
            call.timeout_timer.cancel()

    def _retry_later(self, call: _Call, message: str, details: pb.TaskFailureDetails) -> bool:
        """The one place deciding retries: schedule a back-off timer if the call's policy allows another try.

        Never for a failure marked non-retriable, or whose error type the policy excludes
        (``non_retryable_error_types``)."""
        retryable = call.task
        if not isinstance(retryable, task.RetryableTask) or details.isNonRetriable:
            return False
        if retryable.excludes(task.failure_details_from_proto(details)):
            return False
        delay = retryable.compute_next_delay()
        if delay is None:
            return False
        retryable.increment_attempt_count()
        call.last_failure = (message, details)
        self.create_timer(delay, retry_of=call)
        return True

    def _retry_now(self, call: _Call) -> None:
        """A back-off timer fired: attempt again, unless the retry timeout passed meanwhile (then the call fails
        with its last failure, as the published SDK's replay does)."""
        if call.task.is_complete:
            return  # timed out while waiting
        retryable = call.task
        if isinstance(retryable, task.RetryableTask) and retryable.retry_timeout_passed(self.current_utc_datetime) \
                and call.last_failure is not None:
            self._fail_call(call, *call.last_failure)
            return
        self._track_call(call)

    def _time_out(self, call: _Call) -> None:
        """A call's timeout timer fired first: fail its task; a result arriving later is dropped."""
        if call.task.is_complete:
            return
        self._pending.pop(call.action.id, None)
        self._abandoned_call_ids.add(call.action.id)
        timeout = TimeoutError(f"{call.action.describe()} did not complete before its timeout.")
        call.task.fail(f"{self.instance_id}: {call.action.describe()} timed out.", pbh.new_failure_details(timeout))
        self._drive()

    def fire_timer(self, timer_id: int, fired_at: datetime) -> None:
        """A timer chunk fired: create the next chunk, retry the call it delayed, or complete the timer."""
        pending = self._pending.pop(timer_id, None)
        if not isinstance(pending, _Timer):
            if timer_id not in self._cancelled_timer_ids:
                self._log_unexpected("timerFired", timer_id)
            return
        if self.completion.is_complete:
            return
        if pending.final_fire_at is not None and fired_at < pending.final_fire_at:
            self._add_timer_chunk(pending, next_chunk_fire_at(fired_at, pending.final_fire_at,
                                                              self.maximum_timer_interval))
            return
        if not pending.task.is_complete:
            pending.task.complete(None)
        if pending.retry_of is not None:
            self._retry_now(pending.retry_of)
        elif pending.timeout_of is not None:
            self._time_out(pending.timeout_of)
        else:
            self._drive()

    def raise_event(self, name: str, payload: str | None) -> None:
        """An external event arrived: hand it to a waiting task (and resume), or buffer it."""
        if self._inbox.deliver(name, payload, accept=not self.completion.is_complete):
            self._drive()

    def _take_pending(self, task_id: int, event_field: str) -> _Call | _Timer | None:
        pending = self._pending.pop(task_id, None)
        if pending is None and task_id not in self._abandoned_call_ids:
            self._log_unexpected(event_field, task_id)
        return pending

    def _log_unexpected(self, event_field: str, task_id: int) -> None:
        """A completion for a task id this execution is not waiting for (the published SDK logs and skips it)."""
        level = logging.DEBUG if self.is_replaying else logging.WARNING
        logger.log(level, "%s: Ignoring unexpected %s event with ID = %d.", self.instance_id, event_field, task_id)

    # ---------------------------------------------------------------------------- suspend / terminate

    def buffer_if_suspended(self, event: pb.HistoryEvent) -> bool:
        """Keep ``event`` for later while the execution is suspended; True when it was kept."""
        if self._is_suspended:
            self._suspended_events.append(event)
        return self._is_suspended

    def suspend(self) -> None:
        """Start buffering events."""
        self._is_suspended = True

    def resume(self) -> list[pb.HistoryEvent]:
        """Stop buffering; returns the buffered events, to be applied now in order."""
        if not self._is_suspended:
            return []
        self._is_suspended = False
        buffered, self._suspended_events = self._suspended_events, []
        return buffered

    def terminate(self, encoded_output: str | None) -> None:
        """Complete as TERMINATED, dropping unconfirmed actions and buffered events."""
        if self.completion.is_complete:
            return
        self._actions.clear()
        self._suspended_events = []
        self.completion.complete_encoded(encoded_output, pb.ORCHESTRATION_STATUS_TERMINATED)

    # ----------------------------------------------------------------------------------- outcome

    def fail(self, ex: BaseException | pb.TaskFailureDetails) -> None:
        """The orchestrator (or its set-up) raised: complete as FAILED unless already complete."""
        self.completion.fail(ex)
        self._generator = None

    def fail_nondeterministic(self, ex: task.NonDeterminismError) -> None:
        """Replay did not match history: fail, overriding any outcome, and send no other action."""
        self.completion.fail(ex, force=True)
        self._generator = None
        self._actions.clear()

    def actions(self) -> list[pb.OrchestratorAction]:
        """Actions to send: every unconfirmed action (with the unlocks of a critical section the orchestration
        ended in), then the completion action (if any)."""
        if self.completion.is_complete:
            self.exit_critical_section()  # an orchestration never ends holding locks
        actions = [a.to_proto() for a in self._actions.values()]
        if self.completion.is_complete:
            actions.append(self.completion.to_action(self.next_sequence_number(), self._inbox.buffered()))
        return actions
