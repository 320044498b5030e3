"""The API token: compared in constant time, and given to the CLI without showing it on its command line
(environment variable or file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest
from fake_e2e_helpers import reap
from google.protobuf import empty_pb2

from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs
from durabletask_testing.shell import TOKEN_ENV_VAR, TokenError, auth, resolve_token

SERVE = [sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--clock", "manual"]
TOKEN = "t0k3n-from-elsewhere"


def _hello(address: str, token: str | None) -> grpc.StatusCode:
    metadata = [("authorization", f"Bearer {token}")] if token is not None else None
    with grpc.insecure_channel(address) as channel:
        try:
            stubs.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), metadata=metadata, timeout=5)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def _environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != TOKEN_ENV_VAR}
    environment.update(extra)
    return environment


@contextmanager
def serving(*options: str, env: dict[str, str], stderr: list[str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """The CLI serving on a free port; yields the process and its address; stops it with SIGTERM and puts what
    it wrote on stderr in ``stderr``."""
    process = subprocess.Popen([*SERVE, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on "), (line, process.stderr.read())
        yield process, line.removeprefix("listening on ").strip()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        stderr.append(process.stderr.read())
    finally:
        reap(process)


def test_the_token_is_compared_in_constant_time(monkeypatch):
    compared = []

    def spy(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    with FakeSidecar(clock="manual", api_token="s3cret") as sidecar:
        assert _hello(sidecar.address, "s3cret") == grpc.StatusCode.OK
        assert _hello(sidecar.address, "s3cre7") == grpc.StatusCode.UNAUTHENTICATED
        assert _hello(sidecar.address, None) == grpc.StatusCode.UNAUTHENTICATED
    assert (b"s3cret", b"s3cret") in compared and (b"s3cre7", b"s3cret") in compared


def test_the_bearer_scheme_is_case_insensitive():
    with FakeSidecar(clock="manual", api_token="s3cret") as sidecar, grpc.insecure_channel(sidecar.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        stub.Hello(empty_pb2.Empty(), metadata=[("authorization", "bearer s3cret")], timeout=5)


def test_cli_reads_the_token_from_the_environment_and_keeps_it_off_its_command_line():
    with serving(env=_environment(**{TOKEN_ENV_VAR: TOKEN}), stderr=[]) as (process, address):
        assert _hello(address, None) == grpc.StatusCode.UNAUTHENTICATED
        assert _hello(address, TOKEN) == grpc.StatusCode.OK
        if os.path.exists(f"/proc/{process.pid}/cmdline"):
            with open(f"/proc/{process.pid}/cmdline", "rb") as cmdline:
                assert TOKEN.encode() not in cmdline.read()


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o644, True)], ids=["private", "readable"])
def test_cli_reads_the_token_from_a_file_and_warns_when_others_can_read_it(tmp_path, mode, warned):
    if os.name != "posix" and warned:
        pytest.skip("file modes are POSIX")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(mode)
    stderr: list[str] = []
    with serving("--api-token-file", str(token_file), env=_environment(), stderr=stderr) as (_, address):
        assert _hello(address, TOKEN) == grpc.StatusCode.OK
        assert _hello(address, "other") == grpc.StatusCode.UNAUTHENTICATED
    assert ("readable by other users" in stderr[0]) == warned


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--api-token", "a", "--api-token-file", "f"], "not both"),
        (["--api-token-file", "/nonexistent/token"], "cannot read the API token file"),
        (["--api-token", "t\u00e9"], "printable ASCII"),
    ],
    ids=["both options", "missing file", "not ASCII"],
)
def test_cli_refuses_a_bad_token_source_with_a_message(options, message):
    result = subprocess.run([*SERVE, *options], capture_output=True, text=True, env=_environment(), timeout=30)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_token_sources_in_order_of_precedence(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("  from-file \n")
    token_file.chmod(0o600)
    environ = {TOKEN_ENV_VAR: "from-env"}
    assert resolve_token("from-option", None, environ) == ("from-option", None)
    assert resolve_token(None, str(token_file), environ) == ("from-file", None)
    assert resolve_token(None, None, environ) == ("from-env", None)
    assert resolve_token(None, None, {}) == (None, None)
    with pytest.raises(TokenError, match="empty"):
        resolve_token(None, None, {TOKEN_ENV_VAR: " "})
    token_file.write_text("\n")
    with pytest.raises(TokenError, match="empty"):
        resolve_token(None, str(token_file), {})


def test_cli_help_names_the_safer_token_sources(capsys):
    from durabletask_testing.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--api-token-file" in text and TOKEN_ENV_VAR in text and "Other local users can read" in text
