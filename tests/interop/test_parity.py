"""Differential parity: the same scenarios on durabletask-go and on our fake must look the same.

Compared per scenario: runtime status, output, failure type and the normalized history (event types and
their references; timestamps and generated ids removed) of every instance involved. A difference is
allowed only when listed in ``parity.DELIBERATE_DIFFERENCES`` and docs/fidelity.md, and is then asserted
to be exactly the documented one.

Two SDKs drive the scenarios: the published PyPI package (through the harness, against the fake's CLI)
and ours (in this process, against an in-process ``FakeSidecar(clock="real")``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness_runner import run_harness
from .history_sources import GoSqliteHistorySource, GrpcHistorySource
from .parity import compare_all
from .sidecars import SidecarProcess

pytestmark = pytest.mark.interop


def test_published_sdk_sees_the_same_behaviour_on_the_fake_as_on_durabletask_go(
        go_sidecar: SidecarProcess, fake_cli_sidecar: SidecarProcess, published_python: Path) -> None:
    on_go = run_harness(published_python, go_sidecar.address, go_db=go_sidecar.db_path)
    on_fake = run_harness(published_python, fake_cli_sidecar.address, peer="fake")
    assert on_go.records, on_go.describe()
    problems = compare_all(on_go.records, on_fake.records)
    assert not problems, "\n".join(problems)


def test_our_sdk_sees_the_same_behaviour_on_the_fake_as_on_durabletask_go(go_sidecar: SidecarProcess) -> None:
    from durabletask_testing import FakeSidecar

    from . import scenarios

    go_history = GoSqliteHistorySource(go_sidecar.db_path)
    on_go = {o.scenario: o for o in scenarios.run_scenarios(go_sidecar.address, go_history)}
    with FakeSidecar(clock="real") as fake:
        fake_history = GrpcHistorySource(fake.address)
        try:
            on_fake = {o.scenario: o for o in scenarios.run_scenarios(fake.address, fake_history)}
        finally:
            fake_history.close()
    problems = compare_all(on_go, on_fake)
    assert not problems, "\n".join(problems)
