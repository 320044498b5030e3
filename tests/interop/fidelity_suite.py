"""Run generated programs on durabletask-go and on the fake with both SDKs, and account for every difference.

Used by ``test_fidelity_generated.py`` (a bounded number of programs) and ``scripts/fidelity_fuzz.py``
(thousands, with a seed). One ``Sidecars`` holds a durabletask-go process and in-process fakes (real clock,
and auto clock for the outcome-only comparison); ``Runner.observe`` runs a list of programs with one SDK on
one of them and returns the observations:

- ``sdk="ours"``: this interpreter's ``durabletask`` (our SDK), in process;
- ``sdk="published"``: the published package, as ``fidelity_harness.py`` in the published venv.

Root instance ids are the program names behind a prefix unique to each run, so runs share a sidecar and a
comparison's two sides use the same ids. ``compare`` pairs observations and returns ``Verdict``s.
"""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from durabletask_testing import FakeSidecar

if __package__:
    from . import fidelity_compare as fc
    from . import fidelity_driver as fd
    from . import fidelity_programs as fp
    from .history_sources import GoSqliteHistorySource, GrpcHistorySource
    from .sidecars import SidecarProcess, start_durabletask_go
else:
    import fidelity_compare as fc  # type: ignore[no-redef]
    import fidelity_driver as fd  # type: ignore[no-redef]
    import fidelity_programs as fp  # type: ignore[no-redef]
    from history_sources import GoSqliteHistorySource, GrpcHistorySource  # type: ignore[no-redef]
    from sidecars import SidecarProcess, start_durabletask_go  # type: ignore[no-redef]

HARNESS = Path(__file__).resolve().parent / "fidelity_harness.py"
GO, FAKE, FAKE_AUTO = "durabletask-go", "fake", "fake-auto"


class Sidecars:
    """A durabletask-go process and two in-process fakes (real and auto clock), started together."""

    def __init__(self, workdir: Path, go_binary: Path | None = None, auto: bool = True) -> None:
        self.go: SidecarProcess = start_durabletask_go(workdir / "durabletask-go", go_binary)
        self.fakes: dict[str, FakeSidecar] = {}
        try:
            self.fakes[FAKE] = FakeSidecar(clock="real").start()
            if auto:
                self.fakes[FAKE_AUTO] = FakeSidecar(clock="auto").start()
        except BaseException:
            self.close()
            raise

    def address(self, peer: str) -> str:
        return self.go.address if peer == GO else self.fakes[peer].address

    def close(self) -> None:
        for fake in self.fakes.values():
            fake.stop()
        self.go.stop()


@dataclass
class Runner:
    """Runs programs with one SDK on one peer of ``sidecars``."""

    sidecars: Sidecars
    published_python: Path | None = None
    timeout: float = 8.0
    parallelism: int = 8
    _runs: itertools.count[int] = field(default_factory=itertools.count)

    def observe(self, programs: Sequence[fp.Program], sdk: str, peer: str) -> list[fc.Observation]:
        prefix = f"{sdk[0]}{next(self._runs)}."
        if sdk == "ours":
            observations = self._ours(programs, peer, prefix)
        elif sdk == "published":
            observations = self._published(programs, peer, prefix)
        else:
            raise ValueError(f"unknown SDK {sdk!r} (expected 'ours' or 'published')")
        if peer == GO:
            failures = fd.GoLogWatcher(self.sidecars.go.log_path).failures()
            for program, observation in zip(programs, observations):
                attach_work_item_failures(observation, prefix + program["name"], failures)
        return observations

    def _ours(self, programs: Sequence[fp.Program], peer: str, prefix: str) -> list[fc.Observation]:
        address = self.sidecars.address(peer)
        if peer == GO:
            db = self.sidecars.go.db_path
            assert db is not None
            history: Any = GoSqliteHistorySource(db)
            lister: Any = fd.GoSqliteLister(db)
        else:
            history, lister = GrpcHistorySource(address), fd.GrpcLister(address)
        replay_logger = logging.getLogger("durabletask.replay")  # our SDK's "ignoring unexpected event" notes
        replay_level = replay_logger.level
        replay_logger.setLevel(logging.CRITICAL)
        hung = fd.GoLogWatcher(self.sidecars.go.log_path).hung if peer == GO else None
        driver = fd.Driver(address, history, lister, token=uuid.uuid4().hex[:8], timeout=self.timeout,
                           parallelism=self.parallelism, hung=hung)
        try:
            return driver.run_programs(programs, prefix=prefix)
        finally:
            replay_logger.setLevel(replay_level)
            driver.close()
            for closeable in (history, lister):
                if hasattr(closeable, "close"):
                    closeable.close()

    def _published(self, programs: Sequence[fp.Program], peer: str, prefix: str) -> list[fc.Observation]:
        if self.published_python is None:
            raise ValueError("the published SDK's python is not configured")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(list(programs), handle)
            programs_file = Path(handle.name)
        argv = [str(self.published_python), str(HARNESS), "--host", self.sidecars.address(peer),
                "--programs", str(programs_file), "--prefix", prefix, "--token", uuid.uuid4().hex[:8],
                "--timeout", str(self.timeout), "--parallelism", str(self.parallelism)]
        if peer == GO:
            argv += ["--go-db", str(self.sidecars.go.db_path), "--go-log", str(self.sidecars.go.log_path)]
        try:
            budget = 60 + self.timeout * 3 * (len(programs) / max(1, self.parallelism) + 1)
            completed = subprocess.run(argv, capture_output=True, text=True, timeout=budget,
                                       stdin=subprocess.DEVNULL)
        finally:
            programs_file.unlink(missing_ok=True)
        observations = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
        if completed.returncode != 0 or len(observations) != len(programs):
            raise RuntimeError(f"fidelity harness exited {completed.returncode} with {len(observations)} of "
                               f"{len(programs)} observations:\n" + "\n".join(completed.stderr.splitlines()[-30:]))
        return observations


