"""The replay audit for Durable Functions orchestrators: replay each recorded episode through the SDK's own replay.

For every episode of a recorded history (an ``OrchestratorStarted`` and the events that came with it), the
orchestrator function is called again, as the host would call it, with the history before the episode as past
events and the episode's events as new ones; the actions the extension's rules make of its answer must equal the
actions the history recorded for that episode (kind, id and name). Code that reads the clock, random numbers or
anything else outside the history answers differently on replay, and the audit names the first episode where it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from .worker import FunctionsWorker

# History events that record an action of the episode (rather than bring news into it).
_ACTION_RECORDS = {
    "taskScheduled": "scheduleTask",
    "timerCreated": "createTimer",
    "subOrchestrationInstanceCreated": "createSubOrchestration",
    "eventSent": "sendEvent",
    "entityOperationCalled": "sendEntityMessage",
    "entityOperationSignaled": "sendEntityMessage",
    "entityLockRequested": "sendEntityMessage",
    "entityUnlockSent": "sendEntityMessage",
    "executionCompleted": "completeOrchestration",
}


@dataclass(frozen=True)
class Step:
    """One action as the audit compares it."""

    kind: str
    action_id: int
    name: str

    def __str__(self) -> str:
        return f"{self.kind}#{self.action_id}" + (f" {self.name!r}" if self.name else "")


def _recorded(event: pb.HistoryEvent) -> Step:
    kind = event.WhichOneof("eventType") or ""
    name = ""
    if kind == "taskScheduled":
        name = event.taskScheduled.name
    elif kind == "subOrchestrationInstanceCreated":
        name = event.subOrchestrationInstanceCreated.name
    elif kind == "executionCompleted":
        name = pb.OrchestrationStatus.Name(event.executionCompleted.orchestrationStatus)
    return Step(_ACTION_RECORDS[kind], -1 if kind == "executionCompleted" else event.eventId, name)


def _produced(action: pb.OrchestratorAction) -> Step:
    kind = action.WhichOneof("orchestratorActionType") or ""
    name = ""
    if kind == "scheduleTask":
        name = action.scheduleTask.name
    elif kind == "createSubOrchestration":
        name = action.createSubOrchestration.name
    elif kind == "completeOrchestration":
        name = pb.OrchestrationStatus.Name(action.completeOrchestration.orchestrationStatus)
    return Step(kind, -1 if kind == "completeOrchestration" else action.id, name)


def episodes(history: list[pb.HistoryEvent]) -> list[tuple[int, int, int]]:
    """(start, first action record, end) of each episode of ``history``."""
    starts = [i for i, event in enumerate(history) if event.HasField("orchestratorStarted")]
    found = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(history)
        split = start
        while split < end and (history[split].WhichOneof("eventType") or "") not in _ACTION_RECORDS:
            split += 1
        found.append((start, split, end))
    return found


def audit_history(worker: FunctionsWorker, instance_id: str, history: list[pb.HistoryEvent],
                  repeats: int = 2) -> str | None:
    """None when every episode replays to its recorded actions; else a description of the first difference."""
    started = next((e.executionStarted for e in history if e.HasField("executionStarted")), None)
    if started is None or worker.functions.get("orchestrator", started.name) is None:
        return None  # not one of this app's orchestrations
    for number, (start, split, end) in enumerate(episodes(history), start=1):
        if any(e.HasField("executionTerminated") for e in history[start:split]):
            continue  # a termination is the framework's answer, not the orchestrator's
        recorded = [_recorded(e) for e in history[split:end] if (e.WhichOneof("eventType") or "") in _ACTION_RECORDS]
        for attempt in range(repeats):
            episode, _ = worker.run_orchestrator(started.name, instance_id, history[:start], history[start:split])
            produced = [_produced(a) for a in episode.actions]
            if produced != recorded:
                again = f" (on replay {attempt + 1})" if attempt else ""
                return (f"instance {instance_id!r} ({started.name}), episode {number}{again}: the orchestrator now "
                        f"asks for [{', '.join(map(str, produced))}] where the history recorded "
                        f"[{', '.join(map(str, recorded))}]")
    return None


def audit_instances(worker: FunctionsWorker, instance_ids: list[str],
                    history_of: Callable[[str], list[pb.HistoryEvent]], repeats: int = 2) -> str | None:
    """The findings over several instances (one paragraph each), or None."""
    findings = []
    for instance_id in instance_ids:
        found = audit_history(worker, instance_id, list(history_of(instance_id)), repeats)
        if found is not None:
            findings.append(found)
    return "\n".join(findings) if findings else None
