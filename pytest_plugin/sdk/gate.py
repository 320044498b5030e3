"""A gate that counts the calls passing through it and, once closed, lets no new one in.

What a test's teardown needs from a worker: from one moment on nothing new starts, and it can wait (bounded) until
what already started has ended. The stub table gates the test's functions with it (``stubs.py``); the Dapr runtime
gates the gRPC calls its SDK sends to the sidecar (``dapr.py``).
"""

from __future__ import annotations

import threading


class CallGate:
    """Thread-safe: :meth:`enter` admits a call unless the gate is closed, :meth:`leave` ends it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running = 0
        self._closed = False

    @property
    def running(self) -> int:
        """How many admitted calls have not ended yet."""
        with self._lock:
            return self._running

    @property
    def is_closed(self) -> bool:
        with self._lock:
            return self._closed

    def close(self) -> None:
        """Admit no later call (calls already admitted go on)."""
        with self._lock:
            self._closed = True

    def reopen(self) -> None:
        """Admit calls again."""
        with self._lock:
            self._closed = False

    def enter(self) -> bool:
        """Admit one call and count it; False (nothing counted) when the gate is closed."""
        with self._lock:
            if self._closed:
                return False
            self._running += 1
            return True

    def leave(self) -> None:
        """End one admitted call."""
        with self._lock:
            if self._running <= 0:
                raise RuntimeError("CallGate.leave() without a call admitted by enter()")
            self._running -= 1
            if self._running == 0:
                self._idle.notify_all()

    def wait_until_no_call_runs(self, timeout: float) -> bool:
        """Block until no admitted call runs (or ``timeout`` seconds passed); True when none runs."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)
