"""Applying an orchestrator's response to its instance: a function of the instance, the response and the time.

:func:`apply_response` changes only the instance it is given, through the instance's own methods, and returns
an :class:`Outbox` of what must happen elsewhere (activities to queue, timers to set, children to start or
rewind, events for other instances and for entities, terminations), which the router routes. It takes no lock,
reads no clock and touches no queue, so it is tested on its own. The response must have passed
:func:`~.validation.validate_response` first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from google.protobuf import message as protobuf_message

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..vocabulary import (
    default_child_instance_id,
    optional_field,
    optional_string,
    timestamp,
    to_datetime,
)
from . import events
from .state import ActivityWorkItem, Instance
from .timers import TimerEntry
from .validation import bounded_failure


@dataclass(frozen=True, slots=True)
class ChildStart:
    """A sub-orchestration to create (unless a live instance already has its id)."""

    instance_id: str
    name: str
    version: str | None
    input: str | None
    tags: dict[str, str]
    parent: pb.ParentInstanceInfo
    trace_context: pb.TraceContext | None


@dataclass(frozen=True, slots=True)
class Message:
    """An event for another instance (for one execution of it when ``execution_id`` is set)."""

    instance_id: str
    execution_id: str | None
    event: pb.HistoryEvent


@dataclass(frozen=True, slots=True)
class Termination:
    """A request to terminate an instance (and its descendants when ``recurse``)."""

    instance_id: str
    reason: str | None
    recurse: bool


@dataclass(frozen=True, slots=True)
class EntityMessage:
    """A message for an entity: an operation (signal or call), a lock request or a lock release; a signal with
    ``fire_at`` later than now waits for the clock."""

    target: str
    event: pb.HistoryEvent
    fire_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChildRewind:
    """A sub-orchestration a rewound parent still waits for: rewind it if it failed, start it again if it is gone."""

    start: ChildStart
    reason: str | None


@dataclass(slots=True)
class Outbox:
    """What applying a response asks of the rest of the engine, in the order the actions asked for it."""

    activities: list[ActivityWorkItem] = field(default_factory=list)
    timers: list[TimerEntry] = field(default_factory=list)
    children: list[ChildStart] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    terminations: list[Termination] = field(default_factory=list)
    rewinds: list[ChildRewind] = field(default_factory=list)
    entity_messages: list[EntityMessage] = field(default_factory=list)
    # The actions a continue-as-new dropped, one line each (for the router's warning).
    dropped_with_continue_as_new: list[str] = field(default_factory=list)

    def drop_for_continue_as_new(self) -> None:
        """Forget every routed action but entity messages (a lock held by the old generation is still released),
        as durabletask-go replaces the whole execution state when an action list reaches a continue-as-new."""
        for kind, items in (("activity", self.activities), ("timer", self.timers), ("sub-orchestration", self.children),
                            ("event or notice", self.messages), ("termination", self.terminations)):
            self.dropped_with_continue_as_new.extend(f"{kind} {_describe(item)}" for item in items)
            items.clear()


CustomStatusRule = Literal["kept", "last"]
"""What a response without a custom status does to the stored one: ``"kept"`` (durabletask-go: nothing; a custom
status sent with a continue-as-new is dropped) or ``"last"`` (Dapr: every response's value replaces it, none
clears it, and the value sent with a continue-as-new stays for the new generation until its first response)."""


def _describe(item: object) -> str:
    if isinstance(item, ActivityWorkItem):
        return f"'{item.name}' (task {item.task_id})"
    if isinstance(item, TimerEntry):
        return f"#{item.timer_id} firing at {item.fire_at.isoformat()}"
    if isinstance(item, ChildStart):
        return f"'{item.name}' as '{item.instance_id}'"
    if isinstance(item, Message):
        return f"{item.event.WhichOneof('eventType')} for '{item.instance_id}'"
    if isinstance(item, Termination):
        return f"of '{item.instance_id}'"
    return repr(item)


def _continues_as_new(response: pb.OrchestratorResponse) -> bool:
    """The first completeOrchestration action of ``response`` continues as new."""
    complete = next((a.completeOrchestration for a in response.actions if a.HasField("completeOrchestration")), None)
    return complete is not None and complete.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW


def _new_execution_id() -> str:
    return uuid.uuid4().hex


def apply_response(
    instance: Instance,
    new_events: Sequence[pb.HistoryEvent],
    response: pb.OrchestratorResponse,
    now: datetime,
    *,
    new_execution_id: Callable[[], str] = _new_execution_id,
    custom_status_rule: CustomStatusRule = "kept",
) -> Outbox:
    """Commit ``new_events`` to ``instance``'s history, then apply each action of ``response`` in order.

    A continue-as-new ends the list, as on durabletask-go: the actions after it are ignored, and the activities,
    timers, sub-orchestrations, events and terminations before it are dropped with the old execution (entity
    messages are kept), as is the response's custom status (the instance keeps the one it had). With
    ``custom_status_rule="last"`` (Dapr) the response's custom status, or its absence, always replaces the stored
    one."""
    outbox = Outbox()
    rewind = next((a for a in response.actions if a.HasField("rewindOrchestration")), None)
    if rewind is not None:
        _rewind(instance, rewind.rewindOrchestration, now, outbox)
        return outbox
    custom_status = optional_string(response, "customStatus")
    if custom_status_rule == "last":
        instance.commit(new_events, custom_status, replace_always=True)
    else:
        instance.commit(new_events, None if _continues_as_new(response) else custom_status)
    for action in response.actions:
        kind = action.WhichOneof("orchestratorActionType")
        if kind == "scheduleTask":
            _schedule_task(instance, action, now, outbox)
        elif kind == "createTimer":
            fire_at = to_datetime(action.createTimer.fireAt, "createTimer.fireAt")
            _record(instance, action, now, timerCreated=pb.TimerCreatedEvent(fireAt=action.createTimer.fireAt))
            outbox.timers.append(TimerEntry("timer", fire_at, instance.instance_id, instance.execution_id, action.id))
        elif kind == "createSubOrchestration":
            _create_sub_orchestration(instance, action, now, outbox)
        elif kind == "sendEvent":
            _send_event(instance, action, now, outbox)
        elif kind == "terminateOrchestration":
            target = action.terminateOrchestration
            outbox.terminations.append(
                Termination(target.instanceId, optional_string(target, "reason"), target.recurse)
            )
        elif kind == "sendEntityMessage":
            _send_entity_message(instance, action, now, outbox)
        elif kind == "completeOrchestration":
            complete = action.completeOrchestration
            if complete.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
                outbox.drop_for_continue_as_new()
                _continue_as_new(instance, complete, now, new_execution_id())
                break
            _finish(instance, action, now, outbox)
    instance.touch(now)
    return outbox


def _rewind(instance: Instance, action: pb.RewindOrchestrationAction, now: datetime, outbox: Outbox) -> None:
    """Replace the history with the worker's rewritten one (it already holds this work item's new events) and
    replay it; every sub-orchestration the history created and did not see complete is owed a rewind, if this
    instance started it (a history naming any other instance as its child changes nothing of that instance)."""
    history = [_copy(event) for event in action.newHistory]
    started = next(e.executionStarted for e in history if e.HasField("executionStarted"))
    execution_id = optional_string(started.orchestrationInstance, "executionId") or instance.execution_id
    instance.rewrite_history(history, execution_id, now)
    reason = None
    created: dict[int, pb.SubOrchestrationInstanceCreatedEvent] = {}
    for event in instance.history:
        if event.HasField("executionRewound"):
            reason = optional_string(event.executionRewound, "reason")
        elif event.HasField("subOrchestrationInstanceCreated"):
            if event.subOrchestrationInstanceCreated.instanceId in instance.children:
                created[event.eventId] = event.subOrchestrationInstanceCreated
        elif event.HasField("subOrchestrationInstanceCompleted"):
            created.pop(event.subOrchestrationInstanceCompleted.taskScheduledId, None)
    for task_id, sub in created.items():
        parent = _parent_info(instance, task_id)
        start = ChildStart(
            sub.instanceId,
            sub.name,
            optional_string(sub, "version"),
            optional_string(sub, "input"),
            dict(sub.tags),
            parent,
            optional_field(sub, "parentTraceContext"),
        )
        outbox.rewinds.append(ChildRewind(start, reason))


def _copy(event: pb.HistoryEvent) -> pb.HistoryEvent:
    copy = pb.HistoryEvent()
    copy.CopyFrom(event)
    return copy


def _parent_info(instance: Instance, task_id: int) -> pb.ParentInstanceInfo:
    """What a child created by ``instance``'s action ``task_id`` knows of its parent (the current execution)."""
    parent = pb.ParentInstanceInfo(
        taskScheduledId=task_id,
        orchestrationInstance=pb.OrchestrationInstance(instanceId=instance.instance_id),
    )
    parent.name.value = instance.name
    if instance.version is not None:
        parent.version.value = instance.version
    parent.orchestrationInstance.executionId.value = instance.execution_id
    return parent


