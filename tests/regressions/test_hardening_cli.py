"""Issue 25, the ``replay`` and ``export`` subcommands and the Replayer (items 4 and 13): no false verdict, no
traceback for bad input, the token read as ``serve`` reads it, no process kept alive. Through the CLI."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from hardening_helpers import published_python, run_cli, served, start_instance

pytestmark = pytest.mark.timeout(30)

FLOWS = textwrap.dedent("""
    def greet(ctx, name):
        return f"hi {name}"


    def hello(ctx, _):
        return (yield ctx.call_activity(greet, input="a"))


    def functions():
        return [hello]
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flows.py").write_text(FLOWS)
    return tmp_path


def document(events: list[object], instance_id: str = "order-1") -> str:
    return json.dumps({"format": "durabletask-history", "version": 1, "instanceId": instance_id, "events": events})


# -- item 4: a history with nothing to replay ----------------------------------------------------------------

def test_replaying_an_empty_history_says_so_and_fails(project: Path) -> None:
    """The fix chosen: exit status 3, "nothing to replay" (1 stays "diverges", 2 "bad arguments")."""
    (project / "empty.json").write_text(document([]))
    result = run_cli(["replay", "--worker", "flows:functions", "empty.json"], cwd=project)
    assert result.returncode != 0, result.stdout
    assert "replays" not in result.stdout and (result.stdout + result.stderr).strip()  # it says why
    assert result.returncode == 3, result.stdout
    assert "empty.json: nothing to replay: the history has no OrchestratorStarted" in result.stdout


def test_replaying_the_export_of_an_instance_no_worker_ran_fails(project: Path) -> None:
    with served("--clock", "manual") as fake:
        instance_id = start_instance(fake.address, "hello")
        exported = run_cli(["export", "--control", str(fake.control_url), instance_id, "-o", "never-ran.json"],
                           cwd=project)
    assert exported.returncode == 0, exported.stderr
    result = run_cli(["replay", "--worker", "flows:functions", "never-ran.json"], cwd=project)
    assert result.returncode != 0 and "replays" not in result.stdout, result.stdout
    assert result.returncode == 3 and "no OrchestratorStarted event" in result.stdout, result.stdout


# -- item 13: deep JSON, tokens, process exit ---------------------------------------------------------------------

def test_a_deeply_nested_history_file_is_refused_with_exit_2(project: Path) -> None:
    (project / "deep.json").write_text(document([]).replace('"events": []',
                                                            '"events": [' + "[" * 100_000 + "]" * 100_000 + "]"))
    result = run_cli(["replay", "--worker", "flows:functions", "deep.json"], cwd=project)
    # Exit 1 means "diverges": a file that cannot be read is a usage error (2) with a message, not a traceback.
    assert result.returncode == 2 and "Traceback" not in result.stderr and "deep.json" in result.stderr, (
        result.returncode, result.stderr[-500:])


@pytest.mark.parametrize("source", ["--control", "--address"])
def test_export_authenticates_with_the_token_serve_reads(project: Path, source: str) -> None:
    token = "export-s3cret"
    with served("--clock", "manual", DURABLETASK_TESTING_API_TOKEN=token) as fake:
        instance_id = start_instance(fake.address, "hello", metadata=[("authorization", f"Bearer {token}")])
        where = fake.control_url if source == "--control" else fake.address
        result = run_cli(["export", source, str(where), instance_id], cwd=project,
                         DURABLETASK_TESTING_API_TOKEN=token)
    assert result.returncode == 0, result.stderr[-500:]
    assert json.loads(result.stdout)["instanceId"] == instance_id


REPLAYER_WITHOUT_CLOSE = textwrap.dedent("""
    import importlib

    for where in ("durabletask_testing", "durabletask_testing.replayer", "durabletask_testing.replay"):
        try:
            Replayer = importlib.import_module(where).Replayer
            break
        except (ImportError, AttributeError):
            continue
    from flows import hello

    Replayer.for_functions([hello])  # never closed: the process must still end when the script does
    print("done", flush=True)
""")


def test_a_replayer_for_the_published_sdk_lets_the_process_exit(project: Path) -> None:
    python, env = published_python()
    (project / "script.py").write_text(REPLAYER_WITHOUT_CLOSE)
    env["PYTHONPATH"] += ":" + str(project)
    try:
        result = subprocess.run([str(python), "script.py"], cwd=project, env=env, capture_output=True, text=True,
                                timeout=4)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not exit within 4 s of its script's end")
    assert result.returncode == 0 and "done" in result.stdout, result.stderr[-1000:]


def test_export_reads_a_token_file_and_names_a_missing_token(project: Path) -> None:
    token = "file-s3cret"
    (project / "token").write_text(token + "\n")
    (project / "token").chmod(0o600)
    with served("--clock", "manual", DURABLETASK_TESTING_API_TOKEN=token) as fake:
        instance_id = start_instance(fake.address, "hello", metadata=[("authorization", f"Bearer {token}")])
        from_file = run_cli(["export", "--address", fake.address, "--api-token-file", "token", instance_id],
                            cwd=project)
        without = run_cli(["export", "--address", fake.address, instance_id], cwd=project)
        no_file = run_cli(["export", "--control", str(fake.control_url), "--api-token-file", "absent", instance_id],
                          cwd=project)
    assert from_file.returncode == 0 and json.loads(from_file.stdout)["instanceId"] == instance_id, from_file.stderr
    assert without.returncode == 1 and "UNAUTHENTICATED" in without.stderr and "Traceback" not in without.stderr
    assert "debug_error_string" not in without.stderr, without.stderr
    assert no_file.returncode == 2 and "cannot read the API token file" in no_file.stderr, no_file.stderr
