"""Mutable in-memory records the engine keeps: instances, work items and worker connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Union

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..vocabulary import TERMINAL_STATUSES, status_name

if TYPE_CHECKING:
    from .entities import EntityWorkItem

__all__ = [
    "TERMINAL_STATUSES",
    "ActivityWorkItem",
    "Connection",
    "Instance",
    "OrchestratorWorkItem",
    "WorkItem",
    "status_name",
]


@dataclass(eq=False, slots=True)
class Instance:
    """One orchestration instance: metadata, committed history and the inbox of undelivered events."""

    instance_id: str
    name: str
    version: str | None
    execution_id: str
    input: str | None
    created_at: datetime
    last_updated_at: datetime
    status: int = pb.ORCHESTRATION_STATUS_PENDING
    output: str | None = None
    custom_status: str | None = None
    failure_details: pb.TaskFailureDetails | None = None
    completed_at: datetime | None = None
    scheduled_start: datetime | None = None
    parent: pb.ParentInstanceInfo | None = None
    tags: dict[str, str] = field(default_factory=dict)
    history: list[pb.HistoryEvent] = field(default_factory=list)
    history_blob: bytes | None = None  # an ended instance's history, serialized to save memory
    inbox: list[pb.HistoryEvent] = field(default_factory=list)
    in_flight: OrchestratorWorkItem | None = None
    waiting_for_start_time: bool = False  # held until the clock reaches scheduled_start
    wake: bool = False  # needs a work item with no new events (a replay after its history was rewound)
    held_until: float = 0.0  # monotonic time before which it is not handed out (after an abandon)
    abandon_count: int = 0  # abandons since its last completed work item (grows the re-dispatch back-off)
    abandoned_by: int | None = None  # connection id of the stream that abandoned its last work item
    dispatch_count: int = 0
    children: set[str] = field(default_factory=set)
    fault_key: str = ""  # names the instance in fault decisions: the same in every run of a test
    generation: int = 0  # executions started by continue-as-new
    task_attempts: dict[int, int] = field(default_factory=dict)  # task id -> activity dispatches so far

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def execution_key(self) -> str:
        """The fault key of the current execution."""
        return f"{self.fault_key}~{self.generation}"

    def next_task_attempt(self, task_id: int) -> int:
        """How many times an activity with ``task_id`` was dispatched before (retries may reuse an id)."""
        attempt = self.task_attempts.get(task_id, 0)
        self.task_attempts[task_id] = attempt + 1
        return attempt

    def compact_history(self) -> None:
        """Keep an ended instance's history as one serialized blob (protobuf objects cost ~1 KB each)."""
        if self.history_blob is None:
            self.history_blob = pb.HistoryChunk(events=self.history).SerializeToString()
            self.history = []

    def expand_history(self) -> None:
        """Turn a compacted history back into events (before an ended instance runs again)."""
        if self.history_blob is not None:
            self.history = list(pb.HistoryChunk.FromString(self.history_blob).events)
            self.history_blob = None

    @property
    def has_work(self) -> bool:
        """Events wait in the inbox, or the instance must replay."""
        return bool(self.inbox) or self.wake

    def committed_history(self) -> list[pb.HistoryEvent]:
        """The committed history (parsed afresh when compacted, so the result is then a private copy)."""
        if self.history_blob is None:
            return list(self.history)
        return list(pb.HistoryChunk.FromString(self.history_blob).events)

    @property
    def parent_instance_id(self) -> str | None:
        if self.parent is None:
            return None
        parent_id: str = self.parent.orchestrationInstance.instanceId
        return parent_id


@dataclass(eq=False, slots=True)
class OrchestratorWorkItem:
    """An orchestrator work item handed to a worker and not yet completed."""

    token: str
    instance_id: str
    execution_id: str
    new_events: list[pb.HistoryEvent]  # OrchestratorStarted first, then the delivered inbox events
    past_events: list[pb.HistoryEvent]
    attempt: int
    connection: Connection | None = None

    def to_pb(self) -> pb.WorkItem:
        request = pb.OrchestratorRequest(
            instanceId=self.instance_id,
            pastEvents=self.past_events,
            newEvents=self.new_events,
        )
        request.executionId.value = self.execution_id
        return pb.WorkItem(orchestratorRequest=request, completionToken=self.token)


@dataclass(eq=False, slots=True)
class ActivityWorkItem:
    """An activity execution waiting to be handed out or in flight."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str
    version: str | None
    input: str | None
    tags: dict[str, str]
    trace_context: pb.TraceContext | None
    attempt: int = 0  # dispatches of this task id in its instance before this one
    token: str = ""
    connection: Connection | None = None

    def to_pb(self) -> pb.WorkItem:
        request = pb.ActivityRequest(
            name=self.name,
            taskId=self.task_id,
            orchestrationInstance=pb.OrchestrationInstance(instanceId=self.instance_id),
            tags=self.tags,
            parentTraceContext=self.trace_context,
        )
        request.orchestrationInstance.executionId.value = self.execution_id
        if self.version is not None:
            request.version.value = self.version
        if self.input is not None:
            request.input.value = self.input
        return pb.WorkItem(activityRequest=request, completionToken=self.token)


WorkItem = Union[OrchestratorWorkItem, ActivityWorkItem, "EntityWorkItem"]


@dataclass(eq=False, slots=True)
class Connection:
    """One open GetWorkItems stream with the worker's concurrency limits and filters."""

    connection_id: int
    max_orchestrators: int  # 0 = unlimited
    max_activities: int  # 0 = unlimited
    orchestration_filter: NameFilter | None = None  # None = any
    activity_filter: NameFilter | None = None
    entity_names: frozenset[str] | None = None  # entity names (lower case); None = any
    max_entities: int = 0  # 0 = unlimited
    orchestrators_in_flight: int = 0
    activities_in_flight: int = 0
    entities_in_flight: int = 0
    closed: bool = False
    close_reason: str | None = None  # set when the fake ends the stream on purpose (fault injection)
    tokens: set[str] = field(default_factory=set)

    def can_take_orchestrator(self) -> bool:
        return self.max_orchestrators <= 0 or self.orchestrators_in_flight < self.max_orchestrators

    def can_take_activity(self) -> bool:
        return self.max_activities <= 0 or self.activities_in_flight < self.max_activities

    def can_take_entity(self) -> bool:
        return self.max_entities <= 0 or self.entities_in_flight < self.max_entities

    def wants_orchestration(self, name: str, version: str | None = None) -> bool:
        return _accepts(self.orchestration_filter, name, version)

    def wants_activity(self, name: str, version: str | None = None) -> bool:
        return _accepts(self.activity_filter, name, version)

    def wants_entity(self, name: str) -> bool:
        return self.entity_names is None or name.lower() in self.entity_names


NameFilter = dict[str, frozenset[str]]
"""Accepted names, each with its accepted versions (an empty set: any version)."""


def _accepts(names: NameFilter | None, name: str, version: str | None) -> bool:
    """A work-item filter's verdict: no filter takes everything; a name must be listed, and its version too when
    the entry lists versions (an absent version counts as "")."""
    if names is None:
        return True
    versions = names.get(name)
    if versions is None:
        return False
    return not versions or (version or "") in versions