def _present(message: protobuf_message.Message, *fields: str) -> dict[str, Any]:
    """The named message-typed fields of ``message`` that are set (to copy them as keyword arguments)."""
    return {name: getattr(message, name) for name in fields if message.HasField(name)}


def _record(instance: Instance, action: pb.OrchestratorAction, now: datetime, **event: Any) -> None:
    """Append the history event that records an applied action (``event``: its one event-type field)."""
    instance.record(pb.HistoryEvent(eventId=action.id, timestamp=timestamp(now), **event))


def _schedule_task(instance: Instance, action: pb.OrchestratorAction, now: datetime, outbox: Outbox) -> None:
    task = action.scheduleTask
    trace = optional_field(task, "parentTraceContext")
    scheduled = pb.TaskScheduledEvent(
        name=task.name, parentTraceContext=trace, tags=task.tags, **_present(task, "version", "input")
    )
    _record(instance, action, now, taskScheduled=scheduled)
    outbox.activities.append(
        ActivityWorkItem(
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            task_id=action.id,
            name=task.name,
            version=optional_string(task, "version"),
            input=optional_string(task, "input"),
            tags=dict(task.tags),
            trace_context=trace,
        )
    )


def _create_sub_orchestration(instance: Instance, action: pb.OrchestratorAction, now: datetime, outbox: Outbox) -> None:
    sub = action.createSubOrchestration
    child_id = sub.instanceId if sub.instanceId.strip() else default_child_instance_id(instance.instance_id, action.id)
    trace = optional_field(sub, "parentTraceContext")
    created = pb.SubOrchestrationInstanceCreatedEvent(
        instanceId=child_id, name=sub.name, parentTraceContext=trace, tags=sub.tags, **_present(sub, "version", "input")
    )
    _record(instance, action, now, subOrchestrationInstanceCreated=created)
    parent = _parent_info(instance, action.id)
    outbox.children.append(
        ChildStart(
            child_id,
            sub.name,
            optional_string(sub, "version"),
            optional_string(sub, "input"),
            dict(sub.tags),
            parent,
            trace,
        )
    )


