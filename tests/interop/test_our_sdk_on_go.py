"""Our SDK runs every catalogue scenario on the real durabletask-go sidecar.

None of the catalogue's scenarios needs the virtual clock or fault injection, so all must pass; a
documented durabletask-go deviation (docs/fidelity.md) is expected as documented.
"""

from __future__ import annotations

import pytest

from .history_sources import GoSqliteHistorySource
from .sidecars import SidecarProcess

pytestmark = pytest.mark.interop


def test_our_sdk_passes_every_scenario_on_durabletask_go(go_sidecar: SidecarProcess) -> None:
    from . import scenarios

    outcomes = scenarios.run_scenarios(go_sidecar.address, GoSqliteHistorySource(go_sidecar.db_path))
    assert [o.scenario for o in outcomes] == [s.name for s in scenarios.SCENARIOS]
    report = []
    for scenario, outcome in zip(scenarios.SCENARIOS, outcomes):
        problems = scenario.check(outcome, "durabletask-go")
        if problems:
            report.append(f"- {scenario.name}: {'; '.join(problems)}")
            if outcome.error:
                report.append("    " + "\n    ".join(outcome.error.strip().splitlines()[-6:]))
    assert not report, "\n".join(report) + "\n\ndurabletask-go log:\n" + go_sidecar.log_tail()
