"""ExternalSidecarClient's teardown purge: tried again while a terminated tree is still ending, within the deadline."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from durabletask_pytest.external.client import ExternalSidecarClient

from durabletask_testing.protocol import orchestrator_service_pb2 as pb


class _Refusal(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


class _Stub:
    """GetInstance says RUNNING; PurgeInstances refuses ``refusals`` times, then deletes."""

    def __init__(self, refusals: list[grpc.StatusCode]) -> None:
        self.refusals = list(refusals)
        self.calls: list[str] = []

    def GetInstance(self, request: Any, **_: Any) -> pb.GetInstanceResponse:  # noqa: N802 (gRPC's names)
        response = pb.GetInstanceResponse(exists=True)
        response.orchestrationState.orchestrationStatus = pb.ORCHESTRATION_STATUS_RUNNING
        return response

    def TerminateInstance(self, request: Any, **_: Any) -> pb.TerminateResponse:  # noqa: N802
        self.calls.append("terminate")
        return pb.TerminateResponse()

    def WaitForInstanceCompletion(self, request: Any, **_: Any) -> pb.GetInstanceResponse:  # noqa: N802
        self.calls.append("wait")
        return pb.GetInstanceResponse(exists=True)

    def PurgeInstances(self, request: Any, **_: Any) -> pb.PurgeInstancesResponse:  # noqa: N802
        self.calls.append("purge")
        if self.refusals:
            raise _Refusal(self.refusals.pop(0))
        return pb.PurgeInstancesResponse(deletedInstanceCount=2)


def _client(stub: _Stub) -> ExternalSidecarClient:
    client = ExternalSidecarClient("127.0.0.1:1")  # the channel connects lazily: nothing is dialled
    client._stub = stub
    return client


def test_a_purge_refused_while_children_end_is_tried_again() -> None:
    stub = _Stub([grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNKNOWN])
    _client(stub).terminate_and_purge("root", time.monotonic() + 5)
    assert stub.calls == ["terminate", "wait", "purge", "purge", "purge"]


def test_a_purge_still_refused_at_the_deadline_raises() -> None:
    stub = _Stub([grpc.StatusCode.FAILED_PRECONDITION] * 1000)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError):
        _client(stub).terminate_and_purge("root", started + 0.3)
    assert time.monotonic() - started < 2


def test_other_refusals_are_not_retried() -> None:
    stub = _Stub([grpc.StatusCode.PERMISSION_DENIED])
    with pytest.raises(grpc.RpcError):
        _client(stub).terminate_and_purge("root", time.monotonic() + 5)
    assert stub.calls.count("purge") == 1
