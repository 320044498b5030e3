"""Work-item filters: which orchestrations, activities and entities a worker asks the sidecar for."""

from __future__ import annotations

from dataclasses import dataclass, field

from durabletask.entities import EntityInstanceId
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.versioning import VersioningOptions, VersionMatchStrategy


@dataclass(frozen=True)
class OrchestrationWorkItemFilter:
    """Orchestrations named ``name`` (and, when ``versions`` is not empty, only those versions)."""

    name: str
    versions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ActivityWorkItemFilter:
    """Activities named ``name`` (and, when ``versions`` is not empty, only those versions)."""

    name: str
    versions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EntityWorkItemFilter:
    """Entities named ``name`` (lower-cased, as entity names are)."""

    name: str

    def __post_init__(self) -> None:
        EntityInstanceId.validate_entity_name(self.name)
        object.__setattr__(self, "name", self.name.lower())


@dataclass(frozen=True)
class WorkItemFilters:
    """The filters a worker sends with ``GetWorkItems``; empty lists mean "none of that kind"."""

    orchestrations: list[OrchestrationWorkItemFilter] = field(default_factory=list)
    activities: list[ActivityWorkItemFilter] = field(default_factory=list)
    entities: list[EntityWorkItemFilter] = field(default_factory=list)


def filters_for(orchestrators: list[str], activities: list[str], entities: list[str],
                versioning: VersioningOptions | None) -> WorkItemFilters:
    """Filters naming exactly what a worker registered; with a STRICT version match, only its version."""
    versions: list[str] = []
    if versioning is not None and versioning.match_strategy == VersionMatchStrategy.STRICT and versioning.version:
        versions = [versioning.version]
    return WorkItemFilters(
        orchestrations=[OrchestrationWorkItemFilter(name, list(versions)) for name in orchestrators],
        activities=[ActivityWorkItemFilter(name, list(versions)) for name in activities],
        entities=[EntityWorkItemFilter(name) for name in entities],
    )


def to_proto(filters: WorkItemFilters) -> pb.WorkItemFilters:
    """The protocol message for ``filters``."""
    return pb.WorkItemFilters(
        orchestrations=[pb.OrchestrationFilter(name=f.name, versions=f.versions) for f in filters.orchestrations],
        activities=[pb.ActivityFilter(name=f.name, versions=f.versions) for f in filters.activities],
        entities=[pb.EntityFilter(name=f.name) for f in filters.entities],
    )
