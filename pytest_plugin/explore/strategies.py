"""Hypothesis strategies for property-style workflow tests: schedules, failure budgets and clock jumps.

Hypothesis is not a dependency of the testkit: it is imported when one of these functions is called. Use them
with ``durable_explore(scenario, schedule=...)``, which runs one schedule on a fresh fake and raises with the
schedule's report when it fails (Hypothesis then shrinks the schedule for you)::

    from hypothesis import HealthCheck, given, settings
    from durabletask_pytest.strategies import schedules

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(schedule=schedules())
    def test_any_order(durable_explore, schedule):
        durable_explore(scenario, schedule=schedule)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from durabletask_testing.exploration import BATCH_MODES, CRASH_KINDS, ORDER_MODES, Crash, Schedule

if TYPE_CHECKING:
    from durabletask_testing import FaultPlan


def _strategies() -> Any:
    try:
        from hypothesis import strategies
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("durabletask_pytest.strategies needs hypothesis: pip install hypothesis") from error
    return strategies


def schedules(max_step: int = 6, crashes: bool = True) -> Any:
    """Schedules: an order, a batching, the work items they apply to (steps below ``max_step``) and, when
    ``crashes``, maybe one crash point; shrinks towards the default schedule."""
    st = _strategies()
    steps = st.one_of(st.none(), st.frozensets(st.integers(0, max_step - 1), min_size=1, max_size=max_step))
    crash = st.none()
    if crashes:
        crash = st.one_of(st.none(), st.builds(Crash, st.sampled_from(CRASH_KINDS), st.integers(0, max_step - 1)))
    return st.builds(
        Schedule,
        order=st.sampled_from(ORDER_MODES),
        batch=st.sampled_from(BATCH_MODES),
        at=steps,
        crash=crash,
        seed=st.integers(0, 2**31 - 1),
    )


@dataclass(frozen=True)
class FailureBudget:
    """How many times each activity fails (without running) before it succeeds."""

    failures: tuple[tuple[str, int], ...]

    def apply(self, faults: FaultPlan) -> None:
        """Configure the failures on a fake's fault plan (``run.faults``)."""
        for name, times in self.failures:
            if times:
                faults.fail_activity(name, times=times)

    @property
    def total(self) -> int:
        return sum(times for _, times in self.failures)


def failure_budgets(activities: Iterable[str | Callable[..., Any]], max_failures: int = 3) -> Any:
    """Failure budgets over ``activities`` (functions or names): 0..``max_failures`` failures each."""
    st = _strategies()
    names: Sequence[str] = [a if isinstance(a, str) else a.__name__ for a in activities]
    counts = st.tuples(*(st.integers(0, max_failures) for _ in names))
    return counts.map(lambda values: FailureBudget(tuple(zip(names, values))))


def clock_jumps(max_jumps: int = 4, longest: timedelta = timedelta(days=2)) -> Any:
    """Lists of forward clock moves (whole seconds, at most ``longest`` each) for ``run.clock.advance``."""
    st = _strategies()
    seconds = st.integers(1, int(longest.total_seconds()))
    return st.lists(seconds.map(lambda s: timedelta(seconds=s)), max_size=max_jumps)
