"""Client-API edge cases (unknown ids, duplicates, unimplemented RPCs) on durabletask-go and the fake.

Every probe must answer the same on both, except the documented deliberate differences, which are
asserted exactly (so a change on either side forces docs/fidelity.md to be updated).
"""

from __future__ import annotations

import pytest

from .api_probes import run_probes
from .parity import compare_probes
from .sidecars import SidecarProcess

pytestmark = pytest.mark.interop


def test_client_api_edge_cases_match_durabletask_go_up_to_documented_differences(
        go_sidecar: SidecarProcess) -> None:
    from durabletask_testing import FakeSidecar

    on_go = run_probes(go_sidecar.address)
    with FakeSidecar(clock="real") as fake:
        on_fake = run_probes(fake.address)
    problems = compare_probes(on_go, on_fake)
    assert not problems, "\n".join(problems)
