"""The routes between instances and entities: creating instances and children, delivering events, routing the
outbox of an applied response or entity batch (``settle``, ``settle_entity``), granting entity locks, rewinding,
terminating and deleting (iteratively, any depth).

Its one state of its own is the sequence of request ids it gives the signals entities send; everything else it
changes is in the rooms it is given (store, dispatcher, timer queue, waiters, entity store), through their
methods and the records' own, under the engine's lock."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..timeline import SUB_ORCHESTRATION_ID_IN_USE
from ..vocabulary import optional_field, status_name, timestamp, to_datetime
from . import events
from .entities import Entity, EntityOutbox
from .rooms import Rooms
from .runtime import ChildRewind, ChildStart, Outbox, parent_notice
from .state import ActivityWorkItem, Instance, OrchestratorWorkItem, WorkItem
from .timers import TimerEntry

logger = logging.getLogger("durabletask_testing.engine")

ChildIdReuse = Literal["failed", "ended"]
"""Which instance a new sub-orchestration of the same id replaces: only a FAILED one (durabletask-go), or any
that has ended (Dapr's workflow actors recreate a workflow that has completed)."""


class Router:
    """Creates, feeds, settles, terminates and deletes instances (callers hold the engine's lock)."""

    def __init__(self, rooms: Rooms, *, child_id_reuse: ChildIdReuse = "failed") -> None:
        if child_id_reuse not in ("failed", "ended"):
            raise ValueError(f"child_id_reuse must be 'failed' or 'ended'; got {child_id_reuse!r}")
        self.child_id_reuse = child_id_reuse
        self.clock = rooms.clock
        self._store = rooms.store
        self._dispatcher = rooms.dispatcher
        self._timers = rooms.timers
        self._waiters = rooms.waiters
        self._entities = rooms.entities
        self._request_ids = (f"fake-signal-{n}" for n in itertools.count(1))

    def push_timer(self, entry: TimerEntry) -> None:
        if self._timers.push(entry):
            self._waiters.timer_changed.notify_all()

    def new_instance(
        self,
        instance_id: str,
        name: str,
        version: str | None,
        input_value: str | None,
        tags: dict[str, str],
        *,
        parent: pb.ParentInstanceInfo | None = None,
        execution_id: str | None = None,
        fault_key: str = "",
    ) -> Instance:
        now = self.clock.now()
        return Instance(
            instance_id=instance_id,
            name=name,
            version=version,
            execution_id=execution_id or uuid.uuid4().hex,
            input=input_value,
            created_at=now,
            last_updated_at=now,
            parent=parent,
            tags=tags,
            fault_key=fault_key,
        )

    def add_instance(
        self, instance: Instance, scheduled_start: datetime | None, trace_context: pb.TraceContext | None
    ) -> None:
        """Store a new instance (replacing an ended one of that id) with ExecutionStarted in its inbox."""
        started = events.execution_started(
            instance.created_at, instance, scheduled_start=scheduled_start, trace_context=trace_context
        )
        waits = instance.queue_start(started, scheduled_start)
        old = self._store.put(instance)
        if old is not None:  # replaced (a reuse policy may replace a live one): its work item and locks go
            if old.in_flight is not None:
                self._dispatcher.release(old.in_flight)
            self.release_locks_of(old.instance_id, forget_requests=True)
        if waits and scheduled_start is not None:
            self.push_timer(TimerEntry("start", scheduled_start, instance.instance_id, instance.execution_id))
        else:
            self.make_ready(instance)
        self._waiters.notify_instance(instance.instance_id)

    def make_ready(self, instance: Instance) -> None:
        self._dispatcher.make_ready(instance, self.clock.monotonic())

    def deliver(self, instance: Instance, event: pb.HistoryEvent) -> None:
        """Put an event in a live instance's inbox (events for ended instances are dropped)."""
        if instance.receive(event):
            self.make_ready(instance)

    def deliver_to(self, instance_id: str, execution_id: str | None, event: pb.HistoryEvent) -> None:
        instance = self._store.get(instance_id)
        if instance is None or (execution_id and instance.execution_id != execution_id):
            return
        self.deliver(instance, event)

    def settle(self, instance: Instance, outbox: Outbox, now: datetime) -> None:
        """After a response was applied to ``instance``: route its outbox, then queue or compact it."""
        if outbox.dropped_with_continue_as_new:
            logger.warning(
                "FIDELITY: instance '%s' continued as new in a response that also held %s; dropped, as "
                "durabletask-go drops them (the published in-memory backend would keep them). Finish that work "
                "before continue_as_new.",
                instance.instance_id, ", ".join(outbox.dropped_with_continue_as_new),
            )
        for activity in outbox.activities:
            self._dispatcher.queue_activity(activity)
        for entry in outbox.timers:
            self.push_timer(entry)
        for child in outbox.children:
            self.start_child(instance, child, now)
        for message in outbox.messages:
            self.deliver_to(message.instance_id, message.execution_id, message.event)
        for termination in outbox.terminations:
            self.terminate(termination.instance_id, termination.reason, termination.recurse)
        for entity_message in outbox.entity_messages:
            fire_at = entity_message.fire_at
            if fire_at is not None and fire_at > now:
                self.push_timer(TimerEntry("entity", fire_at, entity_message.target, "", event=entity_message.event))
            else:
                self.send_to_entity(entity_message.target, entity_message.event)
        for rewind in outbox.rewinds:
            self.rewind_child(instance, rewind, now)
        if instance.is_terminal:
            self.release_locks_of(instance.instance_id)
            instance.compact_history()
        else:
            self.make_ready(instance)
        self._waiters.notify_progress(instance.instance_id, instance.is_terminal)

    def start_child(self, parent: Instance, child: ChildStart, now: datetime) -> None:
        """Create a sub-orchestration, replacing a FAILED instance of its id (as durabletask-go does), or with
        ``child_id_reuse="ended"`` (the Dapr dialect) any instance of its id that has ended.

        With Dapr's rule a live instance of that id that the same parent id started from the same task id (a
        later generation or a retried parent asking again) is taken for that creation: it is kept, and its end is
        reported to this parent's execution, as Dapr's workflow engine ignores a duplicate creation.

        Any other instance of that id is left alone and the parent's task fails at once with
        :data:`SUB_ORCHESTRATION_ID_IN_USE` details saying why (durabletask-go would fail the parent's work item
        and retry it forever; docs/fidelity.md, "Deliberate differences")."""
        task_id = child.parent.taskScheduledId
        existing = self._store.get(child.instance_id)
        if existing is not None and self._same_creation_again(existing, child):
            existing.reparent(child.parent)
            parent.adopt(child.instance_id)
            return
        if existing is not None and not self._replaceable(existing):
            failure = events.failure(
                SUB_ORCHESTRATION_ID_IN_USE, _id_in_use_message(parent, child, existing, self.child_id_reuse),
                non_retriable=True,
            )
            self.deliver(parent, events.sub_orchestration_failed(now, task_id, failure))
            return
        parent.adopt(child.instance_id)
        instance = self.new_instance(
            child.instance_id,
            child.name,
            child.version,
            child.input,
            child.tags,
            parent=child.parent,
            fault_key=f"{parent.execution_key}>{task_id}",
        )
        self.add_instance(instance, None, child.trace_context)

    def _same_creation_again(self, existing: Instance, child: ChildStart) -> bool:
        if self.child_id_reuse != "ended" or existing.is_terminal or existing.parent is None:
            return False
        return bool(existing.parent_instance_id == child.parent.orchestrationInstance.instanceId
                    and existing.parent.taskScheduledId == child.parent.taskScheduledId)

    def _replaceable(self, existing: Instance) -> bool:
        if self.child_id_reuse == "ended":
            return existing.is_terminal
        return existing.status == pb.ORCHESTRATION_STATUS_FAILED

    # -- rewind ------------------------------------------------------------------------------------

    def rewind(self, instance: Instance, reason: str | None, parent_execution_id: str | None = None) -> None:
        """Make a FAILED instance run again: the worker receives ExecutionRewound and answers with the rewritten
        history (a rewindOrchestration action)."""
        now = self.clock.now()
        instance.rewind(events.execution_rewound(now, reason, parent_execution_id), now)
        self.make_ready(instance)
        self._waiters.notify_instance(instance.instance_id)

    def rewind_child(self, parent: Instance, rewind: ChildRewind, now: datetime) -> None:
        """A rewound parent still waits for this child: rewind it if it failed, start it again if it is gone, and
        make its end reach the parent's new execution."""
        start = rewind.start
        child = self._store.get(start.instance_id)
        if child is None:
            self.start_child(parent, start, now)
            return
        if child.parent_instance_id != parent.instance_id:
            return  # that id now names an instance this parent did not start (purged and reused): leave it alone
        child.reparent(start.parent)
        parent.adopt(child.instance_id)
        if child.status == pb.ORCHESTRATION_STATUS_FAILED:
            self.rewind(child, rewind.reason, parent.execution_id)
        elif child.is_terminal:  # ended otherwise: tell the parent again
            notice = parent_notice(child, now)
            if notice is not None:
                self.deliver_to(notice.instance_id, notice.execution_id, notice.event)

    # -- entities ----------------------------------------------------------------------------------

    def send_to_entity(self, entity_id: str, event: pb.HistoryEvent) -> None:
        """Deliver an operation, lock request or lock release to an entity (created on its first message)."""
        entity = self._entities.get_or_create(entity_id, self.clock.now())
        if event.HasField("entityUnlockSent"):
            entity.release_lock(event.entityUnlockSent.criticalSectionId)
        else:
            entity.enqueue(event)
        self.pump_entity(entity)

    def pump_entity(self, entity: Entity) -> None:
        """Grant what the entity can grant now, queue a batch if one may run, forget it when nothing is left.

        A granted lock request is forwarded to the next entity of its lock set, which is pumped in turn: in a
        loop, not by recursion, so a lock set of any size is acquired."""
        pending = [entity]
        while pending:
            current = pending.pop()
            while True:
                granted_event = current.grant_front_lock()
                if granted_event is None:
                    break
                granted = granted_event.entityLockRequested
                owner = self._store.get(current.lock_owner or "")
                if owner is None or owner.is_terminal:  # the orchestration that asked is gone: skip its request
                    current.release_lock(granted.criticalSectionId)
                    continue
                if granted.position + 1 < len(granted.lockSet):
                    # the same event moves on (copying a lock set at every step would cost its size squared)
                    granted.position += 1
                    granted_event.timestamp.CopyFrom(timestamp(self.clock.now()))
                    following = self._entities.get_or_create(granted.lockSet[granted.position], self.clock.now())
                    following.enqueue(granted_event)
                    pending.append(following)
                else:
                    self.deliver(owner, events.entity_lock_granted(self.clock.now(), granted.criticalSectionId))
            self._dispatcher.make_entity_ready(current, self.clock.monotonic())
            self._entities.forget_if_idle(current)

    def release_locks_of(self, instance_id: str, *, forget_requests: bool = False) -> None:
        """An orchestration ended: release every entity lock it still holds. With ``forget_requests`` (it was
        replaced or purged, so a new instance may take its id) its queued lock requests are dropped too, or the
        next instance of that id would be granted locks it never asked for."""
        for entity in self._entities:
            changed = forget_requests and entity.drop_lock_requests_of(instance_id) > 0
            if entity.lock_owner == instance_id and entity.locked_by is not None:
                changed = entity.release_lock(entity.locked_by) or changed
            if changed:
                self.pump_entity(entity)

    def settle_entity(self, entity: Entity, outbox: EntityOutbox, now: datetime) -> None:
        """After a batch was applied: answer the callers, send the signals, start the orchestrations."""
        for reply in outbox.replies:
            self.deliver_to(reply.instance_id, None, reply.event)
        for signal in outbox.signals:
            if signal.fire_at is not None and signal.fire_at > now:
                self.push_timer(TimerEntry("entity", signal.fire_at, signal.target, "", event=signal.event))
            else:
                self.send_to_entity(signal.target, signal.event)
        for start in outbox.starts:
            instance_id = start.instanceId if start.instanceId.strip() else uuid.uuid4().hex  # blank: generated
            existing = self._store.get(instance_id)
            if existing is not None and not existing.is_terminal:
                continue  # a live instance of that id exists: the start is dropped, as a duplicate start would be
            version = start.version.value if start.HasField("version") else None
            input_value = start.input.value if start.HasField("input") else None
            key = f"{entity.entity_id}>{instance_id}"
            instance = self.new_instance(instance_id, start.name, version, input_value, {}, fault_key=key)
            scheduled = None
            if start.HasField("scheduledTime"):
                scheduled = to_datetime(start.scheduledTime, "startNewOrchestration.scheduledTime")
            self.add_instance(instance, scheduled, optional_field(start, "parentTraceContext"))
        self.pump_entity(entity)

    @property
    def request_ids(self) -> Iterator[str]:
        """Request ids for the signals entities send each other."""
        return self._request_ids

    def terminate(self, instance_id: str, reason: str | None, recurse: bool) -> None:
        """Deliver ExecutionTerminated to an instance and, when ``recurse``, to its live descendants through the
        children each current execution created (depth first, children in id order; iterative, so any depth works).

        An instance that has already ended is not changed, but a recursive terminate still goes on to its children,
        as on durabletask-go, whose sidecar sends the termination on when it drops the event."""
        pending = [instance_id]
        visited: set[str] = set()
        while pending:
            current_id = pending.pop()
            instance = self._store.get(current_id)
            if instance is None or current_id in visited:
                continue
            visited.add(current_id)
            if not instance.is_terminal:
                self.deliver(instance, events.execution_terminated(self.clock.now(), reason, recurse))
                if instance.waiting_for_start_time:
                    instance.start_time_reached()
                    self.make_ready(instance)
            if recurse:
                pending.extend(sorted(instance.children, reverse=True))

    def tree(self, root: Instance) -> list[Instance]:
        """``root`` and every existing instance reached from it through the children each current execution created
        (depth first, children in id order; iterative, so any depth works). Children already purged are skipped."""
        found: list[Instance] = []
        pending = [root]
        visited: set[str] = set()
        while pending:
            instance = pending.pop()
            if instance.instance_id in visited:
                continue
            visited.add(instance.instance_id)
            found.append(instance)
            children = (self._store.get(child_id) for child_id in sorted(instance.children, reverse=True))
            pending.extend(child for child in children if child is not None)
        return found

    def delete(self, instances: list[Instance]) -> int:
        """Delete these instances (the caller checked they have ended); returns how many were still stored."""
        count = 0
        for instance in instances:
            if self._store.remove(instance):
                if instance.in_flight is not None:
                    self._dispatcher.release(instance.in_flight)
                self.release_locks_of(instance.instance_id, forget_requests=True)
                self._waiters.notify_instance(instance.instance_id)
                count += 1
        return count

    def fail_undeliverable(self, instance: Instance, item: WorkItem, reason: str) -> None:
        now = self.clock.now()
        if isinstance(item, ActivityWorkItem):
            failure = events.failure(
                "WorkItemEncodingError", f"the fake sidecar could not encode the activity: {reason}"
            )
            self.deliver(instance, events.task_failed(now, item.task_id, failure))
            return
        assert isinstance(item, OrchestratorWorkItem)
        failure = events.failure(
            "WorkItemEncodingError", f"the fake sidecar could not encode this orchestration's work item: {reason}"
        )
        instance.fail_work_item(item, events.execution_completed(now, pb.ORCHESTRATION_STATUS_FAILED, failure), now)
        notice = parent_notice(instance, now)
        self.settle(instance, Outbox(messages=[notice] if notice is not None else []), now)


def _id_in_use_message(parent: Instance, child: ChildStart, existing: Instance, reuse: ChildIdReuse) -> str:
    """Why a sub-orchestration was not created: the id, who holds it, what the real sidecar would do, the fix."""
    if existing is parent:
        holder = "this orchestration itself"
    elif existing.parent_instance_id == parent.instance_id:
        holder = "a sub-orchestration that this orchestration (instance id) created before"
    elif existing.parent_instance_id:
        holder = f"a sub-orchestration of '{existing.parent_instance_id}'"
    else:
        holder = "another instance"
    if reuse == "ended":
        rule = "The fake replaces only an instance that has ended here, as Dapr's workflow engine does (it refuses "
        rule += "to recreate an active workflow)."
    else:
        rule = (
            "The fake replaces only a FAILED instance, as durabletask-go does; durabletask-go would fail the whole "
            f'work item of \'{parent.instance_id}\' ("orchestration instance already exists") and retry it every '
            "few seconds forever, so this orchestration would hang there."
        )
    return (
        f"cannot create sub-orchestration '{child.name}' with instance id '{child.instance_id}': that id is already "
        f"used by {holder} ('{existing.name}', {status_name(existing.status)}). {rule} Give each sub-orchestration "
        "a distinct instance id (for example include the continue-as-new generation in it, or use ctx.new_uuid(), "
        "which differs between generations and retry attempts and is the same on every replay)."
    )
