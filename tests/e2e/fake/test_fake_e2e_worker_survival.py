"""End-to-end: the SDK worker survives injected failures of its own RPCs, and the fault log carries the
virtual time, kind, instance id and task id of every fault."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from fake_e2e_helpers import connected, hello, sequence

from durabletask import client, task
from durabletask_testing import FakeSidecar

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
EXPECTED = ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


@pytest.mark.parametrize("method", ["GetWorkItems", "CompleteActivityTask", "CompleteOrchestratorTask"])
def test_worker_finishes_the_work_when_its_own_rpcs_fail(method):
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [sequence], [hello]) as c:
        sidecar.faults.fail_rpc(method, code=grpc.StatusCode.UNAVAILABLE, times=2)
        instance_id = c.schedule_new_orchestration(sequence)
        state = c.wait_for_orchestration_completion(instance_id, timeout=10)
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED
        assert json.loads(state.serialized_output) == EXPECTED
        assert [(r.kind, method in r.detail) for r in sidecar.faults.log] == [("fail_rpc", True)] * 2
        kinds = [e.WhichOneof("eventType") for e in sidecar.history(instance_id)]
        assert kinds.count("taskScheduled") == 3 and kinds.count("taskCompleted") == 3  # nothing doubled


def declined(ctx: task.ActivityContext, _: object) -> None:  # never runs: the fake answers for it
    raise AssertionError("the fault plan should have failed this activity")


def pay(ctx: task.OrchestrationContext, _: object):
    yield ctx.create_timer(timedelta(minutes=5))
    try:
        yield ctx.call_activity(declined)
    except task.TaskFailedError as error:
        return {"message": error.details.message, "type": error.details.error_type}


def test_injected_failure_reaches_task_failed_error_and_the_log_names_instance_task_and_time():
    with FakeSidecar(clock="auto", start_time=START) as sidecar, connected(sidecar, [pay], [declined]) as c:
        sidecar.faults.fail_activity(declined, message="card declined", error_type="PaymentError")
        instance_id = c.schedule_new_orchestration(pay)
        state = c.wait_for_orchestration_completion(instance_id, timeout=10)
        assert state.get_output() == {"message": "card declined", "type": "PaymentError"}
        [record] = sidecar.faults.log
        scheduled = [e for e in sidecar.history(instance_id) if e.HasField("taskScheduled")]
        assert (record.kind, record.instance_id, record.task_id) == ("fail_activity", instance_id, scheduled[0].eventId)
        assert record.time == START + timedelta(minutes=5)  # virtual time, after the timer
        assert "declined" in str(record)
