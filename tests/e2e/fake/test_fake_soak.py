"""Soak: 500 orchestrations under seeded chaos with retries, 2,000 concurrent waits, workers killed repeatedly.

Every orchestration's output is checked and nothing may be lost. Bounded (well under a minute here); the figures
it prints are recorded in docs/reliability.md ("Soak").
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import grpc
from durabletask_pytest import wait_until

from durabletask import task, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

ORCHESTRATIONS = 500
WAITS_PER_ORCHESTRATION = 4  # 2,000 concurrent waits
WORKER_KILLS = 4
BOUND_SECONDS = 90.0
RETRY = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=12)


def add(ctx: task.ActivityContext, pair: list[int]) -> int:
    return pair[0] + pair[1]


def chain(ctx: task.OrchestrationContext, n: int):  # type: ignore[no-untyped-def]
    total = yield ctx.call_activity(add, input=[n, 1], retry_policy=RETRY)
    total = yield ctx.call_activity(add, input=[total, 10], retry_policy=RETRY)
    parts = yield task.when_all([ctx.call_activity(add, input=[total, k], retry_policy=RETRY) for k in range(3)])
    return sum(parts)


def expected(n: int) -> int:
    return sum(n + 11 + k for k in range(3))


def new_worker(address: str) -> worker.TaskHubGrpcWorker:
    w = worker.TaskHubGrpcWorker(host_address=address)
    w.add_orchestrator(chain)
    w.add_activity(add)
    w.start()
    return w


def test_soak_chaos_waits_and_worker_kills_lose_nothing() -> None:
    started = time.monotonic()
    with FakeSidecar(clock="auto") as sidecar, grpc.insecure_channel(sidecar.address) as channel:
        sidecar.faults.chaos(20261201, rate=0.2, kinds=["fail_activity", "lose_activity_result",
                                                         "lose_orchestrator_result", "delay_activity"])
        stub = stubs.TaskHubSidecarServiceStub(channel)
        ids = [f"soak-{n}" for n in range(ORCHESTRATIONS)]
        starts = [stub.StartInstance.future(pb.CreateInstanceRequest(instanceId=i, name="chain", input=_json(n)))
                  for n, i in enumerate(ids)]
        for start in starts:
            start.result(timeout=BOUND_SECONDS)
        waits = [stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=i, getInputsAndOutputs=True),
                                                       timeout=BOUND_SECONDS)
                 for i in ids for _ in range(WAITS_PER_ORCHESTRATION)]
        wait_until(lambda: sidecar.long_polls_in_flight >= len(waits) // 2, timeout=BOUND_SECONDS,
                   what="the waits to arrive")

        current = new_worker(sidecar.address)
        try:
            for kill in range(1, WORKER_KILLS + 1):  # kill the worker each time another share of the work is done
                target = kill * ORCHESTRATIONS // (WORKER_KILLS + 1)
                wait_until(lambda t=target: _completed(sidecar) >= t, timeout=BOUND_SECONDS,
                           what=f"{target} orchestrations to complete before kill {kill}")
                sidecar.faults.disconnect_workers()  # the stream drops as in a crash ...
                current.stop()  # ... and the process goes away; a new one takes over
                current = new_worker(sidecar.address)
            answers = [wait.result(timeout=BOUND_SECONDS) for wait in waits]
        finally:
            current.stop()

        for n, instance_id in enumerate(ids):
            for answer in answers[n * WAITS_PER_ORCHESTRATION:(n + 1) * WAITS_PER_ORCHESTRATION]:
                state = answer.orchestrationState
                assert state.instanceId == instance_id
                assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED, state.failureDetails
                assert json.loads(state.output.value) == expected(n)
        assert len(sidecar.instances()) == ORCHESTRATIONS
        kinds = {record.kind for record in sidecar.faults.log}
        assert {"fail_activity", "lose_activity_result"} <= kinds, kinds  # chaos really happened
        print(f"soak: {ORCHESTRATIONS} orchestrations, {len(waits)} concurrent waits, {WORKER_KILLS} worker kills, "
              f"{len(sidecar.faults.log)} injected faults, all outputs correct, in {time.monotonic() - started:.1f} s")


def _completed(sidecar: FakeSidecar) -> int:
    return sum(1 for snapshot in sidecar.instances() if snapshot.status_name == "COMPLETED")


def _json(value: object) -> object:
    from google.protobuf import wrappers_pb2

    return wrappers_pb2.StringValue(value=json.dumps(value))
