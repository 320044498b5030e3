"""The runtime OrchestrationContext used by the replay engine: records actions and pending tasks.

Pending actions are kept as light :class:`PendingAction` records and turned into protobuf only for the
actions actually sent to the sidecar (most actions are matched against history during replay).
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

from durabletask import task
from durabletask.internal import helpers as pbh
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import serialization as ser
from durabletask.internal.registry import Registry

DEFAULT_MAXIMUM_TIMER_INTERVAL = timedelta(days=3)
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_OID, "9e952958-5e33-4daf-827f-2fa12937b875")
_UUID_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

SCHEDULE_TASK = "scheduleTask"
CREATE_TIMER = "createTimer"
CREATE_SUB_ORCHESTRATION = "createSubOrchestration"
SEND_EVENT = "sendEvent"

_METHOD_NAMES = {
    SCHEDULE_TASK: "call_activity",
    CREATE_TIMER: "create_timer",
    CREATE_SUB_ORCHESTRATION: "call_sub_orchestrator",
    SEND_EVENT: "send_event",
}


class PendingAction:
    """An action the orchestrator asked for, not yet confirmed by history."""

    __slots__ = ("id", "kind", "name", "encoded_input", "instance_id", "fire_at", "version", "tags")

    def __init__(self, action_id: int, kind: str, name: str = "", encoded_input: str | None = None,
                 instance_id: str = "", fire_at: datetime | None = None, version: str | None = None,
                 tags: dict[str, str] | None = None) -> None:
        self.id = action_id
        self.kind = kind
        self.name = name
        self.encoded_input = encoded_input
        self.instance_id = instance_id
        self.fire_at = fire_at
        self.version = version
        self.tags = tags

    def describe(self) -> str:
        """Human readable form for error messages, e.g. ``call_activity('hello')``."""
        method = _METHOD_NAMES[self.kind]
        if self.kind == CREATE_TIMER:
            return f"{method}(fire_at={self.fire_at})"
        if self.kind == SEND_EVENT:
            return f"{method}(instance_id='{self.instance_id}', event_name='{self.name}')"
        return f"{method}('{self.name}')"

    def to_proto(self) -> pb.OrchestratorAction:
        """The protobuf OrchestratorAction for this record."""
        if self.kind == SCHEDULE_TASK:
            return pbh.new_schedule_task_action(self.id, self.name, self.encoded_input, self.tags, self.version)
        if self.kind == CREATE_TIMER:
            assert self.fire_at is not None
            return pbh.new_create_timer_action(self.id, self.fire_at)
        if self.kind == CREATE_SUB_ORCHESTRATION:
            return pbh.new_create_sub_orchestration_action(self.id, self.name, self.instance_id,
                                                           self.encoded_input, self.version)
        return pbh.new_send_event_action(self.id, self.instance_id, self.name, self.encoded_input)


def derive_child_instance_id(parent_instance_id: str, action_id: int) -> str:
    """Default sub-orchestration instance id: the parent's id and the action id (as other SDKs derive it)."""
    return f"{parent_instance_id}:{action_id:04x}"


