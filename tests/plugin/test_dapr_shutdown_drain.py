"""The Dapr runtime's shutdown order (pytest_plugin/sdk/dapr.py): no new call, the calls on their way end, then stop.

Over real gRPC: a server whose method blocks until the test lets it answer, a channel through ``DaprCallGate``
as the plugin gives it to Dapr's ``WorkflowRuntime``. (The Dapr SDK itself runs in
tests/interop/test_dapr_examples.py, in its own venv.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from durabletask_pytest.sdk.dapr import DaprCallGate, RuntimeStoppingError, stop_after_drain
from durabletask_pytest.sdk.gate import CallGate

WAIT = 10.0  # seconds: the bound of every wait on a condition here


@dataclass
class BlockingServer:
    """``/test.Gate/Answer`` answers once ``release`` is set; ``/test.Gate/Stream`` sends one message, then waits."""

    address: str
    entered: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    release: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    received: list[bytes] = field(default_factory=list)

    def answer(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.received.append(request)
        self.entered.release()
        self.release.wait(WAIT)
        self.answered.set()
        return b"answer:" + request

    def stream(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield b"first"
        self.release.wait(WAIT)


@pytest.fixture
def server() -> Iterator[BlockingServer]:
    pool = futures.ThreadPoolExecutor(max_workers=8)
    grpc_server = grpc.server(pool)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    blocking = BlockingServer(f"127.0.0.1:{port}")
    grpc_server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Gate", {
        "Answer": grpc.unary_unary_rpc_method_handler(blocking.answer),
        "Stream": grpc.unary_stream_rpc_method_handler(blocking.stream),
    })])
    grpc_server.start()
    yield blocking
    blocking.release.set()
    grpc_server.stop(grace=None).wait(WAIT)
    pool.shutdown(wait=False)


@pytest.fixture
def gated(server: BlockingServer) -> Iterator[tuple[grpc.Channel, DaprCallGate]]:
    interceptor = DaprCallGate()
    channel = grpc.insecure_channel(server.address)
    yield grpc.intercept_channel(channel, interceptor), interceptor
    channel.close()


def _call_in_thread(channel: grpc.Channel, request: bytes) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append(channel.unary_unary("/test.Gate/Answer")(request, timeout=WAIT))
        except Exception as error:  # noqa: BLE001 - the test looks at it
            outcome.append(error)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, outcome


class ObservedGate(CallGate):
    """A CallGate that says when it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = threading.Event()

    def close(self) -> None:
        super().close()
        self.closed.set()


def test_shutdown_waits_for_the_call_on_its_way_then_stops(server: BlockingServer) -> None:
    interceptor = DaprCallGate()
    interceptor.gate = gate = ObservedGate()
    channel = grpc.insecure_channel(server.address)
    try:
        thread, outcome = _call_in_thread(grpc.intercept_channel(channel, interceptor), b"result")
        assert server.entered.acquire(timeout=WAIT)  # the call is at the server, waiting to be answered
        assert gate.running == 1
        seen_at_stop: list[tuple[bool, int]] = []

        def release_once_closed() -> None:
            assert gate.closed.wait(WAIT)
            server.release.set()

        threading.Thread(target=release_once_closed, daemon=True).start()
        drained = stop_after_drain(gate, lambda: seen_at_stop.append((server.answered.is_set(), gate.running)),
                                   timeout=WAIT)
        assert drained
        assert seen_at_stop == [(True, 0)]  # stopped once, after the answer had come back
        thread.join(WAIT)
        assert outcome == [b"answer:result"]
    finally:
        channel.close()


def test_a_call_that_never_ends_delays_the_stop_by_the_deadline_only(
    gated: tuple[grpc.Channel, DaprCallGate], server: BlockingServer
) -> None:
    channel, interceptor = gated
    _call_in_thread(channel, b"stuck")
    assert server.entered.acquire(timeout=WAIT)
    stopped: list[int] = []
    began = time.monotonic()
    drained = stop_after_drain(interceptor.gate, lambda: stopped.append(interceptor.gate.running), timeout=0.2)
    elapsed = time.monotonic() - began
    assert not drained
    assert stopped == [1]  # stopped anyway, with the call still running
    assert 0.2 <= elapsed < WAIT


def test_once_closed_no_call_reaches_the_channel(gated: tuple[grpc.Channel, DaprCallGate],
                                                 server: BlockingServer) -> None:
    channel, interceptor = gated
    assert stop_after_drain(interceptor.gate, lambda: None, timeout=WAIT)
    with pytest.raises(RuntimeStoppingError, match=r"/test\.Gate/Answer was not sent: .*shutting down"):
        channel.unary_unary("/test.Gate/Answer")(b"late", timeout=WAIT)
    stream = channel.unary_stream("/test.Gate/Stream")(b"late", timeout=WAIT)  # grpcio raises when it is read
    with pytest.raises(RuntimeStoppingError):  # a ValueError: what Dapr's SDK reads as a closed channel
        next(stream)
    assert server.received == [] and interceptor.gate.running == 0


def test_an_open_stream_does_not_hold_the_shutdown(gated: tuple[grpc.Channel, DaprCallGate]) -> None:
    channel, interceptor = gated
    stream = channel.unary_stream("/test.Gate/Stream")(b"", timeout=WAIT)
    assert next(stream) == b"first"
    assert interceptor.gate.running == 0  # counted only while it was being opened
    assert stop_after_drain(interceptor.gate, lambda: None, timeout=WAIT)
    stream.cancel()


def test_a_future_call_counts_until_its_answer(gated: tuple[grpc.Channel, DaprCallGate],
                                               server: BlockingServer) -> None:
    channel, interceptor = gated
    future = channel.unary_unary("/test.Gate/Answer").future(b"later", timeout=WAIT)
    assert server.entered.acquire(timeout=WAIT)
    assert interceptor.gate.running == 1
    server.release.set()
    assert future.result(timeout=WAIT) == b"answer:later"
    assert interceptor.gate.wait_until_no_call_runs(WAIT)


def test_a_failed_call_is_counted_out(gated: tuple[grpc.Channel, DaprCallGate]) -> None:
    channel, interceptor = gated
    with pytest.raises(grpc.RpcError) as failure:
        channel.unary_unary("/test.Gate/Unknown")(b"", timeout=WAIT)
    assert failure.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert interceptor.gate.running == 0


def test_the_gate_reopens_and_refuses_an_unmatched_leave() -> None:
    gate = CallGate()
    gate.close()
    assert not gate.enter() and gate.running == 0
    gate.reopen()
    assert gate.enter() and gate.running == 1
    gate.leave()
    with pytest.raises(RuntimeError, match="without a call admitted"):
        gate.leave()
