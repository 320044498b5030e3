"""The CLI fake serves its control API and advertises it: the plugin finds it and the examples run unskipped."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from durabletask_pytest.external.client import detect_control_url

from durabletask_testing.control import RemoteFake

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@contextmanager
def cli_fake(*options: str) -> Iterator[tuple[str, str | None]]:
    """A ``serve`` process: (sidecar address, control URL or None)."""
    process = subprocess.Popen([sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("listening on "), (first, process.stderr.read() if process.poll() else "")
        address = first.removeprefix("listening on ").strip()
        control = None
        if "--no-control" not in options:
            second = process.stdout.readline()
            assert second.startswith("control API on http://127.0.0.1:"), second
            control = second.removeprefix("control API on ").strip()
        yield address, control
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_the_cli_fake_advertises_its_control_api_and_the_examples_run_with_no_skips() -> None:
    with cli_fake("--clock", "real") as (address, control):
        assert detect_control_url(address) == control
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist", str(EXAMPLES),
             f"--durabletask-sidecar={address}"],
            capture_output=True, text=True, timeout=240,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]
        assert control is not None and RemoteFake(control).instances() != []


def test_without_the_control_api_the_fake_is_a_plain_sidecar_to_the_plugin() -> None:
    with cli_fake("--clock", "real", "--no-control") as (address, control):
        assert control is None and detect_control_url(address) is None


def test_the_control_api_is_protected_by_the_api_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-s3cret\n")
    token_file.chmod(0o600)
    with cli_fake("--api-token-file", str(token_file)) as (address, control):
        assert control is not None
        assert detect_control_url(address, [("authorization", "Bearer file-s3cret")]) == control
        assert RemoteFake(control, api_token="file-s3cret").clock.mode == "real"
        try:
            RemoteFake(control)
        except Exception as error:  # noqa: BLE001 - the message is what matters
            assert "401" in str(error)
        else:
            raise AssertionError("the control API answered without the token")
