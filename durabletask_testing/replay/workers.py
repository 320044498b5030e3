"""The replay worker's lifecycle: one SDK worker answering one session of the replay-only sidecar.

:class:`WorkerRunner` opens a session, starts the worker on it (``start_worker(host_address, metadata)``, any SDK),
hands it batches of work items and, on :meth:`~WorkerRunner.close`, ends the session and stops the worker in the
background (an SDK's stop can take a second; the session key keeps a stopping worker away from later sessions).
Callers that replay often share the process's sidecar (:func:`shared_server`) and wait for the stops at the end
(:func:`shut_down`). A runner nobody closed is closed when the interpreter exits, before it waits for non-daemon
threads (an SDK's worker threads would otherwise keep the process alive), and the stops are waited for, at most
:data:`STOP_AT_EXIT_SECONDS` each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..protocol import orchestrator_service_pb2 as pb
from .sidecar import Answer, ReplayServer, ReplaySession

DEFAULT_ANSWER_TIMEOUT = 30.0
STOP_AT_EXIT_SECONDS = 5.0
StartWorker = Callable[[str, list[tuple[str, str]]], Any]
"""``start_worker(host_address, metadata)`` returns a started SDK worker that sends ``metadata`` on every call."""

_lock = threading.Lock()
_shared: ReplayServer | None = None
_stopping: list[threading.Thread] = []
_open: set[WorkerRunner] = set()  # strong references: a runner its caller dropped is still closed at exit
_exit_hook = False


class WorkerRunner:
    """Runs work items on a real SDK worker through the replay-only sidecar (one worker, started once).

    Each batch may take ``timeout`` seconds plus ``per_item_timeout`` per work item; items not answered by then
    come back unanswered.
    """

    def __init__(self, start_worker: StartWorker, server: ReplayServer | None = None,
                 timeout: float = DEFAULT_ANSWER_TIMEOUT, per_item_timeout: float = 0.0) -> None:
        self._own_server = server is None
        self._server = server if server is not None else ReplayServer().start()
        self._session: ReplaySession = self._server.open_session()
        self._timeout = timeout
        self._per_item_timeout = per_item_timeout
        try:
            self._worker = start_worker(self._server.address, self._session.metadata)
        except BaseException:
            self._session.close()
            if self._own_server:
                self._server.stop()
            raise
        self._closed = False
        _track(self)

    def __call__(self, requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
        return self._session.run(requests, self._timeout + self._per_item_timeout * len(requests))

    def close(self, stop_worker: Callable[[Any], None] | None = None) -> None:
        """End the session, stop the worker (``stop_worker(worker)``, default in the background) and own server.
        Idempotent."""
        with _lock:
            if self._closed:
                return
            self._closed = True
            _open.discard(self)
        self._session.close()
        if stop_worker is not None:
            stop_worker(self._worker)
        else:
            stop_in_background(self._worker)
        if self._own_server:
            self._server.stop()


def _track(runner: WorkerRunner) -> None:
    global _exit_hook
    with _lock:
        _open.add(runner)
        if _exit_hook:
            return
        _exit_hook = True
    # threading's exit hooks run before the interpreter joins non-daemon threads; atexit's run after, too late.
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise RuntimeError("no threading exit hooks")
        register(_close_at_exit)
    except RuntimeError:  # an older Python, or the interpreter is already shutting down
        import atexit

        atexit.register(_close_at_exit)


def _close_at_exit() -> None:
    """Close the runners still open and wait (bounded) for every replay worker's stop."""
    with _lock:
        still_open = list(_open)
    for runner in still_open:
        runner.close()
    shut_down(STOP_AT_EXIT_SECONDS)


def stop_in_background(worker: Any) -> None:
    """Call ``worker.stop()`` on a daemon thread that :func:`shut_down` waits for."""
    thread = threading.Thread(target=worker.stop, name="replay-worker-stop", daemon=True)
    with _lock:
        _stopping[:] = [t for t in _stopping if t.is_alive()]
        _stopping.append(thread)
    thread.start()


def shared_server() -> ReplayServer:
    """The process's replay-only sidecar, started on first use (sessions keep its users apart)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = ReplayServer().start()
        return _shared


def shut_down(timeout: float) -> None:
    """Wait (at most ``timeout`` seconds per worker) for replay workers still stopping; stop the shared sidecar."""
    global _shared
    with _lock:
        stopping = list(_stopping)
    for thread in stopping:
        thread.join(timeout)
    with _lock:
        server, _shared = _shared, None
    if server is not None:
        server.stop()
