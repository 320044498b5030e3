"""Run the Dapr example's tests on a real daprd many times, one run at a time, and count how each run ended.

Reproduces the teardown crash of Dapr 1.18's SDK (``WorkflowRuntime.shutdown()`` closed the gRPC channel while a
thread of the SDK was still sending a result; grpcio then died of SIGSEGV). Each run starts a real daprd of its own
(``tests/interop/real_dapr.py``, built by ``scripts/interop/install_dapr.sh``; the example schedules a fixed
instance id, which a daprd that already has it may leave waiting) and one ``pytest`` process in the chosen Dapr venv
(``scripts/dapr_venvs.py``), as ``tests/interop/test_dapr_examples.py`` does::

    .venv/bin/python scripts/dapr_teardown_repro.py --version dapr-1.18 --runs 30

Prints one line per run and a summary; exits 1 if any run crashed or failed.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from dapr_venvs import DAPR_VERSIONS, python_path  # noqa: E402
from published_venv import import_root_of_testkit  # noqa: E402

from tests.interop.real_dapr import start_real_dapr  # noqa: E402


def _outcome(returncode: int, stdout: str) -> str:
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    if returncode == 0:
        summary = re.search(r"\d+ passed[^\n]*", stdout)
        return "passed" + (f" ({summary.group(0).strip()})" if summary else "")
    return f"exit {returncode}"


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str, bool]:
    """Run one pytest process; one still running after ``timeout`` s gets SIGABRT (faulthandler prints every
    thread's stack) and counts as hung."""
    process = subprocess.Popen(command, cwd=cwd, env={**env, "PYTHONFAULTHANDLER": "1"}, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        return process.returncode, stdout, stderr, False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        return process.returncode, stdout, stderr, True


def _crash_excerpt(stdout: str, stderr: str) -> str:
    """The faulting thread's stack (faulthandler's first block) or else the tail of the output."""
    fatal = stderr.find("Fatal Python error")
    if fatal >= 0:
        block = stderr[fatal:].split("\n\n")
        return "\n\n".join(block[:2])
    return stdout[-1500:] + stderr[-1500:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", choices=sorted(DAPR_VERSIONS), default="dapr-1.18")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a run counts as hung")
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k expression for the example's tests")
    args = parser.parse_args()
    python = python_path(args.version)
    if not python.is_file():
        print(f"{args.version} venv not found at {python}; run: python scripts/dapr_venvs.py", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}
    counts: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="dapr-teardown-repro-") as folder:
        work = Path(folder)
        shutil.copytree(ROOT / "examples" / "dapr_workflows", work / "dapr_workflows",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for run in range(1, args.runs + 1):
            dapr = start_real_dapr(work / f"dapr-{run}")  # a daprd of its own, as the real_dapr fixture gives
            try:
                command = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "--timeout", "60",
                           "dapr_workflows", "--durabletask-sidecar", dapr.address, "--durabletask-control", "none"]
                if args.keyword:
                    command += ["-k", args.keyword]
                began = time.monotonic()
                returncode, stdout, stderr, hung = _run(command, work, env, args.timeout)
                outcome = "hung" if hung else _outcome(returncode, stdout)
                counts[outcome.split(" (")[0]] += 1
                print(f"run {run:3d}: {outcome} in {time.monotonic() - began:.1f} s", flush=True)
                if returncode != 0:
                    print(_crash_excerpt(stdout, stderr) if not hung else stdout[-3000:] + stderr[-20000:],
                          flush=True)
            finally:
                dapr.stop()
    print(f"{args.version}, {args.runs} runs: " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
    return 0 if set(counts) == {"passed"} else 1


if __name__ == "__main__":
    sys.exit(main())