def attach_work_item_failures(observation: fc.Observation, root: str, failures: dict[str, list[str]]) -> None:
    """Add ``work_item_failures`` (label -> reasons) for the instances of the program rooted at ``root``."""
    relabel = fd.Relabel(root)
    found = {relabel(iid): reasons for iid, reasons in failures.items() if fd.belongs(iid, root)}
    if found:
        observation["work_item_failures"] = found


def compare(programs: Sequence[fp.Program], reference: Sequence[fc.Observation], fake: Sequence[fc.Observation],
            *, outcome_only: bool = False,
            known: tuple[fc.KnownDifference, ...] = fc.KNOWN) -> list[fc.Verdict]:
    """One verdict per program (the observation lists are in program order)."""
    return [fc.account(p, r, f, known=known, outcome_only=outcome_only)
            for p, r, f in zip(programs, reference, fake)]


@dataclass(frozen=True)
class Comparison:
    """One comparison of a campaign: which SDK, the fake peer, and whether histories are compared."""

    sdk: str
    peer: str
    outcome_only: bool

    @property
    def label(self) -> str:
        return f"{self.sdk} SDK, {self.peer}" + (" (outcomes)" if self.outcome_only else "")


def default_comparisons(sdks: Sequence[str], auto: bool) -> list[Comparison]:
    out = [Comparison(sdk, FAKE, False) for sdk in sdks]
    if auto:
        out += [Comparison(sdk, FAKE_AUTO, True) for sdk in sdks]
    return out


def run_campaign(runner: Runner, programs: Sequence[fp.Program],
                 comparisons: Sequence[Comparison]) -> dict[Comparison, list[fc.Verdict]]:
    """Every comparison's verdicts for ``programs`` (durabletask-go is run once per SDK)."""
    on_go: dict[str, list[fc.Observation]] = {}
    verdicts: dict[Comparison, list[fc.Verdict]] = {}
    for comparison in comparisons:
        if comparison.sdk not in on_go:
            on_go[comparison.sdk] = runner.observe(programs, comparison.sdk, GO)
        on_fake = runner.observe(programs, comparison.sdk, comparison.peer)
        verdicts[comparison] = compare(programs, on_go[comparison.sdk], on_fake,
                                       outcome_only=comparison.outcome_only)
    return verdicts


def shows(verdict: fc.Verdict, signature: str) -> bool:
    """Whether a verdict shows a class ("known:<name>") or an unexplained field kind ("unexplained:<f>")."""
    kind, _, name = signature.partition(":")
    if kind == "known":
        return name in verdict.accounted
    return any(signature_of(d) == signature for d in verdict.unexplained)


def signature_of(diff: fc.Difference) -> str:
    """'unexplained:instances.status', 'unexplained:post', ... (what the minimiser preserves)."""
    head = diff.path[0]
    return f"unexplained:{head}.{diff.path[2]}" if head == "instances" else f"unexplained:{head}"


def signatures(verdict: fc.Verdict) -> set[str]:
    return {f"known:{name}" for name in verdict.accounted} | {signature_of(d) for d in verdict.unexplained}


def minimise(runner: Runner, program: fp.Program, signature: str, comparison: Comparison,
             budget: int = 60) -> fp.Program:
    """The smallest variant of ``program`` that still shows ``signature`` under ``comparison``."""
    def still_shows(candidate: fp.Program) -> bool:
        candidate = {**candidate, "name": f"min{uuid.uuid4().hex[:6]}"}
        verdict = run_campaign(runner, [candidate], [comparison])[comparison][0]
        return not verdict.errors and shows(verdict, signature)

    smallest = fp.minimise(program, still_shows, budget=budget)
    return {**smallest, "name": program["name"]}
