"""Schedules for exploration: one run's delivery order, batching and crash point, as a value with a spec string.

A :class:`Schedule` says how the fake deviates from its default order: how the ready results of an instance
are ordered (``order``), how many of them one orchestrator work item carries (``batch``), at which work items
it deviates (``at``: step numbers, None for all) and where a worker "crashes" (``crash``). Its spec string
(``str(schedule)``, parsed by :meth:`Schedule.parse`) is what ``--durabletask-seed`` takes to rerun it.

:class:`~durabletask_testing.exploration.ScheduleRunner` applies one schedule to one fake sidecar.
This module is pure (no protobuf, no engine), so the pytest plugin can import it at start-up.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, cast, get_args

if TYPE_CHECKING:
    from ..faults import FaultPlan

OrderMode = Literal["default", "reverse", "random"]
BatchMode = Literal["whole", "single", "random"]
CrashKind = Literal["activity", "orchestrator", "disconnect"]
ORDER_MODES: tuple[OrderMode, ...] = get_args(OrderMode)
BATCH_MODES: tuple[BatchMode, ...] = get_args(BatchMode)
CRASH_KINDS: tuple[CrashKind, ...] = get_args(CrashKind)

class ScheduleError(ValueError):
    """A schedule spec string cannot be parsed."""


@dataclass(frozen=True)
class Crash:
    """A worker crash at one step: the ``step``-th (from 0) activity result or orchestrator completion is lost
    after the work was done, or every worker stream ends after the ``step``-th work item was handed out."""

    kind: CrashKind
    step: int

    def __str__(self) -> str:
        return f"{self.kind}@{self.step}"

    def describe(self) -> str:
        if self.kind == "activity":
            return f"the worker crashes after running activity result #{self.step} (the result is lost; redelivered)"
        if self.kind == "orchestrator":
            return (f"the worker crashes after orchestrator work item completion #{self.step} produced its actions "
                    "(the completion is lost; the work item is redelivered)")
        return f"the worker's connection drops right after work item #{self.step} is handed out"


@dataclass(frozen=True)
class Schedule:
    """How one run deviates from the default order; ``str()`` is its spec, :meth:`parse` reads one back."""

    order: OrderMode = "default"
    batch: BatchMode = "whole"
    at: frozenset[int] | None = None
    crash: Crash | None = None
    seed: int = 0

    def __str__(self) -> str:
        parts = []
        if self.order != "default":
            parts.append(f"order={self.order}")
        if self.batch != "whole":
            parts.append(f"batch={self.batch}")
        if self.at is not None and (self.order != "default" or self.batch != "whole"):
            parts.append("at=" + "+".join(str(step) for step in sorted(self.at)))
        if self.crash is not None:
            parts.append(f"crash={self.crash}")
        if self.seed and "random" in (self.order, self.batch):
            parts.append(f"seed={self.seed}")
        return ",".join(parts) or "default"

    @property
    def deviations(self) -> int:
        """A size for shrinking: reordering and batching count per step they apply to, a crash counts one."""
        reorders = 0
        if self.order != "default" or self.batch != "whole":
            reorders = len(self.at) if self.at is not None else 1000
        return reorders + (1 if self.crash is not None else 0) + (1 if "random" in (self.order, self.batch) else 0)

    def deviates_at(self, step: int) -> bool:
        return (self.order != "default" or self.batch != "whole") and (self.at is None or step in self.at)

    def apply_faults(self, faults: FaultPlan) -> None:
        """Configure the crash point (if any) on a fresh fake's fault plan."""
        if self.crash is None:
            return
        if self.crash.kind == "disconnect":
            faults.disconnect_workers(after=self.crash.step + 1)
        else:
            faults.lose_result_at(self.crash.kind, self.crash.step)

    def describe(self) -> str:
        """The schedule in words."""
        lines = []
        steps = ", ".join(f"#{step}" for step in sorted(self.at or ()))
        where = "at every work item" if self.at is None else f"at work item {steps}"
        if self.order == "reverse":
            lines.append(f"ready results delivered in reverse order {where}")
        elif self.order == "random":
            lines.append(f"ready results delivered in a random order (seed {self.seed}) {where}")
        if self.batch == "single":
            lines.append(f"one result per orchestrator work item {where}")
        elif self.batch == "random":
            lines.append(f"ready results split into random batches (seed {self.seed}) {where}")
        if self.crash is not None:
            lines.append(self.crash.describe())
        return "; ".join(lines) or "the default order: results by task id, one batch, no crash"

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Read a spec such as ``order=reverse,batch=single,at=2+3,crash=activity@1,seed=7`` (or ``default``)."""
        spec = text.strip()
        if spec in ("", "default"):
            return cls()
        values: dict[str, str] = {}
        for part in spec.split(","):
            key, sep, value = part.strip().partition("=")
            if not sep or key in values:
                raise ScheduleError(f"schedule spec {text!r}: expected key=value parts, each key once; got {part!r}")
            values[key] = value.strip()
        unknown = set(values) - {"order", "batch", "at", "crash", "seed"}
        if unknown:
            raise ScheduleError(f"schedule spec {text!r}: unknown key(s) {', '.join(sorted(unknown))}")
        order = values.get("order", "default")
        batch = values.get("batch", "whole")
        if order not in ORDER_MODES:
            raise ScheduleError(f"schedule spec {text!r}: order must be one of {', '.join(ORDER_MODES)}")
        if batch not in BATCH_MODES:
            raise ScheduleError(f"schedule spec {text!r}: batch must be one of {', '.join(BATCH_MODES)}")
        try:
            at = frozenset(int(s) for s in values["at"].split("+")) if "at" in values else None
            seed = int(values.get("seed", "0"))
            crash = None
            if "crash" in values:
                kind, _, step = values["crash"].partition("@")
                if kind not in CRASH_KINDS:
                    raise ScheduleError(f"schedule spec {text!r}: crash kind must be one of {', '.join(CRASH_KINDS)}")
                crash = Crash(cast(CrashKind, kind), int(step))
        except ValueError as error:
            if isinstance(error, ScheduleError):
                raise
            raise ScheduleError(f"schedule spec {text!r}: {error}") from None
        if (at is not None and any(s < 0 for s in at)) or (crash is not None and crash.step < 0) or seed < 0:
            raise ScheduleError(f"schedule spec {text!r}: steps and seeds must not be negative")
        return cls(cast(OrderMode, order), cast(BatchMode, batch), at, crash, seed)


@dataclass(frozen=True)
class StepBounds:
    """How many crash points of each kind the default run reached (crash schedules stay within them)."""

    activity: int = 4
    orchestrator: int = 4
    disconnect: int = 4

    def of(self, kind: CrashKind) -> int:
        return int(getattr(self, kind))


def schedules(count: int, seed: int = 0, bounds: StepBounds | None = None) -> Iterator[Schedule]:
    """``count`` schedules: the default first, then systematic reorders and splits, then each crash point
    (round robin over the kinds), then random ones drawn from ``seed``."""
    bounds = bounds or StepBounds()
    produced = 0

    def systematic() -> Iterator[Schedule]:
        yield Schedule()
        yield Schedule(order="reverse")
        yield Schedule(batch="single")
        yield Schedule(order="reverse", batch="single")
        for step in range(max(bounds.activity, bounds.orchestrator, bounds.disconnect)):
            for kind in CRASH_KINDS:
                if step < bounds.of(kind):
                    yield Schedule(crash=Crash(kind, step))

    for schedule in systematic():
        if produced >= count:
            return
        yield schedule
        produced += 1
    index = 0
    while produced < count:
        rng = random.Random(f"{seed}/{index}")
        index += 1
        crash = None
        kinds = [kind for kind in CRASH_KINDS if bounds.of(kind) > 0]
        if kinds and rng.random() < 1 / 3:
            kind = rng.choice(kinds)
            crash = Crash(kind, rng.randrange(bounds.of(kind)))
        batch: BatchMode = "random" if rng.random() < 0.5 else "whole"
        yield Schedule(order="random", batch=batch, crash=crash, seed=rng.randrange(1, 2**31))
        produced += 1


def shrink_candidates(schedule: Schedule, deviated_steps: Sequence[int]) -> Iterator[Schedule]:
    """Smaller schedules to try when ``schedule`` failed (``deviated_steps``: where it changed something)."""
    reorders = schedule.order != "default" or schedule.batch != "whole"
    if schedule.crash is not None and reorders:
        yield replace(schedule, order="default", batch="whole", at=None, seed=0)
        yield replace(schedule, crash=None)
    if reorders:
        if schedule.order == "random":
            yield replace(schedule, order="reverse")
            yield replace(schedule, order="default")
        if schedule.batch == "random":
            yield replace(schedule, batch="single")
            yield replace(schedule, batch="whole")
        if schedule.order != "default" and schedule.batch != "whole":
            yield replace(schedule, batch="whole")
            yield replace(schedule, order="default")
        steps = sorted(schedule.at) if schedule.at is not None else sorted(set(deviated_steps))
        if len(steps) > 1 or schedule.at is None:
            for step in steps:
                yield replace(schedule, at=frozenset({step}))
        if schedule.at is not None and len(schedule.at) > 1:
            for step in steps:
                yield replace(schedule, at=schedule.at - {step})
