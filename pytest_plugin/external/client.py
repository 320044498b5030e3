"""The one client of an external sidecar: a gRPC channel speaking the public protocol with the testkit's bindings.

Everything the plugin asks a sidecar it did not start goes through :class:`ExternalSidecarClient`: whether it is
a CLI fake with a control API (``detect_control_url``), what became of a test's instances (the failure report),
and the termination and purge of those instances at teardown. It works with any SDK, because it uses the
testkit's own protocol bindings, not the SDK's.

A CLI fake (``python -m durabletask_testing serve``) advertises its control API in the initial metadata of its
``Hello`` answer (``x-durabletask-testing-control: http://HOST:PORT``); real sidecars do not, so for them the
fixtures keep skipping what needs the fake. ``--durabletask-control=URL`` names the control API directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import grpc

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

CONTROL_METADATA_KEY = "x-durabletask-testing-control"
DETECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 2.0
PURGE_RETRY_CODES = frozenset({grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNKNOWN})
"""A recursive purge refused with these while a terminated tree is still ending is tried again."""
RUNNING_STATUSES = frozenset({
    pb.ORCHESTRATION_STATUS_RUNNING,
    pb.ORCHESTRATION_STATUS_PENDING,
    pb.ORCHESTRATION_STATUS_SUSPENDED,
    pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
})


@dataclass
class ExternalInstance:
    """One instance as an external sidecar described it: its state (None if unknown) and its history."""

    instance_id: str
    state: Any = None
    """The sidecar's ``OrchestrationState`` message, or None when it was not found or could not be read."""
    history: list[Any] = field(default_factory=list)
    problem: str | None = None


class ExternalSidecarClient:
    """One channel to the sidecar at ``address``; every call carries ``metadata``. Close it (or use ``with``)."""

    def __init__(self, address: str, metadata: Sequence[tuple[str, str]] = ()) -> None:
        self.address = address
        self._metadata = list(metadata)
        self._channel = grpc.insecure_channel(address)
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]

    @property
    def metadata(self) -> list[tuple[str, str]]:
        """The metadata every call carries (``--durabletask-metadata``, and the task hub when one is set)."""
        return list(self._metadata)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> ExternalSidecarClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def advertised_control_url(self, timeout: float = DETECT_TIMEOUT_SECONDS) -> str | None:
        """The control API URL a CLI fake advertises, or None (a real sidecar, or unreachable)."""
        from google.protobuf import empty_pb2

        try:
            _, call = self._stub.Hello.with_call(empty_pb2.Empty(), timeout=timeout, metadata=self._metadata,
                                                 wait_for_ready=True)
        except grpc.RpcError:
            return None
        for key, value in call.initial_metadata() or ():
            if key == CONTROL_METADATA_KEY:
                return str(value)
        return None

    def describe(self, instance_ids: Iterable[str], timeout: float = READ_TIMEOUT_SECONDS) -> list[ExternalInstance]:
        """State and history of each instance, and of the sub-orchestrations their histories created."""
        pending = list(dict.fromkeys(instance_ids))
        seen: set[str] = set()
        found: list[ExternalInstance] = []
        while pending:
            instance_id = pending.pop(0)
            if instance_id in seen:
                continue
            seen.add(instance_id)
            instance = self._describe_one(instance_id, timeout)
            pending.extend(
                event.subOrchestrationInstanceCreated.instanceId
                for event in instance.history
                if event.WhichOneof("eventType") == "subOrchestrationInstanceCreated"
            )
            found.append(instance)
        return found

    def _describe_one(self, instance_id: str, timeout: float) -> ExternalInstance:
        instance = ExternalInstance(instance_id)
        try:
            response = self._stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True),
                                              timeout=timeout, metadata=self._metadata)
            if not response.exists:
                instance.problem = "instance not found on the sidecar"
                return instance
            instance.state = response.orchestrationState
            request = pb.StreamInstanceHistoryRequest(instanceId=instance_id, forWorkItemProcessing=False)
            for chunk in self._stub.StreamInstanceHistory(request, timeout=timeout, metadata=self._metadata):
                instance.history.extend(chunk.events)
        except grpc.RpcError as error:
            instance.problem = f"could not read it from the sidecar: {error.code().name} {error.details()}"
        return instance

    def terminate_and_purge(self, instance_id: str, deadline: float) -> None:
        """End the instance if it still runs (recursively), wait for it to end, and purge it (recursively).

        ``deadline`` is a ``time.monotonic()`` reading; each call gets what is left of it (at least 0.1 s).
        Raises ``grpc.RpcError`` when the sidecar refuses or does not answer in time.
        """

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        state = self._stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id), timeout=left(),
                                       metadata=self._metadata)
        if not state.exists:
            return
        if state.orchestrationState.orchestrationStatus in RUNNING_STATUSES:
            self._stub.TerminateInstance(pb.TerminateRequest(instanceId=instance_id, recursive=True),
                                         timeout=left(), metadata=self._metadata)
            self._stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId=instance_id), timeout=left(),
                                                 metadata=self._metadata)
        self._purge_when_descendants_ended(instance_id, deadline, left)

    def _purge_when_descendants_ended(self, instance_id: str, deadline: float, left: Callable[[], float]) -> None:
        """Purge recursively, again while a sidecar refuses because a descendant is still ending (the fake:
        FAILED_PRECONDITION; durabletask-go: UNKNOWN), until ``deadline``; the last refusal is raised."""
        pause = 0.01
        while True:
            try:
                self._stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId=instance_id, recursive=True),
                                          timeout=left(), metadata=self._metadata)
                return
            except grpc.RpcError as error:
                code = error.code() if callable(getattr(error, "code", None)) else None
                if code not in PURGE_RETRY_CODES or time.monotonic() + pause >= deadline:
                    raise
            time.sleep(pause)  # the sidecar offers no wait for a subtree to end: poll it, briefly
            pause = min(pause * 2, 0.2)


def detect_control_url(address: str, metadata: Sequence[tuple[str, str]] = ()) -> str | None:
    """The control API URL a CLI fake at ``address`` advertises, or None (a real sidecar, or unreachable)."""
    with ExternalSidecarClient(address, metadata) as client:
        return client.advertised_control_url()


def bearer_token(metadata: Sequence[tuple[str, str]]) -> str | None:
    """The token of an ``authorization: Bearer TOKEN`` (or ``dapr-api-token``) entry, if any."""
    for key, value in metadata:
        if key == "authorization" and value.lower().startswith("bearer "):
            return value[7:].strip()
        if key == "dapr-api-token":
            return value.strip()
    return None
