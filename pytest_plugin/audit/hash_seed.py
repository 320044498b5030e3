"""The replay audit's second pass: replay in other processes, under other string-hash seeds.

Python randomises string hashes per process, so iterating a set (or frozenset) of strings gives one order in the
test's process and possibly another in production, where a worker replays the instance after a restart. No replay
inside the test's process can see that. For orchestrators whose code may order by string hash (see
:func:`uses_hash_order`), the audit therefore replays their recorded histories in ``RUNS`` fresh processes
(``python -m durabletask_testing replay``), each with another ``PYTHONHASHSEED``, all at once. Both audits use it:
``durabletask`` orchestrators through ``replay --worker`` (:func:`replay_under_other_seeds`), the orchestrators of a
Durable Functions app through ``replay --functions-app`` (:func:`replay_app_under_other_seeds`); choosing the
orchestrators, the seeds, the launch and the verdict are shared.

A fresh process differs from the test's in more than its hash seed: it imported the module anew (a global the
test monkeypatched has its original value), it has no fixtures, it runs in another directory. So the pass compares
the fresh processes with each other, never with the test's: it fails the test only when two seeds in the same
kind of process replay differently. When every seed gives the same divergence, the difference comes from the
environment and the pass gives no verdict; when a process cannot import or run the code, no verdict either. Both
say why with a :class:`NoVerdictWarning`. The first run uses the test's own seed when ``PYTHONHASHSEED`` names one
(a control: it usually replays). A two-element set whose order a branch depends on is caught with probability
1 - 0.5 ** (RUNS - 1) (> 99%).

Only orchestrators defined at module level (for an app: an app another process imports by ``module:attribute``)
can be imported by another process; closures are skipped (the docs say so). The cost, ``RUNS`` processes of about
0.35 s of CPU each, is paid only by tests whose orchestrators may use sets.
"""

from __future__ import annotations

import dis
import functools
import os
import subprocess
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNS = 8
SUBPROCESS_TIMEOUT_SECONDS = 120.0
MAX_FUNCTIONS_FOLLOWED = 200
"""At most this many functions (the orchestrator and the module-level functions it names) are inspected."""
_SET_OPCODES = frozenset({"BUILD_SET", "SET_ADD", "SET_UPDATE"})
_SET_NAMES = frozenset({"set", "frozenset", "hash", "union", "intersection", "difference", "symmetric_difference"})
_VIEW_NAMES = frozenset({"keys", "items"})
_SET_OPERATORS = frozenset({"&", "|", "^", "-", "&=", "|=", "^=", "-="})
_SET_OPERATOR_OPCODES = frozenset({  # Python 3.10 has one opcode per operator
    "BINARY_AND", "BINARY_OR", "BINARY_XOR", "BINARY_SUBTRACT",
    "INPLACE_AND", "INPLACE_OR", "INPLACE_XOR", "INPLACE_SUBTRACT"})
_HASH_ORDERED_VALUES = (set, frozenset, KeysView, ItemsView)


class NoVerdictWarning(UserWarning):
    """The hash-seed pass could not conclude for a test; the message says why."""


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


@functools.lru_cache(maxsize=4096)
def _orders_by_hash(code: types.CodeType) -> bool:
    """One code object builds or names a set, holds a set constant, or applies a set operator to dict views
    (a pure function of the code object, so remembered: the same orchestrators are audited test after test)."""
    names = set(code.co_names)
    if _SET_NAMES & names or any(isinstance(constant, frozenset) for constant in code.co_consts):
        return True  # ``for x in {"a", "b"}`` and ``x in {"a", "b"}`` compile to frozenset constants
    views = bool(_VIEW_NAMES & names)
    for instruction in dis.get_instructions(code):
        if instruction.opname in _SET_OPCODES:
            return True
        if views and (instruction.opname in _SET_OPERATOR_OPCODES
                      or (instruction.opname == "BINARY_OP" and instruction.argrepr in _SET_OPERATORS)):
            return True  # ``a.keys() & b.keys()`` is a set
    return False


def uses_hash_order(function: Callable[..., Any]) -> bool:
    """True when ``function`` may iterate something in string-hash order.

    Its code (nested functions and comprehensions included) and the code of the module-level functions it names
    (followed through their modules, at most ``MAX_FUNCTIONS_FOLLOWED``) are inspected: a set built (literal,
    comprehension, ``set(...)``/``frozenset(...)``), a set constant, a set method, ``hash``, a set operator on dict
    views, or a global that holds a set or a dict view.
    """
    pending: list[Any] = [function]
    seen: set[int] = set()
    while pending and len(seen) < MAX_FUNCTIONS_FOLLOWED:
        current = pending.pop()
        wrapped = getattr(current, "__wrapped__", None)
        if wrapped is not None:
            pending.append(wrapped)
        code = getattr(current, "__code__", None)
        if not isinstance(code, types.CodeType) or id(code) in seen:
            continue
        seen.add(id(code))
        namespace = getattr(current, "__globals__", None) or {}
        for nested in _code_objects(code):
            if _orders_by_hash(nested):
                return True
            for name in nested.co_names:
                value = namespace.get(name)
                if isinstance(value, _HASH_ORDERED_VALUES):
                    return True
                if isinstance(value, types.FunctionType):
                    pending.append(value)
    return False


