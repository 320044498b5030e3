"""Issue 25, the pytest plugin (items 5, 6, 7, 14, 15, 17): the replay audit gives no false verdicts and checks
what it says it checks; exploration finds entity races and is honest about leaked state and external sidecars;
golden files are one per test id. Users' test files run in inner sessions with pytester."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from durabletask_testing import FakeSidecar

pytestmark = pytest.mark.timeout(60)

NO_CACHE = ("-p", "no:cacheprovider")

# -- the replay audit's hash-seed pass (items 5, 6, 7) -----------------------------------------------------------

MONKEYPATCHED_GLOBAL = '''
import sys

MODE = "plain"


def pick(ctx, choice):
    return choice


def by_mode(ctx, _):
    names = sorted({"alpha", "beta", "gamma"})  # a set, so the hash-seed pass runs; sorted, so deterministic
    if MODE == "patched":
        return (yield ctx.call_activity(pick, input=names[0]))
    return names[0]


def test_patched(durable_worker, durable_client, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "MODE", "patched")
    durable_worker.start_with(orchestrators=[by_mode], activities=[pick])
    instance_id = durable_client.schedule_new_orchestration(by_mode)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output == '"alpha"'
'''


def test_a_monkeypatched_global_is_no_set_order_divergence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_patched=MONKEYPATCHED_GLOBAL)
    result = pytester.runpytest(*NO_CACHE)
    assert "set iteration order of strings differs" not in result.stdout.str()
    result.assert_outcomes(passed=1)


READS_A_FILE_AT_IMPORT = '''
from pathlib import Path

GREETING = Path("greeting.txt").read_text().strip()  # relative to the directory pytest runs in


def pick(ctx, choice):
    return choice


def by_sorted_set(ctx, _):
    names = {"alpha", "beta", "gamma"}
    return (yield ctx.call_activity(pick, input=f"{GREETING} {sorted(names)[0]}"))


def test_reads(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[by_sorted_set], activities=[pick])
    instance_id = durable_client.schedule_new_orchestration(by_sorted_set)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output == '"hello alpha"'
'''


def test_a_module_the_other_process_cannot_import_gets_no_verdict_and_a_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reads=READS_A_FILE_AT_IMPORT)
    (pytester.path / "greeting.txt").write_text("hello\n")
    result = pytester.runpytest(*NO_CACHE, "-rA")
    output = result.stdout.str()
    assert "set iteration order of strings differs" not in output
    result.assert_outcomes(passed=1)
    assert "greeting.txt" in output  # says why the hash-seed pass gave no verdict


HIDDEN_SET_ORDER = '''
NAMES = ["ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lea"]


def pick(ctx, choice):
    return choice


def by_frozenset_constant(ctx, _):
    for first in {"ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lea"}:
        break  # wrong: the order of a set literal of strings depends on the hash seed
    return (yield ctx.call_activity(pick, input=first))


def by_key_views(ctx, _):
    left = dict.fromkeys(NAMES, 1)
    right = dict.fromkeys(reversed(NAMES), 2)
    common = left.keys() & right.keys()  # wrong: a set, in hash order
    return (yield ctx.call_activity(pick, input=next(iter(common))))


def run(durable_worker, durable_client, orchestrator):
    durable_worker.start_with(orchestrators=[orchestrator], activities=[pick])
    instance_id = durable_client.schedule_new_orchestration(orchestrator)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output is not None


def test_frozenset_constant(durable_worker, durable_client):
    run(durable_worker, durable_client, by_frozenset_constant)


def test_key_views(durable_worker, durable_client):
    run(durable_worker, durable_client, by_key_views)
'''


@pytest.mark.parametrize("test_name", ["test_frozenset_constant", "test_key_views"])
def test_hidden_set_orders_are_caught_by_the_hash_seed_pass(pytester: pytest.Pytester, test_name: str) -> None:
    pytester.makepyfile(test_hidden=HIDDEN_SET_ORDER)
    result = pytester.runpytest(*NO_CACHE, "-k", test_name)
    result.assert_outcomes(failed=1)
    assert "PYTHONHASHSEED" in result.stdout.str()


# -- the replay audit: purged instances, and its time (item 14) ---------------------------------------------------

PURGED_COIN = '''
import random


def pick(ctx, choice):
    return choice


def by_coin(ctx, _):
    choice = "heads" if random.random() < 0.5 else "tails"  # wrong: a new coin on every replay
    return (yield ctx.call_activity(pick, input=choice))


def test_coin_then_purge(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[by_coin], activities=[pick])
    instance_id = durable_client.schedule_new_orchestration(by_coin)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output is not None
    durable_client.purge_orchestration(instance_id)
'''

CERTAIN = "[pytest]\ndurabletask_replay_audit_repeats = 40\n"  # a coin lands the same 40 times: 2 ** -39


def test_an_instance_the_test_purged_is_still_audited(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_purged=PURGED_COIN)
    pytester.makeini(CERTAIN)
    result = pytester.runpytest(*NO_CACHE)
    result.assert_outcomes(failed=1)
    assert "did not replay deterministically" in result.stdout.str()


SLOW_TO_IMPORT_ELSEWHERE = '''
import os
import time

if os.environ.get("PYTHONHASHSEED") not in (None, "{own}"):  # only the audit's other processes
    time.sleep(1.0)  # stands in for a module that is slow to import


def pick(ctx, choice):
    return choice


def by_sorted_set(ctx, _):
    return (yield ctx.call_activity(pick, input=sorted({{"alpha", "beta"}})[0]))


def test_audited(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[by_sorted_set], activities=[pick])
    instance_id = durable_client.schedule_new_orchestration(by_sorted_set)
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
'''


def test_the_audit_time_is_part_of_the_test_time(pytester: pytest.Pytester) -> None:
    import os

    pytester.makepyfile(test_slow=SLOW_TO_IMPORT_ELSEWHERE.format(own=os.environ.get("PYTHONHASHSEED", "")))
    result = pytester.runpytest(*NO_CACHE, "--junitxml=report.xml")
    result.assert_outcomes(passed=1)
    [case] = ET.parse(pytester.path / "report.xml").getroot().iter("testcase")
    # The hash-seed pass imported the module in other processes, each at least 1 s: the test took that long.
    assert float(case.get("time", "0")) >= 1.0, case.attrib


# -- exploration (item 15) ----------------------------------------------------------------------------------

ENTITY_RACE = '''
import pytest
from durabletask import task
from durabletask.entities import EntityInstanceId

try:
    from durabletask_pytest import ExplorationFailed
except ImportError:
    from durabletask_pytest.explore import ExplorationFailed


def echo(ctx, _):
    return ctx.entity_id.key


def first_answer(ctx, _):
    a = ctx.call_entity(EntityInstanceId("echo", "a"), "get")
    b = ctx.call_entity(EntityInstanceId("echo", "b"), "get")
    winner = yield task.when_any([a, b])
    return winner.get_result()  # BUG: assumes "a" always answers first


def racing(run):
    run.worker.add_entity(echo)
    run.worker.start_with(orchestrators=[first_answer])
    instance_id = run.client.schedule_new_orchestration(first_answer)
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == "a"


def test_entity_race(durable_explore):
    found = 0
    for _ in range(3):
        try:
            durable_explore(racing, schedule="order=reverse")
        except ExplorationFailed:
            found += 1
    print(f"REPORT>>>reverse order failed {found} of 3 times<<<REPORT")
'''


def test_exploration_finds_a_race_of_two_entity_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_race=ENTITY_RACE)
    result = pytester.runpytest(*NO_CACHE, "-s")
    result.assert_outcomes(passed=1)
    report = result.stdout.str().split("REPORT>>>", 1)[1].split("<<<REPORT", 1)[0]
    # Reversing the ready results must deliver "b" first every time. Before the fix the schedule did not order
    # entity answers: they arrived by thread timing (exploring with schedules=20 found the race only by a crash
    # point's redelivery or by chance, "NOT reproduced").
    assert report == "reverse order failed 3 of 3 times", report


LEAKED_STATE = '''
import pytest

try:
    from durabletask_pytest import ExplorationFailed
except ImportError:
    from durabletask_pytest.explore import ExplorationFailed

RUNS = []  # module state: it survives from one schedule's run to the next


def count(ctx, _):
    RUNS.append(1)
    return len(RUNS)


def counting(ctx, _):
    return (yield ctx.call_activity(count))


def scenario(run):
    run.worker.start_with(orchestrators=[counting], activities=[count])
    instance_id = run.client.schedule_new_orchestration(counting)
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == 1


def test_leaky(durable_explore):
    with pytest.raises(ExplorationFailed) as failed:
        durable_explore(scenario, schedules=3)
    print("REPORT>>>" + str(failed.value) + "<<<REPORT")
'''


def test_a_failure_from_leaked_state_is_not_reported_as_reproduced(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky=LEAKED_STATE)
    result = pytester.runpytest(*NO_CACHE, "-s")
    result.assert_outcomes(passed=1)
    report = result.stdout.str().split("REPORT>>>", 1)[1].split("<<<REPORT", 1)[0]
    # The schedule did not cause it: the default schedule fails too now. The report must not blame the schedule.
    assert "reproduced: run once more under this schedule, it failed the same way" not in report, report
    assert "the scenario keeps state between runs" in report, report


EXPLORING_TESTS = '''
import pytest


def test_uses_durable_explore(durable_explore):
    durable_explore(lambda run: None, schedules=2)


@pytest.mark.durabletask(explore=3)
def test_marked(durable_worker, durable_client):
    pass
'''


@pytest.fixture
def external_sidecar() -> Iterator[FakeSidecar]:
    with FakeSidecar(clock="real") as sidecar:  # plays a real sidecar for --durabletask-sidecar
        yield sidecar


def test_explore_marked_items_are_skipped_on_an_external_sidecar(
        pytester: pytest.Pytester, external_sidecar: FakeSidecar) -> None:
    pytester.makepyfile(test_exploring=EXPLORING_TESTS)
    result = pytester.runpytest(*NO_CACHE, "-rs", "-k", "test_marked",
                                f"--durabletask-sidecar={external_sidecar.address}")
    result.assert_outcomes(skipped=3)


def test_durable_explore_on_an_external_sidecar_is_skipped_naming_exploration(
        pytester: pytest.Pytester, external_sidecar: FakeSidecar) -> None:
    pytester.makepyfile(test_exploring=EXPLORING_TESTS)
    result = pytester.runpytest(*NO_CACHE, "-rs", "-k", "test_uses_durable_explore",
                                f"--durabletask-sidecar={external_sidecar.address}")
    result.assert_outcomes(skipped=1)
    [reason] = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert "fault injection" not in reason and "explor" in reason, reason


# -- golden timelines (item 17) -----------------------------------------------------------------------------

GOLDEN_IDS = '''
from datetime import timedelta

import pytest


def wait(ctx, hours):
    yield ctx.create_timer(timedelta(hours=hours))
    return hours


@pytest.mark.parametrize("hours", [pytest.param(1, id="eu/west"), pytest.param(2, id="eu_west")])
def test_region(durable_worker, durable_client, durable_timeline_snapshot, hours):
    durable_worker.start_with(orchestrators=[wait])
    instance_id = durable_client.schedule_new_orchestration(wait, input=hours)
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    durable_timeline_snapshot(instance_id)
'''


def test_ids_that_differ_only_in_a_slash_get_their_own_golden_files(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_golden=GOLDEN_IDS)
    pytester.runpytest(*NO_CACHE, "--durabletask-update-timelines").assert_outcomes(passed=2)
    written = sorted(p.name for p in (pytester.path / "__durable_timelines__").rglob("*.txt"))
    assert len(written) == 2, written
    pytester.runpytest(*NO_CACHE).assert_outcomes(passed=2)
