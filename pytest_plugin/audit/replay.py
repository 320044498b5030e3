"""The replay audit: after a test passed, replay every orchestration it ran and compare the actions.

Each instance on the test's fake (in-process or a CLI fake), and on the in-process fake each instance the test
purged or replaced by a new instance of its id (its history recorded as it went, :class:`RemovedHistories`), whose
orchestrator is registered on one of the test's workers is replayed from its recorded history, episode by
episode, ``repeats`` times, by ``durabletask_testing.replay`` (``Replayer.for_registration``: in-process through
our SDK's replay engine or the published SDK's own work-item method where its version allows, else a new
worker of the installed SDK on the process's replay-only sidecar, one per test
worker). The code is registered with the test worker's trampolines (so stubs answer as they did), its versioning
options and its maximum timer interval. The first difference between a recorded and a produced action fails the
test. Nothing on the test's fake changes. What the audit adds to the replay package: which instances to replay
(and the record of removed ones), the event budget, skipping refused instances, the report, and the hash-seed
pass (:mod:`.hash_seed`). It runs inside the test's call phase (``plugin.pytest_runtest_call``), so the test's
durations include it.

Not audited: instances the replay worker's versioning options refuse (another worker ran them), instances of
stubbed orchestrators (test doubles), of names no test worker registered (run by another worker), of names
registered with different functions on several workers (``durable_deploy``: their early steps ran on the old
code), rewound instances, instances purged on a CLI fake, and removed instances beyond ``MAX_REMOVED``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..fixtures.state import DurableTestState
from ..seams import ManagedWorker

EVENT_BUDGET = 300_000
"""At most this many history events are replayed per test worker; repeats beyond it are dropped (one pass stays)."""
REPLAY_TIMEOUT_SECONDS = 60.0
"""The replay worker's answers to a test's work items may take this long, plus ``PER_ITEM_SECONDS`` each."""
PER_ITEM_SECONDS = 0.5
MAX_REMOVED = 1_000
"""At most this many purged or replaced instances per test are recorded for the audit."""
THROUGH_PROTOCOL = False
"""The audit replays in-process when the installed SDK can; True sends the work items through a worker of it."""


@dataclass
class _Group:
    """The instances replayed by one replay worker: those of one test worker (its functions and versioning)."""

    source: ManagedWorker
    names: set[str] = field(default_factory=set)
    plans: list[Any] = field(default_factory=list)
    """``durabletask_testing.replay.ReplayPlan`` of each instance"""
    removed: set[int] = field(default_factory=set)
    """the positions in ``plans`` of instances the test purged or replaced"""


class RemovedHistories:
    """The instances an in-process fake deleted during a test (purged, or replaced by a new instance of their id):
    (instance id, orchestrator name, history), recorded by the engine's removal listener as they went."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[str, str, list[Any]]] = []
        self.stop: Callable[[], None] = lambda: None
        """Removes the listener (at the end of the test)."""

    def record(self, snapshot: Any, history: list[Any]) -> None:
        with self._lock:
            if len(self._entries) < MAX_REMOVED:
                self._entries.append((snapshot.instance_id, snapshot.name, history))

    def entries(self) -> list[tuple[str, str, list[Any]]]:
        with self._lock:
            return list(self._entries)


def watch_removals(sidecar: Any) -> RemovedHistories | None:
    """Record what ``sidecar`` deletes from now on, when it is an in-process FakeSidecar (else None)."""
    from durabletask_testing import FakeSidecar

    if not isinstance(sidecar, FakeSidecar):
        return None
    removed = RemovedHistories()
    removed.stop = sidecar.engine.add_removal_listener(removed.record)
    return removed


def shut_down(timeout: float) -> None:
    """Stop the process's replay sidecar and wait (bounded) for replay workers still stopping."""
    from durabletask_testing.replay import workers

    workers.shut_down(timeout)


def audit(state: DurableTestState, removed: RemovedHistories | None = None) -> str | None:
    """Replay the test's instances (and those in ``removed``); a report of the first divergences found, or None
    when all replay."""
    settings = state.settings
    if not settings.replay_audit or not settings.has_fake_controls:
        return None
    groups = _plan(state, [] if removed is None else removed.entries())
    if not groups:
        return None
    findings = [text for group in groups for text in _run(group, state, settings.replay_audit_repeats)]
    if not findings:
        return None
    return "\n\n".join(findings)


def _owners(workers: list[ManagedWorker]) -> dict[str, tuple[ManagedWorker, Any] | None]:
    """Orchestrator name -> the test worker whose real function answers it (None: not auditable)."""
    owners: dict[str, tuple[ManagedWorker, Any] | None] = {}
    for worker in workers:
        table = worker.stub_table
        for name in worker.orchestrator_names():
            real = table.real("orchestrator", name) if table is not None else None
            if real is None or table is None or table.is_stubbed("orchestrator", name):
                owners[name] = None
            elif name in owners and (owners[name] is None or owners[name][1] is not real):  # type: ignore[index]
                owners[name] = None
            else:
                owners[name] = (worker, real)
    return owners