def importable(function: Callable[..., Any]) -> tuple[str, str] | None:
    """(module, qualified name) by which another process can import ``function``, or None."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if not module or "<locals>" in qualname or module == "__main__" or module not in sys.modules:
        return None
    return module, qualname


def _factory_source(functions: dict[str, tuple[str, str]]) -> str:
    """A factory module for ``replay --worker``; an import that fails in any way becomes an ImportError (exit 2)."""
    entries = ", ".join(f"{name!r}: ({module!r}, {qualname!r})" for name, (module, qualname) in sorted(
        functions.items()))
    return (
        "import functools, importlib\n\n\n"
        "def functions():\n"
        "    found = {}\n"
        f"    for name, (module, qualname) in {{{entries}}}.items():\n"
        "        try:\n"
        "            found[name] = functools.reduce(getattr, qualname.split('.'), importlib.import_module(module))\n"
        "        except BaseException as error:\n"
        "            raise ImportError(f'{module}.{qualname} cannot be imported in a fresh process: '\n"
        "                              f'{type(error).__name__}: {error}') from None\n"
        "    return found\n"
    )


@dataclass(frozen=True)
class _Run:
    """One fresh process: each file's outcome (``replays``, ``diverges at ...``), or why it gave none."""

    seed: str
    outcomes: tuple[str, ...] | None
    problem: str | None = None


def _seeds() -> list[str]:
    """The test's own seed first when ``PYTHONHASHSEED`` names one (the control), then others: ``RUNS`` in all."""
    own = os.environ.get("PYTHONHASHSEED", "")
    control = [own] if own.isdigit() else []
    return control + [str(seed) for seed in range(1, RUNS + 2) if str(seed) != own][:RUNS - len(control)]


def _outcomes(stdout: str, files: list[str]) -> tuple[str, ...] | None:
    """Each file's outcome line of ``replay``'s output, in order; None when one is missing."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        for path in files:
            if line.startswith(f"{path}: "):
                found[path] = line[len(path) + 2:]
    if len(found) != len(files):
        return None
    return tuple(found[path] for path in files)


def _problem(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    said = " / ".join(lines[-3:]) if lines else "it printed nothing"
    return f"exit status {result.returncode}: {said[:2000]}"


def hash_ordered(functions: Mapping[str, Callable[..., Any] | None]) -> dict[str, Callable[..., Any]]:
    """Those of ``functions`` (registered name -> function) that :func:`uses_hash_order` chooses, by name."""
    return {name: fn for name, fn in sorted(functions.items()) if fn is not None and uses_hash_order(fn)}


def replay_under_other_seeds(functions: dict[str, Callable[..., Any]], histories: Sequence[tuple[str, list[Any]]],
                             through_worker: bool) -> str | None:
    """Replay ``histories`` in ``RUNS`` processes with different hash seeds; a report when two seeds replay
    differently, else None (with a :class:`NoVerdictWarning` when the processes could not tell).

    ``functions`` maps registered names to module-level orchestrator functions (``replay --worker`` imports them
    by a factory module written for it); ``through_worker`` drives the installed SDK's worker through a
    replay-only sidecar (any SDK) instead of our SDK's replay engine.
    """
    where = {name: location for name, fn in functions.items() if (location := importable(fn)) is not None}
    if not where:
        return None

    def options(scratch: Path) -> list[str]:
        (scratch / "_durable_hash_audit_factory.py").write_text(_factory_source(where))
        return ["--worker", "_durable_hash_audit_factory:functions", *(["--through-worker"] if through_worker else [])]

    return _replay_in_fresh_processes({name: functions[name] for name in sorted(where)}, histories, options)


def replay_app_under_other_seeds(app: str, orchestrators: dict[str, Callable[..., Any]],
                                 histories: Sequence[tuple[str, list[Any]]]) -> str | None:
    """:func:`replay_under_other_seeds` for an Azure Durable Functions app: each process imports the app by its
    ``module:attribute`` spec and replays through the Durable Functions SDK (``replay --functions-app``).
    ``orchestrators``: the app's own functions of the histories' orchestrators (a warning is shown at the first)."""
    if not orchestrators:
        return None
    return _replay_in_fresh_processes(dict(sorted(orchestrators.items())), histories,
                                      lambda scratch: ["--functions-app", app])


def _import_path() -> list[str]:
    """The test process's import path for the fresh processes (its current directory for ``''``)."""
    return list(dict.fromkeys(entry or os.getcwd() for entry in sys.path))


