"""Client-API edge cases (unknown ids, duplicates, unimplemented RPCs) on durabletask-go and the fake.

Every probe must answer the same on both, except the documented deliberate differences, which are
asserted exactly (so a change on either side forces docs/fidelity.md to be updated).

Also: our SDK's public API against the published package's (every name, signature and default).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


# ------------------------------------------------------------------------------ SDK public API parity
#
# Our SDK must offer every public name of the published durabletask package with the same signature and
# defaults. The published package's API is read from its own venv by scripts/list_public_api.py (no list is
# kept by hand here); ours is read the same way in this interpreter.

PARITY_MODULES = ["durabletask", "durabletask.client", "durabletask.worker", "durabletask.task",
                  "durabletask.history", "durabletask.serialization", "durabletask.entities"]

DELIBERATE_OMISSIONS: dict[str, str] = {
    # "module.Name" (or "module.Class.member"): reason. Nothing is omitted today: payload stores and tracing
    # exist as names (parameters accepted, documented as not supported) so code written for the published
    # package imports unchanged.
}

EXTENSIONS: dict[str, set[str]] = {
    # Parameters our SDK adds after the published ones (always with a default), by "module.Class.member".
    "durabletask.worker.TaskHubGrpcWorker.add_orchestrator": {"name"},
    "durabletask.worker.TaskHubGrpcWorker.add_activity": {"name"},
    "durabletask.client.OrchestrationState": {"version", "tags"},
    "durabletask.task.RetryPolicy": {"non_retryable_error_types"},
    "durabletask.task.OrchestrationContext.call_activity": {"timeout"},
    "durabletask.task.OrchestrationContext.call_sub_orchestrator": {"timeout"},
}

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "list_public_api.py"


def _public_api(python: str | Path) -> dict[str, Any]:
    done = subprocess.run([str(python), str(_SCRIPT), *PARITY_MODULES], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _compare_signature(where: str, published: list[list[Any]] | None, ours: list[list[Any]] | None,
                       problems: list[str]) -> None:
    if published is None:
        return
    if ours is None:
        problems.append(f"{where}: no inspectable signature (published: {published})")
        return
    if ours[:len(published)] != published:
        problems.append(f"{where}: signature differs\n    published {published}\n    ours      {ours}")
        return
    for name, _kind, default in ours[len(published):]:
        if default is None:
            problems.append(f"{where}: extra parameter '{name}' without a default")
        elif name not in EXTENSIONS.get(where, set()):
            problems.append(f"{where}: extra parameter '{name}' not listed in EXTENSIONS")


def api_parity_problems(published: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Every published name or member missing from ours, or whose signature differs, not deliberately omitted."""
    problems: list[str] = []
    for module, names in published.items():
        for name, spec in names.items():
            where = f"{module}.{name}"
            if where in DELIBERATE_OMISSIONS:
                continue
            mine = ours.get(module, {}).get(name)
            if mine is None or mine.get("kind") == "missing":
                problems.append(f"{where}: missing ({spec['kind']})")
                continue
            _compare_signature(where, spec.get("signature"), mine.get("signature"), problems)
            if spec["kind"] == "enum" and spec.get("members") != mine.get("members"):
                problems.append(f"{where}: enum members differ: {spec.get('members')} vs {mine.get('members')}")
                continue
            members = spec.get("members") if spec["kind"] == "class" else None
            for member, member_spec in (members or {}).items():
                member_where = f"{where}.{member}"
                if member_where in DELIBERATE_OMISSIONS:
                    continue
                my_member = (mine.get("members") or {}).get(member)
                if my_member is None:
                    problems.append(f"{member_where}: missing ({member_spec['kind']})")
                elif my_member["kind"] != member_spec["kind"]:
                    problems.append(f"{member_where}: is a {my_member['kind']}, published: {member_spec['kind']}")
                else:
                    _compare_signature(member_where, member_spec.get("signature"), my_member.get("signature"),
                                       problems)
    return problems


def test_our_sdk_has_every_public_name_and_signature_of_the_published_sdk(published_python: Path) -> None:
    published = _public_api(published_python)
    assert "TaskHubGrpcClient" in published["durabletask.client"], "the lister found no published client"
    ours = _public_api(sys.executable)
    problems = api_parity_problems(published, ours)
    assert not problems, "\n".join(problems)


def test_parity_check_reports_missing_names_and_changed_defaults() -> None:
    published = {"m": {"f": {"kind": "function", "signature": [["a", "POSITIONAL_OR_KEYWORD", "1"]]},
                       "g": {"kind": "function", "signature": []},
                       "C": {"kind": "class", "signature": [], "members": {"x": {"kind": "property"}}}}}
    ours = {"m": {"f": {"kind": "function", "signature": [["a", "POSITIONAL_OR_KEYWORD", "2"],
                                                          ["b", "KEYWORD_ONLY", "None"]]},
                  "C": {"kind": "class", "signature": [], "members": {}}}}
    problems = api_parity_problems(published, ours)
    assert any(p.startswith("m.f: signature differs") for p in problems)
    assert "m.g: missing (function)" in problems
    assert "m.C.x: missing (property)" in problems
