"""Helpers for driving the fake sidecar's engine directly with protocol messages (no gRPC)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from google.protobuf import timestamp_pb2

from durabletask_testing.clock import Clock
from durabletask_testing.engine import Engine
from durabletask_testing.engine.state import ActivityWorkItem, Connection, OrchestratorWorkItem
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def ts(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def kinds(events: list[pb.HistoryEvent]) -> list[str]:
    return [e.WhichOneof("eventType") or "" for e in events]


def schedule_task(action_id: int, name: str, input: str | None = None) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=action_id, scheduleTask=pb.ScheduleTaskAction(name=name))
    if input is not None:
        action.scheduleTask.input.value = input
    return action


def create_timer(action_id: int, fire_at: datetime) -> pb.OrchestratorAction:
    return pb.OrchestratorAction(id=action_id, createTimer=pb.CreateTimerAction(fireAt=ts(fire_at)))


def complete(
    action_id: int = 99,
    result: str | None = None,
    status: int = pb.ORCHESTRATION_STATUS_COMPLETED,
    failure: pb.TaskFailureDetails | None = None,
) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(
        id=action_id, completeOrchestration=pb.CompleteOrchestrationAction(orchestrationStatus=status)
    )
    if result is not None:
        action.completeOrchestration.result.value = result
    if failure is not None:
        action.completeOrchestration.failureDetails.CopyFrom(failure)
    return action


def sub_orchestration(action_id: int, name: str, instance_id: str = "", input: str | None = None):
    action = pb.OrchestratorAction(
        id=action_id, createSubOrchestration=pb.CreateSubOrchestrationAction(name=name, instanceId=instance_id)
    )
    if input is not None:
        action.createSubOrchestration.input.value = input
    return action


class Harness:
    """An engine on a manual (or given) clock with one worker connection."""

    def __init__(self, mode: str = "manual", *, max_payload_bytes: int = 16 * 1024 * 1024, **connect: int) -> None:
        self.clock = Clock(mode, START if mode != "real" else None)
        self.engine = Engine(self.clock, max_payload_bytes=max_payload_bytes)
        self.connection = self.connect(**connect)

    def connect(self, **limits: int) -> Connection:
        request = pb.GetWorkItemsRequest(
            maxConcurrentOrchestrationWorkItems=limits.get("max_orchestrators", 0),
            maxConcurrentActivityWorkItems=limits.get("max_activities", 0),
        )
        return self.engine.connect(request)

    def start(self, name: str = "orch", instance_id: str = "i1", input: str | None = None, **extra) -> str:
        request = pb.CreateInstanceRequest(instanceId=instance_id, name=name, **extra)
        if input is not None:
            request.input.value = input
        return self.engine.start_instance(request)

    def next(self, connection: Connection | None = None):
        return self.engine.next_work_item(connection or self.connection, timeout=0)

    def next_orchestrator(self, connection: Connection | None = None) -> OrchestratorWorkItem:
        item = self.next(connection)
        assert isinstance(item, OrchestratorWorkItem), f"expected an orchestrator work item, got {item!r}"
        return item

    def next_activity(self, connection: Connection | None = None) -> ActivityWorkItem:
        item = self.next(connection)
        assert isinstance(item, ActivityWorkItem), f"expected an activity work item, got {item!r}"
        return item

    def finish(self, item: OrchestratorWorkItem, *actions: pb.OrchestratorAction, custom_status: str | None = None):
        response = pb.OrchestratorResponse(
            instanceId=item.instance_id, completionToken=item.token, actions=list(actions)
        )
        if custom_status is not None:
            response.customStatus.value = custom_status
        self.engine.complete_orchestrator(response)

    def answer(self, item: ActivityWorkItem, result: str | None = None, failure: pb.TaskFailureDetails | None = None):
        response = pb.ActivityResponse(instanceId=item.instance_id, taskId=item.task_id, completionToken=item.token)
        if result is not None:
            response.result.value = result
        if failure is not None:
            response.failureDetails.CopyFrom(failure)
        self.engine.complete_activity(response)

    def status(self, instance_id: str = "i1") -> int:
        state = self.engine.get_instance(instance_id, True)
        assert state is not None
        return state.orchestrationStatus

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))
