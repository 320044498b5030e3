"""``@pytest.mark.durabletask(explore=N)``: one test item per schedule, and the report section naming it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from durabletask_testing.exploration import Schedule, ScheduleError, schedules

from .explorer import NEEDS_IN_PROCESS_FAKE_REASON, OPTION_SEED, OPTION_SEED_DEST

if TYPE_CHECKING:
    from durabletask_testing.exploration import ScheduleRunner


SCHEDULE_SECTION_TITLE = "durabletask: schedule"
SCHEDULE_PARAM = "durable_schedule"
_RUN_KEY = pytest.StashKey[tuple["ScheduleRunner", Any]]()


def parametrize_marked(metafunc: pytest.Metafunc, marker_name: str, *, in_process: bool = True) -> None:
    """Give a test marked ``explore=N`` one item per schedule (only the forced one with ``--durabletask-seed``);
    each item is skipped unless the tests run on the in-process fake (``in_process``)."""
    count = next((m.kwargs["explore"] for m in metafunc.definition.iter_markers(marker_name)
                  if "explore" in m.kwargs), 0)
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        return  # a bad value is reported by the durable_settings fixture
    forced = metafunc.config.getoption(OPTION_SEED_DEST, None)
    specs = [forced] if forced else [str(schedule) for schedule in schedules(count)]
    ids = ["forced-schedule"] if forced else [f"schedule-{index}" for index in range(len(specs))]
    marks = () if in_process else (pytest.mark.skip(reason=NEEDS_IN_PROCESS_FAKE_REASON),)
    if SCHEDULE_PARAM not in metafunc.fixturenames:
        metafunc.fixturenames.append(SCHEDULE_PARAM)
    metafunc.parametrize(SCHEDULE_PARAM, [pytest.param(spec, id=name, marks=marks) for spec, name in zip(specs, ids)],
                         indirect=True)


def runner_for(request: pytest.FixtureRequest) -> ScheduleRunner | None:
    """The schedule runner of a test item made by ``explore=N`` (None for other tests)."""
    callspec = getattr(request.node, "callspec", None)
    spec = callspec.params.get(SCHEDULE_PARAM) if callspec is not None else None
    if spec is None:
        return None
    from durabletask_testing.exploration import ScheduleRunner

    try:
        return ScheduleRunner(Schedule.parse(spec))
    except ScheduleError as error:
        pytest.fail(f"{OPTION_SEED}: {error}", pytrace=False)


def remember_run(item: pytest.Item, runner: ScheduleRunner, sidecar: Any) -> None:
    """Apply the schedule's crash point to the item's fake and keep both for the failure report."""
    runner.schedule.apply_faults(sidecar.faults)
    item.stash[_RUN_KEY] = (runner, sidecar)


def marker_report(item: pytest.Item) -> tuple[str, str] | None:
    """The failure report section naming the schedule a marker-explored item ran under and how to rerun it."""
    found = item.stash.get(_RUN_KEY, None)
    if found is None:
        return None
    runner, sidecar = found
    spec = str(runner.schedule)
    lines = [f"schedule: {spec}  ({runner.schedule.describe()})", "what this schedule changed:"]
    lines += [f"  - {str(d)}" for d in runner.deviations()]
    lines += [f"  - {record}" for record in sidecar.faults.log]
    if len(lines) == 2:
        lines.append("  - (nothing was reordered, split or lost)")
    path = item.nodeid.split("[", 1)[0]
    lines.append(f"rerun exactly this schedule: pytest {path} {OPTION_SEED}='{spec}'")
    return SCHEDULE_SECTION_TITLE, "\n".join(lines)
