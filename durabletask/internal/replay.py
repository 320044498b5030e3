"""The pure replay engine: (orchestrator registry, instance id, past events, new events) -> actions.

No gRPC here. :class:`OrchestrationExecutor` replays committed history into the orchestrator function,
applies the new events, and returns the actions to send back plus the custom status. Replay that does not
match history raises :class:`durabletask.task.NonDeterminismError`, which fails the orchestration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import GeneratorType
from typing import Any

from durabletask import task
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import serialization as ser
from durabletask.internal.orchestration_context import (
    CREATE_SUB_ORCHESTRATION,
    CREATE_TIMER,
    DEFAULT_MAXIMUM_TIMER_INTERVAL,
    SCHEDULE_TASK,
    SEND_EVENT,
    PendingAction,
    RuntimeOrchestrationContext,
)
from durabletask.internal.registry import OrchestratorNotRegisteredError, Registry
from durabletask.internal.versioning import VersionFailureStrategy, check_orchestration_version

logger = logging.getLogger("durabletask.replay")

_UNSUSPENDABLE = frozenset(("executionResumed", "executionTerminated"))
_IGNORED = frozenset(("orchestratorCompleted", "executionCompleted", "genericEvent", "historyState",
                      "continueAsNew", "executionRewound"))
_METHOD_FOR_EVENT = {
    "taskScheduled": "call_activity",
    "timerCreated": "create_timer",
    "subOrchestrationInstanceCreated": "call_sub_orchestrator",
    "eventSent": "send_event",
}


@dataclass
class ExecutionResult:
    """Outcome of one orchestrator work item."""

    actions: list[pb.OrchestratorAction]
    encoded_custom_status: str | None
    abandon: bool = False


class _VersionRejected(Exception):
    """Raised to abandon a work item whose version this worker rejects."""


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


def _describe_event(event: pb.HistoryEvent, kind: str) -> str:
    method = _METHOD_FOR_EVENT[kind]
    if kind == "taskScheduled":
        return f"{method}('{event.taskScheduled.name}')"
    if kind == "subOrchestrationInstanceCreated":
        return f"{method}('{event.subOrchestrationInstanceCreated.name}')"
    if kind == "eventSent":
        return (f"{method}(instance_id='{event.eventSent.instanceId}', "
                f"event_name='{event.eventSent.name}')")
    return f"{method}(fire_at={event.timerCreated.fireAt.ToDatetime()})"


class OrchestrationExecutor:
    """Replays one orchestration instance and computes its next actions."""

    def __init__(self, registry: Registry,
                 maximum_timer_interval: timedelta | None = DEFAULT_MAXIMUM_TIMER_INTERVAL) -> None:
        self._registry = registry
        self._maximum_timer_interval = maximum_timer_interval
        self._is_suspended = False
        self._suspended_events: list[pb.HistoryEvent] = []
        self._handlers: dict[str, Callable[[RuntimeOrchestrationContext, pb.HistoryEvent], None]] = {
            "orchestratorStarted": self._on_orchestrator_started,
            "executionStarted": self._on_execution_started,
            "taskScheduled": self._on_action_confirmed,
            "timerCreated": self._on_action_confirmed,
            "subOrchestrationInstanceCreated": self._on_action_confirmed,
            "eventSent": self._on_action_confirmed,
            "taskCompleted": self._on_task_completed,
            "taskFailed": self._on_task_failed,
            "subOrchestrationInstanceCompleted": self._on_sub_orchestration_completed,
            "subOrchestrationInstanceFailed": self._on_sub_orchestration_failed,
            "timerFired": self._on_timer_fired,
            "eventRaised": self._on_event_raised,
            "executionSuspended": self._on_suspended,
            "executionResumed": self._on_resumed,
            "executionTerminated": self._on_terminated,
        }

    def execute(self, instance_id: str, past_events: Sequence[pb.HistoryEvent],
                new_events: Sequence[pb.HistoryEvent]) -> ExecutionResult:
        """Replay ``past_events``, apply ``new_events``, and return the resulting actions."""
        if not new_events:
            raise task.OrchestrationStateError("The new history event list must have at least one event in it.")
        ctx = RuntimeOrchestrationContext(instance_id, self._registry, self._maximum_timer_interval)
        try:
            ctx._is_replaying = True
            for event in past_events:
                self.process_event(ctx, event)
            ctx._is_replaying = False
            for event in new_events:
                self.process_event(ctx, event)
        except _VersionRejected:
            return ExecutionResult([], None, abandon=True)
        except task.NonDeterminismError as ex:
            ctx.set_failed(ex, force=True)
            ctx.pending_actions.clear()
        except Exception as ex:
            ctx.set_failed(ex)
        return ExecutionResult(ctx.get_actions(), ctx.encoded_custom_status)

    def process_event(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        """Apply one history event to the orchestration state."""
        kind = event.WhichOneof("eventType")
        if self._is_suspended and kind not in _UNSUSPENDABLE:
            self._suspended_events.append(event)
            return
        handler = self._handlers.get(kind) if kind is not None else None
        if handler is not None:
            handler(ctx, event)
        elif kind not in _IGNORED:
            raise task.OrchestrationStateError(f"Don't know how to handle history event of type '{kind}'.")

    # ------------------------------------------------------------------------------------ lifecycle

    def _on_orchestrator_started(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        ctx.current_utc_datetime = event.timestamp.ToDatetime()

    def _on_execution_started(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        started = event.executionStarted
        if started.HasField("version"):
            ctx._version = started.version.value
        if started.HasField("parentInstance") and started.parentInstance.HasField("orchestrationInstance"):
            ctx._parent_instance_id = started.parentInstance.orchestrationInstance.instanceId
        versioning = self._registry.versioning
        if versioning is not None:
            mismatch = check_orchestration_version(versioning, ctx.version)
            if mismatch is not None:
                if versioning.failure_strategy == VersionFailureStrategy.REJECT:
                    raise _VersionRejected(mismatch.errorMessage)
                ctx.set_failed(mismatch)
                return
        fn = self._registry.get_orchestrator(started.name)
        if fn is None:
            raise OrchestratorNotRegisteredError(
                f"A '{started.name}' orchestrator was not registered with this worker.")
        orchestration_input = None
        if started.HasField("input") and started.input.value != "":
            orchestration_input = ser.deserialize(started.input.value, ser.input_type_of(fn))
        result = fn(ctx, orchestration_input)
        if isinstance(result, GeneratorType):
            ctx.start(result)
        else:
            ctx.set_complete(result, pb.ORCHESTRATION_STATUS_COMPLETED)

    def _on_suspended(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        self._is_suspended = True

    def _on_resumed(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        if not self._is_suspended:
            return
        self._is_suspended = False
        buffered, self._suspended_events = self._suspended_events, []
        for buffered_event in buffered:
            self.process_event(ctx, buffered_event)

    def _on_terminated(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        if ctx.is_complete:
            return
        terminated = event.executionTerminated
        output = terminated.input.value if terminated.HasField("input") and terminated.input.value else None
        ctx.pending_actions.clear()
        self._suspended_events = []
        ctx.set_complete(output, pb.ORCHESTRATION_STATUS_TERMINATED, is_result_encoded=True)

    # --------------------------------------------------------------------------- action confirmations

    def _on_action_confirmed(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        kind = event.WhichOneof("eventType")
        event_id = event.eventId
        action = ctx.pending_actions.pop(event_id, None)
        if action is None:
            raise _missing_action(event_id, _describe_event(event, kind))
        expected_kind = {"taskScheduled": SCHEDULE_TASK, "timerCreated": CREATE_TIMER,
                         "subOrchestrationInstanceCreated": CREATE_SUB_ORCHESTRATION, "eventSent": SEND_EVENT}[kind]
        if action.kind != expected_kind or not self._same_target(action, event, kind):
            raise _history_mismatch(event_id, _describe_event(event, kind), action.describe())

    @staticmethod
    def _same_target(action: PendingAction, event: pb.HistoryEvent, kind: str) -> bool:
        if kind == "taskScheduled":
            return action.name == event.taskScheduled.name
        if kind == "subOrchestrationInstanceCreated":
            return action.name == event.subOrchestrationInstanceCreated.name
        if kind == "eventSent":
            return (action.name.casefold() == event.eventSent.name.casefold()
                    and action.instance_id == event.eventSent.instanceId)
        return True

    # ------------------------------------------------------------------------------------ completions

    def _on_task_completed(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        self._complete_pending(ctx, event.taskCompleted)

    def _on_task_failed(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        self._fail_pending(ctx, event.taskFailed, f"{ctx.instance_id}: Activity task")

    def _on_sub_orchestration_completed(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        self._complete_pending(ctx, event.subOrchestrationInstanceCompleted)

    def _on_sub_orchestration_failed(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        self._fail_pending(ctx, event.subOrchestrationInstanceFailed, "Sub-orchestration task")

    def _complete_pending(self, ctx: RuntimeOrchestrationContext, completed: Any) -> None:
        """Resolve the task an activity/sub-orchestration completion event refers to (by taskScheduledId)."""
        pending = ctx.pending_tasks.pop(completed.taskScheduledId, None)
        if pending is None:
            return
        payload = completed.result.value if completed.HasField("result") else None
        pending.complete(ser.deserialize(payload, pending._expected_type))
        ctx.resume()

    def _fail_pending(self, ctx: RuntimeOrchestrationContext, failed: Any, what: str) -> None:
        """Fail (or retry) the task an activity/sub-orchestration failure event refers to."""
        task_id = failed.taskScheduledId
        pending = ctx.pending_tasks.pop(task_id, None)
        if pending is None:
            return
        message = f"{what} #{task_id} failed: {failed.failureDetails.errorMessage}"
        self._fail_or_retry(ctx, pending, message, failed.failureDetails)

    def _fail_or_retry(self, ctx: RuntimeOrchestrationContext, pending: task.CompletableTask[Any], message: str,
                       details: pb.TaskFailureDetails) -> None:
        if isinstance(pending, task.RetryableTask) and not details.isNonRetriable:
            delay = pending.compute_next_delay(ctx.current_utc_datetime)
            if delay is not None:
                pending.increment_attempt_count()
                ctx.create_timer_internal(delay, pending)
                return
        pending.fail(message, details)
        ctx.resume()

    def _on_timer_fired(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        fired = event.timerFired
        timer = ctx.pending_tasks.pop(fired.timerId, None)
        if not isinstance(timer, task.TimerTask) or ctx.is_complete:
            return
        next_fire_at = timer._next_fire_at(fired.fireAt.ToDatetime())
        if next_fire_at is not None:
            ctx.schedule_timer_chunk(timer, next_fire_at)
            return
        if not timer.is_complete:
            timer.complete(None)
        if timer._retryable_parent is not None:
            ctx.reschedule(timer._retryable_parent)
        else:
            ctx.resume()

    def _on_event_raised(self, ctx: RuntimeOrchestrationContext, event: pb.HistoryEvent) -> None:
        raised = event.eventRaised
        payload = raised.input.value if raised.HasField("input") else None
        if ctx.deliver_event(raised.name, payload):
            ctx.resume()


def execute_orchestration(registry: Registry, instance_id: str, past_events: Sequence[pb.HistoryEvent],
                          new_events: Sequence[pb.HistoryEvent],
                          maximum_timer_interval: timedelta | None = DEFAULT_MAXIMUM_TIMER_INTERVAL
                          ) -> ExecutionResult:
    """Convenience wrapper: run one orchestrator work item through a fresh executor."""
    return OrchestrationExecutor(registry, maximum_timer_interval).execute(instance_id, past_events, new_events)


__all__ = ["ExecutionResult", "OrchestrationExecutor", "execute_orchestration"]
