"""Helpers for driving the fake sidecar's engine directly with protocol messages (no gRPC)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from google.protobuf import timestamp_pb2

from durabletask_testing.clock import Clock
from durabletask_testing.engine import Engine
from durabletask_testing.engine.state import Connection
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


@dataclass
class OrchestratorItem:
    """The fields of an orchestrator WorkItem the tests read."""

    token: str
    instance_id: str
    execution_id: str
    new_events: list[pb.HistoryEvent]
    past_events: list[pb.HistoryEvent]


@dataclass
class ActivityItem:
    """The fields of an activity WorkItem the tests read."""

    token: str
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None
    tags: dict[str, str] = field(default_factory=dict)


def view(item: pb.WorkItem | None) -> OrchestratorItem | ActivityItem | None:
    """A work item message as a plain record (None stays None)."""
    if item is None:
        return None
    if item.HasField("orchestratorRequest"):
        request = item.orchestratorRequest
        return OrchestratorItem(
            item.completionToken,
            request.instanceId,
            request.executionId.value,
            list(request.newEvents),
            list(request.pastEvents),
        )
    activity = item.activityRequest
    return ActivityItem(
        item.completionToken,
        activity.orchestrationInstance.instanceId,
        activity.orchestrationInstance.executionId.value,
        activity.taskId,
        activity.name,
        activity.input.value if activity.HasField("input") else None,
        dict(activity.tags),
    )


class Harness:
    """An engine on a manual (or given) clock with one worker connection."""

    def __init__(
        self,
        mode: str = "manual",
        *,
        max_payload_bytes: int = 16 * 1024 * 1024,
        lease: float | None = None,
        frozen: bool = False,
        **connect: int,
    ) -> None:
        # The engine's monotonic time: real time plus what tests add with tick(), so back-offs and leases pass
        # without waiting and the timeouts of blocking calls still bound them; or, when ``frozen``, only what
        # tests add (exact, but then blocking calls must use timeout=0).
        self.seconds = 0.0
        base = (lambda: 0.0) if frozen else time.monotonic
        self.clock = Clock(mode, START if mode != "real" else None, monotonic=lambda: base() + self.seconds)
        self.engine = Engine(self.clock, max_payload_bytes=max_payload_bytes, work_item_lease=lease)
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
        return self.engine.start_instance(request).instanceId

    def next(self, connection: Connection | None = None) -> OrchestratorItem | ActivityItem | None:
        return view(self.engine.next_work_item(connection or self.connection, timeout=0))

    def next_work_item(self, connection: Connection, timeout: float) -> OrchestratorItem | ActivityItem | None:
        return view(self.engine.next_work_item(connection, timeout=timeout))

    def next_orchestrator(self, connection: Connection | None = None) -> OrchestratorItem:
        item = self.next(connection)
        assert isinstance(item, OrchestratorItem), f"expected an orchestrator work item, got {item!r}"
        return item

    def next_activity(self, connection: Connection | None = None) -> ActivityItem:
        item = self.next(connection)
        assert isinstance(item, ActivityItem), f"expected an activity work item, got {item!r}"
        return item

    def tick(self, seconds: float) -> None:
        """Move the engine's monotonic time (back-offs, leases)."""
        self.seconds += seconds

    def finish(self, item: OrchestratorItem, *actions: pb.OrchestratorAction, custom_status: str | None = None):
        response = pb.OrchestratorResponse(
            instanceId=item.instance_id, completionToken=item.token, actions=list(actions)
        )
        if custom_status is not None:
            response.customStatus.value = custom_status
        self.engine.complete_orchestrator(response)

    def answer(self, item: ActivityItem, result: str | None = None, failure: pb.TaskFailureDetails | None = None):
        response = pb.ActivityResponse(instanceId=item.instance_id, taskId=item.task_id, completionToken=item.token)
        if result is not None:
            response.result.value = result
        if failure is not None:
            response.failureDetails.CopyFrom(failure)
        self.engine.complete_activity(response)

    def status(self, instance_id: str = "i1") -> int:
        state = self.get_instance(instance_id, True)
        assert state is not None
        return state.orchestrationStatus

    # -- the engine's RPC methods with plain arguments ---------------------------------------------

    def get_instance(self, instance_id: str, payloads: bool) -> pb.OrchestrationState | None:
        response = self.engine.get_instance(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=payloads))
        return response.orchestrationState if response.exists else None

    def wait_for(self, instance_id: str, *, until, include_payloads: bool, timeout: float | None):
        request = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=include_payloads)
        response = self.engine.wait_for_instance(request, until=until, timeout=timeout)
        return response.orchestrationState if response.exists else None

    def raise_event(self, instance_id: str, name: str, input: str | None) -> None:
        request = pb.RaiseEventRequest(instanceId=instance_id, name=name)
        if input is not None:
            request.input.value = input
        self.engine.raise_event(request)

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        request = pb.TerminateRequest(instanceId=instance_id, recursive=recursive)
        if output is not None:
            request.output.value = output
        self.engine.terminate(request)

    def suspend(self, instance_id: str, reason: str | None) -> None:
        request = pb.SuspendRequest(instanceId=instance_id)
        if reason is not None:
            request.reason.value = reason
        self.engine.suspend(request)

    def resume(self, instance_id: str, reason: str | None) -> None:
        request = pb.ResumeRequest(instanceId=instance_id)
        if reason is not None:
            request.reason.value = reason
        self.engine.resume(request)

    def restart(self, instance_id: str, new_id: bool) -> str:
        request = pb.RestartInstanceRequest(instanceId=instance_id, restartWithNewInstanceId=new_id)
        return self.engine.restart_instance(request).instanceId

    def purge(self, request: pb.PurgeInstancesRequest) -> int:
        return self.engine.purge_instances(request).deletedInstanceCount

    def query(self, query: pb.InstanceQuery) -> tuple[list[pb.OrchestrationState], str | None]:
        response = self.engine.query_instances(pb.QueryInstancesRequest(query=query))
        token = response.continuationToken.value if response.HasField("continuationToken") else None
        return list(response.orchestrationState), token

    def list_instance_ids(self, request: pb.ListInstanceIdsRequest) -> tuple[list[str], str | None]:
        response = self.engine.list_instance_ids(request)
        key = response.lastInstanceKey.value if response.HasField("lastInstanceKey") else None
        return list(response.instanceIds), key

    def history_chunks(self, instance_id: str) -> list[pb.HistoryChunk]:
        return self.engine.stream_instance_history(pb.StreamInstanceHistoryRequest(instanceId=instance_id))

    def abandon_orchestrator(self, token: str) -> None:
        self.engine.abandon_orchestrator(pb.AbandonOrchestrationTaskRequest(completionToken=token))

    def abandon_activity(self, token: str) -> None:
        self.engine.abandon_activity(pb.AbandonActivityTaskRequest(completionToken=token))

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))
