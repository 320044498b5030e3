"""Generated differential tests (issue 27): random orchestration programs on durabletask-go and on the fake.

A bounded number of programs from a fixed seed (``FIDELITY_SEED``, ``FIDELITY_COUNT`` override them) run
with our SDK and with the published one on durabletask-go v0.6.0 and on the fake (real clock: everything
compared, histories included; auto clock: outcomes). Every difference must belong to a class of
``fidelity_compare.KNOWN``; a test fails on any other, printing the smallest program (shrunk by rerunning
it) that still shows it. ``scripts/fidelity_fuzz.py`` runs thousands the same way.

The tests without a peer check the pure parts: the generator, the shrinker and the known-difference
tables.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from . import fidelity_compare as fc
from . import fidelity_programs as fp
from . import fidelity_suite as fs

SEED = int(os.environ.get("FIDELITY_SEED", "27"))
COUNT = int(os.environ.get("FIDELITY_COUNT", "40"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
MINIMISE_BUDGET = 12  # reruns spent shrinking a failing program before printing it


def _campaign(sdk: str, go_binary: Path, published_python: Path | None, workdir: Path) -> str | None:
    """Run COUNT programs with ``sdk``; None when every difference is accounted for, else a report."""
    programs = [fp.generate(SEED, i) for i in range(COUNT)]
    comparisons = fs.default_comparisons([sdk], auto=True)
    sidecars = fs.Sidecars(workdir, go_binary, auto=True)
    try:
        runner = fs.Runner(sidecars, published_python, timeout=15.0, parallelism=COUNT)
        verdicts = fs.run_campaign(runner, programs, comparisons)
        failing = [(c, v) for c in comparisons for v in verdicts[c] if not v.ok]
        if not failing:
            return None
        comparison, verdict = failing[0]
        report = [f"{len(failing)} verdict(s) with unexplained differences or errors (seed {SEED}):"]
        report += [f"[{c.label}] {v.describe()}" for c, v in failing[:4]]
        if verdict.unexplained:
            signature = fs.signature_of(verdict.unexplained[0])
            smallest = fs.minimise(runner, verdict.program, signature, comparison, budget=MINIMISE_BUDGET)
            report.append(f"smallest program still showing {signature} [{comparison.label}]:\n"
                          f"    {fp.describe(smallest)}")
        return "\n".join(report)
    finally:
        sidecars.close()


@pytest.mark.interop
def test_generated_programs_behave_alike_with_our_sdk(durabletask_go_binary: Path, tmp_path: Path) -> None:
    report = _campaign("ours", durabletask_go_binary, None, tmp_path)
    assert report is None, report


@pytest.mark.interop
def test_generated_programs_behave_alike_with_the_published_sdk(
        durabletask_go_binary: Path, published_python: Path, tmp_path: Path) -> None:
    report = _campaign("published", durabletask_go_binary, published_python, tmp_path)
    assert report is None, report


# ----------------------------------------------------------------------------------------------
# Pure parts
# ----------------------------------------------------------------------------------------------

def test_a_seed_and_an_index_always_give_the_same_program() -> None:
    assert fp.generate(5, 3) == fp.generate(5, 3)
    assert fp.generate(5, 3) != fp.generate(5, 4)
    json.dumps(fp.generate(5, 3))  # programs are data


def test_the_generator_reaches_every_kind_of_step_and_action() -> None:
    programs = [fp.generate(1, i) for i in range(300)]
    ops = {step["op"] for p in programs for step in fp.steps_of(p)}
    assert ops >= {"act", "timer", "wait", "race", "all", "any", "sub", "flaky", "status", "beacon", "park", "raise"}
    actions = {(a["do"], a.get("to"), a.get("recursive")) for p in programs for a in fp.actions_of(p)}
    assert {a[0] for a in actions} == {"raise", "suspend_resume", "terminate"}
    assert {("terminate", "self", True), ("terminate", "self", False), ("terminate", "root", True)} <= actions
    posts = {(a["do"], a.get("recursive")) for p in programs for a in p["after"]}
    assert posts == {("suspend", None), ("resume", None), ("purge", True), ("purge", False)}
    ids = {step["id"] for p in programs for step in fp.steps_of(p) if step["op"] == "sub"}
    assert ids == {"generated", "explicit", "explicit_gen"}
    assert any(fp.continues_as_new(p) for p in programs)
    assert {b["carry"] for p in programs for b in fp.bodies(p) if len(b["gens"]) > 1} == {True, False}
    assert any(step["op"] == "sub" and step["retry"] for p in programs for step in fp.steps_of(p))
    assert any(step["op"] == "act" and step["fail"] and step["retry"] for p in programs for step in fp.steps_of(p))


def test_every_shrink_candidate_is_a_smaller_well_formed_program() -> None:
    program = max((fp.generate(3, i) for i in range(40)), key=fp.size)
    candidates = list(fp.shrink_candidates(program))
    assert candidates
    for candidate in candidates:
        assert fp.size(candidate) < fp.size(program)
        assert all(body["gens"] for body in fp.bodies(candidate))
        for step in fp.steps_of(candidate):
            if step["op"] in ("all", "any"):
                assert step["tasks"]


def test_minimise_keeps_the_smallest_variant_that_still_fails() -> None:
    program = {"name": "m", "after": [{"do": "suspend"}], "root": {"carry": False, "gens": [[
        {"op": "timer", "ms": 50}, {"op": "status", "value": "s3"}, {"op": "act", "fail": 1, "retry": 2, "catch": True},
    ], [{"op": "timer", "ms": 50}]]}}

    def sets_status(candidate: fp.Program) -> bool:
        return any(step["op"] == "status" for step in fp.steps_of(candidate))

    smallest = fp.minimise(program, sets_status)
    assert smallest["after"] == []
    assert smallest["root"]["gens"] == [[{"op": "status", "value": "s1"}]]


def _observation(**instances: dict[str, object]) -> fc.Observation:
    return {"program": "p", "error": None, "instances": instances, "actions": [], "post": []}


def _instance(status: str, custom_status: object = None) -> dict[str, object]:
    return {"exists": True, "status": status, "output": None, "failure": None, "custom_status": custom_status,
            "history": [], "failures": []}


def test_a_difference_no_class_recognises_is_unexplained() -> None:
    program = {"name": "p", "after": [], "root": {"carry": False, "gens": [[{"op": "timer", "ms": 50}]]}}
    verdict = fc.account(program, _observation(R=_instance("COMPLETED")), _observation(R=_instance("FAILED")))
    assert not verdict.ok
    assert [d.path for d in verdict.unexplained] == [("instances", "R", "status")]


def test_a_custom_status_sent_with_a_continue_as_new_is_compared_strictly() -> None:
    kept = {"name": "p", "after": [], "root": {"carry": False, "gens": [
        [{"op": "status", "value": "s3"}], [{"op": "timer", "ms": 50}]]}}
    verdict = fc.account(kept, _observation(R=_instance("COMPLETED")), _observation(R=_instance("COMPLETED", "s3")))
    assert [d.path for d in verdict.unexplained] == [("instances", "R", "custom_status")]
    same_generation = {"name": "p", "after": [], "root": {"carry": False, "gens": [[{"op": "status", "value": "s3"}]]}}
    verdict = fc.account(same_generation, _observation(R=_instance("COMPLETED")),
                         _observation(R=_instance("COMPLETED", "s3")))
    assert not verdict.ok


def test_a_harness_error_is_the_verdict() -> None:
    program = {"name": "p", "after": [], "root": {"carry": False, "gens": [[{"op": "timer", "ms": 50}]]}}
    broken = {"program": "p", "error": "grpc.RpcError UNAVAILABLE: gone\nTraceback ..."}
    verdict = fc.account(program, broken, _observation(R=_instance("COMPLETED")))
    assert verdict.errors == ["durabletask-go: grpc.RpcError UNAVAILABLE: gone"] and not verdict.unexplained


def test_every_known_difference_names_where_it_is_written_down() -> None:
    headings = {m.group(1).strip() for m in re.finditer(r"^#+ (.+)$", DOCS.read_text(), re.MULTILINE)}
    for known in fc.DELIBERATE_DIFFERENCES.values():
        assert known.kind == "deliberate" and known.ref in headings, known
    for known in fc.OPEN_DIFFERENCES.values():
        assert known.kind == "open" and re.match(r"issue 27 item \d+$|found by fid-gen", known.ref), known
    assert {k.name for k in fc.KNOWN} == set(fc.OPEN_DIFFERENCES) | set(fc.DELIBERATE_DIFFERENCES)


def test_a_child_only_the_fake_created_is_unexplained_even_when_its_parent_continues_as_new() -> None:
    parked: fp.Step = {"op": "sub", "id": "explicit", "retry": 0, "catch": False,
                       "body": {"carry": False, "gens": [[{"op": "park"}]]}}
    first: list[fp.Step] = [{"op": "any", "tasks": [{"op": "wait", "name": "e1"}, parked]}]
    body: fp.Body = {"carry": False, "gens": [first, []]}
    program = {"name": "p", "after": [], "root": body}
    reference = _observation(R=_instance("COMPLETED"))
    fake = _observation(R=_instance("COMPLETED"), **{"R-s0t1": _instance("RUNNING", "parked")})
    assert not fc.account(program, reference, fake).ok
    one_generation = {"name": "p", "after": [], "root": {"carry": False, "gens": [first]}}
    assert not fc.account(one_generation, reference, fake).ok
