"""Running generated test folders through real pytest processes under either SDK, with per-test timings.

Shared by the issue-26 benchmarks that go through pytest (``pytest_per_test.py``, ``session_suite.py``,
``pytest_exit.py``, ``explore_pytest.py``). A timing plugin (a ``conftest.py`` hook wrapper around
``pytest_runtest_protocol``, so set-up, call, the replay audit in the call's report, and tear-down are all
inside) writes each test's seconds and the session's span to a JSON file. The runner reads pytest's output as it
comes, so it also knows how long the process took to exit after its summary line and what it printed after it.

Two ways to give tests a Durable Task stack, chosen by which ``conftest.py`` the folder gets:
- ``plugin``: our pytest plugin's function-scoped fixtures (``durable_worker``, ``durable_client``) on our fake;
- ``peer``: the published SDK's own ``InMemoryOrchestrationBackend`` in a session-scoped fixture, with one
  session worker (every function registered once) and one client: the fastest set-up a user of the published
  SDK has without our plugin.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sdk_envs

TIMINGS_ENV = "DT_BENCH_TIMINGS"
SUMMARY = re.compile(r"\b(passed|failed|errors?|skipped|no tests ran)\b.* in [\d.]+s")

TIMING_CONFTEST = '''
import json, os, time
import pytest

_TESTS = {}
_PHASES = {}
_SESSION = {}


def pytest_runtest_logreport(report):
    _PHASES.setdefault(report.nodeid, {})[report.when] = report.duration


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        _TESTS[item.nodeid] = time.perf_counter() - started


def pytest_sessionstart(session):
    _SESSION["start"] = time.perf_counter()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("DT_BENCH_TIMINGS")
    if path:
        with open(path, "w") as out:
            json.dump({"tests": _TESTS, "phases": _PHASES, "session": time.perf_counter() - _SESSION["start"]}, out)
'''

PLUGIN_CONFTEST = '''
import pytest
from suite_functions import register


@pytest.fixture
def client(durable_worker, durable_client):
    """A client of a started worker with every function registered: the plugin's per-test fake."""
    register(durable_worker)
    durable_worker.start()
    return durable_client
'''

PEER_CONFTEST = '''
import logging, socket
import pytest
from durabletask import client as dt_client, worker as dt_worker
from durabletask.testing import InMemoryOrchestrationBackend
from suite_functions import register


def _quiet(name):
    logger = logging.getLogger(name)
    logger.setLevel(logging.WARNING)
    return logger


@pytest.fixture(scope="session")
def _backend():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = InMemoryOrchestrationBackend(port=port)
    address = backend.start()
    worker = dt_worker.TaskHubGrpcWorker(host_address=address, logger=_quiet("bench.worker"))
    register(worker)
    worker.start()
    yield dt_client.TaskHubGrpcClient(host_address=address, logger=_quiet("bench.client"))
    worker.stop()
    backend.stop()


@pytest.fixture
def client(_backend):
    """The session's client; its worker already runs every function."""
    return _backend
'''


@dataclass
class PytestRun:
    """One pytest process: wall time, per-test and session seconds, and what happened after its summary."""

    returncode: int
    wall: float
    tests: dict[str, float]
    session: float
    phases: dict[str, dict[str, float]]
    output: list[str]
    summary: str = ""
    exit_after_summary: float = float("nan")
    printed_after_summary: list[str] = field(default_factory=list)

    def per_test(self) -> list[float]:
        return list(self.tests.values())

    def per_phase(self, phase: str) -> list[float]:
        """Seconds of one phase (``setup``, ``call``, ``teardown``) per test; ``other``: the protocol's rest (the
        replay audit runs while the call's report is made, outside the call's duration)."""
        if phase != "other":
            return [self.phases.get(nodeid, {}).get(phase, 0.0) for nodeid in self.tests]
        return [seconds - sum(self.phases.get(nodeid, {}).values()) for nodeid, seconds in self.tests.items()]


def write_folder(folder: Path, files: dict[str, str], conftest: str = "") -> None:
    """The test folder: the timing plugin plus ``conftest`` in its ``conftest.py``, and ``files``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conftest.py").write_text(TIMING_CONFTEST + conftest)
    (folder / "pytest.ini").write_text("[pytest]\n")  # the folder is the rootdir: no repository ini or conftest
    for name, text in files.items():
        (folder / name).write_text(text)


def run_pytest(sdk: str, folder: Path, arguments: list[str], *, plugin: bool = True,
               extra_env: dict[str, str] | None = None, timeout: float = sdk_envs.CHILD_TIMEOUT_S) -> PytestRun:
    """Run ``python -m pytest ARGS`` in ``folder`` under ``sdk``; raises if the tests did not all pass."""
    python, env = sdk_envs.interpreter(sdk, plugin=plugin)
    timings = folder / ".timings.json"
    timings.unlink(missing_ok=True)
    env.update(extra_env or {})
    env[TIMINGS_ENV] = str(timings)
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *arguments]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    assert process.stdout is not None
    lines: list[tuple[float, str]] = []
    for line in process.stdout:
        lines.append((time.perf_counter(), line.rstrip("\n")))
    returncode = process.wait(timeout=timeout)
    ended = time.perf_counter()
    output = [text for _, text in lines]
    if returncode != 0 or not timings.exists():
        raise RuntimeError(f"pytest under the {sdk} SDK exited {returncode}:\n" + "\n".join(output[-40:]))
    data: dict[str, Any] = json.loads(timings.read_text())
    run = PytestRun(returncode, ended - started, data["tests"], data["session"], data["phases"], output)
    summary_at = [index for index, (_, text) in enumerate(lines) if SUMMARY.search(text)]
    if summary_at:
        index = summary_at[-1]
        run.summary = lines[index][1]
        run.exit_after_summary = ended - lines[index][0]
        run.printed_after_summary = [text for _, text in lines[index + 1:]]
    return run

