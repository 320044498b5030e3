"""Run generated programs through Dapr's Python SDK on a real daprd and on the fake's Dapr dialect; compare.

Each side is one run of ``dapr_fidelity_harness.py`` in a Dapr venv (``scripts/dapr_venvs.py``): the same
programs (``fidelity_programs``), the same interpreter and driver, observed the same way (status, output,
failure, custom status, normalized history and failure events of every instance, the driver's action
results, each post action's result, what a purge left). ``compare_on_dapr`` pairs the observations and gives
every difference to a class of ``DAPR_KNOWN`` (``fidelity_compare.account``); the rest are unexplained.

A program that differs is run once more alone, on both sides, and only its second verdict counts: under
load, a real daprd (actors, reminders) and the fake (Python, polled hard by the driver) both sometimes leave
an instance unsettled at the program's deadline, which is timing, not behaviour.

Differences from a real daprd that the fake keeps on purpose are in docs/fidelity.md ("Deliberate
differences") and docs/dapr.md ("Against a real daprd"); the open class is the fake's bug that durabletask-go
shows too (``fidelity_compare.OPEN_DIFFERENCES``).

Pure Python beside the harness's subprocess; no SDK is imported here.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fidelity_compare as fc
from . import fidelity_programs as fp

HARNESS = Path(__file__).resolve().parent / "dapr_fidelity_harness.py"
REAL, FAKE = "real daprd", "fake (Dapr dialect)"
_runs = itertools.count()


# ----------------------------------------------------------------------------------------------
# Known differences between a real daprd (the reference) and the fake's Dapr dialect
# ----------------------------------------------------------------------------------------------

def _purged_before(case: fc.Case, index: int) -> bool:
    """Whether a purge before post action ``index`` succeeded on both sides (Dapr's SDK shows no count)."""
    ref_post, fake_post = case.reference.get("post") or [], case.fake.get("post") or []
    return any(case.program["after"][i]["do"] == "purge" and isinstance(ref_post[i], dict)
               and isinstance(fake_post[i], dict) for i in range(min(index, len(ref_post), len(fake_post))))


def _dapr_unknown_instance(case: fc.Case, diff: fc.Difference) -> bool:
    """A post action on the root after an earlier purge removed it on both sides: daprd answers UNKNOWN ("no
    such instance exists"); the fake NOT_FOUND for suspend and resume, and OK for a purge (nothing to delete)."""
    if diff.path[0] != "post":
        return False
    index = diff.path[1]
    action = case.program["after"][index]["do"]
    expected = {"suspend": "NOT_FOUND", "resume": "NOT_FOUND", "purge": {"deleted": None}}.get(action)
    return diff.reference == "UNKNOWN" and diff.fake == expected and _purged_before(case, index)


def _live(case: fc.Case, side: str) -> bool:
    return any(case.instance(side, label).get("exists")
               and case.instance(side, label).get("status") not in fc.TERMINAL for label in case.labels())


def _refused_purges(case: fc.Case) -> list[int]:
    """Post actions that are purges refused on both sides (UNKNOWN on daprd, FAILED_PRECONDITION on the fake)."""
    ref_post, fake_post = case.reference.get("post") or [], case.fake.get("post") or []
    return [i for i, action in enumerate(case.program["after"]) if action["do"] == "purge"
            and i < len(ref_post) and i < len(fake_post)
            and ref_post[i] == "UNKNOWN" and fake_post[i] == "FAILED_PRECONDITION"]


def _dapr_purge_refused(case: fc.Case, diff: fc.Difference) -> bool:
    """A purge of a tree holding an instance that has not ended: both refuse and keep the root; daprd answers
    UNKNOWN ("orchestration has not yet completed") having perhaps deleted ended children it visited first (a
    recursive purge), the fake FAILED_PRECONDITION with the live instance named, nothing deleted."""
    if not (_live(case, "reference") and _live(case, "fake")):
        return False
    refused = _refused_purges(case)
    if diff.path[0] == "post":
        return diff.path[1] in refused
    if diff.path[0] == "after_purge":  # an ended child daprd deleted before it met the live one
        recursive = any(case.program["after"][i]["recursive"] for i in refused)
        return recursive and diff.reference is False and diff.fake is True and diff.path[1] != "R"
    return False


DAPR_DELIBERATE: dict[str, fc.KnownDifference] = {k.name: k for k in (
    fc.KnownDifference(
        "dapr_operation_on_unknown_instance", "deliberate", "Deliberate differences",
        "suspend (pause), resume or purge of an instance that a purge removed: daprd answers UNKNOWN "
        "('no such instance exists'); the fake NOT_FOUND, and a purge of an unknown id succeeds with nothing "
        "deleted, as in the published dialect",
        _dapr_unknown_instance),
    fc.KnownDifference(
        "dapr_purge_refused", "deliberate", "Deliberate differences",
        "purge of a tree holding an instance that has not ended: both refuse and keep the root; daprd answers "
        "UNKNOWN ('orchestration has not yet completed'), a recursive purge having perhaps deleted ended children "
        "it visited first; the fake FAILED_PRECONDITION naming the live instance, nothing deleted (all or nothing)",
        _dapr_purge_refused),
)}

_TASK_REFS = re.compile(r"(->|task #)\d+")


def _concurrent_retries(value: Any) -> bool:
    """Whether a program holds a when_all with two or more activities that are retried."""
    if isinstance(value, list):
        return any(_concurrent_retries(v) for v in value)
    if not isinstance(value, dict):
        return False
    if value.get("op") == "all":
        retried = [t for t in value.get("tasks", ()) if t.get("op") == "act" and t.get("retry") and t.get("fail")]
        if len(retried) >= 2:
            return True
    return any(_concurrent_retries(v) for v in value.values())


def _without_task_refs(value: Any) -> Any:
    if isinstance(value, list):
        items = [_without_task_refs(v) for v in value]
        return sorted(items, key=json.dumps) if all(isinstance(i, str) for i in items) else items
    if isinstance(value, dict):
        return {k: _without_task_refs(v) for k, v in value.items()}
    return _TASK_REFS.sub(r"\1?", value) if isinstance(value, str) else value


def _retry_order(case: fc.Case, diff: fc.Difference) -> bool:
    """Two retried activities of one when_all whose retry timers fire together: which retry gets the next task
    id follows the order the timers' events arrive in, which differs between daprd and the fake (and between
    runs); the fields agree once task ids are left out of event references and "task #N" messages."""
    if diff.path[0] != "instances" or diff.path[2] not in ("history", "output", "failure", "failures"):
        return False
    return _concurrent_retries(case.program["root"]) \
        and _without_task_refs(diff.reference) == _without_task_refs(diff.fake)


# Timing, not behaviour: the program's own outcome depends on an order neither side promises.
DAPR_TIMING: dict[str, fc.KnownDifference] = {k.name: k for k in (
    fc.KnownDifference(
        "dapr_concurrent_retry_order", "timing", "docs/dapr.md, Against a real daprd",
        "retried activities of one when_all whose retry timers fire together take the next task ids in the "
        "order their timers' events arrive, which neither daprd nor the fake fixes",
        _retry_order),
)}

# Open bugs of the fake that a real daprd shows: none now (the custom status sent with a continue-as-new, the one
# class shared with durabletask-go, is fixed in the engine, and the Dapr dialect follows Dapr's own rule for it).
DAPR_OPEN: dict[str, fc.KnownDifference] = {}

DAPR_KNOWN: tuple[fc.KnownDifference, ...] = (*DAPR_OPEN.values(), *DAPR_DELIBERATE.values(),
                                               *DAPR_TIMING.values())


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------

def observe(python: Path, address: str, programs: Sequence[fp.Program], *, prefix: str, timeout: float,
            parallelism: int) -> list[fc.Observation]:
    """The harness's observations of ``programs`` on the sidecar at ``address``, in program order."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(list(programs), handle)
        programs_file = Path(handle.name)
    argv = [str(python), str(HARNESS), "--host", address, "--programs", str(programs_file), "--prefix", prefix,
            "--token", uuid.uuid4().hex[:8], "--timeout", str(timeout), "--parallelism", str(parallelism)]
    try:
        budget = 60 + timeout * 3 * (len(programs) / max(1, parallelism) + 1)
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=budget, stdin=subprocess.DEVNULL)
    finally:
        programs_file.unlink(missing_ok=True)
    observations = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or len(observations) != len(programs):
        raise RuntimeError(f"Dapr fidelity harness on {address} exited {completed.returncode} with "
                           f"{len(observations)} of {len(programs)} observations:\n"
                           + "\n".join(completed.stderr.splitlines()[-30:]))
    return observations


@dataclass
class DaprVerdict:
    """A program's verdict, and the first one when it was run again alone."""

    verdict: fc.Verdict
    first: fc.Verdict | None = None
    reran: bool = field(default=False)

    @property
    def ok(self) -> bool:
        return self.verdict.ok


def _pair(python: Path, real: str, fake: str, programs: Sequence[fp.Program], *, timeout: float,
          parallelism: int) -> list[fc.Verdict]:
    prefix = f"d{next(_runs)}{uuid.uuid4().hex[:4]}."
    on_real = observe(python, real, programs, prefix=prefix, timeout=timeout, parallelism=parallelism)
    on_fake = observe(python, fake, programs, prefix=prefix, timeout=timeout, parallelism=parallelism)
    return [fc.account(p, r, f, known=DAPR_KNOWN) for p, r, f in zip(programs, on_real, on_fake)]


def compare_on_dapr(python: Path, real: str, fake: str, programs: Sequence[fp.Program], *,
                    timeout: float = 10.0, parallelism: int = 2) -> list[DaprVerdict]:
    """Verdicts of ``programs`` with the real daprd at ``real`` as the reference and the fake at ``fake``."""
    verdicts = [DaprVerdict(v) for v in _pair(python, real, fake, programs, timeout=timeout,
                                              parallelism=parallelism)]
    for item in verdicts:
        if not item.ok:
            again = _pair(python, real, fake, [item.verdict.program], timeout=timeout, parallelism=1)[0]
            item.first, item.verdict, item.reran = item.verdict, again, True
    return verdicts


def describe(verdict: fc.Verdict) -> str:
    """A verdict with the sides named as here (real daprd, fake)."""
    lines = [f"program {verdict.program['name']}: {fp.describe(verdict.program)}"]
    lines += [f"  harness error: {error}" for error in verdict.errors]
    for diff in verdict.unexplained:
        where = ".".join(str(p) for p in diff.path)
        lines.append(f"  UNEXPLAINED {where}\n      {REAL}: {json.dumps(diff.reference, sort_keys=True)[:600]}"
                     f"\n      {FAKE}: {json.dumps(diff.fake, sort_keys=True)[:600]}")
    for name, diffs in sorted(verdict.accounted.items()):
        lines.append(f"  known ({name}): {len(diffs)} field(s)")
    return "\n".join(lines)


def report(verdicts: Sequence[DaprVerdict], seed: int) -> str | None:
    """None when every difference is accounted for; else what differs, twice seen, program by program."""
    failing = [v for v in verdicts if not v.ok]
    if not failing:
        return None
    lines = [f"{len(failing)} of {len(verdicts)} program(s) differ between a {REAL} and the {FAKE} "
             f"(seed {seed}), also when run again alone:"]
    lines += [describe(v.verdict) for v in failing[:4]]
    return "\n".join(lines)


def summary(verdicts: Sequence[DaprVerdict]) -> dict[str, Any]:
    """Counts for a campaign's log line: programs, reruns, known classes met."""
    classes: dict[str, int] = {}
    for item in verdicts:
        for name in item.verdict.accounted:
            classes[name] = classes.get(name, 0) + 1
    return {"programs": len(verdicts), "reran": sum(v.reran for v in verdicts),
            "differ": sum(not v.ok for v in verdicts), "known": dict(sorted(classes.items()))}
