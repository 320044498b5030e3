"""The engine's in-memory records: instances, work items and worker connections, each changed through its own
methods (their owners call them under the engine's lock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal, Union

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..faults import Site
from ..vocabulary import TERMINAL_STATUSES, status_name

if TYPE_CHECKING:
    from .entities import EntityWorkItem

__all__ = [
    "TERMINAL_STATUSES",
    "WorkKind",
    "ActivityWorkItem",
    "Connection",
    "Instance",
    "OrchestratorWorkItem",
    "WorkItem",
    "status_name",
]


WorkKind = Literal["orchestrator", "activity", "entity"]
"""The three kinds of work item, each with its own queue (``dispatcher.py``)."""


@dataclass(eq=False, slots=True)
class Instance:
    """One orchestration instance: metadata, committed history and the inbox of undelivered events.

    Every change is one of the methods below (the engine writes no field itself). The status, output, failure
    and completion time are derived, as durabletask-go's runtime state derives them: from the execution's
    ExecutionCompleted event if it has one, else from whether a work item was committed and whether the last
    suspend/resume event committed was a suspend.
    """

    instance_id: str
    name: str
    version: str | None
    execution_id: str
    input: str | None
    created_at: datetime
    last_updated_at: datetime
    parent: pb.ParentInstanceInfo | None = None
    tags: dict[str, str] = field(default_factory=dict)
    fault_key: str = ""  # names the instance in fault decisions: the same in every run of a test
    custom_status: str | None = None
    scheduled_start: datetime | None = None
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
    children: set[str] = field(default_factory=set)  # sub-orchestrations the current execution created
    generation: int = 0  # executions started by continue-as-new
    task_attempts: dict[int, int] = field(default_factory=dict)  # task id -> activity dispatches so far
    _started: bool = False  # the current execution has committed a work item (it is no longer PENDING)
    _suspended: bool = False  # the last suspend/resume event committed was a suspend
    _completion: pb.ExecutionCompletedEvent | None = None  # how the current execution ended
    _completed_at: datetime | None = None

    # -- derived state -------------------------------------------------------------------------------

    @property
    def status(self) -> int:
        """The runtime status (a ``pb.OrchestrationStatus`` value), derived."""
        if self._completion is not None:
            status: int = self._completion.orchestrationStatus
            return status
        if not self._started:
            return pb.ORCHESTRATION_STATUS_PENDING
        return pb.ORCHESTRATION_STATUS_SUSPENDED if self._suspended else pb.ORCHESTRATION_STATUS_RUNNING

    @property
    def output(self) -> str | None:
        completion = self._completion
        if completion is None or not completion.HasField("result"):
            return None
        result: str = completion.result.value
        return result

    @property
    def failure_details(self) -> pb.TaskFailureDetails | None:
        completion = self._completion
        if completion is None or not completion.HasField("failureDetails"):
            return None
        return completion.failureDetails

    @property
    def completed_at(self) -> datetime | None:
        return self._completed_at

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def execution_key(self) -> str:
        """The fault key of the current execution."""
        return f"{self.fault_key}~{self.generation}"

    @property
    def has_work(self) -> bool:
        """Events wait in the inbox, or the instance must replay."""
        return bool(self.inbox) or self.wake

    @property
    def parent_instance_id(self) -> str | None:
        if self.parent is None:
            return None
        parent_id: str = self.parent.orchestrationInstance.instanceId
        return parent_id

    def committed_history(self) -> list[pb.HistoryEvent]:
        """The committed history (parsed afresh when compacted, so the result is then a private copy)."""
        if self.history_blob is None:
            return list(self.history)
        return list(pb.HistoryChunk.FromString(self.history_blob).events)

    # -- arrival -------------------------------------------------------------------------------------

    def queue_start(self, started: pb.HistoryEvent, scheduled_start: datetime | None) -> bool:
        """Put ExecutionStarted in the inbox; True when the instance must wait for a later ``scheduled_start``."""
        self.scheduled_start = scheduled_start
        self.inbox.append(started)
        self.waiting_for_start_time = scheduled_start is not None and scheduled_start > self.created_at
        return self.waiting_for_start_time

    def start_time_reached(self) -> None:
        self.waiting_for_start_time = False

    def receive(self, event: pb.HistoryEvent) -> bool:
        """Put an event in the inbox; an ended instance drops it (returns False)."""
        if self.is_terminal:
            return False
        self.inbox.append(event)
        return True

    def adopt(self, child_id: str) -> None:
        """Remember a sub-orchestration the current execution started (recursive terminate and purge reach it, as
        durabletask-go reaches the children its current history names)."""
        self.children.add(child_id)

    def reparent(self, parent: pb.ParentInstanceInfo) -> None:
        """Report this child's end to ``parent`` (a rewound parent's new execution) from now on."""
        if self.parent is not None:
            self.parent.CopyFrom(parent)

    # -- work items ----------------------------------------------------------------------------------

    def dispatched(self, item: OrchestratorWorkItem, kept: list[pb.HistoryEvent]) -> None:
        """``item`` (carrying the inbox events not in ``kept``) was handed out."""
        self.inbox = kept
        self.wake = False
        self.dispatch_count += 1
        self.in_flight = item

    def take_back(self, item: OrchestratorWorkItem, not_before: float | None) -> bool:
        """Undo the dispatch of ``item`` (if it is still this instance's): its events go back to the front of
        the inbox; ``not_before`` (monotonic seconds) delays the next hand-out. False if it was not in flight."""
        if self.in_flight is not item:
            return False
        self.in_flight = None
        self.inbox = item.new_events[1:] + self.inbox
        self.wake = self.wake or len(item.new_events) == 1
        if not_before is not None:
            self.held_until = not_before
        return True

    def abandoned(self, by: int | None) -> int:
        """The worker (connection id ``by``) abandoned the work item; returns the abandons before this one."""
        count = self.abandon_count
        self.abandon_count += 1
        self.abandoned_by = by
        return count

    def made_progress(self) -> None:
        """A result was accepted: the abandon back-off starts small again."""
        self.abandon_count = 0

    def next_task_attempt(self, task_id: int) -> int:
        """How many times an activity with ``task_id`` was dispatched before (retries may reuse an id)."""
        attempt = self.task_attempts.get(task_id, 0)
        self.task_attempts[task_id] = attempt + 1
        return attempt

    # -- committing a response -----------------------------------------------------------------------

    def work_item_done(self) -> None:
        """The in-flight work item's result was accepted (it is applied next)."""
        self.in_flight = None
        self.abandon_count = 0
        self.abandoned_by = None

    def commit(self, new_events: Sequence[pb.HistoryEvent], custom_status: str | None,
               replace_always: bool = False) -> None:
        """A work item's events join the history (the execution now runs); the response's custom status replaces
        the previous one when it has one (None keeps it, as durabletask-go does; with ``replace_always``, as Dapr
        does, None clears it)."""
        self.history.extend(new_events)
        self._started = True
        for event in new_events:
            if event.HasField("executionSuspended"):
                self._suspended = True
            elif event.HasField("executionResumed"):
                self._suspended = False
        if custom_status is not None or replace_always:
            self.custom_status = custom_status

    def record(self, event: pb.HistoryEvent) -> None:
        """Append the history event of an applied action."""
        self.history.append(event)

    def finish(self, completed: pb.HistoryEvent, now: datetime) -> None:
        """End the execution with its ExecutionCompleted event (appended); undelivered events are dropped."""
        self.history.append(completed)
        self._completion = completed.executionCompleted
        self._completed_at = self.last_updated_at = now
        self.inbox = []

    def fail_work_item(self, item: OrchestratorWorkItem, completed: pb.HistoryEvent, now: datetime) -> None:
        """The work item could not be sent: its events are committed and the execution ends with ``completed``."""
        self.in_flight = None
        self.history.extend(item.new_events)
        self.finish(completed, now)

    def touch(self, now: datetime) -> None:
        self.last_updated_at = now

    def continue_as_new(self, execution_id: str, new_version: str | None, input_value: str | None) -> None:
        """Start a new execution (empty history; the caller puts its ExecutionStarted first in the inbox). The
        children of earlier executions are forgotten, as their history is."""
        self.execution_id = execution_id
        self.generation += 1
        self.task_attempts.clear()
        self.children.clear()
        if new_version is not None:
            self.version = new_version
        self.input = input_value
        self.history = []
        self._restart()

    def push_front(self, events: Sequence[pb.HistoryEvent]) -> None:
        """Put events at the front of the inbox."""
        self.inbox = [*events, *self.inbox]

    def rewrite_history(self, history: list[pb.HistoryEvent], execution_id: str, now: datetime) -> None:
        """Take the worker's rewritten history of a rewind and replay it (a work item with no new events)."""
        self.history = history
        self.execution_id = execution_id
        self.task_attempts.clear()
        self.wake = True
        self.last_updated_at = now
        self._restart()

    def rewind(self, rewound: pb.HistoryEvent, now: datetime) -> None:
        """Run a FAILED execution again: its inbox holds only ``rewound`` (ExecutionRewound)."""
        self.expand_history()
        self.last_updated_at = now
        self.inbox = [rewound]
        self._restart()

    def _restart(self) -> None:
        """The execution runs (again): not ended, not suspended."""
        self._started = True
        self._suspended = False
        self._completion = None
        self._completed_at = None

    # -- memory --------------------------------------------------------------------------------------

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


@dataclass(eq=False, slots=True)
class OrchestratorWorkItem:
    """An orchestrator work item handed to a worker and not yet completed."""

    kind: ClassVar[WorkKind] = "orchestrator"

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

    def fault_site(self, owner: Instance | None) -> Site:
        """Where fault decisions about this item are asked (``owner``: its instance, if it still exists)."""
        key = owner.execution_key if owner is not None else self.instance_id
        return Site(self.instance_id, key, owner.name if owner is not None else "", attempt=self.attempt)


@dataclass(eq=False, slots=True)
class ActivityWorkItem:
    """An activity execution waiting to be handed out or in flight."""

    kind: ClassVar[WorkKind] = "activity"

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
    outlived: list[str] = field(default_factory=list)  # tokens of earlier dispatches whose lease ran out
    answered: bool = False  # a result was accepted: no dispatch of it is needed any more

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

    def fault_site(self, owner: Instance | None) -> Site:
        """Where fault decisions about this item are asked (``owner``: its instance, if it still exists)."""
        key = owner.execution_key if owner is not None else self.instance_id
        return Site(self.instance_id, key, self.name, self.task_id, self.attempt)


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
    closed: bool = False
    close_reason: str | None = None  # set when the fake ends the stream on purpose (fault injection)
    tokens: set[str] = field(default_factory=set)
    worker_tag: str = ""  # the worker's x-durabletask-testing-worker metadata ("" when it sent none)
    _in_flight: dict[WorkKind, int] = field(default_factory=lambda: {"orchestrator": 0, "activity": 0, "entity": 0})

    @property
    def orchestrators_in_flight(self) -> int:
        return self._in_flight["orchestrator"]

    @property
    def activities_in_flight(self) -> int:
        return self._in_flight["activity"]

    @property
    def entities_in_flight(self) -> int:
        return self._in_flight["entity"]

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

    def took(self, kind: WorkKind, token: str) -> None:
        """A work item of ``kind`` was handed to this stream under ``token``."""
        self.tokens.add(token)
        self._in_flight[kind] += 1

    def gave_back(self, kind: WorkKind, token: str) -> None:
        """The work item under ``token`` is no longer in flight on this stream (its slot is free)."""
        self.tokens.discard(token)
        self._in_flight[kind] -= 1

    def close(self, reason: str | None = None) -> None:
        """Ask the stream to end; with ``reason`` it ends with UNAVAILABLE (an injected disconnect)."""
        if reason is None:
            self.closed = True
        else:
            self.close_reason = reason

    def forget_work(self) -> None:
        """Nothing is in flight on this stream any more (the engine was reset)."""
        self.tokens.clear()
        for kind in self._in_flight:
            self._in_flight[kind] = 0


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
