"""Exploration: run a scenario once per schedule, each on a fresh fake, and report the first failing schedule.

``durable_explore(scenario, schedules=30)`` calls ``scenario(run)`` with a fresh fake sidecar, worker and
client per schedule (``run.sidecar``, ``run.worker``, ``run.client``, ``run.clock``, ``run.faults``). The first
schedule that fails is shrunk to a smaller failing one, run once more to confirm it (and the default schedule
once more, to tell a schedule's doing from state the scenario keeps between runs), and reported with what it
changed, the timeline of that run (the plugin's failure report) and the option that reruns exactly it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from durabletask_testing.exploration import (
    Schedule,
    ScheduleError,
    StepBounds,
    schedules,
    shrink_candidates,
)

from ..fixtures.settings import DurableSettings

if TYPE_CHECKING:
    from durabletask_testing import Clock, FakeSidecar, FaultPlan
    from durabletask_testing.exploration import ScheduleRunner

    from ..sdk.client import DurableTestClient
    from ..sdk.worker import DurableTestWorker

OPTION_SEED = "--durabletask-seed"
OPTION_SEED_DEST = "durabletask_seed"
DEFAULT_SCHEDULES = 30
SHRINK_BUDGET = 25  # runs spent looking for a smaller failing schedule
NEEDS_IN_PROCESS_FAKE_REASON = (
    "explores schedules (durable_explore, @pytest.mark.durabletask(explore=N)), which needs the in-process fake "
    "sidecar deciding the order of every result; an external sidecar given with --durabletask-sidecar delivers "
    "in its own order"
)


def skip_exploring() -> NoReturn:
    """Skip the running test because exploration needs the in-process fake."""
    raise pytest.skip.Exception(NEEDS_IN_PROCESS_FAKE_REASON, _use_item_location=True)


@dataclass
class ExploreRun:
    """One run of a scenario under one schedule: its own fake sidecar, worker (not started) and client."""

    sidecar: FakeSidecar
    worker: DurableTestWorker
    client: DurableTestClient
    schedule: Schedule
    runner: ScheduleRunner

    @property
    def clock(self) -> Clock:
        return self.sidecar.clock

    @property
    def faults(self) -> FaultPlan:
        return self.sidecar.faults


@dataclass
class Outcome:
    """What one run under one schedule did."""

    schedule: Schedule
    runner: ScheduleRunner
    sidecar: FakeSidecar
    origin: datetime
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None

    def bounds(self) -> StepBounds:
        """The crash points this run reached: activity results, orchestrator completions, work items."""
        activities = self.sidecar.faults.steps_seen("activity")
        orchestrators = self.sidecar.faults.steps_seen("orchestrator")
        return StepBounds(activity=activities, orchestrator=orchestrators, disconnect=activities + orchestrators)

    def story(self) -> list[str]:
        """What this run did differently from the default order: reorders, splits and injected crashes."""
        lines = [str(decision) for decision in self.runner.deviations()]
        lines += [str(record) for record in self.sidecar.faults.log]
        if self.runner.released_by_limit:
            lines.append(f"({self.runner.released_by_limit} work item(s) were handed out without waiting for the "
                         "client to block: there the order was thread timing)")
        return lines or ["(nothing was reordered, split or lost)"]


class ExplorationFailed(AssertionError):
    """A schedule made the scenario fail; the message names it and how to rerun it."""


@dataclass
class Exploration:
    """The result of exploring a scenario: every schedule run, in order (all passed when this is returned)."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def schedules_run(self) -> int:
        return len(self.outcomes)


Scenario = Callable[[ExploreRun], Any]


