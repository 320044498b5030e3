"""What the benchmark suite measures (workload, size, stacks), its targets, and how targets are judged."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.runner import RunOutcome

OURS, OURS_OOP, PUBLISHED = "ours", "ours-oop", "published"  # ours-oop: our fake in its own process
VARIANT_NAMES = {OURS: "in-process", OURS_OOP: "fake out of process"}


@dataclass(frozen=True)
class Measure:
    """One (workload, size) measured on some stacks; each run yields one value of ``metric``."""

    key: str
    workload: str
    n: int
    stacks: tuple[str, ...]
    metric: str = "seconds"
    max_repeat: dict[str, int] = field(default_factory=dict)

    def repeats_for(self, stack: str, repeat: int) -> int:
        """How many runs this measure gets on ``stack`` when the suite repeats ``repeat`` times."""
        return min(repeat, self.max_repeat.get(stack, repeat))


@dataclass
class Row:
    """One line of the report: a benchmark's figures, its target and the verdict."""

    name: str
    size: str
    ours: str
    published: str
    ratio: str
    target: str
    verdict: str  # PASS, FAIL, ok (smoke) or ERROR
    ours_oop: str = ""  # our stack with the fake in a separate process (chain and fan-out only)


Values = dict[str, dict[str, list[float]]]  # measure key -> stack -> one value per run
Errors = dict[str, dict[str, str]]  # measure key -> stack -> why it produced no value


@dataclass(frozen=True)
class Benchmark:
    """A row of the report: the measures it needs and the rule that judges it."""

    name: str
    measures: tuple[Measure, ...]
    judge: Callable[[Values, Errors, bool], Row]


@dataclass(frozen=True)
class Sizes:
    """Workload sizes of one profile."""

    chain: int
    chain_large: int
    fanout: int
    lifecycle_cycles: int
    timetravel_runs: int
    memory: int


FULL = Sizes(chain=1000, chain_large=4000, fanout=4000, lifecycle_cycles=5, timetravel_runs=5, memory=10000)
SMOKE = Sizes(chain=5, chain_large=20, fanout=20, lifecycle_cycles=2, timetravel_runs=1, memory=20)

CHAIN_RATIO_TARGET = 8.0
FANOUT_RATIO_TARGET = 8.0
LIFECYCLE_TARGET_S = 0.025
TIMETRAVEL_TARGET_S = 0.050
SCALING_TARGET = 4.4
MEMORY_TARGET_MB = 150.0


# --------------------------------------------------------------------------------------------------------------
# Formatting helpers.
# --------------------------------------------------------------------------------------------------------------


def fmt_seconds(value: float) -> str:
    """A duration in the unit that reads best."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def median_of(values: Values, key: str, stack: str) -> float | None:
    """Median of a measure's runs on a stack, or None if it has none."""
    runs = values.get(key, {}).get(stack, [])
    return statistics.median(runs) if runs else None


def _missing(errors: Errors, key: str, stack: str) -> str:
    """A short table cell for a run without a value; the full error is printed under the table."""
    reason = errors.get(key, {}).get(stack, "not run").split(" | ")[-1]
    return "ERROR: " + (reason if len(reason) <= 40 else reason[:37] + "...")


def _verdict(passed: bool, smoke: bool) -> str:
    return "ok" if smoke else ("PASS" if passed else "FAIL")


# --------------------------------------------------------------------------------------------------------------
# Judges: one per benchmark.
# --------------------------------------------------------------------------------------------------------------


def _ratio_judge(name: str, measure: Measure, target: float) -> Callable[[Values, Errors, bool], Row]:
    """Judge 'published is at least ``target`` times slower than ours', on the faster of our variants."""

    def judge(values: Values, errors: Errors, smoke: bool) -> Row:
        variants = {v: median_of(values, measure.key, v) for v in (OURS, OURS_OOP) if v in measure.stacks}
        measured = {v: t for v, t in variants.items() if t is not None}
        published = median_of(values, measure.key, PUBLISHED)
        size = str(measure.n)
        target_text = f"published/ours >= {target:g}x"

        failed = [v for v in variants if v in errors.get(measure.key, {})]

        def cell(variant: str) -> str:
            median = variants.get(variant)
            if median is not None:
                return fmt_seconds(median)
            return _missing(errors, measure.key, variant) if variant in failed else ""

        ours_cell, oop_cell = cell(OURS), cell(OURS_OOP)
        if not measured or failed:
            return Row(name, size, ours_cell or _missing(errors, measure.key, OURS), "", "", target_text, "ERROR",
                       oop_cell)
        best = min(measured, key=lambda v: measured[v])
        if published is None:
            if PUBLISHED in errors.get(measure.key, {}):
                return Row(name, size, ours_cell, _missing(errors, measure.key, PUBLISHED), "", target_text,
                           "ERROR", oop_cell)
            return Row(name, size, ours_cell, "not run", "", target_text, "ok" if smoke else "n/a", oop_cell)
        ratio = published / measured[best]
        ratio_text = f"{ratio:.1f}x" if len(measured) == 1 else f"{ratio:.1f}x ({VARIANT_NAMES[best]})"
        return Row(name, size, ours_cell, fmt_seconds(published), ratio_text, target_text,
                   _verdict(ratio >= target, smoke), oop_cell)

    return judge