def _send_event(instance: Instance, action: pb.OrchestratorAction, now: datetime, outbox: Outbox) -> None:
    send = action.sendEvent
    _record(
        instance,
        action,
        now,
        eventSent=pb.EventSentEvent(
            instanceId=send.instance.instanceId, name=send.name, input=optional_field(send, "data")
        ),
    )
    outbox.messages.append(
        Message(send.instance.instanceId, None, events.event_raised(now, send.name, optional_string(send, "data")))
    )


def _send_entity_message(instance: Instance, action: pb.OrchestratorAction, now: datetime, outbox: Outbox) -> None:
    """Record the message in history (eventId = action id) and send it to its entity: a signal or call to its
    target, a lock request to the entity at its position in the lock set, a release to its target."""
    message = action.sendEntityMessage
    kind = message.WhichOneof("EntityMessageType")
    assert kind is not None  # validated
    sent = pb.HistoryEvent()
    getattr(sent, kind).CopyFrom(getattr(message, kind))
    if kind == "entityOperationCalled" and not sent.entityOperationCalled.HasField("parentInstanceId"):
        sent.entityOperationCalled.parentInstanceId.value = instance.instance_id
    if kind == "entityLockRequested" and not sent.entityLockRequested.HasField("parentInstanceId"):
        sent.entityLockRequested.parentInstanceId.value = instance.instance_id
    recorded = pb.HistoryEvent()
    recorded.CopyFrom(sent)
    recorded.eventId = action.id
    recorded.timestamp.CopyFrom(timestamp(now))
    instance.record(recorded)
    sent.eventId = -1
    sent.timestamp.CopyFrom(timestamp(now))
    fire_at = None
    if kind == "entityOperationSignaled":
        target = sent.entityOperationSignaled.targetInstanceId.value
        if sent.entityOperationSignaled.HasField("scheduledTime"):
            fire_at = to_datetime(sent.entityOperationSignaled.scheduledTime, "scheduledTime")
    elif kind == "entityOperationCalled":
        target = sent.entityOperationCalled.targetInstanceId.value
    elif kind == "entityLockRequested":
        target = sent.entityLockRequested.lockSet[sent.entityLockRequested.position]
    else:
        target = sent.entityUnlockSent.targetInstanceId.value
    outbox.entity_messages.append(EntityMessage(target, sent, fire_at))


