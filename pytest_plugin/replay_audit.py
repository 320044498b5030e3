"""The replay audit: after a test passed, replay every orchestration it ran and compare the actions.

Each instance on the test's fake (in-process or a CLI fake) whose orchestrator is registered on one of the test's
workers is replayed from its recorded history, episode by episode, ``repeats`` times. With the published SDK (or
any other) a new worker of it is connected to a replay-only sidecar (one per test, one sidecar per process); with
our SDK the same work items go straight to the replay engine its worker runs (``OrchestrationExecutor``), which
spares the gRPC round trips. Either way the code is registered with the test worker's trampolines
(so stubs answer as they did) and its versioning options. The first difference between a recorded and a produced
action fails the test. Nothing on the test's fake changes.

Not audited: instances the replay worker's versioning options refuse (another worker ran them), instances of
stubbed orchestrators (test doubles), of names no test worker registered (run by another worker), and of names
registered with different functions on several workers (``durable_deploy``: their early steps ran on the old
code).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .state import DurableTestState

EVENT_BUDGET = 300_000
"""At most this many history events are replayed per test; repeats beyond it are dropped (the first pass stays)."""
REPLAY_TIMEOUT_SECONDS = 60.0
"""The replay worker's answers to a test's work items may take this long, plus ``PER_ITEM_SECONDS`` each."""
PER_ITEM_SECONDS = 0.5
THROUGH_PROTOCOL_WITH_OUR_SDK = False
"""With our SDK the audit calls the worker's replay engine in-process; True sends it through the protocol too."""
_server_lock = threading.Lock()
_server: Any = None
_stoppers: list[threading.Thread] = []


@dataclass
class _Group:
    """The instances replayed by one replay worker: those of one test worker (its functions and versioning)."""

    source: Any
    names: set[str] = field(default_factory=set)
    plans: list[tuple[str, list[Any], list[Any], list[Any]]] = field(default_factory=list)
    """(instance id, history, episodes, requests)"""


def shared_server() -> Any:
    """The process's replay-only sidecar, started on first use."""
    global _server
    with _server_lock:
        if _server is None:
            from durabletask_testing.replay_server import ReplayServer

            _server = ReplayServer().start()
        return _server


def shut_down(timeout: float) -> None:
    """Stop the replay sidecar and wait (bounded) for replay workers still stopping."""
    global _server
    with _server_lock:
        stopping = list(_stoppers)
    for thread in stopping:
        thread.join(timeout)
    with _server_lock:
        server, _server = _server, None
    if server is not None:
        server.stop()


def audit(state: DurableTestState) -> str | None:
    """Replay the test's instances; a report of the first divergences found, or None when all replay."""
    settings = state.settings
    if not settings.replay_audit or not settings.has_fake_controls:
        return None
    groups = _plan(state)
    if not groups:
        return None
    findings = [text for group in groups for text in _run(group, state, settings.replay_audit_repeats)]
    if not findings:
        return None
    return "\n\n".join(findings)


def _owners(workers: list[Any]) -> dict[str, Any]:
    """Orchestrator name -> the test worker whose real function answers it (None: not auditable)."""
    owners: dict[str, Any] = {}
    for worker in workers:
        table = getattr(worker, "_stub_table", None)
        names = worker.orchestrator_names() if hasattr(worker, "orchestrator_names") else set()
        for name in names:
            real = table.real("orchestrator", name) if table is not None else None
            if real is None or table is None or table.is_stubbed("orchestrator", name):
                owners[name] = None
            elif name in owners and (owners[name] is None or owners[name][1] is not real):
                owners[name] = None
            else:
                owners[name] = (worker, real)
    return owners


def _plan(state: DurableTestState) -> list[_Group]:
    from durabletask_testing.replayer import work_items

    owners = _owners(list(state.workers))
    groups: dict[int, _Group] = {}
    for snapshot in state.sidecar.instances():
        owner = owners.get(snapshot.name)
        if owner is None:
            continue
        worker = owner[0]
        history = list(state.sidecar.history(snapshot.instance_id))
        if any(event.WhichOneof("eventType") == "executionRewound" for event in history):
            continue  # a rewound history was rewritten by the worker: its steps no longer line up with replays
        found, requests = work_items(snapshot.instance_id, history)
        if not requests:
            continue
        group = groups.setdefault(id(worker), _Group(source=worker))
        group.names.add(snapshot.name)
        group.plans.append((snapshot.instance_id, history, found, requests))
    return list(groups.values())


def _starter(group: _Group) -> Callable[[str, list[tuple[str, str]]], Any]:
    def start(address: str, metadata: list[tuple[str, str]]) -> Any:
        from durabletask import worker as dt_worker

        worker = dt_worker.TaskHubGrpcWorker(host_address=address, metadata=metadata)
        table = group.source._stub_table
        for name in sorted(group.names):
            worker.add_orchestrator(table.trampoline("orchestrator", name, table.real("orchestrator", name)))
        versioning = getattr(group.source, "versioning", None)
        if versioning is not None:
            worker.use_versioning(versioning)
        worker.start()
        return worker

    return start


