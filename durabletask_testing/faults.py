"""Failure injection: a FaultPlan the engine consults at its decision points.

Configure it through ``FakeSidecar.faults``::

    sidecar.faults.fail_activity("charge_card", times=2)
    sidecar.faults.lose_activity_result(ship_order)
    sidecar.faults.chaos(seed=7, rate=0.3)

Decisions are reproducible: configured faults are consumed in the order the engine reaches its
decision points, and chaos decisions are a pure function of (seed, fault kind, the instance's fault key,
task id, attempt), never of the order in which threads happen to arrive nor of the instance ids a client
generated. An instance's fault key is its orchestration name and creation order (``"checkout#3"``); a
sub-orchestration's is its parent's key and the creating action's id; continue-as-new adds a generation.
The attempt counts the dispatches of one task id in one execution, so every retry gets its own decision.
Every injected fault, and every work item handed out again after its lease ran out, is appended to
:attr:`FaultPlan.log`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from .checks import duration, finite, whole

ChaosKind = Literal[
    "fail_activity", "lose_activity_result", "lose_orchestrator_result", "delay_activity", "lose_entity_result"
]
RuleKind = ChaosKind | Literal["fail_rpc", "fail_entity"]
RecordKind = RuleKind | Literal["disconnect_workers", "lease_expired"]
CHAOS_KINDS: tuple[ChaosKind, ...] = get_args(ChaosKind)
DEFAULT_CHAOS_KINDS: tuple[ChaosKind, ...] = (
    "lose_activity_result",
    "lose_orchestrator_result",
    "delay_activity",
    "lose_entity_result",
)
INJECTED_ERROR_TYPE = "InjectedFault"
# The names of gRPC's status codes other than OK (fixed by gRPC; ``grpc.StatusCode`` has members of these names).
RPC_STATUS_CODES = (
    "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)  # fmt: skip


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault: when (virtual time), what kind, and where."""

    time: datetime
    kind: RecordKind
    instance_id: str | None
    task_id: int | None
    detail: str

    def __str__(self) -> str:
        where = self.instance_id or "-"
        if self.task_id is not None:
            where += f"#{self.task_id}"
        return f"{self.time.isoformat()} {self.kind} {where}: {self.detail}"


@dataclass(frozen=True)
class ResultFault:
    """What to do with a completed activity's or entity batch's result: drop it (``lose``), hold it for
    ``delay``, or (entity batches) fail every operation of the batch with ``failure``."""

    lose: bool = False
    delay: timedelta | None = None
    failure: pb.TaskFailureDetails | None = None


@dataclass(frozen=True)
class Site:
    """Where the engine asks for a decision: an instance (its id, and its run-independent fault key), the
    activity or orchestrator name, the task id and the attempt."""

    instance_id: str
    key: str
    name: str
    task_id: int | None = None
    attempt: int = 0


@dataclass
class _Rule:
    kind: RuleKind
    target: str | None  # activity / orchestrator / RPC name; None = any
    remaining: int | None  # None = unlimited
    message: str = ""
    error_type: str = INJECTED_ERROR_TYPE
    delay: timedelta | None = None
    code: str = "UNAVAILABLE"

    def take(self) -> bool:
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass
class _Chaos:
    seed: int
    rate: float
    kinds: tuple[ChaosKind, ...]
    max_delay: timedelta


def target_name(target: Any) -> str:
    """A function, a registered name, or anything with ``__name__``, as the name the worker registers."""
    if isinstance(target, str):
        if not target:
            raise ValueError("the activity / orchestrator name must not be empty")
        return target
    name = getattr(target, "__name__", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"expected a function or a name, got {target!r}")
    return name


def _entity_name(entity: str) -> str:
    """An entity name as entity ids carry it (lower case), from a name or an ``@name@key`` id."""
    if not isinstance(entity, str) or not entity.strip():
        raise ValueError(f"entity must be an entity name; got {entity!r}")
    if entity.startswith("@"):
        entity = entity.split("@", 2)[1]
    return entity.lower()


def _check_times(times: int | None) -> int | None:
    if times is None:
        return None
    if isinstance(times, bool) or not isinstance(times, int):
        raise ValueError(f"times must be a positive integer or None (unlimited); got {times!r}")
    return whole(times, "times", minimum=1)


