"""The pure replay engine: (orchestrator registry, instance id, past events, new events) -> actions.

No gRPC here. :class:`OrchestrationExecutor` replays committed history into the orchestrator function,
applies the new events, and returns the actions to send back plus the custom status. Replay that does not
match history raises :class:`durabletask.task.NonDeterminismError`, which fails the orchestration. All state
of the execution lives in :class:`~durabletask.internal.execution.Execution`; this module only routes each
history event to the verb that applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from durabletask import task
from durabletask.internal import helpers as pbh
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import serialization as ser
from durabletask.internal.actions import CONFIRMATIONS
from durabletask.internal.execution import Execution
from durabletask.internal.orchestration_context import RuntimeOrchestrationContext
from durabletask.internal.registry import OrchestratorNotRegisteredError, Registry
from durabletask.internal.rewind import is_rewind_request, rewind_action
from durabletask.internal.timers import DEFAULT_MAXIMUM_TIMER_INTERVAL
from durabletask.internal.versioning import VersionFailureStrategy, check_orchestration_version

_UNSUSPENDABLE = frozenset(("executionResumed", "executionTerminated"))
_IGNORED = frozenset(("orchestratorCompleted", "executionCompleted", "genericEvent", "historyState",
                      "continueAsNew", "executionRewound"))

_FAILURE_MESSAGES = {
    "taskFailed": "{instance_id}: Activity task #{task_id} failed: {error}",
    "subOrchestrationInstanceFailed": "Sub-orchestration task #{task_id} failed: {error}",
}
"""The message of the TaskFailedError a failed call raises into the orchestrator, by history event."""

_Handler = Callable[[Execution, pb.HistoryEvent], None]


@dataclass
class ExecutionResult:
    """Outcome of one orchestrator work item."""

    actions: list[pb.OrchestratorAction]
    encoded_custom_status: str | None
    abandon: bool = False


@dataclass
class StepsResult:
    """The actions after each work item of :meth:`OrchestrationExecutor.execute_steps`, as far as the pass got."""

    actions: list[list[pb.OrchestratorAction]]
    complete: bool
    """Every work item was reached (else ``actions`` stops before the one that could not be taken)."""


class _VersionRejected(Exception):
    """Raised to abandon a work item whose version this worker rejects."""


class _VersionFailed(Exception):
    """Raised to fail an orchestration whose version this worker refuses; nothing after it is replayed."""

    def __init__(self, details: pb.TaskFailureDetails) -> None:
        super().__init__(details.errorMessage)
        self.details = details


class OrchestrationExecutor:
    """Replays one orchestration instance and computes its next actions."""

    def __init__(self, registry: Registry,
                 maximum_timer_interval: timedelta | None = DEFAULT_MAXIMUM_TIMER_INTERVAL) -> None:
        self._registry = registry
        self._maximum_timer_interval = maximum_timer_interval
        self._handlers: dict[str, _Handler] = {
            "orchestratorStarted": self._on_orchestrator_started,
            "executionStarted": self._on_execution_started,
            "taskCompleted": self._on_call_completed,
            "taskFailed": self._on_call_failed,
            "subOrchestrationInstanceCompleted": self._on_call_completed,
            "subOrchestrationInstanceFailed": self._on_call_failed,
            "timerFired": self._on_timer_fired,
            "eventRaised": self._on_event_raised,
            "executionSuspended": self._on_suspended,
            "executionResumed": self._on_resumed,
            "executionTerminated": self._on_terminated,
            "entityOperationCompleted": self._on_entity_completed,
            "entityOperationFailed": self._on_entity_failed,
            "entityLockGranted": self._on_lock_granted,
            "entityUnlockSent": self._on_unlock_sent,
        }
        for event_field in CONFIRMATIONS:
            self._handlers[event_field] = self._on_action_confirmed

    def execute(self, instance_id: str, past_events: Sequence[pb.HistoryEvent],
                new_events: Sequence[pb.HistoryEvent]) -> ExecutionResult:
        """Replay ``past_events``, apply ``new_events``, and return the resulting actions."""
        if not new_events:
            raise task.OrchestrationStateError("The new history event list must have at least one event in it.")
        execution = Execution(instance_id, self._registry, self._maximum_timer_interval)
        try:
            if is_rewind_request(past_events, new_events):  # answered with the rewritten history, no replay
                return ExecutionResult([rewind_action(past_events, new_events)], None)
            for event in past_events:
                self._apply(execution, event)
            execution.is_replaying = False
            for event in new_events:
                self._apply(execution, event)
        except _VersionRejected:
            return ExecutionResult([], None, abandon=True)
        except _VersionFailed as refused:
            execution.fail(refused.details)
        except task.NonDeterminismError as ex:
            execution.fail_nondeterministic(ex)
        except Exception as ex:
            execution.fail(ex)
        return ExecutionResult(execution.actions(), execution.encoded_custom_status)

    def execute_steps(self, instance_id: str, steps: Sequence[tuple[Sequence[pb.HistoryEvent],
                                                                    Sequence[pb.HistoryEvent]]]) -> StepsResult:
        """The actions of consecutive work items of one history, from one replay instead of one per work item.

        ``steps``: per work item, the history events that come before it and were not handed to an earlier one
        (the earlier work item's action records, or the events before the first), then its new events. After
        each work item's new events the actions are taken, as :meth:`execute` of that work item alone would return
        them, except that every work item but the last runs as a replay (``is_replaying`` stays True, as when a
        later work item replays it). The pass stops early, without the actions of that work item, when an event
        raises (a replay that does not match history, a version check) or the orchestration completes before
        the last work item: ``StepsResult.complete`` is then False.
        """
        execution = Execution(instance_id, self._registry, self._maximum_timer_interval)
        taken: list[list[pb.OrchestratorAction]] = []
        try:
            for number, (before, new_events) in enumerate(steps):
                for event in before:
                    self._apply(execution, event)
                last = number == len(steps) - 1
                if last:
                    execution.is_replaying = False
                for event in new_events:
                    self._apply(execution, event)
                if not last and execution.completion.is_complete:  # taking its actions would end it here
                    return StepsResult(taken, complete=False)
                taken.append(execution.actions())
        except Exception:  # noqa: BLE001  # the caller replays such a history one work item at a time
            return StepsResult(taken, complete=False)
        return StepsResult(taken, complete=True)

    def _apply(self, execution: Execution, event: pb.HistoryEvent) -> None:
        """Apply one history event to the execution (or buffer it while suspended)."""
        kind = event.WhichOneof("eventType")
        if kind not in _UNSUSPENDABLE and execution.buffer_if_suspended(event):
            return
        handler = self._handlers.get(kind) if kind is not None else None
        if handler is not None:
            handler(execution, event)
        elif kind not in _IGNORED:
            raise task.OrchestrationStateError(f"Don't know how to handle history event of type '{kind}'.")

    # ------------------------------------------------------------------------------------ lifecycle

    def _on_orchestrator_started(self, execution: Execution, event: pb.HistoryEvent) -> None:
        execution.current_utc_datetime = pbh.read_timestamp(event.timestamp)

    def _on_execution_started(self, execution: Execution, event: pb.HistoryEvent) -> None:
        started = event.executionStarted
        if started.HasField("version"):
            execution.version = started.version.value
        if started.HasField("parentInstance") and started.parentInstance.HasField("orchestrationInstance"):
            execution.parent_instance_id = started.parentInstance.orchestrationInstance.instanceId
        versioning = self._registry.versioning
        if versioning is not None:
            mismatch = check_orchestration_version(versioning, execution.version)
            if mismatch is not None:
                if versioning.failure_strategy == VersionFailureStrategy.REJECT:
                    raise _VersionRejected(mismatch.errorMessage)
                raise _VersionFailed(mismatch)
        fn = self._registry.get_orchestrator(started.name)
        if fn is None:
            raise OrchestratorNotRegisteredError(
                f"A '{started.name}' orchestrator was not registered with this worker.")
        encoded_input = pbh.read_string_value(started, "input")
        converter = execution.converter
        orchestration_input = None if encoded_input is None else converter.deserialize(
            encoded_input, ser.input_type_of(fn, converter))
        execution.start(fn(RuntimeOrchestrationContext(execution), orchestration_input))

    def _on_suspended(self, execution: Execution, event: pb.HistoryEvent) -> None:
        execution.suspend()

    def _on_resumed(self, execution: Execution, event: pb.HistoryEvent) -> None:
        for buffered in execution.resume():
            self._apply(execution, buffered)

    def _on_terminated(self, execution: Execution, event: pb.HistoryEvent) -> None:
        execution.terminate(pbh.read_string_value(event.executionTerminated, "input"))

    # ------------------------------------------------------------------------------- other events

    def _on_action_confirmed(self, execution: Execution, event: pb.HistoryEvent) -> None:
        kind = event.WhichOneof("eventType")
        assert kind is not None
        execution.confirm_action(event, kind)

    def _on_call_completed(self, execution: Execution, event: pb.HistoryEvent) -> None:
        kind = event.WhichOneof("eventType")
        assert kind is not None
        completed = getattr(event, kind)
        execution.complete_task(completed.taskScheduledId, pbh.read_string_value(completed, "result"), kind)

    def _on_call_failed(self, execution: Execution, event: pb.HistoryEvent) -> None:
        kind = event.WhichOneof("eventType")
        assert kind is not None
        failed = getattr(event, kind)
        message = _FAILURE_MESSAGES[kind].format(instance_id=execution.instance_id, task_id=failed.taskScheduledId,
                                                 error=failed.failureDetails.errorMessage)
        execution.fail_task(failed.taskScheduledId, failed.failureDetails, message, kind)

    def _on_timer_fired(self, execution: Execution, event: pb.HistoryEvent) -> None:
        fired = event.timerFired
        execution.fire_timer(fired.timerId, pbh.read_timestamp(fired.fireAt))

    def _on_event_raised(self, execution: Execution, event: pb.HistoryEvent) -> None:
        raised = event.eventRaised
        execution.raise_event(raised.name, pbh.read_string_value(raised, "input"))

    # ------------------------------------------------------------------------------------ entities

    def _on_entity_completed(self, execution: Execution, event: pb.HistoryEvent) -> None:
        completed = event.entityOperationCompleted
        execution.complete_entity_call(completed.requestId, pbh.read_string_value(completed, "output"))

    def _on_entity_failed(self, execution: Execution, event: pb.HistoryEvent) -> None:
        failed = event.entityOperationFailed
        execution.fail_entity_call(failed.requestId, failed.failureDetails)

    def _on_lock_granted(self, execution: Execution, event: pb.HistoryEvent) -> None:
        execution.grant_locks(event.entityLockGranted.criticalSectionId)

    def _on_unlock_sent(self, execution: Execution, event: pb.HistoryEvent) -> None:
        execution.confirm_unlocks(event.entityUnlockSent.criticalSectionId)


__all__ = ["ExecutionResult", "OrchestrationExecutor"]