def _replay_in_fresh_processes(subjects: dict[str, Callable[..., Any]], histories: Sequence[tuple[str, list[Any]]],
                               options: Callable[[Path], list[str]]) -> str | None:
    """The pass itself: ``histories`` written as stored-history files in a scratch folder, ``python -m
    durabletask_testing replay OPTIONS FILE...`` run there under each of :func:`_seeds` at once (``options`` gets
    the folder and may write what the command imports there), and the :func:`_verdict` on their outcomes."""
    from durabletask_testing.replay import history_document, write_history

    if not histories:
        return None
    seeds = _seeds()
    with tempfile.TemporaryDirectory(prefix="durable-hash-audit-") as scratch:
        folder = Path(scratch)
        files = []
        for number, (instance_id, history) in enumerate(histories):
            readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in instance_id)[:80]
            path = folder / f"instance-{readable}-{number}.json"  # the report names the file: name the instance
            write_history(history_document(instance_id, history), path)
            files.append(str(path))
        command = [sys.executable, "-m", "durabletask_testing", "replay", *options(folder), *files]
        path_entries = [scratch, *_import_path()]

        def run(seed: str) -> _Run:
            env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(path_entries)}
            try:
                result = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True,
                                        timeout=SUBPROCESS_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                return _Run(seed, None, f"it did not finish within {SUBPROCESS_TIMEOUT_SECONDS:g} s")
            outcomes = _outcomes(result.stdout, files) if result.returncode in (0, 1) else None
            return _Run(seed, outcomes, None if outcomes is not None else _problem(result))

        with ThreadPoolExecutor(max_workers=len(seeds)) as pool:
            runs = list(pool.map(run, seeds))
    return _verdict(subjects, runs, files)


def _verdict(functions: dict[str, Callable[..., Any]], runs: list[_Run], files: list[str]) -> str | None:
    subject = f"the replay audit's hash-seed pass gave no verdict for orchestrations of {sorted(functions)}"

    def _no_verdict(message: str) -> None:  # shown at the first orchestrator's definition
        code = getattr(next(iter(functions.values())), "__code__", None)
        if not isinstance(code, types.CodeType):
            warnings.warn(NoVerdictWarning(message), stacklevel=3)
            return
        warnings.warn_explicit(NoVerdictWarning(message), NoVerdictWarning, code.co_filename, code.co_firstlineno)

    for failed in runs:
        if failed.outcomes is None:
            _no_verdict(f"{subject}: a fresh process (PYTHONHASHSEED={failed.seed}) could not replay them, "
                        f"{failed.problem}")
            return None
    distinct = {r.outcomes for r in runs}
    if len(distinct) == 1:
        [outcomes] = distinct
        assert outcomes is not None
        if all(outcome == "replays" for outcome in outcomes):
            return None
        seeds = ", ".join(r.seed for r in runs)
        _no_verdict(f"{subject}: under every hash seed ({seeds}) a fresh process fails to replay them in the "
                    "same way, so the difference comes from state the test's process has and a fresh one lacks (a "
                    "monkeypatched global, a fixture, the working directory), not from set order:\n  "
                    + "\n  ".join(_lines(files, outcomes)))
        return None
    diverging = next(r for r in runs if r.outcomes is not None and any(o != "replays" for o in r.outcomes))
    other = next((r for r in runs if r.outcomes is not None and all(o == "replays" for o in r.outcomes)), None)
    if other is None:
        other = next(r for r in runs if r.outcomes != diverging.outcomes)
        contrast = f"with PYTHONHASHSEED={other.seed} the same process diverged otherwise"
    else:
        contrast = f"with PYTHONHASHSEED={other.seed} the same process replays them"
    assert diverging.outcomes is not None
    shown = [line for line, outcome in zip(_lines(files, diverging.outcomes), diverging.outcomes)
             if outcome != "replays"]
    return (f"replayed in another process with PYTHONHASHSEED={diverging.seed} (set iteration order of strings "
            f"differs between processes), the code diverged ({contrast}):\n  " + "\n  ".join(shown))


def _lines(files: list[str], outcomes: tuple[str, ...]) -> list[str]:
    return [f"{Path(path).name}: {outcome}" for path, outcome in zip(files, outcomes)]
