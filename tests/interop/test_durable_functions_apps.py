"""Durable Functions apps on the fake: the example app's tests in a venv of each supported SDK version.

Each venv (``scripts/functions_venv.py``) holds azure-functions-durable and azure-functions; the testkit comes from
this repository on PYTHONPATH (``import_root_of_testkit()``), as for the published-SDK venv. The example suite runs
plain and with ``-n 2`` (the oldest supported version plain only); with the plain runs, a pytester suite checks the
marker argument and that the replay audit, which replays through the Durable Functions SDK's own replay, catches
non-deterministic orchestrator code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .conftest import require
from .sidecars import REPO_ROOT, _start, start_fake_cli

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from functions_venv import VERSIONS, ensure_functions_venv  # noqa: E402
from published_venv import import_root_of_testkit  # noqa: E402

sys.path.insert(0, str(REPO_ROOT / "tests" / "docs"))
from snippets import extract  # noqa: E402

pytestmark = pytest.mark.interop

EXAMPLE = REPO_ROOT / "examples" / "durable_functions_app"
ORDERS_APP = Path(__file__).resolve().parent / "functions_apps" / "orders_app"
DOCS_PAGE = REPO_ROOT / "docs" / "durable-functions.md"
PLUGIN_CHECKS = Path(__file__).resolve().parent / "functions_plugin" / "check_functions_plugin.py"


def _python(version: str) -> Path:
    try:
        python = ensure_functions_venv(version)
    except (OSError, subprocess.CalledProcessError) as error:
        require(False, f"could not make the azure-functions-durable {version} venv ({error}); run "
                       f"'python scripts/functions_venv.py {version}'")
        raise
    return python


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}


def _pytest(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "asyncio_mode=auto",
         "-W", "ignore::DeprecationWarning", "--timeout", "120", *args],
        cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)


# (SDK version, pytest-xdist workers): the newest SDK plain and with -n 2, the oldest supported plain; the plain
# runs hold the plugin checks too (one interpreter start each, to keep the suite's time down).
RUNS = [("1.7.0", "1"), ("1.7.0", "2"), (VERSIONS[-1], "1")]


@pytest.mark.parametrize(("version", "workers"), RUNS, ids=[f"{v}-n{w}" for v, w in RUNS])
def test_the_example_function_app_tests_pass(version: str, workers: str, tmp_path: Path) -> None:
    python = _python(version)
    app = tmp_path / "app"
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns("__pycache__"))
    args = ["-n", workers] if workers != "1" else ["-p", "pytester", "test_function_app.py", PLUGIN_CHECKS.name]
    if workers == "1":
        shutil.copy(PLUGIN_CHECKS, app / PLUGIN_CHECKS.name)

    result = _pytest(python, app, *args)

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout, result.stdout[-2000:]


def _ini_block(page: Path) -> str:
    lines = page.read_text(encoding="utf-8").splitlines()
    start = lines.index("```ini") + 1
    return "\n".join(lines[start:lines.index("```", start)]) + "\n"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_app_written_from_the_docs_page_alone_passes_its_tests(workers: str, tmp_path: Path) -> None:
    """functions_apps/orders_app, written by a new user from docs/durable-functions.md only: blueprints, an entity
    called and signalled, an approval raced against a 24-hour timer over an HTTP route with a path parameter,
    retries under every fault kind, sub-orchestrations in a continue-as-new loop. Its tests run from their own
    folder, so the app is importable only through the ini's ``pythonpath = .``, as the page says."""
    python = _python(VERSIONS[0])
    app = tmp_path / "orders_app"
    shutil.copytree(ORDERS_APP, app, ignore=shutil.ignore_patterns("__pycache__"))

    result = _pytest(python, app / "tests", "-n", workers, "check_orders.py", "check_faults.py")

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "16 passed" in result.stdout, result.stdout[-2000:]


def test_the_docs_page_app_and_its_tests_pass_as_written(tmp_path: Path) -> None:
    """docs/durable-functions.md's app, tests and ini, written to a folder and run: the page works as it reads."""
    python = _python(VERSIONS[0])
    blocks = [snippet for snippet in extract(DOCS_PAGE) if snippet.kind == "functions-app"]
    assert {snippet.file for snippet in blocks} == {"function_app.py", "test_function_app.py", "test_entity.py"}
    for snippet in blocks:
        (tmp_path / snippet.file).write_text(snippet.code, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(_ini_block(DOCS_PAGE), encoding="utf-8")

    result = _pytest(python, tmp_path)

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "7 passed" in result.stdout, result.stdout[-2000:]


def test_the_example_function_app_tests_pass_on_the_cli_fake(tmp_path: Path) -> None:
    """The same tests with ``--durabletask-sidecar`` on ``python -m durabletask_testing serve``: the bridge is a
    worker and client of any sidecar, and the CLI fake's control API gives the clock, faults and the audit."""
    python = _python(VERSIONS[0])
    app = tmp_path / "app"
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns("__pycache__"))
    sidecar = start_fake_cli(tmp_path / "fake", clock="auto")  # the fake in our venv, the app in the SDK's
    try:
        result = _pytest(python, app, f"--durabletask-sidecar={sidecar.address}")
    finally:
        sidecar.stop()

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:] + sidecar.log_tail()
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-2000:]


def test_the_cli_fake_runs_the_docs_app_as_func_start_would(tmp_path: Path) -> None:
    """``serve --functions-app``: the docs page's app on the CLI fake, its HTTP starter and status URL over HTTP."""
    from durabletask_testing.control import RemoteFake

    python = _python(VERSIONS[0])
    for snippet in extract(DOCS_PAGE):
        if snippet.file == "function_app.py":
            (tmp_path / snippet.file).write_text(snippet.code, encoding="utf-8")
    argv = [str(python), "-m", "durabletask_testing", "serve", "--port", "0", "--clock", "auto", "--functions-app",
            "function_app:app", "--functions-port", "0"]
    sidecar = _start("fake-functions", argv, re.compile(r"listening on (\S+:\d+)"), tmp_path, 30.0,
                     env={**_env(), "PYTHONUNBUFFERED": "1"}, control=re.compile(r"functions app on (http://\S+)"))
    try:
        functions_url = sidecar.control_url or ""
        control = re.search(r"control API on (http://\S+)", sidecar.log_path.read_text())
        assert control is not None, sidecar.log_tail()
        control_url = control.group(1)
        started = urllib.request.urlopen(urllib.request.Request(f"{functions_url}orchestrators/greetings",
                                                                method="POST", data=b""), timeout=30)
        payload = json.loads(started.read())
        assert started.status == 202 and payload["statusQueryGetUri"].startswith(functions_url.removesuffix("/api/"))
        assert RemoteFake(control_url).wait_until_idle(30)
        with urllib.request.urlopen(payload["statusQueryGetUri"], timeout=30) as answer:
            status = json.loads(answer.read())
    finally:
        sidecar.stop()

    assert status["runtimeStatus"] == "Completed" and status["output"] == ["Hello Tokyo!", "Hello Lima!"], (
        sidecar.log_tail())
