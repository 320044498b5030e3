"""Start and stop real sidecar processes for the interop tests.

Two peers are supported: the durabletask-go reference sidecar (installed by
``scripts/interop/install_durabletask_go.sh``) and our fake sidecar started through its command line
(``python -m durabletask_testing serve --port 0 --clock real``). Both are asked to bind an ephemeral
loopback port; the address they print is read back from their log file, then the gRPC channel is
polled until it is ready. Everything a process writes goes to a log file, so a full pipe can never
stall it, and the log's tail is quoted in every start-up error.

This module is pure Python with no pytest dependency, so the harness scripts can use it too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEROP_DIR = REPO_ROOT / ".interop"
DEFAULT_GO_BINARY = INTEROP_DIR / "bin" / "durabletask-go"
DEFAULT_PUBLISHED_PYTHON = INTEROP_DIR / "published-venv" / "bin" / "python"

_GO_READY = re.compile(r"server listening at (\S+:\d+)")
_FAKE_READY = re.compile(r"listening on (\S+:\d+)")
_FAKE_CONTROL = re.compile(r"control API on (http://\S+)")


class SidecarStartError(RuntimeError):
    """A sidecar process exited or did not become ready in time."""


def go_binary_path() -> Path:
    """Where the durabletask-go binary is expected (override with DURABLETASK_GO_BIN)."""
    override = os.environ.get("DURABLETASK_GO_BIN")
    return Path(override) if override else DEFAULT_GO_BINARY


def published_python_path() -> Path:
    """Where the published-SDK venv's python is expected (override with DURABLETASK_PUBLISHED_PYTHON)."""
    override = os.environ.get("DURABLETASK_PUBLISHED_PYTHON")
    return Path(override) if override else DEFAULT_PUBLISHED_PYTHON


def wait_for_grpc(address: str, timeout: float) -> None:
    """Block until a gRPC channel to ``address`` is ready; raise SidecarStartError after ``timeout`` s."""
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError as exc:
        raise SidecarStartError(f"no gRPC service answered on {address} within {timeout:.1f}s") from exc
    finally:
        channel.close()


@dataclass
class SidecarProcess:
    """A running sidecar process: its address, its log file and (for Go) its sqlite database."""

    name: str
    process: subprocess.Popen[bytes]
    address: str
    log_path: Path
    db_path: Path | None = None
    control_url: str | None = None  # the fake's control API ("http://HOST:PORT"), from its second line
    _log_handle: object = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the process log (for error messages)."""
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process (kill it if it does not exit within ``timeout`` s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        handle = self._log_handle
        if handle is not None:
            handle.close()  # type: ignore[attr-defined]


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _start(name: str, argv: list[str], ready: re.Pattern[str], workdir: Path, timeout: float,
           env: dict[str, str] | None = None, control: re.Pattern[str] | None = None) -> SidecarProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    log_handle = open(log_path, "wb")
    process = subprocess.Popen(argv, stdout=log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               cwd=str(workdir), env=env)
    sidecar = SidecarProcess(name=name, process=process, address="", log_path=log_path, _log_handle=log_handle)
    deadline = time.monotonic() + timeout
    try:
        while True:
            log = log_path.read_text(errors="replace")
            match = ready.search(log)
            control_match = control.search(log) if control is not None else None
            if match and (control is None or control_match):
                sidecar.address = _loopback(match.group(1))
                sidecar.control_url = control_match.group(1) if control_match else None
                break
            if process.poll() is not None:
                raise SidecarStartError(
                    f"{name} exited with code {process.returncode} before listening:\n{sidecar.log_tail()}")
            if time.monotonic() > deadline:
                what = "its address and control URL" if control is not None else "its address"
                raise SidecarStartError(f"{name} did not report {what} within {timeout:.1f}s:\n"
                                        f"{sidecar.log_tail()}")
            time.sleep(0.005)  # polling a log file for a condition, bounded by the deadline
        wait_for_grpc(sidecar.address, max(0.5, deadline - time.monotonic()))
    except BaseException:
        sidecar.stop()
        raise
    return sidecar


def _loopback(address: str) -> str:
    """Normalise what a server prints ('[::]:123', 'localhost:123') to a dialable loopback address."""
    host, _, port = address.rpartition(":")
    if host in ("", "[::]", "0.0.0.0", "localhost", "[::1]"):
        host = "127.0.0.1"
    return f"{host}:{port}"


def start_durabletask_go(workdir: Path, binary: Path | None = None, timeout: float = 15.0) -> SidecarProcess:
    """Start durabletask-go on an ephemeral loopback port with a sqlite database inside ``workdir``.

    The database file (``SidecarProcess.db_path``) is where the interop tests read instance histories,
    because durabletask-go does not implement the StreamInstanceHistory RPC.
    """
    binary = binary or go_binary_path()
    db_path = workdir / "durabletask-go.sqlite"
    # WAL lets our history reads run beside the sidecar's writes; a busy timeout makes the sidecar wait
    # out a reader instead of failing a transaction (v0.6.0 does not recover its connection after that).
    dsn = f"file:{db_path}?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
    argv = [str(binary), "--host", "127.0.0.1", "--port", "0", "--db", dsn]
    sidecar = _start("durabletask-go", argv, _GO_READY, workdir, timeout)
    sidecar.db_path = db_path
    return sidecar


def start_fake_cli(workdir: Path, python: str | None = None, timeout: float = 15.0,
                   clock: str = "real", extra: list[str] | None = None) -> SidecarProcess:
    """Start our fake sidecar through its command line on an ephemeral port (``--clock real`` by default;
    ``extra``: more ``serve`` options).

    Both lines it prints are read: the sidecar's address (``SidecarProcess.address``) and its control API's
    URL (``SidecarProcess.control_url``), which moves a ``manual`` clock and injects faults from another process.
    """
    argv = [python or sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--clock", clock,
            *(extra or [])]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return _start("fake-sidecar", argv, _FAKE_READY, workdir, timeout, env=env, control=_FAKE_CONTROL)
