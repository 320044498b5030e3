"""The replay audit: a passed test whose orchestrator code is not deterministic fails with a report.

These run with our SDK and, in the wheel check and tests/interop, with the published SDK: public API only.
"""

from __future__ import annotations

import pytest

NON_DETERMINISTIC = '''
import random
from datetime import datetime

import pytest


def pick(ctx, choice):
    return choice


def by_wall_clock(ctx, _):
    # Wrong: the wall clock differs on every replay; ctx.current_utc_datetime is the replay-safe time.
    choice = "even" if datetime.now().microsecond % 2 == 0 else "odd"
    return (yield ctx.call_activity(pick, input=choice))


def by_coin(ctx, _):
    choice = "heads" if random.random() < 0.5 else "tails"  # wrong: a new coin on every replay
    return (yield ctx.call_activity(pick, input=choice))


def steady(ctx, _):
    first = yield ctx.call_activity(pick, input="a")
    second = yield ctx.call_activity(pick, input="b")
    return [first, second]


def run(durable_worker, durable_client, orchestrator):
    durable_worker.start_with(orchestrators=[orchestrator], activities=[pick])
    instance_id = durable_client.schedule_new_orchestration(orchestrator)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output is not None  # the test's own assertions pass
    return instance_id


def test_wall_clock(durable_worker, durable_client):
    run(durable_worker, durable_client, by_wall_clock)


def test_coin(durable_worker, durable_client):
    run(durable_worker, durable_client, by_coin)


def test_steady(durable_worker, durable_client):
    run(durable_worker, durable_client, steady)


@pytest.mark.durabletask(replay_audit=False)
def test_coin_unaudited(durable_worker, durable_client):
    run(durable_worker, durable_client, by_coin)
'''


# The default (7 replays) misses a coin-flip branch with probability 0.5**7 (< 1%): too often for a test suite
# that runs these files several times. 40 replays make a miss a 1-in-10**12 event.
CERTAIN = "[pytest]\ndurabletask_replay_audit_repeats = 40\n"


def test_the_audit_fails_passed_tests_whose_orchestrators_branch_on_wall_clock_or_random(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_flows=NON_DETERMINISTIC)
    pytester.makeini(CERTAIN)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*test_flows.py::test_wall_clock passed, but the replay audit found non-deterministic orchestrator code*",
        "*orchestration instance '*' (orchestrator 'by_wall_clock') did not replay deterministically:",
        # 40 rounds, or 80 when the published SDK's one-pass detector saw it first (twice the rounds confirm it)
        "*replay * of [48]0: diverges at step 1 (action 1): recorded TaskScheduled(id=1, name='pick', version=None, "
        "input='\"*\"'), code produced TaskScheduled(id=1, name='pick', version=None, input='\"*\"')",
        "*recorded timeline*",
        "*-- step 1",
        "*OrchestratorStarted*",
    ])
    result.stdout.fnmatch_lines([
        "*test_flows.py::test_coin passed, but the replay audit found non-deterministic orchestrator code*",
        "*(orchestrator 'by_coin') did not replay deterministically:",
    ])
    assert "test_steady passed, but" not in result.stdout.str()
    assert "test_coin_unaudited passed, but" not in result.stdout.str()


def test_the_ini_option_turns_the_audit_off_and_sets_the_repeats(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_flows=NON_DETERMINISTIC)
    pytester.makeini("[pytest]\ndurabletask_replay_audit = false\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)

    pytester.makeini("[pytest]\ndurabletask_replay_audit_repeats = 40\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "wall_clock")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*replay * of [48]0: diverges at step 1*"])  # 80: see above

    pytester.makeini("[pytest]\ndurabletask_replay_audit_repeats = 0\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*durabletask_replay_audit_repeats: expected a positive number*"])


DETERMINISTIC_PATTERNS = '''
from datetime import timedelta

from durabletask import task


def echo(ctx, value):
    return value


def child(ctx, value):
    return (yield ctx.call_activity(echo, input=value))


def parent(ctx, _):
    start = ctx.current_utc_datetime
    yield ctx.create_timer(start + timedelta(hours=1))
    parts = yield task.when_all([ctx.call_activity(echo, input=n) for n in range(3)])
    sub = yield ctx.call_sub_orchestrator(child, input="kid")
    approved = yield ctx.wait_for_external_event("approval")
    return [parts, sub, approved, str(ctx.new_uuid())]


def failing(ctx, _):
    yield ctx.call_activity(echo, input=1)
    raise ValueError("refused")


def test_patterns(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[parent, child, failing], activities=[echo])
    instance_id = durable_client.schedule_new_orchestration(parent)
    durable_client.wait_for_orchestration_start(instance_id, timeout=10)
    durable_client.raise_orchestration_event(instance_id, "approval", data=True)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.runtime_status.name == "COMPLETED"
    failed = durable_client.schedule_new_orchestration(failing)
    assert durable_client.wait_for_orchestration_completion(failed, timeout=10).runtime_status.name == "FAILED"


def test_stubbed_child(durable_worker, durable_client):
    calls = []
    durable_worker.stub_orchestrator("child", side_effect=lambda call: calls.append(call) or len(calls))
    durable_worker.start_with(orchestrators=[parent], activities=[echo])
    instance_id = durable_client.schedule_new_orchestration(parent)
    durable_client.wait_for_orchestration_start(instance_id, timeout=10)
    durable_client.raise_orchestration_event(instance_id, "approval", data=True)
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert len(calls) == 1
'''


def test_deterministic_code_passes_the_audit_timers_fan_out_children_events_failures_and_stubs(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_patterns=DETERMINISTIC_PATTERNS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_audit_through_the_replay_only_sidecar_catches_the_same(pytester: pytest.Pytester) -> None:
    # The audit replays in-process (our SDK's replay engine, the published SDK's work-item method); the protocol path
    # (a worker of the SDK on the replay-only sidecar, the fallback) must agree.
    pytester.makeconftest("import durabletask_pytest.audit.replay as audit\n"
                          "audit.THROUGH_PROTOCOL = True\n")
    pytester.makepyfile(test_flows=NON_DETERMINISTIC)
    pytester.makeini(CERTAIN)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*(orchestrator 'by_coin') did not replay deterministically:"])


SET_ORDER = '''
def pick(ctx, choice):
    return choice


def by_set(ctx, _):
    # Wrong: the iteration order of a set of strings depends on the process's hash seed.
    names = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}
    return (yield ctx.call_activity(pick, input=next(iter(names))))


def by_sorted_set(ctx, _):
    names = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}
    return (yield ctx.call_activity(pick, input=sorted(names)[0]))


def run(durable_worker, durable_client, orchestrator):
    durable_worker.start_with(orchestrators=[orchestrator], activities=[pick])
    instance_id = durable_client.schedule_new_orchestration(orchestrator)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output is not None


def test_set(durable_worker, durable_client):
    run(durable_worker, durable_client, by_set)


def test_sorted_set(durable_worker, durable_client):
    run(durable_worker, durable_client, by_sorted_set)
'''


def test_iterating_a_set_of_strings_is_caught_by_replays_under_other_hash_seeds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sets=SET_ORDER)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_sets.py::test_set passed, but the replay audit found non-deterministic orchestrator code*",
        "*orchestrations of ?'by_set'? did not replay deterministically: replayed in another process with "
        "PYTHONHASHSEED=*",
        "*instance-*.json: diverges at step 1*",
    ])
    assert "test_sorted_set passed, but" not in result.stdout.str()
