"""The replay package's pure parts: the one replay loop (rounds, budget, verdicts) over a scripted runner, and the
registration every SDK gets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.replay import Registration, Replayer, StoredHistory, plan
from durabletask_testing.replay.replayer import rounds_within
from durabletask_testing.replay.sidecar import Answer


def _history(instance_id: str, activity: str = "charge") -> StoredHistory:
    """Two steps: start and schedule ``activity``; its result and completion."""
    events = [pb.HistoryEvent(eventId=-1, orchestratorStarted=pb.OrchestratorStartedEvent())]
    started = pb.HistoryEvent(eventId=-1)
    started.executionStarted.name = "flow"
    started.executionStarted.orchestrationInstance.instanceId = instance_id
    started.executionStarted.orchestrationInstance.executionId.value = "e1"
    events.append(started)
    events.append(pb.HistoryEvent(eventId=1, taskScheduled=pb.TaskScheduledEvent(name=activity)))
    events.append(pb.HistoryEvent(eventId=-1, orchestratorStarted=pb.OrchestratorStartedEvent()))
    events.append(pb.HistoryEvent(eventId=-1, taskCompleted=pb.TaskCompletedEvent(taskScheduledId=1)))
    completed = pb.HistoryEvent(eventId=-1)
    completed.executionCompleted.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
    completed.executionCompleted.result.value = '"done"'
    events.append(completed)
    return StoredHistory(instance_id, events, source=f"{instance_id}.json")


def _schedule(activity: str) -> pb.OrchestratorAction:
    return pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction(name=activity))


def _complete() -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(completeOrchestration=pb.CompleteOrchestrationAction(
        orchestrationStatus=pb.ORCHESTRATION_STATUS_COMPLETED))
    action.completeOrchestration.result.value = '"done"'
    return action


class Scripted:
    """A runner answering as recorded, except where ``wrong(call, request)`` returns another answer."""

    def __init__(self, wrong: dict[int, Answer] | None = None) -> None:
        self.calls: list[pb.OrchestratorRequest] = []
        self.wrong = wrong or {}

    def __call__(self, requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
        answers = []
        for request in requests:
            number = len(self.calls)
            self.calls.append(request)
            first_step = not any(e.HasField("orchestratorStarted") for e in request.pastEvents)
            right = Answer([_schedule("charge")] if first_step else [_complete()], answered=True)
            answers.append(self.wrong.get(number, right))
        return answers


def test_every_round_of_every_history_goes_in_one_batch_and_a_history_that_matches_replays() -> None:
    runner = Scripted()
    outcomes = Replayer(runner).replay_all([_history("a"), _history("b")], repeat=3)
    assert [(o.instance_id, o.replays, o.steps, o.replay_round, o.rounds) for o in outcomes] == [
        ("a", True, 2, 3, 3), ("b", True, 2, 3, 3)]
    assert [r.instanceId for r in runner.calls] == ["a", "a", "b", "b"] * 3
    assert {r.executionId.value for r in runner.calls} == {"e1"}
    assert [len(r.pastEvents) for r in runner.calls[:2]] == [0, 3]  # step 2 sees step 1 as past events


def test_the_first_round_that_does_not_replay_gives_the_verdict_and_names_the_step_and_action() -> None:
    # Round 2 (calls 4..7) of history "b" (calls 6, 7): step 1 answers another activity.
    runner = Scripted({6: Answer([_schedule("fraud_check")], answered=True)})
    a, b = Replayer(runner).replay_all([_history("a"), _history("b")], repeat=3)
    assert a.replays and not b.replays and (b.replay_round, b.rounds) == (2, 3)
    assert b.describe() == ("diverges at step 1 (action 1): recorded TaskScheduled(id=1, name='charge', "
                            "version=None, input=None), code produced TaskScheduled(id=1, name='fraud_check', "
                            "version=None, input=None)")


def test_an_abandoned_step_is_a_refusal_and_an_unanswered_one_a_problem() -> None:
    refused = Replayer(Scripted({1: Answer(answered=True, abandoned=True)})).replay(_history("a"))
    assert refused.refused and not refused.replays and "versioning options reject" in refused.describe()
    silent = Replayer(Scripted({0: Answer()})).replay(_history("a"))
    assert not silent.refused and silent.describe() == "cannot replay: the worker did not answer step 1"


def test_the_event_budget_cuts_rounds_but_keeps_one_and_repeat_must_be_positive() -> None:
    plans = [plan(_history("a"))]
    assert plans[0].events == 2 + 3 + 2  # step 1: 2 new events; step 2: 3 past and 2 new
    assert rounds_within(plans, 7, None) == 7
    assert rounds_within(plans, 7, 20) == 2
    assert rounds_within(plans, 7, 1) == 1
    runner = Scripted()
    (outcome,) = Replayer(runner).replay_plans(plans, 7, event_budget=20)
    assert outcome.replays and outcome.rounds == 2 and len(runner.calls) == 4
    with pytest.raises(ValueError, match="repeat must be at least 1, got 0"):
        Replayer(runner).replay_plans(plans, 0)


def test_a_history_without_work_items_does_not_replay_and_the_code_is_not_called() -> None:
    """Issue 25 item 4: replaying nothing is no success; the outcome is ``empty`` and says why."""
    started = _history("y").events[1]  # ExecutionStarted only: started, never run by a worker
    runner = Scripted()
    empty, never_ran, fine = Replayer(runner).replay_all([StoredHistory("x", []), StoredHistory("y", [started]),
                                                          _history("z")])
    assert [(o.replays, o.empty, o.steps) for o in (empty, never_ran, fine)] == [
        (False, True, 0), (False, True, 0), (True, False, 2)]
    assert empty.describe() == ("nothing to replay: the history has no OrchestratorStarted event (0 events): no "
                                "worker has run this instance yet")
    assert "(1 events)" in never_ran.describe()
    assert [r.instanceId for r in runner.calls] == ["z", "z"]  # the empty ones handed nothing to the code
    (alone,) = Replayer(runner).replay_all([StoredHistory("x", [])])
    assert not alone.replays and len(runner.calls) == 2


def test_a_registration_keeps_names_from_a_mapping_and_lets_the_sdk_name_bare_functions() -> None:
    def flow(ctx: object, _: object) -> None:
        return None

    assert Registration.of({"renamed": flow}, versioning="v").orchestrators == (("renamed", flow),)
    assert Registration.of([flow]).orchestrators == ((None, flow),)
    assert Registration.of([flow], maximum_timer_interval=5).maximum_timer_interval == 5


def test_the_replay_gate_exit_status_is_the_worst_outcome() -> None:
    from durabletask_testing.replay.cli import EXIT_CODES, exit_status

    runner = Scripted({0: Answer([_schedule("fraud_check")], answered=True)})
    diverges, fine = Replayer(runner).replay_all([_history("a"), _history("b")])
    (empty,) = Replayer(runner).replay_all([StoredHistory("x", [])])
    assert [exit_status(o) for o in ([fine], [empty, fine], [empty, diverges, fine], [])] == [0, 3, 1, 0]
    assert sorted(EXIT_CODES) == [0, 1, 2, 3]


def test_a_history_file_nested_too_deeply_is_refused_naming_the_file_with_a_bounded_message(tmp_path: Path) -> None:
    from durabletask_testing.replay import HistoryFileError, load_history, parse_history

    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "durabletask-history", "version": 1, "events": [' + "[" * 50_000 + "]" * 50_000 + "]}")
    with pytest.raises(HistoryFileError, match=r"deep\.json: cannot read the history: its JSON is nested too deeply"):
        load_history(deep)
    failure: dict[str, object] = {"errorType": "E", "errorMessage": "m"}
    for _ in range(400):  # JSON reads it; protobuf's parser refuses failure details this deep
        failure = {"errorType": "E", "errorMessage": "m", "innerFailure": failure}
    document = {"format": "durabletask-history", "version": 1, "instanceId": "x",
                "events": [{"executionCompleted": {"failureDetails": failure}}]}
    with pytest.raises(HistoryFileError, match=r"^f\.json: events\[0\] is not a HistoryEvent") as refused:
        parse_history(document, "f.json")
    assert len(str(refused.value)) <= 1024


def test_a_replay_worker_nobody_closed_is_stopped_at_interpreter_exit_and_close_is_idempotent() -> None:
    import threading

    from durabletask_testing.replay import workers

    class Worker:
        def __init__(self) -> None:
            self.stopped = threading.Event()
            self.stops = 0

        def stop(self) -> None:
            self.stops += 1
            self.stopped.set()

    started: list[Worker] = []

    def start(address: str, metadata: list[tuple[str, str]]) -> Worker:
        started.append(Worker())
        return started[-1]

    forgotten = Replayer.through_worker(start)  # never closed by its caller
    with Replayer.through_worker(start) as closed:
        pass
    closed.close()  # a second close changes nothing
    assert started[1].stopped.wait(5) and started[1].stops == 1
    assert not started[0].stopped.is_set() and forgotten is not None
    workers._close_at_exit()  # what the interpreter runs before it joins non-daemon threads
    assert started[0].stopped.is_set() and [w.stops for w in started] == [1, 1]


def test_the_installed_sdk_is_looked_up_once_per_imported_durabletask_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from durabletask_testing.replay import sdks

    calls: list[int] = []

    def look_up() -> sdks.ReplaySdk:
        calls.append(1)
        return sdks.OURS

    monkeypatch.setattr(sdks, "_look_up", look_up)
    monkeypatch.setattr(sdks, "_FOUND", [])
    assert sdks.installed() is sdks.OURS and sdks.installed() is sdks.OURS
    assert len(calls) == 1
    monkeypatch.setitem(sys.modules, "durabletask", types.ModuleType("durabletask"))  # another SDK imported
    assert sdks.installed() is sdks.OURS
    assert len(calls) == 2


class _InexactPass(Scripted):
    """A runner whose one pass always shows a divergence, but whose split is not exact."""

    one_pass_exact = False

    def __init__(self, wrong: dict[int, Answer] | None = None) -> None:
        super().__init__(wrong)
        self.passes = 0

    def one_pass(self, history: pb.OrchestratorRequest, steps: Sequence[object]) -> tuple[list[Answer], bool]:
        self.passes += 1
        return [Answer([_schedule("refund")], answered=True), Answer([_complete()], answered=True)], True


def test_a_divergence_of_an_inexact_pass_is_decided_by_replaying_each_work_item_with_twice_the_rounds() -> None:
    runner = _InexactPass()
    outcome = Replayer(runner).replay_plans([plan(_history("o-1"))], repeat=3)[0]
    assert runner.passes == 1  # the first pass that diverged ends the passes
    assert outcome.replays and outcome.rounds == 6
    assert len(runner.calls) == 2 * 6  # two work items, six rounds
    wrong_second_round = _InexactPass(wrong={3: Answer([_schedule("refund")], answered=True)})
    verdict = Replayer(wrong_second_round).replay_plans([plan(_history("o-2"))], repeat=3)[0]
    assert not verdict.replays and verdict.replay_round == 2
    assert verdict.describe().startswith("diverges at step 2 (action 1)")


def test_an_exact_pass_gives_the_verdict_itself() -> None:
    runner = _InexactPass()
    runner.one_pass_exact = True
    verdict = Replayer(runner).replay_plans([plan(_history("o-3"))], repeat=3)[0]
    assert runner.calls == [] and not verdict.replays and verdict.replay_round == 1
    assert verdict.describe().startswith("diverges at step 1 (action 1): recorded TaskScheduled(id=1, name='charge'")
