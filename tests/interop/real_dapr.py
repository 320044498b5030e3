"""Start and stop a real Dapr workflow runtime (placement, scheduler, daprd) on loopback for the interop tests.

The binaries come from ``scripts/interop/install_dapr.sh`` (``.interop/dapr/<version>/bin``). Every process
binds only 127.0.0.1, on ports picked free just before it starts, runs in a process group of its own with its
output in a log file of the run's folder, and is waited for by polling a condition (an HTTP health endpoint,
then the gRPC channel) against a deadline. ``RealDapr.stop`` kills every group it started, also when start-up
failed half way, so no process outlives the test.

daprd gets a components folder with one in-memory actor state store and a configuration choosing the
``nameformat`` name resolver (ours registers no other), so nothing multicasts or leaves the machine.

Pure Python with no pytest dependency, like ``sidecars.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .sidecars import INTEROP_DIR, SidecarStartError, wait_for_grpc

DAPR_VERSION = os.environ.get("DAPR_VERSION", "v1.18.1")
BINARIES = ("daprd", "placement", "scheduler")
APP_ID = "dtk-real"
START_TIMEOUT = 30.0  # seconds for the three processes together; they need about two on an idle machine
START_ATTEMPTS = 3  # a port picked free can be taken before the process binds it: start again on fresh ports

_COMPONENT = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: workflowstore
spec:
  type: state.in-memory
  version: v1
  metadata:
  - name: actorStateStore
    value: "true"
"""

_CONFIGURATION = """\
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: real-dapr
spec:
  nameResolution:
    component: nameformat
    configuration:
      format: "{appid}.invalid"
"""


def dapr_bin_dir(version: str = DAPR_VERSION) -> Path:
    """Where ``install_dapr.sh`` puts the binaries of ``version`` (override with DAPR_BIN_DIR)."""
    override = os.environ.get("DAPR_BIN_DIR")
    return Path(override) if override else INTEROP_DIR / "dapr" / version / "bin"