class RuntimeOrchestrationContext(task.OrchestrationContext):
    """OrchestrationContext implementation driven by the replay engine."""

    def __init__(self, instance_id: str, registry: Registry,
                 maximum_timer_interval: timedelta | None = DEFAULT_MAXIMUM_TIMER_INTERVAL) -> None:
        self._instance_id = instance_id
        self._registry = registry
        self._maximum_timer_interval = maximum_timer_interval
        self._generator: Generator[task.Task[Any], Any, Any] | None = None
        self._previous_task: task.Task[Any] | None = None
        self._is_replaying = True
        self._current_utc_datetime = datetime(1000, 1, 1)
        self._sequence_number = 0
        self._new_uuid_counter = 0
        self._version: str | None = None
        self._parent_instance_id: str | None = None
        self.pending_actions: dict[int, PendingAction] = {}
        self.pending_tasks: dict[int, task.CompletableTask[Any]] = {}
        # event name (casefolded) -> waiting tasks / buffered (arrival number, original name, payload)
        self.waiting_for_events: dict[str, deque[task.CancellableTask[Any]]] = {}
        self.received_events: dict[str, deque[tuple[int, str, str | None]]] = {}
        self._received_count = 0
        self.encoded_custom_status: str | None = None
        # completion
        self.is_complete = False
        self.completion_status: int | None = None
        self.completion_result: str | None = None
        self.failure_details: pb.TaskFailureDetails | None = None
        self.continue_as_new_input: str | None = None
        self.continue_as_new_version: str | None = None
        self.save_events = False

    # ---------------------------------------------------------------------------------- properties

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def parent_instance_id(self) -> str | None:
        return self._parent_instance_id

    @property
    def version(self) -> str | None:
        return self._version

    @property
    def current_utc_datetime(self) -> datetime:
        return self._current_utc_datetime

    @current_utc_datetime.setter
    def current_utc_datetime(self, value: datetime) -> None:
        self._current_utc_datetime = value

    @property
    def is_replaying(self) -> bool:
        return self._is_replaying

    def next_sequence_number(self) -> int:
        """Allocate the next action id."""
        self._sequence_number += 1
        return self._sequence_number

    # ------------------------------------------------------------------------------------ generator

    def start(self, generator: Generator[task.Task[Any], Any, Any]) -> None:
        """Run the orchestrator generator up to its first yield."""
        self._generator = generator
        try:
            self._previous_task = self._check_yielded(next(generator))
        except StopIteration as stop:
            self.set_complete(stop.value, pb.ORCHESTRATION_STATUS_COMPLETED)
            return
        self.resume()

    def resume(self) -> None:
        """Drive the generator while the task it waits for is complete."""
        generator = self._generator
        while (not self.is_complete and generator is not None and self._previous_task is not None
               and self._previous_task.is_complete):
            previous = self._previous_task
            try:
                if previous.is_failed:
                    yielded = generator.throw(previous.get_exception())
                else:
                    yielded = generator.send(previous.get_result())
            except StopIteration as stop:
                self._generator = None
                self.set_complete(stop.value, pb.ORCHESTRATION_STATUS_COMPLETED)
                return
            self._previous_task = self._check_yielded(yielded)

    @staticmethod
    def _check_yielded(value: Any) -> task.Task[Any]:
        if not isinstance(value, task.Task):
            raise TypeError(f"Orchestrator functions may only yield durable tasks (from the context, when_all or "
                            f"when_any); got a value of type '{type(value).__name__}'.")
        return value

    # ----------------------------------------------------------------------------------- completion

    def set_complete(self, result: Any, status: int, is_result_encoded: bool = False) -> None:
        """Complete the orchestration with ``status`` and ``result``."""
        if self.is_complete:
            return
        if is_result_encoded:
            encoded = result
        else:
            try:
                encoded = ser.serialize(result)
            except TypeError as ex:
                self.set_failed(ex)
                return
        self.is_complete = True
        self.completion_status = status
        self.completion_result = encoded

    def set_failed(self, ex: BaseException | pb.TaskFailureDetails, force: bool = False) -> None:
        """Complete the orchestration as FAILED. ``force`` overrides a completion recorded earlier."""
        if self.is_complete and not force:
            return
        if isinstance(ex, pb.TaskFailureDetails):
            details = ex
        else:
            details = pbh.new_failure_details(ex)
            if isinstance(ex, task.TaskFailedError):
                details.innerFailure.CopyFrom(ex._failure_details)
        self.is_complete = True
        self._generator = None
        self.completion_status = pb.ORCHESTRATION_STATUS_FAILED
        self.completion_result = None
        self.failure_details = details

    def set_continued_as_new(self, new_input: Any, save_events: bool, new_version: str | None) -> None:
        """Record a continue-as-new completion."""
        if self.is_complete:
            return
        self.continue_as_new_input = ser.serialize(new_input)
        self.is_complete = True
        self.completion_status = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
        self.continue_as_new_version = new_version
        self.save_events = save_events

    def get_actions(self) -> list[pb.OrchestratorAction]:
        """Actions to send: every unconfirmed action, then the completion action (if any)."""
        actions = [a.to_proto() for a in self.pending_actions.values()]
        if not self.is_complete:
            return actions
        status = self.completion_status
        assert status is not None
        if status == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
            carryover = None
            if self.save_events:
                buffered = sorted(item for items in self.received_events.values() for item in items)
                carryover = [pbh.new_event_raised_event(name, payload) for _, name, payload in buffered]
            actions.append(pbh.new_complete_orchestration_action(
                self.next_sequence_number(), status, self.continue_as_new_input, None, carryover,
                self.continue_as_new_version))
        else:
            actions.append(pbh.new_complete_orchestration_action(
                self.next_sequence_number(), status, self.completion_result, self.failure_details))
        return actions

    # ---------------------------------------------------------------------------------- public API

    def set_custom_status(self, custom_status: Any) -> None:
        self.encoded_custom_status = ser.serialize(custom_status)

    def create_timer(self, fire_at: datetime | timedelta) -> task.TimerTask:
        return self.create_timer_internal(fire_at)

    def create_timer_internal(self, fire_at: datetime | timedelta,
                              retryable_task: task.RetryableTask[Any] | None = None) -> task.TimerTask:
        """Create a timer, split into chunks of at most the maximum timer interval."""
        if isinstance(fire_at, timedelta):
            final_fire_at = self._current_utc_datetime + fire_at
        elif isinstance(fire_at, datetime):
            final_fire_at = pbh.to_naive_utc(fire_at)
        else:
            raise TypeError(f"create_timer() expects a datetime or a timedelta, got '{type(fire_at).__name__}'.")
        interval = self._maximum_timer_interval
        if interval is not None and interval > timedelta(0) and self._current_utc_datetime + interval < final_fire_at:
            timer = task.TimerTask(final_fire_at, interval)
            first_fire_at = self._current_utc_datetime + interval
        else:
            timer = task.TimerTask()
            first_fire_at = final_fire_at
        if retryable_task is not None:
            timer.set_retryable_parent(retryable_task)
        self.schedule_timer_chunk(timer, first_fire_at)
        return timer

    def schedule_timer_chunk(self, timer: task.TimerTask, fire_at: datetime) -> None:
        """Add a CreateTimer action (a new id) whose firing completes or continues ``timer``."""
        timer_id = self.next_sequence_number()
        self.pending_actions[timer_id] = PendingAction(timer_id, CREATE_TIMER, fire_at=fire_at)
        self.pending_tasks[timer_id] = timer

        def cancel() -> None:
            self.pending_actions.pop(timer_id, None)
            self.pending_tasks.pop(timer_id, None)

        timer.set_cancel_handler(cancel)

    def call_activity(self, activity: task.Activity[Any, Any] | str, *,
                      input: Any | None = None,
                      retry_policy: task.RetryPolicy | None = None,
                      tags: dict[str, str] | None = None,
                      return_type: type | None = None) -> task.CompletableTask[Any]:
        if isinstance(activity, str):
            name = activity
        else:
            name = task.get_name(activity)
            if return_type is None:
                return_type = ser.output_type_of(activity)
        action_id = self.next_sequence_number()
        action = PendingAction(action_id, SCHEDULE_TASK, name, ser.serialize(input), tags=tags)
        return self._schedule(action, retry_policy, return_type, is_sub_orch=False)

    def call_sub_orchestrator(self, orchestrator: task.Orchestrator[Any, Any] | str, *,
                              input: Any | None = None,
                              instance_id: str | None = None,
                              retry_policy: task.RetryPolicy | None = None,
                              version: str | None = None,
                              return_type: type | None = None) -> task.CompletableTask[Any]:
        name = orchestrator if isinstance(orchestrator, str) else task.get_name(orchestrator)
        action_id = self.next_sequence_number()
        if not instance_id:
            instance_id = derive_child_instance_id(self._instance_id, action_id)
        if not version:
            versioning = self._registry.versioning
            version = versioning.default_version if versioning is not None else None
        action = PendingAction(action_id, CREATE_SUB_ORCHESTRATION, name, ser.serialize(input),
                               instance_id=instance_id, version=version)
        return self._schedule(action, retry_policy, return_type, is_sub_orch=True)

    def _schedule(self, action: PendingAction, retry_policy: task.RetryPolicy | None, return_type: Any,
                  is_sub_orch: bool) -> task.CompletableTask[Any]:
        fn_task: task.CompletableTask[Any]
        if retry_policy is None:
            fn_task = task.CompletableTask(expected_type=return_type)
        else:
            fn_task = task.RetryableTask(retry_policy, action, self._current_utc_datetime, is_sub_orch,
                                         expected_type=return_type)
        self.pending_actions[action.id] = action
        self.pending_tasks[action.id] = fn_task
        return fn_task

    def reschedule(self, retryable: task.RetryableTask[Any]) -> None:
        """Schedule the next attempt of a retried call under the first attempt's action id.

        Every attempt re-uses that id (and a sub-orchestration's instance id), as the published SDK does, so a
        history written by either SDK replays on the other; sidecars accept the repeated ``TaskScheduled`` id.
        """
        action: PendingAction = retryable._action
        self.pending_actions[action.id] = action
        self.pending_tasks[action.id] = retryable

    def wait_for_external_event(self, name: str, *, data_type: type | None = None) -> task.CancellableTask[Any]:
        key = name.casefold()
        event_task: task.CancellableTask[Any] = task.CancellableTask(expected_type=data_type)
        buffered = self.received_events.get(key)
        if buffered:
            _, _, payload = buffered.popleft()
            if not buffered:
                del self.received_events[key]
            event_task.complete(ser.deserialize(payload, data_type))
            return event_task
        waiters = self.waiting_for_events.setdefault(key, deque())
        waiters.append(event_task)

        def cancel() -> None:
            queue = self.waiting_for_events.get(key)
            if queue is not None and event_task in queue:
                queue.remove(event_task)
                if not queue:
                    del self.waiting_for_events[key]

        event_task.set_cancel_handler(cancel)
        return event_task

    def deliver_event(self, name: str, payload: str | None) -> bool:
        """Hand an EventRaised payload to the oldest waiter, or buffer it. True when a waiter got it."""
        key = name.casefold()
        waiters = self.waiting_for_events.get(key)
        if waiters and not self.is_complete:
            waiter = waiters.popleft()
            if not waiters:
                del self.waiting_for_events[key]
            waiter.complete(ser.deserialize(payload, waiter._expected_type))
            return True
        self.received_events.setdefault(key, deque()).append((self._received_count, name, payload))
        self._received_count += 1
        return False

    def send_event(self, instance_id: str, event_name: str, *, data: Any | None = None) -> None:
        if not instance_id or not instance_id.strip():
            raise ValueError("send_event(): instance_id cannot be empty")
        if not event_name or not event_name.strip():
            raise ValueError("send_event(): event_name cannot be empty")
        action_id = self.next_sequence_number()
        self.pending_actions[action_id] = PendingAction(action_id, SEND_EVENT, event_name, ser.serialize(data),
                                                        instance_id=instance_id)

    def continue_as_new(self, new_input: Any, *, save_events: bool = False, new_version: str | None = None) -> None:
        self.set_continued_as_new(new_input, save_events, new_version)

    def new_uuid(self) -> str:
        name = f"{self._instance_id}_{self._current_utc_datetime.strftime(_UUID_TIME_FORMAT)}_{self._new_uuid_counter}"
        self._new_uuid_counter += 1
        return str(uuid.uuid5(_UUID_NAMESPACE, name))
