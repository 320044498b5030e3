"""The replay audit for Durable Functions orchestrators: replay each recorded episode through the SDK's own replay.

For every episode of a recorded history (an ``OrchestratorStarted`` and the events that came with it), the
orchestrator function is called again, as the host would call it, with the history before the episode as past
events and the episode's events as new ones; the actions the extension's rules make of its answer must equal the
actions the history recorded for that episode (kind, id, name, and the input of activities, sub-orchestrations and
events sent). Code that reads the clock, random numbers or anything else outside the history answers differently
on replay, and the audit names the first episode where it did. :func:`audit_history` is the plugin's audit in the
test's process; :func:`replay_outcome` over a :func:`replay_worker` is ``python -m durabletask_testing replay
--functions-app`` in another (the plugin's hash-seed pass runs that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import wrappers_pb2

from durabletask_testing.messages import bounded
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from .app import index_app, load_app
from .worker import FunctionsWorker

INPUT_SHOWN = 200
"""At most this many characters of an input are shown in a finding."""
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
    """One action as the audit compares it: kind, id, name and input (of activities, sub-orchestrations, events)."""

    kind: str
    action_id: int
    name: str
    input: str | None = None

    def __str__(self) -> str:
        shown = "" if self.input is None else f" input {bounded(self.input, INPUT_SHOWN)}"
        return f"{self.kind}#{self.action_id}" + (f" {self.name!r}" if self.name else "") + shown


def _text(value: wrappers_pb2.StringValue, present: bool) -> str | None:
    return value.value if present else None


def _recorded(event: pb.HistoryEvent) -> Step:
    kind = event.WhichOneof("eventType") or ""
    name = ""
    given: str | None = None
    if kind == "taskScheduled":
        name, given = event.taskScheduled.name, _text(event.taskScheduled.input, event.taskScheduled.HasField("input"))
    elif kind == "subOrchestrationInstanceCreated":
        created = event.subOrchestrationInstanceCreated
        name, given = created.name, _text(created.input, created.HasField("input"))
    elif kind == "eventSent":
        name, given = event.eventSent.name, _text(event.eventSent.input, event.eventSent.HasField("input"))
    elif kind == "executionCompleted":
        name = pb.OrchestrationStatus.Name(event.executionCompleted.orchestrationStatus)
    return Step(_ACTION_RECORDS[kind], -1 if kind == "executionCompleted" else event.eventId, name, given)


def _produced(action: pb.OrchestratorAction) -> Step:
    kind = action.WhichOneof("orchestratorActionType") or ""
    name = ""
    given: str | None = None
    if kind == "scheduleTask":
        name, given = action.scheduleTask.name, _text(action.scheduleTask.input, action.scheduleTask.HasField("input"))
    elif kind == "createSubOrchestration":
        created = action.createSubOrchestration
        name, given = created.name, _text(created.input, created.HasField("input"))
    elif kind == "sendEvent":
        name, given = action.sendEvent.name, _text(action.sendEvent.data, action.sendEvent.HasField("data"))
    elif kind == "completeOrchestration":
        name = pb.OrchestrationStatus.Name(action.completeOrchestration.orchestrationStatus)
    return Step(kind, -1 if kind == "completeOrchestration" else action.id, name, given)


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


@dataclass(frozen=True)
class Divergence:
    """The first episode of a history whose replay asked for other actions than the recorded ones."""

    episode: int
    attempt: int
    """which replay of the episode (1 = the first)"""
    recorded: list[Step]
    produced: list[Step]

    @property
    def difference(self) -> str:
        return (f"the orchestrator now asks for [{', '.join(map(str, self.produced))}] where the history recorded "
                f"[{', '.join(map(str, self.recorded))}]")


def first_divergence(worker: FunctionsWorker, instance_id: str, history: list[pb.HistoryEvent],
                     repeats: int = 2) -> Divergence | None:
    """Replay each episode of ``history`` ``repeats`` times: the first that differs from the record, or None.
    The history's orchestrator must be one of the worker's app (see :func:`audit_history`)."""
    name = next(e.executionStarted.name for e in history if e.HasField("executionStarted"))
    for number, (start, split, end) in enumerate(episodes(history), start=1):
        if any(e.HasField("executionTerminated") for e in history[start:split]):
            continue  # a termination is the framework's answer, not the orchestrator's
        recorded = [_recorded(e) for e in history[split:end] if (e.WhichOneof("eventType") or "") in _ACTION_RECORDS]
        for attempt in range(1, repeats + 1):
            episode, _ = worker.run_orchestrator(name, instance_id, history[:start], history[start:split])
            produced = [_produced(a) for a in episode.actions]
            if produced != recorded:
                return Divergence(number, attempt, recorded, produced)
    return None


def audit_history(worker: FunctionsWorker, instance_id: str, history: list[pb.HistoryEvent],
                  repeats: int = 2) -> str | None:
    """None when every episode replays to its recorded actions; else a description of the first difference."""
    started = next((e.executionStarted for e in history if e.HasField("executionStarted")), None)
    if started is None or worker.functions.get("orchestrator", started.name) is None:
        return None  # not one of this app's orchestrations
    found = first_divergence(worker, instance_id, history, repeats)
    if found is None:
        return None
    again = f" (on replay {found.attempt})" if found.attempt > 1 else ""
    return f"instance {instance_id!r} ({started.name}), episode {found.episode}{again}: {found.difference}"


def replay_outcome(worker: FunctionsWorker, instance_id: str, history: list[pb.HistoryEvent],
                   repeats: int = 1) -> str:
    """One history's outcome as ``python -m durabletask_testing replay`` prints it: ``replays``, ``diverges at
    episode N: ...``, ``cannot replay: ...`` (not one of the app's orchestrators, or the bridge failed
    on it) or ``nothing to replay: ...`` (no episode)."""
    started = next((e.executionStarted for e in history if e.HasField("executionStarted")), None)
    if started is None:
        return "cannot replay: the history has no ExecutionStarted event"
    if worker.functions.get("orchestrator", started.name) is None:
        known = ", ".join(sorted(worker.functions.named("orchestrator"))) or "none"
        return f"cannot replay: the app has no orchestrator function named {started.name!r} (orchestrators: {known})"
    if not episodes(history):
        return "nothing to replay: the history records no OrchestratorStarted (an instance no worker ran)"
    try:
        found = first_divergence(worker, instance_id, history, repeats)
    except Exception as error:  # the bridge could not make actions of the SDK's answer: say so, per history
        return f"cannot replay: {type(error).__name__}: {error}"
    if found is None:
        return "replays"
    again = f" (replay {found.attempt})" if found.attempt > 1 else ""
    return f"diverges at episode {found.episode}{again}: {found.difference}"


def replay_worker(app: Any) -> FunctionsWorker:
    """A worker of ``app`` (an app object or ``"module:attribute"``) that only replays: never started, it opens
    no connection. AppError when the app cannot be loaded or indexed."""
    loaded = load_app(app) if isinstance(app, str) else app
    return FunctionsWorker(index_app(loaded), address="", max_threads=1)


def audit_instances(worker: FunctionsWorker, instance_ids: list[str],
                    history_of: Callable[[str], list[pb.HistoryEvent]], repeats: int = 2) -> str | None:
    """The findings over several instances (one paragraph each), or None."""
    findings = []
    for instance_id in instance_ids:
        found = audit_history(worker, instance_id, list(history_of(instance_id)), repeats)
        if found is not None:
            findings.append(found)
    return "\n".join(findings) if findings else None
