"""Generated programs through Dapr's Python SDK on a real daprd and on the fake's Dapr dialect (issue 27).

A bounded number of programs from a fixed seed (``DAPR_FIDELITY_SEED``, ``DAPR_FIDELITY_COUNT`` override
them; ``make dapr-fidelity`` runs 200) run with dapr 1.19's SDK on a real daprd v1.18.1 (``real_dapr``) and on
the fake (real clock), and every difference must belong to a class of ``dapr_fidelity.DAPR_KNOWN``. The tests
without a peer check that each class recognises what it names and nothing near it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from durabletask_testing import FakeSidecar

from . import dapr_fidelity as df
from . import fidelity_compare as fc
from . import fidelity_programs as fp
from .conftest import require
from .sidecars import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from dapr_venvs import python_path  # noqa: E402

SEED = int(os.environ.get("DAPR_FIDELITY_SEED", "27"))
COUNT = int(os.environ.get("DAPR_FIDELITY_COUNT", "10"))
DAPR_SDK = "dapr-1.19"  # the first Dapr SDK that reads histories (get_workflow_history)


@pytest.mark.interop
def test_generated_programs_behave_alike_on_a_real_daprd_and_the_fake(real_dapr: str) -> None:
    python = python_path(DAPR_SDK)
    require(python.is_file(), f"{DAPR_SDK} venv not found at {python}; run: python scripts/dapr_venvs.py")
    programs = [fp.generate(SEED, i) for i in range(COUNT)]
    fake = FakeSidecar(dialect="dapr", clock="real").start()
    try:
        verdicts = df.compare_on_dapr(python, real_dapr, fake.address, programs)
    finally:
        fake.stop()
    print(f"Dapr fidelity (seed {SEED}): {df.summary(verdicts)}")
    report = df.report(verdicts, SEED)
    assert report is None, report


# ----------------------------------------------------------------------------------------------
# Pure parts: each known class recognises its own shape only
# ----------------------------------------------------------------------------------------------

def _program(after: list[dict[str, Any]]) -> fp.Program:
    return {"name": "p", "root": {"gens": [[{"op": "park"}]], "carry": False}, "after": after}


def _observation(post: list[Any], status: str = "COMPLETED") -> fc.Observation:
    return {"program": "p", "error": None, "actions": [], "post": post,
            "instances": {"R": {"exists": True, "status": status, "output": None, "failure": None,
                                "custom_status": None, "history": [], "failures": []}}}


def _classes(program: fp.Program, real: fc.Observation, fake: fc.Observation) -> tuple[list[str], int]:
    verdict = fc.account(program, real, fake, known=df.DAPR_KNOWN)
    return verdict.classes(), len(verdict.unexplained)


def test_an_operation_after_a_purge_is_unknown_on_daprd_and_not_found_on_the_fake() -> None:
    program = _program([{"do": "purge", "recursive": True}, {"do": "resume"}, {"do": "purge", "recursive": False}])
    real = _observation([{"deleted": None}, "UNKNOWN", "UNKNOWN"])
    fake = _observation([{"deleted": None}, "NOT_FOUND", {"deleted": None}])
    assert _classes(program, real, fake) == (["dapr_operation_on_unknown_instance"], 0)


def test_the_same_answers_without_an_earlier_purge_stay_unexplained() -> None:
    program = _program([{"do": "resume"}, {"do": "purge", "recursive": False}])
    real = _observation(["UNKNOWN", "UNKNOWN"])
    fake = _observation(["NOT_FOUND", {"deleted": None}])
    assert _classes(program, real, fake) == ([], 2)


def test_a_refused_purge_of_a_live_tree_is_its_own_class() -> None:
    program = _program([{"do": "purge", "recursive": True}])
    real = _observation(["UNKNOWN"], status="RUNNING")
    fake = _observation(["FAILED_PRECONDITION"], status="RUNNING")
    assert _classes(program, real, fake) == (["dapr_purge_refused"], 0)
    ended = _observation(["FAILED_PRECONDITION"])
    assert _classes(program, _observation(["UNKNOWN"]), ended) == ([], 1)  # nothing live: not that class


def test_an_ended_child_deleted_by_daprd_before_it_refused_belongs_to_the_refused_purge() -> None:
    program = _program([{"do": "purge", "recursive": True}])
    real = {**_observation(["UNKNOWN"], status="RUNNING"), "after_purge": {"R": True, "R-s1": False}}
    fake = {**_observation(["FAILED_PRECONDITION"], status="RUNNING"), "after_purge": {"R": True, "R-s1": True}}
    assert _classes(program, real, fake) == (["dapr_purge_refused"], 0)
    gone_root = {**real, "after_purge": {"R": False, "R-s1": False}}
    assert _classes(program, gone_root, fake) == (["dapr_purge_refused"], 1)  # the root is kept on both sides
    not_recursive = _program([{"do": "purge", "recursive": False}])
    assert _classes(not_recursive, real, fake) == (["dapr_purge_refused"], 1)


def test_retries_of_one_when_all_may_take_task_ids_in_either_order() -> None:
    retried = {"op": "act", "fail": 1, "retry": 2, "catch": False}
    program = {"name": "p", "after": [], "root": {"gens": [[{"op": "all", "tasks": [retried, retried],
                                                               "catch": True}]], "carry": False}}
    real, fake = _observation([]), _observation([])
    real["instances"]["R"]["history"] = ["TaskScheduled#5(fid_act)", "TaskScheduled#6(fid_act)", "TaskFailed->5"]
    fake["instances"]["R"]["history"] = ["TaskScheduled#5(fid_act)", "TaskScheduled#6(fid_act)", "TaskFailed->6"]
    real["instances"]["R"]["output"] = [[{"msg": "Activity task #5 failed"}]]
    fake["instances"]["R"]["output"] = [[{"msg": "Activity task #6 failed"}]]
    assert _classes(program, real, fake) == (["dapr_concurrent_retry_order"], 0)
    fake["instances"]["R"]["history"] = ["TaskScheduled#5(fid_act)", "TaskFailed->6"]  # an event missing
    assert _classes(program, real, fake) == (["dapr_concurrent_retry_order"], 1)
    once = {**program, "root": {"gens": [[{"op": "all", "tasks": [retried], "catch": True}]], "carry": False}}
    assert _classes(once, real, fake) == ([], 2)  # one retried task: no order to differ in


def test_every_dapr_class_is_written_down_in_the_docs() -> None:
    docs = {name: (REPO_ROOT / "docs" / name).read_text() for name in ("dapr.md", "fidelity.md")}
    for known in df.DAPR_DELIBERATE.values():
        assert known.kind == "deliberate"
        for name, text in docs.items():
            assert f"`{known.name}`" in text, f"{known.name} is not listed in docs/{name}"
    assert "`dapr_concurrent_retry_order`" in docs["dapr.md"]
    for known in df.DAPR_OPEN.values():
        assert known is fc.OPEN_DIFFERENCES[known.name]  # the same open bug as on durabletask-go

