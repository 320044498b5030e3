"""Issue 25, the plugin in whole pytest processes (items 18 and 19): pytester's in-process runs do not crash, and
with the published SDK the summary is the last line and the process exits at once. Each outer session runs in
a subprocess from a temporary folder (not under this repository's conftest.py, which imports the protocol
bindings on purpose), so that a crash stays contained."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hardening_helpers import cli_env, published_python

pytestmark = pytest.mark.timeout(90)

INNER = '''
def hello(ctx, _):
    return "hi"
    yield


def test_inner(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[hello])
    instance_id = durable_client.schedule_new_orchestration(hello)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output == '"hi"'
'''

OUTER = f'''
INNER = {INNER!r}


def test_twice(pytester):
    pytester.makepyfile(test_inner=INNER)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
'''


def test_two_in_process_pytester_runs_do_not_crash(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["pytester"]\n')
    (tmp_path / "test_outer.py").write_text(OUTER)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_outer.py"],
                            cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])


def test_with_the_published_sdk_the_summary_is_last_and_exit_is_prompt(tmp_path: Path) -> None:
    """Fixed by stopping the published worker within milliseconds, silently, during the test's teardown
    (``durabletask_pytest/sdk/published.py``), instead of letting its one-second stop run on in the background."""
    python, env = published_python()
    env["PYTEST_PLUGINS"] = "durabletask_pytest.plugin"
    (tmp_path / "test_pub.py").write_text(INNER)
    process = subprocess.Popen([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_pub.py"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stamped: list[tuple[float, str]] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # ends when the process closes its output, at exit at the latest
            stamped.append((time.monotonic(), line.rstrip("\n")))
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    ended = time.monotonic()
    lines = [(at, text) for at, text in stamped if text.strip()]
    summary = [index for index, (_, text) in enumerate(lines) if " passed in " in text]
    assert process.returncode == 0 and summary, [text for _, text in lines]
    assert summary[-1] == len(lines) - 1, "lines after the summary: " + repr([t for _, t in lines[summary[-1] + 1:]])
    assert ended - lines[summary[-1]][0] < 0.5, f"exit took {ended - lines[summary[-1]][0]:.2f} s after the summary"