class Explorer:
    """Runs a scenario under many schedules (what the ``durable_explore`` fixture hands out)."""

    def __init__(
        self,
        settings: DurableSettings,
        *,
        forced: str | None = None,
        rerun_target: str = "",
        on_failure: Callable[[Outcome], None] | None = None,
    ) -> None:
        self._settings = settings
        self._forced = forced
        self._rerun_target = rerun_target
        self._on_failure = on_failure

    def __call__(
        self,
        scenario: Scenario,
        schedules: int = DEFAULT_SCHEDULES,
        *,
        seed: int = 0,
        schedule: str | Schedule | None = None,
        shrink: bool = True,
    ) -> Exploration:
        """Run ``scenario`` under the default schedule and up to ``schedules - 1`` others; raise
        :class:`ExplorationFailed` for the first that fails. ``schedule`` (or ``--durabletask-seed``) runs that
        one schedule only."""
        __tracebackhide__ = True
        if schedules < 1:
            raise ValueError(f"schedules must be at least 1; got {schedules}")
        chosen = schedule if schedule is not None else self._forced
        if chosen is not None:
            outcome = self.run_one(scenario, _as_schedule(chosen))
            if outcome.failed:
                self._fail(outcome, index=None, total=1, shrunk_from=None, shrink_runs=0)
            return Exploration([outcome])
        result = Exploration()
        first = self.run_one(scenario, Schedule())
        result.outcomes.append(first)
        if first.failed:
            self._fail(first, index=0, total=schedules, shrunk_from=None, shrink_runs=0)
        for index, candidate in enumerate(_explore_list(schedules, seed, first.bounds()), start=1):
            outcome = self.run_one(scenario, candidate)
            result.outcomes.append(outcome)
            if outcome.failed:
                best, runs = self._shrink(scenario, outcome) if shrink else (outcome, 0)
                again = self.run_one(scenario, best.schedule)
                confirmed = again.failed and type(again.error) is type(best.error)
                # A confirmation proves nothing if the default schedule, which passed first, now fails too.
                plain = self.run_one(scenario, Schedule()) if confirmed else None
                self._fail(again if again.failed else best, index=index, total=schedules,
                           shrunk_from=outcome.schedule, shrink_runs=runs, confirmed=confirmed,
                           plain_now=plain)
        return result

    def run_one(self, scenario: Scenario, schedule: Schedule) -> Outcome:
        """Run ``scenario`` once under ``schedule`` on a fresh fake sidecar; the error it raised, if any."""
        from durabletask_testing import FakeSidecar
        from durabletask_testing.exploration import ScheduleRunner

        from ..fixtures.environment import frozen_if_asked, open_client, open_worker

        runner = ScheduleRunner(schedule)
        sidecar = FakeSidecar(clock=self._settings.clock, start_time=self._settings.start_time, schedule=runner,
                              task_hub=self._settings.taskhub)
        sidecar.start()
        try:
            outcome = Outcome(schedule, runner, sidecar, sidecar.clock.now())
            schedule.apply_faults(sidecar.faults)
        except BaseException:
            sidecar.stop()
            raise
        started = time.perf_counter()
        try:
            with ExitStack() as stack:
                stack.enter_context(frozen_if_asked(self._settings, sidecar.clock))
                hub = self._settings.taskhub
                client = stack.enter_context(open_client(sidecar.address, taskhub=hub))
                worker = stack.enter_context(open_worker(sidecar.address, now=sidecar.clock.now, taskhub=hub))
                scenario(ExploreRun(sidecar, worker, client, schedule, runner))
        except Exception as error:  # noqa: BLE001 - any failure of the scenario is the finding
            outcome.error = error
        finally:
            sidecar.stop()
            outcome.seconds = time.perf_counter() - started
        return outcome

    def _shrink(self, scenario: Scenario, failing: Outcome) -> tuple[Outcome, int]:
        """A failing run whose schedule has fewer deviations, found within SHRINK_BUDGET runs."""
        best, runs = failing, 0
        improved = True
        while improved and runs < SHRINK_BUDGET:
            improved = False
            steps = [decision.step for decision in best.runner.deviations()]
            for candidate in shrink_candidates(best.schedule, steps):
                if candidate.deviations >= best.schedule.deviations or runs >= SHRINK_BUDGET:
                    continue
                runs += 1
                outcome = self.run_one(scenario, candidate)
                if outcome.failed:
                    best, improved = outcome, True
                    break
        return best, runs

    def _fail(
        self,
        outcome: Outcome,
        *,
        index: int | None,
        total: int,
        shrunk_from: Schedule | None,
        shrink_runs: int,
        confirmed: bool | None = None,
        plain_now: Outcome | None = None,
    ) -> None:
        __tracebackhide__ = True
        assert outcome.error is not None
        error = outcome.error
        spec = str(outcome.schedule)
        which = "the forced schedule" if index is None else f"schedule {index} of {total}"
        if index == 0:
            which = "the default schedule (a plain run fails too)"
        lines = [f"exploration: {which} failed: {type(error).__name__}: {_first_line(error)}",
                 f"schedule: {spec}  ({outcome.schedule.describe()})"]
        if shrunk_from is not None and shrunk_from != outcome.schedule:
            lines.append(f"  shrunk from {shrunk_from} in {shrink_runs} run(s)")
        lines.append("what this schedule changed:")
        lines += [f"  - {line}" for line in outcome.story()]
        if plain_now is not None and plain_now.error is not None:
            lines.append(
                "NOT caused by the schedule: the default schedule passed at the start but fails now too "
                f"({type(plain_now.error).__name__}: {_first_line(plain_now.error)}): the scenario keeps state "
                "between runs (a module-level variable, a class attribute, a file), so each run depends on the "
                "runs before it; make each run start from nothing")
        elif confirmed is not None:
            lines.append("reproduced: run once more under this schedule, it failed the same way (and the default "
                         "schedule still passes)" if confirmed else
                         "NOT reproduced: run once more under this schedule, it passed (thread timing still matters)")
        target = f" {self._rerun_target}" if self._rerun_target else ""
        lines.append(f"rerun exactly this schedule: pytest{target} {OPTION_SEED}='{spec}'")
        lines.append("the timeline below is this schedule's run")
        if self._on_failure is not None:
            self._on_failure(outcome)
        raise ExplorationFailed("\n".join(lines)) from error


def explore_list(count: int, seed: int, bounds: StepBounds | None = None) -> list[Schedule]:
    """The schedules of a marker-driven exploration: the default one first (``count`` in all)."""
    return list(schedules(count, seed, bounds))


def _explore_list(count: int, seed: int, bounds: StepBounds) -> Iterator[Schedule]:
    iterator = schedules(count, seed, bounds)
    next(iterator, None)  # the default schedule has run already
    return iterator


def _as_schedule(value: str | Schedule) -> Schedule:
    if isinstance(value, Schedule):
        return value
    try:
        return Schedule.parse(value)
    except ScheduleError as error:
        raise ValueError(str(error)) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"
