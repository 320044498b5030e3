"""The plugin's client and worker wait (bounded) for the channel to be ready instead of failing at once."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from types import SimpleNamespace

import pytest
from durabletask_pytest.fixtures.channel import READY_BOUND_SECONDS, WaitForReadyInterceptor
from durabletask_pytest.fixtures.environment import open_client

from durabletask_testing import FakeSidecar


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _details(method: str, timeout: float | None) -> SimpleNamespace:
    return SimpleNamespace(method=method, timeout=timeout, metadata=None, credentials=None, wait_for_ready=None,
                           compression=None)


def test_short_calls_wait_for_ready_with_a_bound_and_long_polls_keep_their_deadline() -> None:
    seen = []
    interceptor = WaitForReadyInterceptor()
    interceptor.intercept_unary_unary(lambda d, r: seen.append(d), _details("/TaskHubSidecarService/StartInstance",
                                                                            None), None)
    interceptor.intercept_unary_unary(lambda d, r: seen.append(d),
                                      _details("/TaskHubSidecarService/WaitForInstanceCompletion", None), None)
    interceptor.intercept_unary_stream(lambda d, r: seen.append(d), _details("/TaskHubSidecarService/GetWorkItems",
                                                                             None), None)
    assert [(d.wait_for_ready, d.timeout) for d in seen] == [(True, READY_BOUND_SECONDS), (True, None), (True, None)]


def test_the_first_call_waits_for_a_sidecar_that_is_not_listening_yet() -> None:
    port = _free_port()
    with open_client(f"127.0.0.1:{port}") as client, ThreadPoolExecutor(1) as pool:
        first_call = pool.submit(client.get_orchestration_state, "no-such-instance")
        with pytest.raises(FutureTimeout):
            first_call.result(timeout=0.5)  # still waiting for the channel, not failed with UNAVAILABLE
        with FakeSidecar(port=port):
            assert first_call.result(timeout=10) is None  # answered once the sidecar listens
