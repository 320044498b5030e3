"""End-to-end reliability of the fake's engine over real gRPC: with the SDK, and with raw stubs where the SDK
cannot produce the input (deep failures, stale tokens, malformed responses)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from fake_e2e_helpers import connected

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


@contextlib.contextmanager
def raw(sidecar: FakeSidecar) -> Iterator[stubs.TaskHubSidecarServiceStub]:
    with grpc.insecure_channel(sidecar.address) as channel:
        yield stubs.TaskHubSidecarServiceStub(channel)


def next_item(stream: Iterator[pb.WorkItem]) -> pb.WorkItem:
    """The next work item that is not a health ping (the stream's own deadline bounds the wait)."""
    for item in stream:
        if not item.HasField("healthPing"):
            return item
    raise AssertionError("the work-item stream ended")


def complete_orchestrator(stub, item: pb.WorkItem, *actions: pb.OrchestratorAction) -> None:
    stub.CompleteOrchestratorTask(
        pb.OrchestratorResponse(
            instanceId=item.orchestratorRequest.instanceId, completionToken=item.completionToken, actions=actions
        ),
        timeout=10,
    )


def completion(status: int = pb.ORCHESTRATION_STATUS_COMPLETED, action_id: int = 9) -> pb.OrchestratorAction:
    return pb.OrchestratorAction(
        id=action_id, completeOrchestration=pb.CompleteOrchestrationAction(orchestrationStatus=status)
    )


def status_of(stub, instance_id: str) -> int:
    response = stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id), timeout=10)
    assert response.exists
    return response.orchestrationState.orchestrationStatus


# -- 1. deeply nested failure details ------------------------------------------------------------------------


def nested_failure(levels: int) -> pb.TaskFailureDetails:
    failure = pb.TaskFailureDetails(errorType="Level0", errorMessage="root cause")
    for level in range(1, levels):
        failure = pb.TaskFailureDetails(errorType=f"Level{level}", errorMessage="wrapped", innerFailure=failure)
    return failure


def test_a_99_level_failure_chain_neither_kills_the_stream_nor_stalls_other_instances():
    with FakeSidecar(clock="manual", start_time=START) as sidecar, raw(sidecar) as stub:
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=20)
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="deep", name="orch"), timeout=10)
        first = next_item(stream)
        schedule = pb.OrchestratorAction(id=0, scheduleTask=pb.ScheduleTaskAction(name="act"))
        complete_orchestrator(stub, first, schedule)
        activity = next_item(stream)
        stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId="deep", taskId=0, completionToken=activity.completionToken, failureDetails=nested_failure(99)
            ),
            timeout=10,
        )
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="unrelated", name="orch"), timeout=10)
        seen = {}
        while len(seen) < 2:
            item = next_item(stream)
            seen[item.orchestratorRequest.instanceId] = item
        complete_orchestrator(stub, seen["unrelated"], completion())
        assert status_of(stub, "unrelated") == pb.ORCHESTRATION_STATUS_COMPLETED
        failed = seen["deep"].orchestratorRequest.newEvents[-1].taskFailed.failureDetails
        depth = 1
        while failed.HasField("innerFailure"):
            failed, depth = failed.innerFailure, depth + 1
        assert depth == 64 and failed.errorType == "FailureDetailsTruncated"
        stream.cancel()


# -- 3. leases -----------------------------------------------------------------------------------------------


def test_an_uncompleted_work_item_is_dispatched_again_after_its_lease_and_the_stale_completion_is_refused():
    with FakeSidecar(clock="manual", start_time=START, work_item_lease=0.3) as sidecar, raw(sidecar) as stub:
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=20)
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="i1", name="orch"), timeout=10)
        abandoned = next_item(stream)  # the worker "gives up" on this one
        again = next_item(stream)  # handed out again once the lease has run out
        assert again.orchestratorRequest.instanceId == "i1" and again.completionToken != abandoned.completionToken
        with pytest.raises(grpc.RpcError) as stale:
            complete_orchestrator(stub, abandoned, completion())
        assert stale.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "lease" in stale.value.details()
        assert status_of(stub, "i1") == pb.ORCHESTRATION_STATUS_PENDING
        complete_orchestrator(stub, again, completion())
        assert status_of(stub, "i1") == pb.ORCHESTRATION_STATUS_COMPLETED
        assert [record.kind for record in sidecar.faults.log] == ["lease_expired"]
        stream.cancel()


# -- 5. and 6. chaos ----------------------------------------------------------------------------------------


def flaky(ctx: task.ActivityContext, n: int) -> int:
    return n