def status_code_name(code: Any) -> str:
    """A gRPC status code (a ``grpc.StatusCode`` or its name, any case) as its name; ValueError for OK or a name
    gRPC does not have."""
    name = getattr(code, "name", code)
    if isinstance(name, str) and name.upper() in RPC_STATUS_CODES:
        return name.upper()
    shown = repr(code) if len(repr(code)) <= 40 else repr(code)[:37] + "..."
    raise ValueError(f"code must be a gRPC status code other than OK ({', '.join(RPC_STATUS_CODES)}); got {shown}")


class FaultPlan:
    """The faults a fake sidecar injects. Thread-safe; empty (injects nothing) by default."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._chaos: _Chaos | None = None
        self._disconnect_after: int | None = None
        self._log: list[FaultRecord] = []
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._crash_steps: dict[str, set[int]] = {"activity": set(), "orchestrator": set()}
        self._steps_seen: dict[str, int] = {"activity": 0, "orchestrator": 0}

    def __repr__(self) -> str:
        kinds = ", ".join(f"{r.kind}({r.target})" for r in self._rules) or "none"
        chaos = f", chaos(seed={self._chaos.seed}, rate={self._chaos.rate})" if self._chaos else ""
        return f"FaultPlan(rules: {kinds}{chaos}, injected: {len(self._log)})"

    # -- configuration (test side) -----------------------------------------------------------------

    def fail_activity(
        self,
        activity: Any,
        *,
        times: int | None = 1,
        message: str = "injected activity failure",
        error_type: str = INJECTED_ERROR_TYPE,
    ) -> FaultPlan:
        """Answer the next ``times`` executions of ``activity`` with a failure, without running its code."""
        rule = _Rule("fail_activity", target_name(activity), _check_times(times), message, error_type)
        return self._add(rule)

    def lose_activity_result(self, activity: Any, *, times: int | None = 1) -> FaultPlan:
        """Let ``activity`` run, then drop its result as if the worker crashed; it is dispatched again."""
        return self._add(_Rule("lose_activity_result", target_name(activity), _check_times(times)))

    def lose_orchestrator_result(self, orchestrator: Any, *, times: int | None = 1) -> FaultPlan:
        """Drop the next ``times`` orchestrator completions of ``orchestrator``; the work item is replayed."""
        return self._add(_Rule("lose_orchestrator_result", target_name(orchestrator), _check_times(times)))

    def delay_activity(self, activity: Any, *, by: timedelta | float, times: int | None = None) -> FaultPlan:
        """Hold ``activity``'s results until the clock has moved ``by`` (a timedelta or seconds)."""
        held = duration(by, "by", positive=True)
        return self._add(_Rule("delay_activity", target_name(activity), _check_times(times), delay=held))

    def fail_entity(
        self,
        entity: str,
        *,
        times: int | None = 1,
        message: str = "injected entity failure",
        error_type: str = INJECTED_ERROR_TYPE,
    ) -> FaultPlan:
        """Fail every operation of the next ``times`` batches of the entity named ``entity`` (its name, as in
        ``@name@key``): the state stays as it was and callers get the failure."""
        rule = _Rule("fail_entity", _entity_name(entity), _check_times(times), message, error_type)
        return self._add(rule)

    def lose_entity_result(self, entity: str, *, times: int | None = 1) -> FaultPlan:
        """Let the next ``times`` batches of entity ``entity`` run, then drop their results as if the worker crashed;
        the operations run again on the old state."""
        return self._add(_Rule("lose_entity_result", _entity_name(entity), _check_times(times)))

    def lose_result_at(self, kind: Literal["activity", "orchestrator"], step: int) -> FaultPlan:
        """Drop the ``step``-th (from 0) activity result or orchestrator completion of the whole run, whatever
        its name, as if the worker crashed after doing the work; it is dispatched again (exploration)."""
        if kind not in self._crash_steps:
            raise ValueError(f"kind must be 'activity' or 'orchestrator'; got {kind!r}")
        step = whole(step, "step")
        with self._lock:
            self._crash_steps[kind].add(step)
        self._changed()
        return self

    def steps_seen(self, kind: Literal["activity", "orchestrator"]) -> int:
        """How many activity results or orchestrator completions have arrived so far (lost ones included)."""
        with self._lock:
            return self._steps_seen[kind]

    def disconnect_workers(self, *, after: int = 0) -> FaultPlan:
        """End every GetWorkItems stream with UNAVAILABLE after ``after`` more work items are dispatched."""
        after = whole(after, "after")
        with self._lock:
            self._disconnect_after = after
        self._changed()
        return self

    def fail_rpc(self, method: str, *, code: Any = "UNAVAILABLE", times: int | None = 1) -> FaultPlan:
        """Answer the next ``times`` calls of RPC ``method`` (e.g. ``"RaiseEvent"``) with status ``code`` (a
        ``grpc.StatusCode`` or its name; :data:`RPC_STATUS_CODES`)."""
        if not isinstance(method, str) or not method:
            raise ValueError("method must be the RPC name, e.g. 'StartInstance'")
        code_name = status_code_name(code)
        return self._add(_Rule("fail_rpc", method.rsplit("/", 1)[-1], _check_times(times), code=code_name))

    def chaos(
        self,
        seed: int,
        *,
        rate: float,
        kinds: Iterable[ChaosKind] = DEFAULT_CHAOS_KINDS,
        max_delay: timedelta = timedelta(seconds=30),
    ) -> FaultPlan:
        """Inject a seeded random mix of faults at ``rate`` (0..1) per decision point.

        ``kinds`` chooses the mix from :data:`CHAOS_KINDS`. The default, :data:`DEFAULT_CHAOS_KINDS`, holds the
        faults an orchestration recovers from on its own (lost activity, orchestrator and entity results; delayed
        activity results, up to ``max_delay``); pass ``kinds=CHAOS_KINDS`` (or a list with ``"fail_activity"``)
        when the orchestrations under test retry failed activities.
        """
        seed = whole(seed, "seed", minimum=-(2**63), maximum=2**64 - 1)
        rate = finite(rate, "rate", minimum=0.0, maximum=1.0)
        max_delay = duration(max_delay, "max_delay", positive=True)
        if isinstance(kinds, str):
            raise ValueError(f"kinds must be a collection of fault kinds, not one string; got {kinds!r}")
        chosen = tuple(kinds)
        if not chosen or any(k not in CHAOS_KINDS for k in chosen):
            raise ValueError(f"kinds must be a non-empty subset of {CHAOS_KINDS}; got {chosen!r}")
        with self._lock:
            self._chaos = _Chaos(seed, rate, chosen, max_delay)
        self._changed()
        return self

    def clear(self) -> None:
        """Remove every configured fault (the log is kept)."""
        with self._lock:
            for steps in self._crash_steps.values():
                steps.clear()
            self._rules.clear()
            self._chaos = None
            self._disconnect_after = None

    def reset(self) -> None:
        """Remove every configured fault and empty the log."""
        with self._lock:
            self._rules.clear()
            self._chaos = None
            self._disconnect_after = None
            self._log.clear()
            for steps in self._crash_steps.values():
                steps.clear()
            self._steps_seen = {"activity": 0, "orchestrator": 0}

    @property
    def seed(self) -> int | None:
        """The chaos seed, when chaos is on (printed in failure reports so a run can be repeated)."""
        chaos = self._chaos
        return None if chaos is None else chaos.seed

    @property
    def log(self) -> list[FaultRecord]:
        """Every injected fault so far, in order (a copy)."""
        with self._lock:
            return list(self._log)

    # -- decision points (engine / servicer side) --------------------------------------------------

    def activity_dispatch_fault(self, site: Site, now: datetime) -> pb.TaskFailureDetails | None:
        """Called when an activity is about to be handed out: failure details to answer with, or None."""
        with self._lock:
            rule = self._take("fail_activity", site.name)
            if rule is None and self._chaos_hits("fail_activity", site):
                rule = _Rule("fail_activity", site.name, None, "injected chaos activity failure")
            if rule is None:
                return None
            self._record(now, "fail_activity", site, f"{site.name} failed ({rule.message})")
        return pb.TaskFailureDetails(errorType=rule.error_type, errorMessage=rule.message)

    def activity_result_fault(self, site: Site, now: datetime) -> ResultFault | None:
        """Called when an activity result arrives: lose it, delay it, or None to deliver it."""
        with self._lock:
            if self._crash_step("activity"):
                self._record(now, "lose_activity_result", site, f"{site.name} result dropped (crash point)")
                return ResultFault(lose=True)
            if self._take("lose_activity_result", site.name) or self._chaos_hits("lose_activity_result", site):
                self._record(now, "lose_activity_result", site, f"{site.name} result dropped")
                return ResultFault(lose=True)
            rule = self._take("delay_activity", site.name)
            delay = rule.delay if rule is not None else None
            chaos = self._chaos
            if delay is None and chaos is not None and self._chaos_hits("delay_activity", site):
                fraction = _unit(chaos.seed, "delay_amount", site)
                delay = timedelta(seconds=max(1.0, chaos.max_delay.total_seconds() * fraction))
            if delay is None:
                return None
            self._record(now, "delay_activity", site, f"{site.name} result held for {delay}")
            return ResultFault(delay=delay)

    def entity_result_fault(self, site: Site, now: datetime) -> ResultFault | None:
        """Called when an entity batch result arrives (``site.name``: the entity name): lose it, fail it, or None."""
        with self._lock:
            if self._take("lose_entity_result", site.name) or self._chaos_hits("lose_entity_result", site):
                self._record(now, "lose_entity_result", site, f"{site.instance_id} batch result dropped")
                return ResultFault(lose=True)
            rule = self._take("fail_entity", site.name)
            if rule is None:
                return None
            self._record(now, "fail_entity", site, f"{site.instance_id} batch failed ({rule.message})")
        return ResultFault(failure=pb.TaskFailureDetails(errorType=rule.error_type, errorMessage=rule.message))

    def orchestrator_result_fault(self, site: Site, now: datetime) -> bool:
        """Called when an orchestrator completes a work item: True drops the completion (forces a replay)."""
        with self._lock:
            if self._crash_step("orchestrator"):
                self._record(now, "lose_orchestrator_result", site, f"{site.name} completion dropped (crash point)")
                return True
            if self._take("lose_orchestrator_result", site.name) or self._chaos_hits("lose_orchestrator_result", site):
                self._record(now, "lose_orchestrator_result", site, f"{site.name} completion dropped")
                return True
        return False

    def lease_expired(self, site: Site, now: datetime) -> None:
        """Log a work item handed out again because its completion did not arrive within its lease."""
        with self._lock:
            self._record(now, "lease_expired", site, f"{site.name} not completed within its lease: dispatched again")

    def work_item_dispatched(self, now: datetime) -> bool:
        """Called after each dispatch: True means end every worker stream now."""
        with self._lock:
            if self._disconnect_after is None:
                return False
            self._disconnect_after -= 1
            if self._disconnect_after > 0:
                return False
            return self._fire_disconnect(now)

    def disconnect_due(self) -> bool:
        """True when a disconnect is due right away (``after`` reached zero)."""
        with self._lock:
            return self._disconnect_after == 0

    def take_disconnect(self, now: datetime) -> bool:
        """Consume a disconnect that is due right away; True if there was one."""
        with self._lock:
            if self._disconnect_after != 0:
                return False
            return self._fire_disconnect(now)

    def _fire_disconnect(self, now: datetime) -> bool:
        self._disconnect_after = None
        self._log.append(
            FaultRecord(now, "disconnect_workers", None, None, "every GetWorkItems stream ended with UNAVAILABLE")
        )
        return True

    def rpc_fault(self, method: str, now: datetime) -> str | None:
        """Called at the start of each RPC: a grpc.StatusCode name to fail it with, or None."""
        with self._lock:
            if not self._rules:
                return None
            rule = self._take("fail_rpc", method)
            if rule is None:
                return None
            self._log.append(FaultRecord(now, "fail_rpc", None, None, f"{method} answered {rule.code}"))
            return rule.code

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called (without locks held) whenever the plan changes; the engine uses it to act on disconnects."""
        self._listeners.append(listener)

    # -- internals ---------------------------------------------------------------------------------

    def _add(self, rule: _Rule) -> FaultPlan:
        with self._lock:
            self._rules.append(rule)
        self._changed()
        return self

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _take(self, kind: RuleKind, target: str) -> _Rule | None:
        for rule in self._rules:
            if rule.kind == kind and (rule.target is None or rule.target == target) and rule.take():
                if rule.remaining == 0:
                    self._rules.remove(rule)
                return rule
        return None

    def _crash_step(self, kind: str) -> bool:
        step = self._steps_seen[kind]
        self._steps_seen[kind] = step + 1
        return step in self._crash_steps[kind]

    def _chaos_hits(self, kind: ChaosKind, site: Site) -> bool:
        chaos = self._chaos
        if chaos is None or kind not in chaos.kinds or chaos.rate <= 0.0:
            return False
        return _unit(chaos.seed, kind, site) < chaos.rate

    def _record(self, now: datetime, kind: RecordKind, site: Site, detail: str) -> None:
        self._log.append(FaultRecord(now, kind, site.instance_id, site.task_id, detail))


def _unit(seed: int, kind: str, site: Site) -> float:
    """A reproducible number in [0, 1) from what is being decided (not from timing nor generated ids)."""
    key = f"{seed}\x1f{kind}\x1f{site.key}\x1f{site.task_id}\x1f{site.attempt}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