def _stop(worker: Any) -> None:
    thread = threading.Thread(target=worker.stop, name="replay-audit-worker-stop", daemon=True)
    with _server_lock:
        _stoppers[:] = [t for t in _stoppers if t.is_alive()]
        _stoppers.append(thread)
    thread.start()


def _repeats_within_budget(group: _Group, repeats: int) -> int:
    events = sum(len(r.pastEvents) + len(r.newEvents) for _, _, _, requests in group.plans for r in requests)
    return max(1, min(repeats, EVENT_BUDGET // max(events, 1)))


def _in_process(group: _Group) -> Callable[[list[Any]], list[Any]]:
    """Our SDK: its worker's own replay engine, called directly (what the worker runs for each work item)."""
    from durabletask.internal.registry import Registry
    from durabletask_testing.replayer import executor_runner

    registry = Registry()
    table = group.source._stub_table
    for name in sorted(group.names):
        registry.add_orchestrator(table.trampoline("orchestrator", name, table.real("orchestrator", name)), name=name)
    registry.versioning = getattr(group.source, "versioning", None)
    interval = getattr(group.source, "maximum_timer_interval", None)
    options = {"maximum_timer_interval": interval} if interval is not None else {}
    return executor_runner((), registry=registry, **options)


def _answers(group: _Group, batch: list[Any]) -> list[Any]:
    from durabletask_testing.replayer import WorkerRunner, our_sdk_is_installed

    if our_sdk_is_installed() and not THROUGH_PROTOCOL_WITH_OUR_SDK:
        return _in_process(group)(batch)
    runner = WorkerRunner(_starter(group), server=shared_server(),
                          timeout=REPLAY_TIMEOUT_SECONDS + PER_ITEM_SECONDS * len(batch))
    try:
        return runner(batch)
    finally:
        runner.close(stop_worker=_stop)


def _run(group: _Group, state: DurableTestState, repeats: int) -> list[str]:
    from durabletask_testing.replayer import judge

    rounds = _repeats_within_budget(group, repeats)
    batch = [r for _ in range(rounds) for _, _, _, requests in group.plans for r in requests]
    answers = _answers(group, batch)
    findings: list[str] = []
    per_round = len(batch) // rounds
    offset = 0
    for instance_id, history, found, requests in group.plans:
        for round_ in range(rounds):
            start = round_ * per_round + offset
            verdict = judge(instance_id, found, answers[start:start + len(found)])
            if verdict.refused:  # versioning sent this instance to another worker in the test
                break
            if not verdict.replays:
                findings.append(_finding(state, instance_id, history, verdict, round_ + 1, rounds))
                break
        offset += len(requests)
    if not findings:
        findings.extend(_other_hash_seeds(group))
    return findings


def _other_hash_seeds(group: _Group) -> list[str]:
    """The second pass for orchestrators that use sets: replays in processes with other string-hash seeds."""
    from durabletask_testing.replay_history import orchestrator_name
    from durabletask_testing.replayer import our_sdk_is_installed

    from .hash_seed_audit import replay_under_other_seeds, uses_hash_order

    table = group.source._stub_table
    functions = {name: table.real("orchestrator", name) for name in group.names}
    chosen = {name: fn for name, fn in functions.items() if fn is not None and uses_hash_order(fn)}
    histories = [(instance_id, history) for instance_id, history, _, _ in group.plans
                 if orchestrator_name(history) in chosen]
    if not histories:
        return []
    through_worker = THROUGH_PROTOCOL_WITH_OUR_SDK or not our_sdk_is_installed()
    report = replay_under_other_seeds(chosen, histories, through_worker)
    return [] if report is None else [f"orchestrations of {sorted(chosen)} did not replay deterministically: {report}"]


def _finding(state: DurableTestState, instance_id: str, history: list[Any], verdict: Any, round_: int,
             rounds: int) -> str:
    from durabletask_testing.replay_history import orchestrator_name
    from durabletask_testing.timeline import format_history

    name = orchestrator_name(history) or "?"
    lines = [
        f"orchestration instance {instance_id!r} (orchestrator {name!r}) did not replay deterministically:",
        f"  replay {round_} of {rounds}: {verdict.describe()}",
        "  recorded timeline (steps start at each OrchestratorStarted):",
    ]
    step = 0
    for event, line in zip(history, format_history(history, state.origin, indent="    ")):
        if event.WhichOneof("eventType") == "orchestratorStarted":
            step += 1
            lines.append(f"    -- step {step}")
        lines.append(line)
    return "\n".join(lines)
