"""The replay audit's second pass: replay in other processes, under other string-hash seeds.

Python randomises string hashes per process, so iterating a set (or frozenset) of strings gives one order in the
test's process and possibly another in production, where a worker replays the instance after a restart. No replay
inside the test's process can see that. For orchestrators whose code builds or names sets, the audit therefore
replays their recorded histories in fresh processes (``python -m durabletask_testing replay``), each with another
``PYTHONHASHSEED``, all at once. With ``SEEDS`` processes a two-element set whose order a branch depends on is
caught with probability 1 - 0.5 ** SEEDS (> 99%).

Only orchestrators defined at module level can be imported by another process; closures are skipped (the docs
say so). The cost, a few hundred milliseconds per such test, is paid only by tests whose orchestrators use sets.
"""

from __future__ import annotations

import dis
import os
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SEEDS = 7
SUBPROCESS_TIMEOUT_SECONDS = 120.0
_SET_OPCODES = frozenset({"BUILD_SET", "SET_ADD", "SET_UPDATE"})
_SET_NAMES = frozenset({"set", "frozenset"})


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


def uses_hash_order(function: Callable[..., Any]) -> bool:
    """True when ``function``'s code (nested functions included) builds a set or names ``set``/``frozenset``."""
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    for nested in _code_objects(code):
        if _SET_NAMES & set(nested.co_names):
            return True
        if any(instruction.opname in _SET_OPCODES for instruction in dis.get_instructions(nested)):
            return True
    return False


def importable(function: Callable[..., Any]) -> tuple[str, str] | None:
    """(module, qualified name) by which another process can import ``function``, or None."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if not module or "<locals>" in qualname or module == "__main__" or module not in sys.modules:
        return None
    return module, qualname


def _factory_source(functions: dict[str, tuple[str, str]]) -> str:
    entries = ", ".join(f"{name!r}: ({module!r}, {qualname!r})" for name, (module, qualname) in sorted(
        functions.items()))
    return (
        "import functools, importlib\n\n\n"
        "def functions():\n"
        "    found = {}\n"
        f"    for name, (module, qualname) in {{{entries}}}.items():\n"
        "        found[name] = functools.reduce(getattr, qualname.split('.'), importlib.import_module(module))\n"
        "    return found\n"
    )


def replay_under_other_seeds(functions: dict[str, Callable[..., Any]], histories: Sequence[tuple[str, list[Any]]],
                             through_worker: bool) -> str | None:
    """Replay ``histories`` in ``SEEDS`` processes with other hash seeds; the first divergence's report, or None.

    ``functions`` maps registered names to module-level orchestrator functions; ``through_worker`` drives the
    installed SDK's worker through a replay-only sidecar (any SDK) instead of our SDK's replay engine.
    """
    from durabletask_testing.replay import history_document, write_history

    where = {name: location for name, fn in functions.items() if (location := importable(fn)) is not None}
    if not where or not histories:
        return None
    own_seed = os.environ.get("PYTHONHASHSEED")
    seeds = [str(seed) for seed in range(1, SEEDS + 2) if str(seed) != own_seed][:SEEDS]
    with tempfile.TemporaryDirectory(prefix="durable-hash-audit-") as scratch:
        folder = Path(scratch)
        (folder / "_durable_hash_audit_factory.py").write_text(_factory_source(where))
        files = []
        for number, (instance_id, history) in enumerate(histories):
            readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in instance_id)[:80]
            path = folder / f"instance-{readable}-{number}.json"  # the report names the file: name the instance
            write_history(history_document(instance_id, history), path)
            files.append(str(path))
        command = [sys.executable, "-m", "durabletask_testing", "replay", "--worker",
                   "_durable_hash_audit_factory:functions", *(["--through-worker"] if through_worker else []), *files]
        path_entries = [scratch, *(entry for entry in sys.path if entry)]

        def run(seed: str) -> tuple[str, subprocess.CompletedProcess[str]]:
            env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(path_entries)}
            return seed, subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True,
                                        timeout=SUBPROCESS_TIMEOUT_SECONDS)

        with ThreadPoolExecutor(max_workers=len(seeds)) as pool:
            results = list(pool.map(run, seeds))
    for seed, result in results:
        if result.returncode == 1:
            diverging = [line for line in result.stdout.splitlines() if "replays" not in line.split(": ", 1)[-1][:8]]
            return (f"replayed in another process with PYTHONHASHSEED={seed} (set iteration order of strings "
                    f"differs between processes), the code diverged:\n  " + "\n  ".join(diverging or [result.stdout]))
    return None  # exit 2 means the other process could not import the code (e.g. --import-mode=importlib): no verdict
