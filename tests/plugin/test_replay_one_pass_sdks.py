"""The replay engine of the installed SDK (ours, or the published one) in one pass: the same verdicts as one
execution per work item.

Histories come from real runs of the installed SDK's worker on a fake. Our SDK's pass gives every step's actions
exactly; the published SDK's pass (its executor handed the history without its action records) must give the
same actions, split by the recorded task ids, for every history it takes; histories it cannot take (retries record
a task id twice) go the usual way. On changed code both ways give the same verdict; a pass that stops early
without a divergence hands the history to the usual way; a history of another shape is not taken in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.replay import Registration, Replayer, StoredHistory, plan
from durabletask_testing.replay.episodes import produced_records
from durabletask_testing.replay.replayer import one_pass_steps
from durabletask_testing.replay.sdks import runner
from durabletask_testing.replay.sidecar import Answer

_attempts: dict[str, int] = {}


def hello(ctx: Any, name: str) -> str:
    return f"Hello {name}!"


def flaky(ctx: Any, key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise RuntimeError(f"attempt {_attempts[key]} fails")
    return "ok"


def broken(ctx: Any, _: Any) -> None:
    raise ValueError("always fails")


def chain(ctx: Any, names: list[str]) -> Any:
    results = []
    for name in names:
        results.append((yield ctx.call_activity(hello, input=name)))
    ctx.set_custom_status({"done": len(results)})
    return results


def fan_out(ctx: Any, count: int) -> Any:
    return (yield task.when_all([ctx.call_activity(hello, input=str(i)) for i in range(count)]))


def careful(ctx: Any, _: Any) -> Any:
    try:
        yield ctx.call_activity(broken)
    except task.TaskFailedError:
        pass
    retry = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    return (yield ctx.call_activity(flaky, input=ctx.instance_id, retry_policy=retry))


def waiting(ctx: Any, _: Any) -> Any:
    yield ctx.create_timer(timedelta(minutes=5))
    approval = ctx.wait_for_external_event("approve")
    timeout = ctx.create_timer(timedelta(hours=1))
    winner = yield task.when_any([approval, timeout])
    return "approved" if winner == approval else "timed out"


def parent(ctx: Any, names: list[str]) -> Any:
    first = yield ctx.call_sub_orchestrator(chain, input=names, instance_id=f"{ctx.instance_id}-child")
    second = yield ctx.call_activity(hello, input=first[0])
    return [first, second]


ORCHESTRATORS: dict[str, Callable[..., Any]] = {
    "chain": chain, "fan_out": fan_out, "careful": careful, "waiting": waiting, "parent": parent}


def _record() -> list[StoredHistory]:
    """One finished instance per orchestrator (the approval sent while suspended, then resumed)."""
    histories = []
    with FakeSidecar(clock="auto") as sidecar:
        running = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        for function in ORCHESTRATORS.values():
            running.add_orchestrator(function)
        for activity in (hello, flaky, broken):
            running.add_activity(activity)
        running.start()
        try:
            hub = client.TaskHubGrpcClient(host_address=sidecar.address)
            inputs = {"chain": ["a", "b", "c"], "fan_out": 4, "careful": None, "waiting": None,
                      "parent": ["x", "y"]}
            for name, value in inputs.items():
                instance_id = hub.schedule_new_orchestration(ORCHESTRATORS[name], input=value,
                                                             instance_id=f"one-pass-{name}")
                if name == "waiting":
                    hub.wait_for_orchestration_start(instance_id, timeout=10)
                    hub.suspend_orchestration(instance_id)
                    hub.raise_orchestration_event(instance_id, "approve", data=True)
                    hub.resume_orchestration(instance_id)
                state = hub.wait_for_orchestration_completion(instance_id, timeout=30)
                assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
            for snapshot in sidecar.instances():
                histories.append(StoredHistory(snapshot.instance_id, list(sidecar.history(snapshot.instance_id)),
                                               name=snapshot.name))
        finally:
            running.stop()
    return histories


@pytest.fixture(scope="module")
def histories() -> list[StoredHistory]:
    return _record()


def _records(instance_id: str, answers: Sequence[Answer]) -> list[list[Any]]:
    return [produced_records(answer.actions, instance_id) for answer in answers]


def _serialized(answers: Sequence[Answer]) -> list[list[bytes]]:
    return [[action.SerializeToString(deterministic=True) for action in answer.actions] for answer in answers]


def test_the_installed_sdks_pass_gives_each_step_the_actions_of_its_own_work_item(
        histories: list[StoredHistory]) -> None:
    engine, close = runner(Registration.of(ORCHESTRATORS))
    try:
        assert hasattr(engine, "one_pass"), "the installed SDK replays in process"
        exact = getattr(engine, "one_pass_exact", True)
        taken = set()
        whole = 0  # histories the pass got through
        for history in histories:
            planned = plan(history)
            steps = one_pass_steps(planned)
            assert steps is not None, history.instance_id
            assert len(steps) == len(planned.episodes) >= 2
            request = pb.OrchestratorRequest(instanceId=history.instance_id, pastEvents=history.events)
            answers, complete = engine.one_pass(request, steps)
            if not complete:
                continue
            taken.add(history.name)
            whole += 1
            batched = engine(planned.requests)
            assert _records(history.instance_id, answers) == _records(history.instance_id, batched)
            assert all(not answer.abandoned for answer in answers)
            if exact:  # our SDK: the very same actions, byte for byte
                assert _serialized(answers) == _serialized(batched), history.instance_id
        assert {"chain", "fan_out", "waiting", "parent"} <= taken
        if exact:
            assert whole == len(histories) == 6  # five orchestrations and the sub-orchestration, every one
    finally:
        close()


def test_on_changed_code_the_verdict_is_the_one_of_replaying_each_work_item(histories: list[StoredHistory]) -> None:
    def chain_v2(ctx: Any, names: list[str]) -> Any:
        results = []
        for name in names:
            results.append((yield ctx.call_activity(hello, input=name.upper())))
        return results

    engine, close = runner(Registration.of({**ORCHESTRATORS, "chain": chain_v2}))
    try:
        chains = [h for h in histories if h.name == "chain"]
        assert chains
        one_pass = Replayer(engine).replay_all(chains, repeat=2)
        batched = Replayer(lambda requests: engine(requests)).replay_all(chains, repeat=2)
        assert [o.describe() for o in one_pass] == [o.describe() for o in batched]
        assert all(o.describe().startswith("diverges at step 1 (action 1): recorded TaskScheduled(id=1")
                   for o in one_pass)
        same = Replayer(runner(Registration.of(ORCHESTRATORS))[0]).replay_all(histories, repeat=3)
        assert all(o.replays for o in same), [o.describe() for o in same]
    finally:
        close()


class _StopsEarly:
    """A runner whose one pass never gets through, answering the batch as the recorded history did."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.batched: list[int] = []

    def __call__(self, requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
        self.batched.append(len(requests))
        answers: list[Answer] = self.engine(requests)
        return answers

    def one_pass(self, history: pb.OrchestratorRequest, steps: Sequence[Any]) -> tuple[list[Answer], bool]:
        answers, _ = self.engine.one_pass(history, steps)
        return answers[:1], False


def test_a_pass_that_stops_early_without_a_divergence_replays_the_history_one_work_item_at_a_time(
        histories: list[StoredHistory]) -> None:
    engine, close = runner(Registration.of(ORCHESTRATORS))
    try:
        stops_early = _StopsEarly(engine)
        chains = [h for h in histories if h.name == "chain"]
        outcomes = Replayer(stops_early).replay_all(chains, repeat=3)
        assert all(o.replays and o.rounds == 3 for o in outcomes)
        assert stops_early.batched == [3 * sum(len(plan(h).episodes) for h in chains)]
    finally:
        close()


def test_a_history_whose_step_has_a_new_event_after_an_action_record_is_not_taken_in_one_pass(
        histories: list[StoredHistory]) -> None:
    history = next(h for h in histories if h.name == "chain")
    events = list(history.events)
    second = [i for i, e in enumerate(events) if e.WhichOneof("eventType") == "orchestratorStarted"][1]
    kinds = [e.WhichOneof("eventType") for e in events[second:second + 3]]
    assert kinds == ["orchestratorStarted", "taskCompleted", "taskScheduled"]
    events[second + 1], events[second + 2] = events[second + 2], events[second + 1]  # the record first
    reordered = StoredHistory(history.instance_id, events, name=history.name)
    assert one_pass_steps(plan(history)) is not None
    assert one_pass_steps(plan(reordered)) is None
