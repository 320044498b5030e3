"""Smoke tests of the benchmark suite: every workload at tiny size on our stack (outputs checked), the judging
rules, and the command-line plumbing. No timing assertions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, suite, workloads  # noqa: E402
from benchmarks.run import format_table  # noqa: E402

SMOKE_SIZES = {
    "chain": suite.SMOKE.chain,
    "fanout": suite.SMOKE.fanout,
    "lifecycle": suite.SMOKE.lifecycle_cycles,
    "timetravel": suite.SMOKE.timetravel_runs,
    "memory": suite.SMOKE.memory,
}


@pytest.mark.parametrize("workload", sorted(SMOKE_SIZES))
def test_workload_runs_correctly_on_our_stack(workload: str) -> None:
    result = workloads.run_workload("ours", workload, SMOKE_SIZES[workload])
    assert result.stack == "ours"
    assert result.workload == workload
    assert result.seconds > 0
    if workload in ("lifecycle", "timetravel"):
        assert len(result.samples) == SMOKE_SIZES[workload]
    if workload == "memory":
        assert result.peak_rss_mb > 10


def test_wrong_output_is_reported_not_measured() -> None:
    with workloads.sidecar("ours") as address:
        with workloads.connected(address, [workloads.sequence], [workloads.hello]) as client:
            instance_id = client.schedule_new_orchestration(workloads.sequence)
            with pytest.raises(workloads.WorkloadError, match="returned"):
                workloads._expect_completed(client, instance_id, ["not", "the", "output"])


def test_unknown_workload_and_bad_size_are_refused() -> None:
    with pytest.raises(workloads.WorkloadError, match="unknown workload 'nope'"):
        workloads.run_workload("ours", "nope", 1)
    with pytest.raises(workloads.WorkloadError, match="at least 1"):
        workloads.run_workload("ours", "chain", 0)


def test_published_stack_is_refused_in_our_interpreter() -> None:
    with pytest.raises(workloads.WorkloadError, match="imports durabletask from"):
        workloads.check_stack("published")


def test_time_travel_is_not_run_on_the_published_stack() -> None:
    with pytest.raises(workloads.WorkloadError, match="virtual clock"):
        workloads.timetravel("published", 1)


def test_subprocess_run_returns_parsed_result() -> None:
    outcome = runner.run(runner.ours_python(), "ours", "chain", 2, timeout=60)
    assert outcome.ok, outcome.error
    assert outcome.result is not None
    assert outcome.result["workload"] == "chain" and outcome.result["n"] == 2
    assert outcome.result["seconds"] > 0


def test_subprocess_failure_is_captured_with_its_reason() -> None:
    outcome = runner.run(runner.ours_python(), "published", "chain", 1, timeout=60)
    assert not outcome.ok
    assert "imports durabletask from" in outcome.error


def _values(ours: float, published: float, key: str = "chain-1000") -> suite.Values:
    return {key: {"ours": [ours, ours * 2, ours / 2], "published": [published]}}


def _benchmark(name: str, with_published: bool = True) -> suite.Benchmark:
    return next(b for b in suite.build(suite.FULL, with_published, slow_published=True) if b.name == name)


def test_ratio_target_passes_and_fails_on_the_median() -> None:
    chain = _benchmark("chain")
    passing = chain.judge(_values(1.0, 8.0), {}, False)
    assert (passing.ratio, passing.verdict) == ("8.0x", "PASS")
    failing = chain.judge(_values(1.0, 7.9), {}, False)
    assert (failing.ratio, failing.verdict) == ("7.9x", "FAIL")


def test_absolute_targets() -> None:
    lifecycle = _benchmark("lifecycle")
    assert lifecycle.judge({"lifecycle": {"ours": [0.024]}}, {}, False).verdict == "PASS"
    assert lifecycle.judge({"lifecycle": {"ours": [0.026]}}, {}, False).verdict == "FAIL"
    timetravel = _benchmark("timetravel").judge({"timetravel": {"ours": [0.049]}}, {}, False)
    assert (timetravel.published, timetravel.verdict) == ("24 h (not run)", "PASS")
    memory = _benchmark("memory")
    assert memory.judge({"memory-10000": {"ours": [149.0]}}, {}, False).verdict == "PASS"
    assert memory.judge({"memory-10000": {"ours": [151.0]}}, {}, False).verdict == "FAIL"


def test_scaling_is_the_ratio_of_chain_medians() -> None:
    scaling = _benchmark("scaling")
    values = {"chain-1000": {"ours": [1.0], "published": [10.0]}, "chain-4000": {"ours": [4.5], "published": [50.0]}}
    row = scaling.judge(values, {}, False)
    assert (row.ours, row.published, row.verdict) == ("4.50x", "5.00x", "FAIL")


def test_missing_values_are_errors_and_smoke_has_no_timing_verdict() -> None:
    chain = _benchmark("chain")
    row = chain.judge({}, {"chain-1000": {"ours": "exit code 1: | boom"}}, False)
    assert row.verdict == "ERROR" and "boom" in row.ours
    assert chain.judge(_values(1.0, 1.0), {}, True).verdict == "ok"
    assert _benchmark("chain", with_published=False).judge({"chain-1000": {"ours": [1.0]}}, {}, False).verdict == "n/a"


def test_scaling_reuses_the_chain_measure_and_memory_runs_once() -> None:
    benchmarks = suite.build(suite.FULL, with_published=True, slow_published=False)
    keys = [m.key for m in suite.measures_of(benchmarks)]
    assert keys.count("chain-1000") == 1
    large = next(m for m in suite.measures_of(benchmarks) if m.key == "chain-4000")
    assert large.stacks == ("ours",)
    memory = next(m for m in suite.measures_of(benchmarks) if m.key.startswith("memory"))
    assert memory.repeats_for("ours", 3) == 1


def test_table_aligns_columns() -> None:
    rows = [suite.Row("chain", "1000", "1.00 s", "10.00 s", "10.0x", "published/ours >= 8x", "PASS")]
    lines = format_table(rows).splitlines()
    assert lines[0].startswith("benchmark") and lines[1].startswith("---")
    assert lines[2].index("1.00 s") == lines[0].index("ours")


@pytest.mark.parametrize("workload", ["chain", "fanout"])
def test_workload_runs_correctly_with_the_fake_in_its_own_process(workload: str) -> None:
    result = workloads.run_workload("ours-oop", workload, SMOKE_SIZES[workload])
    assert result.stack == "ours-oop"
    assert result.seconds > 0
    assert result.sidecar_cpu_seconds >= 0


def test_fake_process_is_stopped_on_exit() -> None:
    with workloads.serving("ours-oop") as running:
        process = running._process
        assert process is not None and process.poll() is None
        assert running.cpu_seconds() >= 0
    assert process.poll() is not None


def test_ratio_is_judged_on_the_faster_variant_and_says_which() -> None:
    chain = _benchmark("chain")
    values = {"chain-1000": {"ours": [2.0], "ours-oop": [1.0], "published": [8.0]}}
    row = chain.judge(values, {}, False)
    assert (row.ours, row.ours_oop, row.ratio, row.verdict) == ("2.00 s", "1.00 s", "8.0x (fake out of process)",
                                                                 "PASS")
    values["chain-1000"]["ours-oop"] = [3.0]
    assert chain.judge(values, {}, False).ratio == "4.0x (in-process)"
    broken = chain.judge({"chain-1000": {"ours": [1.0]}}, {"chain-1000": {"ours-oop": "exit code 1: | boom"}}, False)
    assert broken.verdict == "ERROR" and "boom" in broken.ours_oop
