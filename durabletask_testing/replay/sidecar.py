"""The replay-only sidecar: hands prepared orchestrator work items to a worker and keeps what it answers.

It serves just enough of ``TaskHubSidecarService`` for an SDK's worker: ``Hello``, ``GetWorkItems`` (streams the
prepared work items), ``CompleteOrchestratorTask`` (keeps the actions), the ``Abandon*`` calls, and an accepted
``CompleteActivityTask``. It changes no state anywhere else. One server can serve many replay sessions one after
another or side by side: a worker joins a session by sending its key as the gRPC metadata
``x-durabletask-replay-session`` on every call (give the worker ``metadata=session.metadata``), so a worker that
is still shutting down never receives another session's work items.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

SESSION_HEADER = "x-durabletask-replay-session"
STREAM_THREADS = 16
IDLE_WAIT_SECONDS = 1.0
PING_EVERY_SECONDS = 5.0


@dataclass
class Answer:
    """What a worker answered to one work item: its actions, or that it abandoned the item, or nothing yet."""

    actions: list[pb.OrchestratorAction] = field(default_factory=list)
    answered: bool = False
    abandoned: bool = False


class ReplaySession:
    """A batch of work items for one worker (:meth:`run`), and the answers that come back."""

    def __init__(self, server: ReplayServer, key: str) -> None:
        self._server = server
        self.key = key
        self._condition = threading.Condition()
        self._queue: deque[pb.WorkItem] = deque()
        self._answers: dict[str, Answer] = {}
        self._tokens = itertools.count(1)
        self._closed = False
        self.connected = threading.Event()

    @property
    def metadata(self) -> list[tuple[str, str]]:
        """The gRPC metadata a worker sends to join this session."""
        return [(SESSION_HEADER, self.key)]

    def run(self, requests: Sequence[pb.OrchestratorRequest], timeout: float) -> list[Answer]:
        """Hand out every request and wait (at most ``timeout`` seconds) for its answer; answers in order."""
        tokens = []
        with self._condition:
            for request in requests:
                token = f"{self.key}:{next(self._tokens)}"
                tokens.append(token)
                self._answers[token] = Answer()
                self._queue.append(pb.WorkItem(orchestratorRequest=request, completionToken=token))
            self._condition.notify_all()
            deadline = time.monotonic() + timeout
            while not all(self._answers[t].answered for t in tokens):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            return [self._answers.pop(t) for t in tokens]

    def close(self) -> None:
        """End the session: its streams end, later answers are ignored."""
        with self._condition:
            self._closed = True
            self._queue.clear()
            self._condition.notify_all()
        self._server._forget(self.key)

    def _next(self, wait: float) -> pb.WorkItem | None:
        with self._condition:
            if not self._queue and not self._closed:
                self._condition.wait(wait)
            return self._queue.popleft() if self._queue and not self._closed else None

    @property
    def closed(self) -> bool:
        with self._condition:
            return self._closed

    def _answer(self, token: str, actions: Sequence[pb.OrchestratorAction] | None) -> None:
        with self._condition:
            answer = self._answers.get(token)
            if answer is None or answer.answered:
                return
            answer.answered = True
            if actions is None:
                answer.abandoned = True
            else:
                answer.actions = list(actions)
            self._condition.notify_all()


def _session_key(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == SESSION_HEADER:
            return str(value)
    return None


class _Servicer(stubs.TaskHubSidecarServiceServicer):
    def __init__(self, server: ReplayServer) -> None:
        self._server = server

    def Hello(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        return empty_pb2.Empty()

    def GetWorkItems(  # noqa: N802
        self, request: pb.GetWorkItemsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WorkItem]:
        session = self._server._session(_session_key(context))
        if session is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no open replay session for this worker")
            return
        session.connected.set()
        last_sent = time.monotonic()
        while context.is_active() and not session.closed:
            item = session._next(IDLE_WAIT_SECONDS)
            if item is not None:
                last_sent = time.monotonic()
                yield item
            elif time.monotonic() - last_sent >= PING_EVERY_SECONDS:
                last_sent = time.monotonic()
                yield pb.WorkItem(healthPing=pb.HealthPing())

    def CompleteOrchestratorTask(  # noqa: N802
        self, request: pb.OrchestratorResponse, context: grpc.ServicerContext
    ) -> pb.CompleteTaskResponse:
        self._server._answer(request.completionToken, request.actions)
        return pb.CompleteTaskResponse()

    def AbandonTaskOrchestratorWorkItem(  # noqa: N802
        self, request: pb.AbandonOrchestrationTaskRequest, context: grpc.ServicerContext
    ) -> pb.AbandonOrchestrationTaskResponse:
        self._server._answer(request.completionToken, None)
        return pb.AbandonOrchestrationTaskResponse()

    def CompleteActivityTask(  # noqa: N802
        self, request: pb.ActivityResponse, context: grpc.ServicerContext
    ) -> pb.CompleteTaskResponse:
        return pb.CompleteTaskResponse()

    def AbandonTaskActivityWorkItem(  # noqa: N802
        self, request: pb.AbandonActivityTaskRequest, context: grpc.ServicerContext
    ) -> pb.AbandonActivityTaskResponse:
        return pb.AbandonActivityTaskResponse()


class ReplayServer:
    """The replay-only sidecar on a free local port (``address`` after :meth:`start`)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._port: int | None = None
        self._server: grpc.Server | None = None
        self._sessions: dict[str, ReplaySession] = {}
        self._lock = threading.Lock()

    def start(self) -> ReplayServer:
        """Bind a free port and serve. Returns self."""
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=STREAM_THREADS, thread_name_prefix="replay-sidecar"),
            options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1),
                     ("grpc.so_reuseport", 0)],
        )
        stubs.add_TaskHubSidecarServiceServicer_to_server(_Servicer(self), server)  # type: ignore[no-untyped-call]  # generated, untyped
        port = server.add_insecure_port(f"{self._host}:0")
        if port == 0:
            raise RuntimeError(f"the replay sidecar could not listen on {self._host}")
        server.start()
        self._server, self._port = server, port
        return self

    def stop(self) -> None:
        """Close every session and stop serving. Idempotent."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.close()
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace=0).wait(5)

    def __enter__(self) -> ReplayServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """``host:port`` for the replay worker."""
        if self._port is None:
            raise RuntimeError("the replay sidecar has not been started")
        return f"{self._host}:{self._port}"

    def open_session(self) -> ReplaySession:
        """A new session; give its ``metadata`` to the worker that should answer its work items."""
        session = ReplaySession(self, uuid.uuid4().hex)
        with self._lock:
            self._sessions[session.key] = session
        return session

    def _session(self, key: str | None) -> ReplaySession | None:
        with self._lock:
            return self._sessions.get(key) if key is not None else None

    def _forget(self, key: str) -> None:
        with self._lock:
            self._sessions.pop(key, None)

    def _answer(self, token: str, actions: Sequence[pb.OrchestratorAction] | None) -> None:
        session = self._session(token.partition(":")[0])
        if session is not None:
            session._answer(token, actions)
