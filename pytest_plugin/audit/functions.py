"""The replay audit of Durable Functions apps: each orchestration an app of ``durable_functions`` ran, replayed.

Every instance on the test's fake whose orchestrator is one of the app's, and every such instance the test purged
or replaced (recorded by :class:`~.replay.RemovedHistories`), is replayed episode by episode through the Durable
Functions SDK's own replay (``ManagedFunctionsApp.replay_history``, over ``durabletask_testing.functions.audit``),
``repeats`` times. The first episode whose actions differ from the recorded ones is the finding. When an app's
instances all replay, the hash-seed pass (:mod:`.hash_seed`, shared with the ``durabletask`` audit) replays those of
its orchestrators that may order by string hash in fresh processes with other ``PYTHONHASHSEED``s, which import
the app by its ``module:attribute`` spec. Nothing on the fake changes.
"""

from __future__ import annotations

from typing import Any

from ..fixtures.state import DurableTestState
from ..seams import ManagedFunctionsApp
from .replay import RemovedHistories


def audit_functions(state: DurableTestState, removed: RemovedHistories | None = None) -> str | None:
    """The findings (one paragraph per instance), or None when every orchestration replays as recorded."""
    findings: list[str] = []
    repeats = state.settings.replay_audit_repeats
    gone = removed.entries() if removed is not None else []
    for app in state.functions_apps:
        names = app.orchestrator_names()
        histories = [(snapshot.instance_id, snapshot.name, list(state.sidecar.history(snapshot.instance_id)), False)
                     for snapshot in state.sidecar.instances() if snapshot.name in names]
        histories.extend((instance_id, name, history, True) for instance_id, name, history in gone if name in names)
        found_here = []
        for instance_id, _, history, purged in histories:
            found = app.replay_history(instance_id, history, repeats)
            if found is not None:
                found_here.append(f"{found} (an instance the test purged or replaced)" if purged else found)
        if not found_here:
            found_here.extend(_other_hash_seeds(app, [(i, n, h) for i, n, h, _ in histories]))
        findings.extend(found_here)
    if not findings:
        return None
    return "replayed through the Durable Functions SDK's own replay:\n" + "\n".join(findings)


def _other_hash_seeds(app: ManagedFunctionsApp, histories: list[tuple[str, str, list[Any]]]) -> list[str]:
    """The second pass for the app's orchestrators that may use sets: replays in processes with other seeds."""
    from .hash_seed import hash_ordered, replay_app_under_other_seeds

    wanted = {name for _, name, _ in histories}
    if not wanted:
        return []
    chosen = hash_ordered({name: fn for name, fn in app.orchestrator_functions().items() if name in wanted})
    spec = app.import_spec() if chosen else None
    if spec is None:
        return []  # no set in sight (the usual case: no process started), or an app no other process can import
    report = replay_app_under_other_seeds(spec, chosen, [(i, h) for i, n, h in histories if n in chosen])
    return [] if report is None else [f"orchestrations of {sorted(chosen)} did not replay deterministically: {report}"]
