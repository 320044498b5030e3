"""The replay audit of Durable Functions apps: each orchestration an app of ``durable_functions`` ran, replayed.

Every instance on the test's fake whose orchestrator is one of the app's, and every such instance the test purged
or replaced (recorded by :class:`~.replay.RemovedHistories`), is replayed episode by episode through the Durable
Functions SDK's own replay (``ManagedFunctionsApp.replay_history``, over ``durabletask_testing.functions.audit``),
``repeats`` times. The first episode whose actions differ from the recorded ones is the finding. Nothing on the
fake changes.
"""

from __future__ import annotations

from ..fixtures.state import DurableTestState
from .replay import RemovedHistories


def audit_functions(state: DurableTestState, removed: RemovedHistories | None = None) -> str | None:
    """The findings (one paragraph per instance), or None when every orchestration replays as recorded."""
    findings: list[str] = []
    repeats = state.settings.replay_audit_repeats
    for app in state.functions_apps:
        names = app.orchestrator_names()
        for snapshot in state.sidecar.instances():
            if snapshot.name in names:
                found = app.replay_history(snapshot.instance_id, state.sidecar.history(snapshot.instance_id), repeats)
                if found is not None:
                    findings.append(found)
        for instance_id, name, history in removed.entries() if removed is not None else []:
            if name in names:
                found = app.replay_history(instance_id, history, repeats)
                if found is not None:
                    findings.append(f"{found} (an instance the test purged or replaced)")
    if not findings:
        return None
    return "replayed through the Durable Functions SDK's own replay:\n" + "\n".join(findings)
