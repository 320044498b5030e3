"""Helpers of the issue-25 regression tests: public surfaces only (the CLI as a process, the control API over raw
HTTP, top-level names), so that the tests survive the move of modules into subpackages (issue 24)."""

from __future__ import annotations

import contextlib
import http.client as http_client
import importlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]

# Where a public name lives: the top level first, then today's module, then the module the refactor gives it.
_PUBLIC = {
    "RemoteFake": ("durabletask_testing", "durabletask_testing.remote", "durabletask_testing.control.client"),
    "Replayer": ("durabletask_testing", "durabletask_testing.replayer", "durabletask_testing.replay"),
    "Limits": ("durabletask_testing", "durabletask_testing.limits", "durabletask_testing.shell.limits",
               "durabletask_testing.shell"),
}


def public(name: str) -> Any:
    """The public object ``name`` of the testkit, wherever the current layout keeps it."""
    for module_name in _PUBLIC.get(name, ("durabletask_testing",)):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    raise ImportError(f"no public {name} in the testkit")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: the worktree importable, no inherited token, no hash seed."""
    env = {k: v for k, v in os.environ.items() if k not in ("DURABLETASK_TESTING_API_TOKEN", "PYTHONHASHSEED")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def run_cli(args: Sequence[str], *, timeout: float = 20, cwd: str | Path | None = None,
            python: str = sys.executable, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m durabletask_testing ARGS`` to its end (TimeoutExpired after ``timeout`` seconds)."""
    return subprocess.run([python, "-m", "durabletask_testing", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=cli_env(**env))


@dataclass
class Served:
    """A ``serve`` process: its sidecar address, control URL and the lines it printed so far."""

    process: subprocess.Popen[str]
    address: str
    control_url: str | None
    lines: list[str]

    @property
    def control_port(self) -> int:
        assert self.control_url is not None
        port = urlsplit(self.control_url).port
        assert port is not None
        return port


def _reader(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def start_serve(*args: str, ready_timeout: float = 15, **env: str) -> Served:
    """Start ``serve --port 0 ARGS`` and wait (bounded) until it prints its addresses; output merged."""
    process = subprocess.Popen([sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_env(**env))
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    address = control = None
    deadline = time.monotonic() + ready_timeout
    no_control = "--no-control" in args
    while address is None or (control is None and not no_control):
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            stop(process)
            raise AssertionError(f"serve did not get ready in {ready_timeout}s; printed {seen!r}") from None
        if line is None:
            process.wait(timeout=5)
            raise AssertionError(f"serve exited {process.returncode} before ready; printed {seen!r}")
        seen.append(line)
        if line.startswith("listening on "):
            address = line.removeprefix("listening on ")
        elif line.startswith("control API on "):
            control = line.removeprefix("control API on ")
    served = Served(process, address, control, seen)
    threading.Thread(target=_drain, args=(lines, seen), daemon=True).start()
    return served


def _drain(lines: queue.Queue[str | None], seen: list[str]) -> None:
    while (line := lines.get()) is not None:
        seen.append(line)


def stop(process: subprocess.Popen[str]) -> None:
    """Kill a process this test started, and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@contextlib.contextmanager
def served(*args: str, **env: str) -> Iterator[Served]:
    """A ``serve`` process for the block; killed after it."""
    handle = start_serve(*args, **env)
    try:
        yield handle
    finally:
        stop(handle.process)


def http(port: int, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 5, skip_host: bool = False) -> tuple[int, Any]:
    """One request to a control API on 127.0.0.1:``port``: (status, decoded JSON or text)."""
    connection = http_client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.putrequest(method, path, skip_host="Host" in sent or skip_host, skip_accept_encoding=True)
        if data is not None and "Content-Length" not in sent and "Transfer-Encoding" not in sent:
            sent["Content-Length"] = str(len(data))
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(data)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    text = payload.decode("utf-8", "replace")
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def serve_outcome(*args: str, timeout: float = 15, **env: str) -> tuple[str, int | None, str]:
    """Run ``serve --port 0 ARGS`` until it exits or gets ready: ("exited", code, output) or ("serving", None,
    output); a serving process is killed before this returns."""
    try:
        handle = start_serve(*args, ready_timeout=timeout, **env)
    except AssertionError as error:
        text = str(error)
        if "exited" in text:
            code = int(text.split("serve exited ", 1)[1].split(" ", 1)[0])
            return "exited", code, text
        raise
    stop(handle.process)
    return "serving", None, "\n".join(handle.lines)


def start_instance(address: str, name: str = "nobody_runs_this", *, metadata: list[tuple[str, str]] | None = None,
                   ) -> str:
    """Schedule an orchestration no worker serves, so that the fake at ``address`` is not idle."""
    from durabletask import client

    c = client.TaskHubGrpcClient(host_address=address, metadata=metadata)
    try:
        return c.schedule_new_orchestration(name)
    finally:
        c.close()


def published_python() -> tuple[Path, dict[str, str]]:
    """The published-SDK venv's python and an environment with only the testkit on PYTHONPATH; skips the test
    when the venv is not installed."""
    import pytest

    python = ROOT / ".interop" / "published-venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("the published-SDK venv (.interop/published-venv) is not installed")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from published_venv import import_root_of_testkit
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHASHSEED", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(import_root_of_testkit())
    return python, env


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.01)  # a poll interval, not a wait for something to happen