def _finish(instance: Instance, action: pb.OrchestratorAction, now: datetime, outbox: Outbox) -> None:
    complete = action.completeOrchestration
    failure = bounded_failure(complete.failureDetails) if complete.HasField("failureDetails") else None
    completed = pb.ExecutionCompletedEvent(
        orchestrationStatus=complete.orchestrationStatus, failureDetails=failure, **_present(complete, "result")
    )
    instance.finish(pb.HistoryEvent(eventId=action.id, timestamp=timestamp(now), executionCompleted=completed), now)
    notice = parent_notice(instance, now)
    if notice is not None:
        outbox.messages.append(notice)


def parent_notice(child: Instance, now: datetime) -> Message | None:
    """The SubOrchestrationInstanceCompleted/Failed event an ended child owes its parent, if it has one.

    Any end but COMPLETED is SubOrchestrationInstanceFailed with the child's failure details, none when it has
    none (a terminated child), as durabletask-go sends it."""
    info = child.parent
    if info is None:
        return None
    task_id = info.taskScheduledId
    if child.status == pb.ORCHESTRATION_STATUS_COMPLETED:
        event = events.sub_orchestration_completed(now, task_id, child.output)
    else:
        event = events.sub_orchestration_failed(now, task_id, child.failure_details)
    execution = optional_string(info.orchestrationInstance, "executionId") or None
    return Message(info.orchestrationInstance.instanceId, execution, event)


def _continue_as_new(
    instance: Instance, complete: pb.CompleteOrchestrationAction, now: datetime, execution_id: str
) -> None:
    new_version = complete.newVersion.value if complete.HasField("newVersion") else None
    instance.continue_as_new(execution_id, new_version, optional_string(complete, "result"))
    carried = []
    for event in complete.carryoverEvents:  # validated: external events only
        copy = pb.HistoryEvent()
        copy.CopyFrom(event)
        carried.append(copy)
    instance.push_front([events.execution_started(now, instance), *carried])