def missing_binaries(bin_dir: Path) -> list[str]:
    """The names of BINARIES that are not executable files in ``bin_dir``."""
    return [name for name in BINARIES if not os.access(bin_dir / name, os.X_OK)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` s, reap the leader, close the log."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.popen.poll() is not None:
                break
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # anything the leader left in its group
        except ProcessLookupError:
            pass
        if self.popen.poll() is None:
            self.popen.wait(timeout=timeout)
        self.log.close()


@dataclass
class RealDapr:
    """A running placement + scheduler + daprd trio; ``address`` is daprd's gRPC API ("127.0.0.1:PORT")."""

    workdir: Path
    address: str = ""
    http_port: int = 0
    processes: list[_Process] = field(default_factory=list)

    def logs(self) -> str:
        """The tail of every process's log (for failure messages)."""
        return "\n".join(f"--- {p.name} ({p.log_path})\n{p.tail()}" for p in self.processes)

    def stop(self) -> None:
        """Kill every process group this trio started, daprd first."""
        while self.processes:
            self.processes.pop().kill()


def _spawn(run: RealDapr, name: str, argv: list[str]) -> _Process:
    log_path = run.workdir / f"{name}.log"
    log = open(log_path, "wb")
    try:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=str(run.workdir), start_new_session=True)
    except BaseException:
        log.close()
        raise
    process = _Process(name, popen, log_path, log)
    run.processes.append(process)
    return process


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


def _wait_healthy(run: RealDapr, process: _Process, url: str, deadline: float) -> None:
    while not _http_ok(url):
        if process.popen.poll() is not None:
            raise SidecarStartError(f"{process.name} exited with code {process.popen.returncode} before it was "
                                    f"healthy:\n{process.tail()}")
        if time.monotonic() > deadline:
            raise SidecarStartError(f"{process.name} was not healthy at {url} in time:\n{run.logs()}")
        time.sleep(0.02)  # polling a health endpoint for a condition, bounded by the deadline


def _start_once(bin_dir: Path, workdir: Path, timeout: float) -> RealDapr:
    workdir.mkdir(parents=True, exist_ok=True)
    resources = workdir / "resources"
    resources.mkdir(exist_ok=True)
    (resources / "statestore.yaml").write_text(_COMPONENT)
    config = workdir / "config.yaml"
    config.write_text(_CONFIGURATION)
    run = RealDapr(workdir=workdir)
    deadline = time.monotonic() + timeout
    quiet = ["--log-level", "warn", "--enable-metrics=false"]
    try:
        placement_port, placement_health = free_port(), free_port()
        placement = _spawn(run, "placement", [
            str(bin_dir / "placement"), "--port", str(placement_port), "--listen-address", "127.0.0.1",
            "--healthz-port", str(placement_health), "--healthz-listen-address", "127.0.0.1",
            "--initial-cluster", f"dapr-placement-0=127.0.0.1:{free_port()}", *quiet])
        scheduler_port, scheduler_health = free_port(), free_port()
        etcd_client, etcd_peer = free_port(), free_port()
        scheduler = _spawn(run, "scheduler", [
            str(bin_dir / "scheduler"), "--port", str(scheduler_port), "--listen-address", "127.0.0.1",
            "--healthz-port", str(scheduler_health), "--healthz-listen-address", "127.0.0.1",
            "--etcd-data-dir", str(workdir / "scheduler-data"), "--etcd-client-port", str(etcd_client),
            "--etcd-client-listen-address", "127.0.0.1",
            "--etcd-initial-cluster", f"dapr-scheduler-server-0=http://127.0.0.1:{etcd_peer}",
            "--override-broadcast-host-port", f"127.0.0.1:{scheduler_port}", *quiet])
        _wait_healthy(run, placement, f"http://127.0.0.1:{placement_health}/healthz", deadline)
        _wait_healthy(run, scheduler, f"http://127.0.0.1:{scheduler_health}/healthz", deadline)
        grpc_port, run.http_port = free_port(), free_port()
        daprd = _spawn(run, "daprd", [
            str(bin_dir / "daprd"), "--app-id", APP_ID, "--mode", "standalone",
            "--dapr-grpc-port", str(grpc_port), "--dapr-http-port", str(run.http_port),
            "--dapr-internal-grpc-port", str(free_port()), "--dapr-internal-grpc-listen-address", "127.0.0.1",
            "--dapr-listen-addresses", "127.0.0.1", "--app-channel-address", "127.0.0.1",
            "--placement-host-address", f"127.0.0.1:{placement_port}",
            "--scheduler-host-address", f"127.0.0.1:{scheduler_port}",
            "--resources-path", str(resources), "--config", str(config), "--dapr-graceful-shutdown-seconds", "1",
            *quiet])
        _wait_healthy(run, daprd, f"http://127.0.0.1:{run.http_port}/v1.0/healthz", deadline)
        run.address = f"127.0.0.1:{grpc_port}"
        wait_for_grpc(run.address, max(0.5, deadline - time.monotonic()))
    except BaseException:
        run.stop()
        raise
    return run


def start_real_dapr(workdir: Path, bin_dir: Path | None = None, timeout: float = START_TIMEOUT) -> RealDapr:
    """Start placement, scheduler and daprd under ``workdir``; raise SidecarStartError if they do not come up.

    A start whose process died of a port taken in the meantime is retried on fresh ports, at most
    START_ATTEMPTS times; every other failure is raised at once with the processes' logs.
    """
    bin_dir = bin_dir or dapr_bin_dir()
    missing = missing_binaries(bin_dir)
    if missing:
        raise SidecarStartError(f"dapr binaries {missing} not found in {bin_dir}; run: "
                                "bash scripts/interop/install_dapr.sh")
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_once(bin_dir, workdir / f"attempt-{attempt}", timeout)
        except SidecarStartError as error:
            if "address already in use" not in str(error) or attempt == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