def _plan(state: DurableTestState, removed: list[tuple[str, str, list[Any]]]) -> list[_Group]:
    from durabletask_testing.replay import StoredHistory, plan

    owners = _owners(list(state.workers))
    groups: dict[int, _Group] = {}
    stored: list[tuple[str, str, list[Any] | None]] = [*removed]
    stored.extend((snapshot.instance_id, snapshot.name, None) for snapshot in state.sidecar.instances())
    for position, (instance_id, name, recorded) in enumerate(stored):
        owner = owners.get(name)
        if owner is None:
            continue
        worker = owner[0]
        history = recorded if recorded is not None else list(state.sidecar.history(instance_id))
        if any(event.WhichOneof("eventType") == "executionRewound" for event in history):
            continue  # a rewound history was rewritten by the worker: its steps no longer line up with replays
        planned = plan(StoredHistory(instance_id, history, name=name))
        if not planned.requests:
            continue
        group = groups.setdefault(id(worker), _Group(source=worker))
        group.names.add(name)
        if position < len(removed):
            group.removed.add(len(group.plans))
        group.plans.append(planned)
    return list(groups.values())


def _registration(group: _Group) -> Any:
    """The test worker's registration for the replay: its trampolines by name, versioning, timer interval."""
    from durabletask_testing.replay import Registration

    table = group.source.stub_table
    assert table is not None  # _owners only groups workers with a stub table
    orchestrators = {name: table.trampoline("orchestrator", name, table.real("orchestrator", name))
                     for name in sorted(group.names)}
    # A worker without a timer interval (the Durable Task Scheduler's) creates long timers whole; the registration's
    # None would mean the SDK's default chunking, timedelta(0) means none in both SDKs.
    interval = group.source.maximum_timer_interval
    return Registration.of(orchestrators, group.source.versioning, timedelta(0) if interval is None else interval)


def _run(group: _Group, state: DurableTestState, repeats: int) -> list[str]:
    from durabletask_testing.replay import Replayer
    from durabletask_testing.replay.workers import shared_server

    through_worker = THROUGH_PROTOCOL
    with Replayer.for_registration(_registration(group), through_worker=through_worker,
                                   server=shared_server, timeout=REPLAY_TIMEOUT_SECONDS,
                                   per_item_timeout=PER_ITEM_SECONDS) as replayer:
        outcomes = replayer.replay_plans(group.plans, repeats, event_budget=EVENT_BUDGET)
    findings = [_finding(state, p.history.events, outcome, number in group.removed)
                for number, (p, outcome) in enumerate(zip(group.plans, outcomes))
                if not outcome.replays and not outcome.refused]  # refused: versioning sent it to another worker
    if not findings:
        findings.extend(_other_hash_seeds(group, through_worker))
    return findings


def _other_hash_seeds(group: _Group, through_worker: bool) -> list[str]:
    """The second pass for orchestrators that use sets: replays in processes with other string-hash seeds."""
    from durabletask_testing.replay.episodes import orchestrator_name

    from .hash_seed import hash_ordered, replay_under_other_seeds

    table = group.source.stub_table
    if table is None:
        return []
    chosen = hash_ordered({name: table.real("orchestrator", name) for name in group.names})
    histories = [(p.history.instance_id, p.history.events) for p in group.plans
                 if orchestrator_name(p.history.events) in chosen]
    if not histories:
        return []
    report = replay_under_other_seeds(chosen, histories, through_worker)
    return [] if report is None else [f"orchestrations of {sorted(chosen)} did not replay deterministically: {report}"]


def _finding(state: DurableTestState, history: list[Any], verdict: Any, removed: bool) -> str:
    from durabletask_testing.replay.episodes import orchestrator_name
    from durabletask_testing.timeline import format_history

    name = orchestrator_name(history) or "?"
    gone = ", purged or replaced during the test" if removed else ""
    lines = [
        f"orchestration instance {verdict.instance_id!r} (orchestrator {name!r}{gone}) did not replay "
        "deterministically:",
        f"  replay {verdict.replay_round} of {verdict.rounds}: {verdict.describe()}",
        "  recorded timeline (steps start at each OrchestratorStarted):",
    ]
    step = 0
    for event, line in zip(history, format_history(history, state.origin, indent="    ")):
        if event.WhichOneof("eventType") == "orchestratorStarted":
            step += 1
            lines.append(f"    -- step {step}")
        lines.append(line)
    return "\n".join(lines)
