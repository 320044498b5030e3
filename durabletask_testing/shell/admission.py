"""Admission of blocking RPCs: each kind runs on a thread pool of its own, up to a limit of calls at once.

grpc's sync server holds one thread for every call in flight. Work-item streams and long polls
(``WaitForInstanceStart``/``WaitForInstanceCompletion``) can stay open for minutes, so each kind gets its own
pool: however many long polls are open, a worker's stream and the short RPCs still find a thread. A pool
has ``limit`` threads plus a few spare ones (created lazily), so an admitted call never queues for a thread,
and a call beyond the limit is refused at once with RESOURCE_EXHAUSTED instead of waiting unseen.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

logger = logging.getLogger("durabletask_testing.server")

SPARE_THREADS = 4  # threads beyond the limit: refusals are answered on them, never queued behind admitted calls

Behavior = Callable[[Any, grpc.ServicerContext], Any]


class _Pool(futures.ThreadPoolExecutor):
    """A thread pool that, when the OS refuses a new thread, leaves the call queued for a busy thread.

    grpcio submits calls from its serving thread: an exception there would stop the whole server.
    """

    def _adjust_thread_count(self) -> None:
        try:
            super()._adjust_thread_count()
        except RuntimeError as error:
            if not self._threads:
                raise
            logger.warning("no new thread for a blocking RPC (%s): it waits for one of %d to be free",
                           error, len(self._threads))


def on_pool_of(method: Behavior | Callable[..., Any], handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` (a wrapper of ``method``, a handler this module put on a pool) run on that same pool, so a
    wrapped stream or long poll still never holds one of the server's threads for short calls; ``handler`` itself
    when ``method`` has no pool of its own."""
    pool = getattr(method, "experimental_thread_pool", None)
    if pool is None:
        return handler

    def on_pool(request: Any, context: grpc.ServicerContext) -> Any:
        return handler(request, context)

    on_pool.experimental_thread_pool = pool  # type: ignore[attr-defined]  # read by grpcio's sync server
    return on_pool


class Admission:
    """Runs the calls of one kind (``what``) on a pool of their own, at most ``limit`` of them at once."""

    def __init__(self, what: str, limit: int, thread_name_prefix: str) -> None:
        if not isinstance(limit, int) or limit <= 0:
            raise ValueError(f"the limit of {what} must be a positive integer; got {limit!r}")
        self._what = what
        self._limit = limit
        self._lock = threading.Lock()
        self._in_flight = 0
        self._pool = _Pool(limit + SPARE_THREADS, thread_name_prefix=thread_name_prefix)

    @property
    def limit(self) -> int:
        """The most calls of this kind served at once."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Calls of this kind being served now."""
        return self._in_flight

    def unary(self, method: Behavior) -> Behavior:
        """``method`` (a unary-response handler) run on this pool, refused beyond the limit."""

        @functools.wraps(method)
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            self._enter(context)
            try:
                return method(request, context)
            finally:
                self._leave()

        return self._on_pool(run)

    def streaming(self, method: Callable[[Any, grpc.ServicerContext], Iterator[Any]]) -> Behavior:
        """``method`` (a server-streaming handler) run on this pool, refused beyond the limit."""

        @functools.wraps(method)
        def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            self._enter(context)
            try:
                yield from method(request, context)
            finally:
                self._leave()

        return self._on_pool(run)

    def shutdown(self) -> None:
        """Let the pool's threads end once their calls have ended (does not wait)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _on_pool(self, run: Behavior) -> Behavior:
        run.experimental_thread_pool = self._pool  # type: ignore[attr-defined]  # read by grpcio's sync server
        return run

    def _enter(self, context: grpc.ServicerContext) -> None:
        with self._lock:
            admitted = self._in_flight < self._limit
            if admitted:
                self._in_flight += 1
        if not admitted:
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the fake sidecar already serves {self._limit} {self._what}, its limit; "
                "retry when one has ended, or raise the limit",
            )

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
