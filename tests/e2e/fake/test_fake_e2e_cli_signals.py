"""The CLI stops on SIGTERM whichever of its threads the OS hands the signal to (gRPC has threads of its own)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys

import pytest
from fake_e2e_helpers import reap

SERVE = [sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--clock", "manual"]


LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True) if sys.platform == "linux" else None


@pytest.mark.skipif(LIBC is None or not hasattr(LIBC, "tgkill"), reason="needs Linux tgkill to signal one thread")
def test_sigterm_delivered_to_a_grpc_thread_still_stops_the_cli():
    process = subprocess.Popen(SERVE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("listening on ")
        assert process.stdout.readline().startswith("control API on ")  # fully started before the signal
        others = [int(tid) for tid in os.listdir(f"/proc/{process.pid}/task") if int(tid) != process.pid]
        assert others, "the CLI should have gRPC threads besides its main thread"
        assert LIBC.tgkill(process.pid, others[0], signal.SIGTERM) == 0, os.strerror(ctypes.get_errno())
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""  # nothing else
    finally:
        reap(process)