def _lifecycle_judge(measure: Measure) -> Callable[[Values, Errors, bool], Row]:
    def judge(values: Values, errors: Errors, smoke: bool) -> Row:
        ours = median_of(values, measure.key, OURS)
        published = median_of(values, measure.key, PUBLISHED)
        target_text = f"ours <= {fmt_seconds(LIFECYCLE_TARGET_S)}"
        if ours is None:
            return Row("lifecycle", "1 cycle", _missing(errors, measure.key, OURS), "", "", target_text, "ERROR")
        shown = fmt_seconds(published) if published is not None else "not run"
        ratio = f"{published / ours:.1f}x" if published is not None else ""
        return Row("lifecycle", "1 cycle", fmt_seconds(ours), shown, ratio, target_text,
                   _verdict(ours <= LIFECYCLE_TARGET_S, smoke))

    return judge


def _timetravel_judge(measure: Measure) -> Callable[[Values, Errors, bool], Row]:
    def judge(values: Values, errors: Errors, smoke: bool) -> Row:
        ours = median_of(values, measure.key, OURS)
        target_text = f"ours < {fmt_seconds(TIMETRAVEL_TARGET_S)}"
        if ours is None:
            return Row("timetravel", "24 h timer", _missing(errors, measure.key, OURS), "", "", target_text, "ERROR")
        return Row("timetravel", "24 h timer", fmt_seconds(ours), "24 h (not run)", "", target_text,
                   _verdict(ours < TIMETRAVEL_TARGET_S, smoke))

    return judge


def _scaling_judge(small: Measure, large: Measure) -> Callable[[Values, Errors, bool], Row]:
    def judge(values: Values, errors: Errors, smoke: bool) -> Row:
        size = f"chain {large.n}/{small.n}"
        target_text = f"ours <= {SCALING_TARGET:g}x"

        def ratio(stack: str) -> float | None:
            a, b = median_of(values, small.key, stack), median_of(values, large.key, stack)
            return b / a if a and b is not None else None

        ours, published = ratio(OURS), ratio(PUBLISHED)
        if ours is None:
            return Row("scaling", size, _missing(errors, large.key, OURS), "", "", target_text, "ERROR")
        shown = f"{published:.2f}x" if published is not None else "not run"
        return Row("scaling", size, f"{ours:.2f}x", shown, "", target_text, _verdict(ours <= SCALING_TARGET, smoke))

    return judge


def _memory_judge(measure: Measure) -> Callable[[Values, Errors, bool], Row]:
    def judge(values: Values, errors: Errors, smoke: bool) -> Row:
        size = f"{measure.n} chains"
        target_text = f"ours <= {MEMORY_TARGET_MB:g} MB"
        ours = median_of(values, measure.key, OURS)
        if ours is None:
            return Row("memory", size, _missing(errors, measure.key, OURS), "", "", target_text, "ERROR")
        return Row("memory", size, f"{ours:.0f} MB", "not run", "", target_text,
                   _verdict(ours <= MEMORY_TARGET_MB, smoke))

    return judge


# --------------------------------------------------------------------------------------------------------------
# The suite.
# --------------------------------------------------------------------------------------------------------------

BENCHMARK_NAMES = ("chain", "fanout", "lifecycle", "timetravel", "scaling", "memory")


def build(sizes: Sizes, with_published: bool, slow_published: bool) -> list[Benchmark]:
    """The benchmarks of a profile; ``slow_published`` adds the published stack's 4x-larger chain run.

    Chain and fan-out also run our stack with the fake in its own process (``ours-oop``); the lifecycle, time
    travel, scaling and memory measures keep the fake in-process, as the pytest plugin runs it."""
    both = (OURS, PUBLISHED) if with_published else (OURS,)
    throughput = (OURS, OURS_OOP, PUBLISHED) if with_published else (OURS, OURS_OOP)
    chain = Measure(f"chain-{sizes.chain}", "chain", sizes.chain, throughput)
    large_stacks = both if slow_published else (OURS,)
    chain_large = Measure(f"chain-{sizes.chain_large}", "chain", sizes.chain_large, large_stacks,
                          max_repeat={PUBLISHED: 1})
    fanout = Measure(f"fanout-{sizes.fanout}", "fanout", sizes.fanout, throughput)
    lifecycle = Measure("lifecycle", "lifecycle", sizes.lifecycle_cycles, both)
    timetravel = Measure("timetravel", "timetravel", sizes.timetravel_runs, (OURS,))
    memory = Measure(f"memory-{sizes.memory}", "memory", sizes.memory, (OURS,), metric="peak_rss_mb",
                     max_repeat={OURS: 1})
    return [
        Benchmark("chain", (chain,), _ratio_judge("chain", chain, CHAIN_RATIO_TARGET)),
        Benchmark("fanout", (fanout,), _ratio_judge("fanout", fanout, FANOUT_RATIO_TARGET)),
        Benchmark("lifecycle", (lifecycle,), _lifecycle_judge(lifecycle)),
        Benchmark("timetravel", (timetravel,), _timetravel_judge(timetravel)),
        Benchmark("scaling", (chain, chain_large), _scaling_judge(chain, chain_large)),
        Benchmark("memory", (memory,), _memory_judge(memory)),
    ]


def measures_of(benchmarks: list[Benchmark]) -> list[Measure]:
    """The distinct measures the benchmarks need, in first-use order."""
    seen: dict[str, Measure] = {}
    for benchmark in benchmarks:
        for measure in benchmark.measures:
            seen.setdefault(measure.key, measure)
    return list(seen.values())


def record(values: Values, errors: Errors, measure: Measure, outcome: RunOutcome) -> None:
    """File one run's value (or its error) under its measure and stack."""
    if outcome.result is None:
        errors.setdefault(measure.key, {})[outcome.stack] = outcome.error
        return
    values.setdefault(measure.key, {}).setdefault(outcome.stack, []).append(float(outcome.result[measure.metric]))
