"""The client RPCs of entities: signal, read, query and clean entity storage (the worker's side of entities,
batches and their results, is :mod:`.work`)."""

from __future__ import annotations

import uuid

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import invalid
from ..vocabulary import optional_string, string_value, timestamp, to_datetime
from .context import Part
from .entities import parse_entity_id
from .timers import TimerEntry
from .validation import (
    check_payload,
    require_text,
)
from .views import (
    entity_metadata,
)


class EntityRpcs(Part):
    """The entity RPCs a client calls (SignalEntity, GetEntity, QueryEntities, CleanEntityStorage)."""

    def signal_entity(self, request: pb.SignalEntityRequest) -> pb.SignalEntityResponse:
        """SignalEntity: queue a one-way operation for an entity (at ``scheduledTime`` when that is later)."""
        parse_entity_id(request.instanceId, "instanceId")
        require_text(request.name, "name")
        value = optional_string(request, "input")
        check_payload(value, "input", self.max_payload_bytes)
        fire_at = None
        if request.HasField("scheduledTime"):
            fire_at = to_datetime(request.scheduledTime, "scheduledTime")
        with self._lock:
            self._check_running()
            now = self.clock.now()
            signaled = pb.EntityOperationSignaledEvent(
                requestId=request.requestId or uuid.uuid4().hex,
                operation=request.name,
                input=request.input if request.HasField("input") else None,
                targetInstanceId=string_value(request.instanceId),
                scheduledTime=request.scheduledTime if request.HasField("scheduledTime") else None,
            )
            event = pb.HistoryEvent(eventId=-1, timestamp=timestamp(now), entityOperationSignaled=signaled)
            if fire_at is not None and fire_at > now:
                self._router.push_timer(TimerEntry("entity", fire_at, request.instanceId, "", event=event))
            else:
                self._router.send_to_entity(request.instanceId, event)
            self._after_change()
        return pb.SignalEntityResponse()

    def get_entity(self, request: pb.GetEntityRequest) -> pb.GetEntityResponse:
        """GetEntity: the entity's metadata (``exists=False`` when it has no state)."""
        parse_entity_id(request.instanceId, "instanceId")
        with self._lock:
            entity = self._entities.get(request.instanceId)
            if entity is None or not entity.exists:
                return pb.GetEntityResponse(exists=False)
            return pb.GetEntityResponse(exists=True, entity=entity_metadata(entity, request.includeState))

    def query_entities(self, request: pb.QueryEntitiesRequest) -> pb.QueryEntitiesResponse:
        """QueryEntities: entities matching the filters, ordered by id, paged by continuation token. Entities
        without state (transient: only queued operations or a lock) are listed only with ``includeTransient``."""
        query = request.query
        page_size = query.pageSize.value if query.HasField("pageSize") else 0
        if page_size < 0:
            raise invalid(f"query.pageSize must not be negative; got {page_size}")
        after = optional_string(query, "continuationToken") or ""
        prefix = optional_string(query, "instanceIdStartsWith") or ""
        since = until = None
        if query.HasField("lastModifiedFrom"):
            since = to_datetime(query.lastModifiedFrom, "query.lastModifiedFrom")
        if query.HasField("lastModifiedTo"):
            until = to_datetime(query.lastModifiedTo, "query.lastModifiedTo")
        with self._lock:
            self._store.check_page_token("query.continuationToken (entities)", after)
            matching = sorted(
                (
                    e
                    for e in self._entities
                    if e.entity_id > after
                    and e.entity_id.startswith(prefix)
                    and (query.includeTransient or e.exists)
                    and (since is None or e.last_modified >= since)
                    and (until is None or e.last_modified < until)
                ),
                key=lambda e: e.entity_id,
            )
            limit = page_size or len(matching)
            page = matching[:limit]
            response = pb.QueryEntitiesResponse(entities=[entity_metadata(e, query.includeState) for e in page])
            if len(matching) > limit and page:
                response.continuationToken.value = page[-1].entity_id
                self._store.remember_page_token("query.continuationToken (entities)", page[-1].entity_id)
        return response

    def clean_entity_storage(self, request: pb.CleanEntityStorageRequest) -> pb.CleanEntityStorageResponse:
        """CleanEntityStorage: drop entities with no state and nothing queued; release locks whose orchestration
        has ended or is gone. One pass does everything (no continuation token)."""
        removed = released = 0
        with self._lock:
            for entity in self._entities:
                if request.releaseOrphanedLocks and entity.locked_by is not None:
                    owner = self._store.get(entity.lock_owner or "")
                    if owner is None or owner.is_terminal:
                        entity.release_lock(entity.locked_by)
                        released += 1
                        self._router.pump_entity(entity)
                if request.removeEmptyEntities and entity.is_idle and self._entities.get(entity.entity_id) is entity:
                    self._entities.remove(entity)
                    removed += 1
            self._after_change()
        return pb.CleanEntityStorageResponse(emptyEntitiesRemoved=removed, orphanedLocksReleased=released)
