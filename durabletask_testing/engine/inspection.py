"""Reading the engine from Python and the history RPC: histories, snapshots of instances and entities, open
streams, and waiting until no work is queued or in flight."""

from __future__ import annotations

from collections.abc import Callable

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..views import EntitySnapshot, InstanceSnapshot
from .context import Part
from .state import Connection, Instance
from .validation import (
    require_text,
)
from .views import entity_snapshot, snapshot

HISTORY_CHUNK_SIZE = 256


class Inspection(Part):
    """Read-only views of the engine, and ``wait_until_idle``."""

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        """The committed history of an instance's current execution (copies)."""
        require_text(instance_id, "instanceId")
        with self._lock:
            instance = self._store.require(instance_id)
            compacted = instance.history_blob is not None
            committed = instance.committed_history()
        return committed if compacted else _copies(committed)

    def add_removal_listener(
        self, listener: Callable[[InstanceSnapshot, list[pb.HistoryEvent]], None]
    ) -> Callable[[], None]:
        """See :meth:`Engine.add_removal_listener`."""

        def removed(instance: Instance) -> None:
            compacted = instance.history_blob is not None
            committed = instance.committed_history()
            listener(snapshot(instance), committed if compacted else _copies(committed))

        with self._lock:
            self._store.removal_listeners.append(removed)

        def remove() -> None:
            with self._lock:
                if removed in self._store.removal_listeners:
                    self._store.removal_listeners.remove(removed)

        return remove

    def stream_instance_history(self, request: pb.StreamInstanceHistoryRequest) -> list[pb.HistoryChunk]:
        """StreamInstanceHistory: the history in chunks of at most HISTORY_CHUNK_SIZE events."""
        committed = self.history(request.instanceId)
        if not committed:
            return [pb.HistoryChunk()]
        return [
            pb.HistoryChunk(events=committed[i : i + HISTORY_CHUNK_SIZE])
            for i in range(0, len(committed), HISTORY_CHUNK_SIZE)
        ]

    def snapshots(self) -> list[InstanceSnapshot]:
        """Frozen metadata of every instance, in creation order."""
        with self._lock:
            return [snapshot(i) for i in self._store]

    def snapshot(self, instance_id: str) -> InstanceSnapshot | None:
        """Frozen metadata of one instance, or None."""
        with self._lock:
            instance = self._store.get(instance_id)
            return None if instance is None else snapshot(instance)

    def entities(self) -> list[EntitySnapshot]:
        """Frozen views of every entity (with state, queued work or a lock), in creation order."""
        with self._lock:
            return [entity_snapshot(e) for e in self._entities]

    def entity(self, entity_id: str) -> EntitySnapshot | None:
        """A frozen view of one entity, or None."""
        with self._lock:
            entity = self._entities.get(entity_id)
            return None if entity is None else entity_snapshot(entity)

    def connections(self, include_held: bool = False) -> list[Connection]:
        """The open GetWorkItems streams (their limits, filters and in-flight counts; do not modify); those of held
        workers (``hold_worker``: kept connected between tests, handed nothing) only with ``include_held``."""
        with self._lock:
            found = self._dispatcher.connections.values()
            if include_held:
                return list(found)
            return [connection for connection in found if not self._dispatcher.is_held(connection)]

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until no work item is queued or in flight (only timers or nothing left). True if idle.

        Handy before advancing a manual clock: the orchestrations have reached their timers.
        """
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        with self._lock:
            self._waiters.idle_waiters += 1
            self._client_waits()
            try:
                while not self._dispatcher.is_idle():
                    if self._stopped:
                        return False
                    remaining = None if deadline is None else deadline - self.clock.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._waiters.idle_changed.wait(remaining)
                return True
            finally:
                self._waiters.idle_waiters -= 1


def _copies(events: list[pb.HistoryEvent]) -> list[pb.HistoryEvent]:
    copies = []
    for event in events:
        copy = pb.HistoryEvent()
        copy.CopyFrom(event)
        copies.append(copy)
    return copies
