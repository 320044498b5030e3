"""Rewinding a failed orchestration: the worker rewrites its history so that the failed work runs again.

A sidecar asks for a rewind by sending a work item whose new events are ``OrchestratorStarted`` and
``ExecutionRewound`` for an instance whose committed history ended (``ExecutionCompleted``). The worker answers with
a single ``RewindOrchestrationAction`` carrying the new history:

- failed activity results go, with the ``TaskScheduled`` events they answered, so replay schedules those
  activities again;
- failed sub-orchestration results go, but their ``SubOrchestrationInstanceCreated`` events stay, so the sidecar
  knows which children to rewind in turn;
- the ``ExecutionCompleted`` event goes; the ``ExecutionRewound`` event stays, for the record;
- the ``ExecutionStarted`` event gets a new execution id (and, for a child, its parent's new execution id).

This is the rule sidecars implementing rewind rely on (the published SDK's worker applies the same one). Once the
sidecar has stored the new history, a later work item with ``ExecutionRewound`` and no ``ExecutionCompleted`` in
its past is an ordinary replay that re-emits the removed work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from durabletask.internal import orchestrator_service_pb2 as pb

_DROPPED = frozenset({"taskFailed", "subOrchestrationInstanceFailed", "executionCompleted"})


def is_rewind_request(past_events: Sequence[pb.HistoryEvent], new_events: Sequence[pb.HistoryEvent]) -> bool:
    """True when the work item asks this worker to rewrite an ended instance's history."""
    return any(e.HasField("executionRewound") for e in new_events) and any(
        e.HasField("executionCompleted") for e in past_events)


def rewind_action(past_events: Sequence[pb.HistoryEvent], new_events: Sequence[pb.HistoryEvent],
                  new_execution_id: str | None = None) -> pb.OrchestratorAction:
    """The ``RewindOrchestrationAction`` answering a rewind request (see the module's rule)."""
    rewound = [e for e in new_events if e.HasField("executionRewound")]
    if len(new_events) != 2 or len(rewound) != 1:
        kinds = [e.WhichOneof("eventType") for e in new_events]
        raise ValueError(f"a rewind work item brings OrchestratorStarted and ExecutionRewound only; got {kinds}")
    parent_execution_id = rewound[0].executionRewound.parentExecutionId
    execution_id = new_execution_id or uuid.uuid4().hex
    history = [*past_events, *new_events]
    failed_tasks = {e.taskFailed.taskScheduledId for e in history if e.HasField("taskFailed")}
    new_history: list[pb.HistoryEvent] = []
    for event in history:
        kind = event.WhichOneof("eventType")
        if kind in _DROPPED or (kind == "taskScheduled" and event.eventId in failed_tasks):
            continue
        if kind == "executionStarted":
            event = _restarted(event, execution_id, parent_execution_id.value)
        new_history.append(event)
    return pb.OrchestratorAction(id=-1, rewindOrchestration=pb.RewindOrchestrationAction(newHistory=new_history))


def _restarted(event: pb.HistoryEvent, execution_id: str, parent_execution_id: str) -> pb.HistoryEvent:
    copy = pb.HistoryEvent()
    copy.CopyFrom(event)
    started = copy.executionStarted
    started.orchestrationInstance.executionId.value = execution_id
    if parent_execution_id and started.HasField("parentInstance"):
        started.parentInstance.orchestrationInstance.executionId.value = parent_execution_id
    return copy
