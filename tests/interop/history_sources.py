"""Read an orchestration instance's committed history from a sidecar.

Two sources, one shape (a list of ``HistoryEvent`` protobuf messages, oldest first):

- ``GrpcHistorySource``: the ``StreamInstanceHistory`` RPC through a raw stub. Our fake implements it.
- ``GoSqliteHistorySource``: durabletask-go (v0.6.0 and its main branch) does not implement that RPC
  (it answers UNIMPLEMENTED), but its sqlite backend stores each committed event as a serialized
  ``HistoryEvent`` in the ``History`` table, which we read read-only.

Works with either SDK's generated bindings: it imports only ``durabletask.internal``'s protobuf modules.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Protocol

import grpc

from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs


class HistorySource(Protocol):
    """Anything that returns an instance's committed history events, oldest first."""

    def __call__(self, instance_id: str) -> list[pb.HistoryEvent]: ...


class GrpcHistorySource:
    """History through ``StreamInstanceHistory`` on a sidecar at ``address``."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self._channel = grpc.insecure_channel(address)
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)
        self._timeout = timeout

    def __call__(self, instance_id: str) -> list[pb.HistoryEvent]:
        request = pb.StreamInstanceHistoryRequest(instanceId=instance_id)
        events: list[pb.HistoryEvent] = []
        for chunk in self._stub.StreamInstanceHistory(request, timeout=self._timeout):
            events.extend(chunk.events)
        return events

    def close(self) -> None:
        """Close the gRPC channel."""
        self._channel.close()


class GoSqliteHistorySource:
    """History read from durabletask-go's sqlite database file (``--db`` option)."""

    def __init__(self, db_path: Path, busy_timeout: float = 5.0) -> None:
        self._db_path = Path(db_path)
        self._busy_timeout = busy_timeout

    def __call__(self, instance_id: str) -> list[pb.HistoryEvent]:
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                return self._read(instance_id)
            except sqlite3.OperationalError as exc:  # the sidecar holds a write lock: try again shortly
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _read(self, instance_id: str) -> list[pb.HistoryEvent]:
        uri = f"file:{self._db_path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=self._busy_timeout)) as connection:
            rows = connection.execute(
                "SELECT EventPayload FROM History WHERE InstanceID = ? ORDER BY SequenceNumber", (instance_id,)
            ).fetchall()
        events = []
        for (payload,) in rows:
            event = pb.HistoryEvent()
            event.ParseFromString(payload)
            events.append(event)
        return events

    def close(self) -> None:
        """Nothing to release: every read opens and closes its own connection."""
