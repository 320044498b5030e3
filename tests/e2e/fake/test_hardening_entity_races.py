"""Issue 25 item 15 (the engine's part): entity results are held and ordered by the schedule hook like activity
results, so a schedule policy can decide a ``when_any`` race of two entity calls. Our SDK's worker and client
over real gRPC against a FakeSidecar given a small policy written here (the exploration package's
ScheduleRunner is the real one)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from durabletask import client, task, worker
from durabletask.entities import EntityContext, EntityInstanceId
from durabletask_testing import FakeSidecar
from durabletask_testing.engine.scheduling import Quiet, result_task_id
from durabletask_testing.engine.state import Instance
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

pytestmark = pytest.mark.timeout(60)

WAIT = 15.0
SLOW_WORK = 0.5  # seconds the slower entity's operation works (its result comes second by thread timing)


class ReverseWhenQuiet:
    """Hands out an orchestrator work item only when no activity or entity still has to report, with the
    results of the inbox in reverse order of the actions they answer (a client need not wait)."""

    def __init__(self) -> None:
        self.delivered: list[list[int | None]] = []

    def may_hand_out(self, quiet: Quiet, now: float) -> bool:
        return not (quiet.orchestrators_in_flight or quiet.activities_pending or quiet.entities_pending)

    def release_deadline(self) -> float | None:
        return None

    def pick(self, candidates: Sequence[Instance]) -> Instance:
        return candidates[0]

    def batch(self, instance: Instance) -> tuple[list[pb.HistoryEvent], list[pb.HistoryEvent]]:
        results = [e for e in instance.inbox if result_task_id(instance, e) is not None]
        others = [e for e in instance.inbox if result_task_id(instance, e) is None]
        results.sort(key=lambda e: result_task_id(instance, e) or 0, reverse=True)
        self.delivered.append([result_task_id(instance, e) for e in results])
        return others + results, []


slow_work = threading.Event()  # never set: the slow entity's work takes SLOW_WORK seconds


def racer(ctx: EntityContext, _: Any) -> Any:
    if ctx.entity_id.key == "slow":
        slow_work.wait(SLOW_WORK)
    return ctx.entity_id.key


def race(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    fast = ctx.call_entity(EntityInstanceId("racer", "fast"), "who")
    slow = ctx.call_entity(EntityInstanceId("racer", "slow"), "who")
    winner = yield task.when_any([fast, slow])
    return winner.get_result()


@pytest.fixture
def policy() -> ReverseWhenQuiet:
    return ReverseWhenQuiet()


@pytest.fixture
def sdk(policy: ReverseWhenQuiet) -> Iterator[client.TaskHubGrpcClient]:
    with FakeSidecar(clock="real", schedule=policy) as fake:
        w = worker.TaskHubGrpcWorker(host_address=fake.address)
        w.add_orchestrator(race)
        w.add_entity(racer)
        w.start()
        c = client.TaskHubGrpcClient(host_address=fake.address)
        try:
            yield c
        finally:
            c.close()
            w.stop()


def test_a_policy_holds_and_orders_entity_results_so_the_slower_call_can_win_a_race(
    sdk: client.TaskHubGrpcClient, policy: ReverseWhenQuiet
) -> None:
    state = sdk.wait_for_orchestration_completion(sdk.schedule_new_orchestration(race), timeout=WAIT)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
    # Held until both entities reported, then delivered together in the policy's (reversed) order.
    [together] = [ids for ids in policy.delivered if ids]
    assert len(together) == 2 and together == sorted(together, reverse=True)  # both calls' ids, latest first
    assert state.serialized_output == '"slow"'
