"""Issue 25, leases of long activities over real gRPC: our SDK's worker runs an activity that outlives several
work-item leases; the fake hands it out again at each expiry and accepts the first result, so the orchestration
completes and the entity lock it holds is released."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from durabletask import client, task, worker
from durabletask.entities import EntityInstanceId
from durabletask_testing import FakeSidecar

pytestmark = pytest.mark.timeout(60)

LEASE_SECONDS = 0.3
WAIT = 15.0


class Runs:
    """The dispatches of the slow activity: the first one returns once the fake has handed it out twice more
    (so it outlived two leases); the later ones block until the test ends."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()
        self.finish = threading.Event()

    def slow(self, ctx: task.ActivityContext, name: str) -> str:
        with self.changed:
            self.count += 1
            mine = self.count
            self.changed.notify_all()
            if mine == 1:
                assert self.changed.wait_for(lambda: self.count >= 3, timeout=WAIT), "not handed out again"
        if mine > 1:
            self.finish.wait(WAIT)
        return f"run {mine}"


runs = Runs()


def slow(ctx: task.ActivityContext, name: str) -> str:
    return runs.slow(ctx, name)


def locked_slow_step(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    with (yield ctx.lock_entities([EntityInstanceId("counter", "held")])):
        result = yield ctx.call_activity(slow, input="a")
    return result


def counter(ctx: Any, _: Any) -> Any:
    return ctx.get_state(int, 0)


def read_counter(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    return (yield ctx.call_entity(EntityInstanceId("counter", "held"), "get"))


@pytest.fixture
def sdk() -> Iterator[tuple[FakeSidecar, client.TaskHubGrpcClient]]:
    global runs
    runs = Runs()
    with FakeSidecar(clock="real", work_item_lease=LEASE_SECONDS) as fake:
        options = worker.ConcurrencyOptions(maximum_thread_pool_workers=12)
        w = worker.TaskHubGrpcWorker(host_address=fake.address, concurrency_options=options)
        w.add_orchestrator(locked_slow_step)
        w.add_orchestrator(read_counter)
        w.add_activity(slow)
        w.add_entity(counter)
        w.start()
        c = client.TaskHubGrpcClient(host_address=fake.address)
        try:
            yield fake, c
        finally:
            runs.finish.set()
            c.close()
            w.stop()


def test_an_activity_longer_than_its_lease_completes_with_its_first_result(
    sdk: tuple[FakeSidecar, client.TaskHubGrpcClient],
) -> None:
    fake, c = sdk
    instance_id = c.schedule_new_orchestration(locked_slow_step)
    state = c.wait_for_orchestration_completion(instance_id, timeout=WAIT)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
    assert state.serialized_output == '"run 1"'  # the first dispatch's result, delivered late
    assert runs.count >= 3
    assert [r.kind for r in fake.faults.log].count("lease_expired") >= 2
    entity = fake.entity("@counter@held")
    assert entity is None or entity.locked_by is None
    done = c.wait_for_orchestration_completion(c.schedule_new_orchestration(read_counter), timeout=WAIT)
    assert done is not None and done.runtime_status == client.OrchestrationStatus.COMPLETED
