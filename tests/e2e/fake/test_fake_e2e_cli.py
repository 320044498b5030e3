"""The CLI's contract: exactly one address line on stdout, every option documented, both signals end it
cleanly, --start-time reaches the virtual clock, and bad option values are refused with a message."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest
from fake_e2e_helpers import reap
from google.protobuf import empty_pb2

from durabletask_testing.cli import build_parser, main
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

SERVE = [sys.executable, "-m", "durabletask_testing", "serve"]


@contextmanager
def serving(*options: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """The CLI serving on a free port; yields the process and the address from its one line."""
    process = subprocess.Popen(
        [*SERVE, "--port", "0", *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on ") and line.endswith("\n"), (line, process.stderr.read())
        yield process, line.removeprefix("listening on ").strip()
    finally:
        reap(process)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_prints_the_address_and_control_url_only_and_exits_zero_on_signal(stop_signal):
    with serving("--clock", "manual") as (process, address):
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0  # local only unless told otherwise
        with grpc.insecure_channel(address) as channel:
            stubs.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5)
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        rest = process.stdout.read().splitlines()  # the control API's URL, then nothing
        assert len(rest) == 1 and rest[0].startswith("control API on http://127.0.0.1:"), rest


def test_start_time_sets_the_virtual_clock():
    with serving("--clock", "manual", "--start-time", "2030-05-06T07:08:09Z") as (process, address):
        with grpc.insecure_channel(address) as channel:
            stub = stubs.TaskHubSidecarServiceStub(channel)
            stub.StartInstance(pb.CreateInstanceRequest(instanceId="clocked", name="orch"), timeout=5)
            state = stub.GetInstance(pb.GetInstanceRequest(instanceId="clocked"), timeout=5).orchestrationState
        assert state.createdTimestamp.ToJsonString() == "2030-05-06T07:08:09Z"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def _serve_options() -> list[argparse.Action]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    serve = commands.choices["serve"]
    return [a for a in serve._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def test_help_documents_every_option_with_its_default(capsys):
    options = _serve_options()
    assert {o.option_strings[0] for o in options} >= {"--host", "--port", "--clock", "--start-time", "--api-token"}
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    for option in options:
        assert option.help and "default" in option.help, f"{option.option_strings[0]} lacks help or its default"
        assert option.option_strings[0] in text
        assert " ".join(option.help.split()[:4]) in text, option.help
    for mode in ("real", "manual", "auto"):
        assert mode in text


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--port", "70000"], "65535"),
        (["--port", "http"], "port"),
        (["--clock", "sundial"], "sundial"),
        (["--start-time", "yesterday"], "ISO-8601"),
        (["--clock", "real", "--start-time", "2030-01-01T00:00:00Z"], "--start-time"),
        (["--max-payload-bytes", "0"], "--max-payload-bytes"),
        (["--work-item-lease", "-1"], "--work-item-lease"),
        (["--control-port", "99999"], "65535"),
    ],
)
def test_bad_option_values_exit_2_with_a_message_naming_them(arguments, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        code = main(["serve", *arguments])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
