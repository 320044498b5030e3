"""Helpers for replay-engine unit tests: build histories and run the engine."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import history_builders as h

from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.registry import Registry
from durabletask.internal.replay import ExecutionResult, OrchestrationExecutor
from durabletask.internal.versioning import VersioningOptions

INSTANCE_ID = "inst-1"
T0 = datetime(2025, 1, 1, 12, 0, 0)


def registry(*orchestrators: Any, versioning: VersioningOptions | None = None) -> Registry:
    reg = Registry()
    for fn in orchestrators:
        reg.add_orchestrator(fn)
    reg.versioning = versioning
    return reg


def started(name: str, input: Any = None, version: str | None = None, at: datetime = T0,
            parent: str | None = None) -> list[pb.HistoryEvent]:
    encoded = None if input is None else json.dumps(input)
    return [h.new_orchestrator_started_event(at),
            h.new_execution_started_event(name, INSTANCE_ID, encoded, version=version, parent_instance_id=parent)]


def tick(at: datetime = T0) -> pb.HistoryEvent:
    return h.new_orchestrator_started_event(at)


def run(reg: Registry, past: list[pb.HistoryEvent], new: list[pb.HistoryEvent],
        max_timer: timedelta | None = timedelta(days=3)) -> ExecutionResult:
    return OrchestrationExecutor(reg, max_timer).execute(INSTANCE_ID, past, new)


def kinds(result: ExecutionResult) -> list[str]:
    return [a.WhichOneof("orchestratorActionType") for a in result.actions]


def completion(result: ExecutionResult) -> pb.CompleteOrchestrationAction:
    last = result.actions[-1]
    assert last.HasField("completeOrchestration"), f"not completed: {kinds(result)}"
    return last.completeOrchestration


def output(result: ExecutionResult) -> Any:
    done = completion(result)
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED, done.failureDetails
    return json.loads(done.result.value) if done.HasField("result") else None


def confirm(result: ExecutionResult) -> list[pb.HistoryEvent]:
    """History events a sidecar would record for the schedule-type actions of ``result``."""
    events = []
    for a in result.actions:
        kind = a.WhichOneof("orchestratorActionType")
        if kind == "scheduleTask":
            events.append(h.new_task_scheduled_event(a.id, a.scheduleTask.name, a.scheduleTask.input.value or None))
        elif kind == "createTimer":
            events.append(h.new_timer_created_event(a.id, a.createTimer.fireAt.ToDatetime()))
        elif kind == "createSubOrchestration":
            c = a.createSubOrchestration
            events.append(h.new_sub_orchestration_created_event(a.id, c.name, c.instanceId, c.input.value or None))
        elif kind == "sendEvent":
            events.append(h.new_event_sent_event(a.id, a.sendEvent.instance.instanceId, a.sendEvent.name))
        elif kind == "sendEntityMessage":
            events.append(h.new_entity_message_event(a.id, a.sendEntityMessage))
    return events


def js(value: Any) -> str:
    return json.dumps(value)