def retried_chain(ctx: task.OrchestrationContext, _: object):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=10)
    total = 0
    for n in range(3):
        total += yield ctx.call_activity(flaky, input=n, retry_policy=policy)
    return total


def _run_chaos(count: int, seed: int) -> tuple[Counter[str], Counter[tuple[int, str, int | None]]]:
    with FakeSidecar(clock="auto", start_time=START) as sidecar:
        sidecar.faults.chaos(seed, rate=0.3, kinds=["fail_activity"])
        with connected(sidecar, [retried_chain], [flaky]) as c:
            ids = [c.schedule_new_orchestration(retried_chain) for _ in range(count)]  # ids generated by the client
            outcomes = Counter(c.wait_for_orchestration_completion(i, timeout=30).runtime_status.name for i in ids)
        order = {instance_id: index for index, instance_id in enumerate(ids)}
        faults = Counter((order[r.instance_id], r.kind, r.task_id) for r in sidecar.faults.log)
    return outcomes, faults


def test_chaos_activity_failures_are_decided_per_retry_attempt_and_reproduce_whatever_the_instance_ids():
    outcomes, faults = _run_chaos(25, seed=3)
    assert outcomes == Counter({"COMPLETED": 25})  # each attempt has its own 30 % chance: 10 attempts succeed
    assert sum(faults.values()) > 10
    _, again = _run_chaos(25, seed=3)
    assert again == faults


# -- 7. "wait forever" timers ---------------------------------------------------------------------------------


def forever_or_event(ctx: task.OrchestrationContext, _: object):
    forever = ctx.create_timer(datetime(9999, 12, 31, tzinfo=timezone.utc))
    go = ctx.wait_for_external_event("go")
    winner = yield task.when_any([forever, go])
    yield ctx.create_timer(timedelta(hours=1))
    return ["go" if winner == go else "forever", ctx.current_utc_datetime.year]


@contextlib.contextmanager
def unsplit_timers(sidecar: FakeSidecar) -> Iterator[client.TaskHubGrpcClient]:
    """A worker that schedules a far timer as one timer, as Dapr's SDKs do (ours splits it into 3-day timers)."""
    w = worker.TaskHubGrpcWorker(host_address=sidecar.address, maximum_timer_interval=None)
    w.add_orchestrator(forever_or_event)
    w.start()
    c = client.TaskHubGrpcClient(host_address=sidecar.address)
    try:
        yield c
    finally:
        c.close()
        w.stop()


def test_the_auto_clock_never_jumps_to_a_year_9999_timer():
    with FakeSidecar(clock="auto", start_time=START) as sidecar, unsplit_timers(sidecar) as c:
        instance_id = c.schedule_new_orchestration(forever_or_event)
        with pytest.raises(TimeoutError):
            c.wait_for_orchestration_completion(instance_id, timeout=1)  # nothing may happen meanwhile
        assert sidecar.clock.now() == START
        c.raise_orchestration_event(instance_id, "go")
        state = c.wait_for_orchestration_completion(instance_id, timeout=20)
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED
        assert state.serialized_output == '["go", 2024]'


# -- 8., 11. and 12. malformed responses ----------------------------------------------------------------------


def test_malformed_completions_are_refused_with_invalid_argument_and_blank_child_ids_are_derived():
    with FakeSidecar(clock="manual", start_time=START) as sidecar, raw(sidecar) as stub:
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=20)
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="p", name="orch"), timeout=10)
        item = next_item(stream)
        twice = (completion(action_id=1), completion(pb.ORCHESTRATION_STATUS_FAILED, action_id=2))
        carried = completion(pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW)
        carried.completeOrchestration.carryoverEvents.append(
            pb.HistoryEvent(taskCompleted=pb.TaskCompletedEvent(taskScheduledId=3))
        )
        for actions, words in ((twice, "only once"), ((carried,), "carryoverEvents[0]")):
            with pytest.raises(grpc.RpcError) as refused:
                complete_orchestrator(stub, item, *actions)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in refused.value.details()
        assert status_of(stub, "p") == pb.ORCHESTRATION_STATUS_PENDING
        blank = pb.OrchestratorAction(
            id=1, createSubOrchestration=pb.CreateSubOrchestrationAction(name="orch", instanceId="  ")
        )
        complete_orchestrator(stub, item, blank)
        assert status_of(stub, "p:0001") == pb.ORCHESTRATION_STATUS_PENDING
        stub.TerminateInstance(pb.TerminateRequest(instanceId="p:0001"), timeout=10)
        stream.cancel()
