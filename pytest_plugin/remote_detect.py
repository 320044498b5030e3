"""Is the external sidecar a CLI fake with a control API? Ask it, and read its API token from the metadata.

A CLI fake (``python -m durabletask_testing serve``) advertises its control API in the initial metadata of
its ``Hello`` answer (``x-durabletask-testing-control: http://HOST:PORT``); real sidecars do not, so for them
the fixtures keep skipping what needs the fake. ``--durabletask-control=URL`` names the control API directly.
"""

from __future__ import annotations

from collections.abc import Sequence

CONTROL_METADATA_KEY = "x-durabletask-testing-control"
DETECT_TIMEOUT_SECONDS = 3.0


def detect_control_url(address: str, metadata: Sequence[tuple[str, str]] = ()) -> str | None:
    """The control API URL a CLI fake at ``address`` advertises, or None (a real sidecar, or unreachable)."""
    import grpc
    from google.protobuf import empty_pb2

    from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

    with grpc.insecure_channel(address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            _, call = stub.Hello.with_call(empty_pb2.Empty(), timeout=DETECT_TIMEOUT_SECONDS,
                                           metadata=list(metadata), wait_for_ready=True)
        except grpc.RpcError:
            return None
        for key, value in call.initial_metadata() or ():
            if key == CONTROL_METADATA_KEY:
                return str(value)
    return None


def bearer_token(metadata: Sequence[tuple[str, str]]) -> str | None:
    """The token of an ``authorization: Bearer TOKEN`` (or ``dapr-api-token``) entry, if any."""
    for key, value in metadata:
        if key == "authorization" and value.lower().startswith("bearer "):
            return value[7:].strip()
        if key == "dapr-api-token":
            return value.strip()
    return None
