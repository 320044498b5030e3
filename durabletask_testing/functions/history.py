"""The sidecar protocol's history, written as the Durable Functions host writes it for an out-of-process worker.

The Functions host hands an orchestrator function its history as Durable Task Framework history events: JSON
objects with an ``EventType`` number, ``EventId``, ``IsPlayed``, ``Timestamp`` and the fields of each kind in the
framework's own names (``TaskScheduledId``, ``TimerId``, ``Reason``/``Details`` of a failure ...). This module
turns protocol ``HistoryEvent`` messages into those objects. Entity messages, which the protocol keeps as events
of their own, are written the way the Durable extension records them: a request as ``EventSent`` whose input is
the request message, a response as ``EventRaised`` named by the request id.

Payload levels follow the extension: the protocol holds each payload as the JSON text the extension would store,
and ``Input``/``Result`` carry that text.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from google.protobuf import timestamp_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

# The Durable Task Framework's EventType numbers (public: DurableTask.Core.History.EventType).
EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_FAILED = 2
EXECUTION_TERMINATED = 3
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
TASK_FAILED = 6
SUB_ORCHESTRATION_CREATED = 7
SUB_ORCHESTRATION_COMPLETED = 8
SUB_ORCHESTRATION_FAILED = 9
TIMER_CREATED = 10
TIMER_FIRED = 11
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13
EVENT_SENT = 14
EVENT_RAISED = 15
CONTINUE_AS_NEW = 16
GENERIC_EVENT = 17
HISTORY_STATE = 18
EXECUTION_SUSPENDED = 19
EXECUTION_RESUMED = 20

# The event name the extension gives every entity request and release it sends.
ENTITY_REQUEST_EVENT = "op"
ENTITY_RELEASE_EVENT = "release"


def iso(stamp: timestamp_pb2.Timestamp) -> str:
    """A protobuf timestamp as ISO-8601 UTC text with a ``Z``, as the host writes event times."""
    moment = datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_datetime(stamp: timestamp_pb2.Timestamp) -> datetime:
    return datetime.fromtimestamp(stamp.seconds, tz=timezone.utc).replace(microsecond=stamp.nanos // 1000)


def _text(message: Any, field: str) -> str | None:
    return str(getattr(message, field).value) if message.HasField(field) else None


def failure_reason_and_details(details: pb.TaskFailureDetails) -> tuple[str, str]:
    """The framework's ``Reason`` (the error message) and ``Details`` (type and stack) of a protocol failure."""
    stack = details.stackTrace.value if details.HasField("stackTrace") else ""
    described = f"{details.errorType}: {details.errorMessage}" if details.errorType else details.errorMessage
    return details.errorMessage, (f"{described}\n{stack}".rstrip() if stack else described)


def entity_response_json(output: str | None, failure: pb.TaskFailureDetails | None) -> str:
    """The extension's response message to an entity call: ``result`` (JSON text), ``exceptionType`` on failure."""
    if failure is not None:
        body: dict[str, Any] = {"result": json.dumps(failure.errorMessage), "exceptionType": failure.errorType or
                                "Exception"}
    else:
        body = {"result": output if output is not None else "null"}
    return json.dumps(body)


def entity_request_json(request_id: str, operation: str, input_text: str | None, parent: str | None,
                        is_signal: bool) -> str:
    """The extension's request message to an entity (id, operation, signal flag, input, parent)."""
    body: dict[str, Any] = {"id": request_id, "op": operation, "signal": is_signal}
    if input_text is not None:
        body["input"] = input_text
    if parent is not None:
        body["parent"] = parent
    return json.dumps(body)


def df_event(event: pb.HistoryEvent, played: bool) -> dict[str, Any] | None:
    """One protocol event as the host's JSON history event, or None for a kind the host does not show."""
    kind = event.WhichOneof("eventType")
    base: dict[str, Any] = {"EventId": event.eventId, "IsPlayed": played, "Timestamp": iso(event.timestamp)}
    if kind == "executionStarted":
        started = event.executionStarted
        base.update(EventType=EXECUTION_STARTED, Name=started.name, Input=_text(started, "input"),
                    Version=_text(started, "version") or "",
                    OrchestrationInstance={"InstanceId": started.orchestrationInstance.instanceId,
                                           "ExecutionId": _text(started.orchestrationInstance, "executionId")})
        if started.HasField("parentInstance"):
            parent = started.parentInstance
            base["ParentInstance"] = {"Name": _text(parent, "name"), "TaskScheduleId": parent.taskScheduledId,
                                      "OrchestrationInstance": {
                                          "InstanceId": parent.orchestrationInstance.instanceId,
                                          "ExecutionId": _text(parent.orchestrationInstance, "executionId")}}
        return base
    if kind == "executionCompleted":
        completed = event.executionCompleted
        base.update(EventType=EXECUTION_COMPLETED, OrchestrationStatus=int(completed.orchestrationStatus),
                    Result=_text(completed, "result"))
        return base
    if kind == "executionTerminated":
        base.update(EventType=EXECUTION_TERMINATED, Input=_text(event.executionTerminated, "input"))
        return base
    if kind == "taskScheduled":
        base.update(EventType=TASK_SCHEDULED, Name=event.taskScheduled.name,
                    Input=_text(event.taskScheduled, "input"), Version=_text(event.taskScheduled, "version"))
        return base
    if kind == "taskCompleted":
        base.update(EventType=TASK_COMPLETED, TaskScheduledId=event.taskCompleted.taskScheduledId,
                    Result=_text(event.taskCompleted, "result"))
        return base
    if kind == "taskFailed":
        reason, details = failure_reason_and_details(event.taskFailed.failureDetails)
        base.update(EventType=TASK_FAILED, TaskScheduledId=event.taskFailed.taskScheduledId, Reason=reason,
                    Details=details)
        return base
    if kind == "subOrchestrationInstanceCreated":
        created = event.subOrchestrationInstanceCreated
        base.update(EventType=SUB_ORCHESTRATION_CREATED, Name=created.name, InstanceId=created.instanceId,
                    Input=_text(created, "input"), Version=_text(created, "version"))
        return base
    if kind == "subOrchestrationInstanceCompleted":
        done = event.subOrchestrationInstanceCompleted
        base.update(EventType=SUB_ORCHESTRATION_COMPLETED, TaskScheduledId=done.taskScheduledId,
                    Result=_text(done, "result"))
        return base
    if kind == "subOrchestrationInstanceFailed":
        failed = event.subOrchestrationInstanceFailed
        reason, details = failure_reason_and_details(failed.failureDetails)
        base.update(EventType=SUB_ORCHESTRATION_FAILED, TaskScheduledId=failed.taskScheduledId, Reason=reason,
                    Details=details)
        return base
    if kind == "timerCreated":
        base.update(EventType=TIMER_CREATED, FireAt=iso(event.timerCreated.fireAt))
        return base
    if kind == "timerFired":
        base.update(EventType=TIMER_FIRED, TimerId=event.timerFired.timerId, FireAt=iso(event.timerFired.fireAt))
        return base
    if kind == "orchestratorStarted":
        base.update(EventType=ORCHESTRATOR_STARTED)
        return base
    if kind == "orchestratorCompleted":
        base.update(EventType=ORCHESTRATOR_COMPLETED)
        return base
    if kind == "eventSent":
        base.update(EventType=EVENT_SENT, InstanceId=event.eventSent.instanceId, Name=event.eventSent.name,
                    Input=_text(event.eventSent, "input"))
        return base
    if kind == "eventRaised":
        base.update(EventType=EVENT_RAISED, Name=event.eventRaised.name, Input=_text(event.eventRaised, "input"))
        return base
    if kind == "genericEvent":
        base.update(EventType=GENERIC_EVENT, Data=_text(event.genericEvent, "data"))
        return base
    if kind == "executionSuspended":
        base.update(EventType=EXECUTION_SUSPENDED, Reason=_text(event.executionSuspended, "input"))
        return base
    if kind == "executionResumed":
        base.update(EventType=EXECUTION_RESUMED, Reason=_text(event.executionResumed, "input"))
        return base
    if kind == "entityOperationCalled":
        called = event.entityOperationCalled
        base.update(EventType=EVENT_SENT, InstanceId=_text(called, "targetInstanceId"), Name=ENTITY_REQUEST_EVENT,
                    Input=entity_request_json(called.requestId, called.operation, _text(called, "input"),
                                              _text(called, "parentInstanceId"), is_signal=False))
        return base
    if kind == "entityOperationSignaled":
        signaled = event.entityOperationSignaled
        base.update(EventType=EVENT_SENT, InstanceId=_text(signaled, "targetInstanceId"),
                    Name=ENTITY_REQUEST_EVENT,
                    Input=entity_request_json(signaled.requestId, signaled.operation, _text(signaled, "input"),
                                              None, is_signal=True))
        return base
    if kind == "entityOperationCompleted":
        done_op = event.entityOperationCompleted
        base.update(EventType=EVENT_RAISED, Name=done_op.requestId,
                    Input=entity_response_json(_text(done_op, "output"), None))
        return base
    if kind == "entityOperationFailed":
        failed_op = event.entityOperationFailed
        base.update(EventType=EVENT_RAISED, Name=failed_op.requestId,
                    Input=entity_response_json(None, failed_op.failureDetails))
        return base
    if kind == "entityLockRequested":
        base.update(EventType=EVENT_SENT, Name=ENTITY_REQUEST_EVENT, InstanceId=None,
                    Input=json.dumps({"id": event.entityLockRequested.criticalSectionId,
                                      "lockset": list(event.entityLockRequested.lockSet)}))
        return base
    if kind == "entityLockGranted":
        base.update(EventType=EVENT_RAISED, Name=event.entityLockGranted.criticalSectionId, Input=None)
        return base
    if kind == "entityUnlockSent":
        base.update(EventType=EVENT_SENT, Name=ENTITY_RELEASE_EVENT,
                    InstanceId=_text(event.entityUnlockSent, "targetInstanceId"), Input=None)
        return base
    return None  # continueAsNew, historyState, executionRewound: not part of an episode's history here


def df_history(past: list[pb.HistoryEvent], new: list[pb.HistoryEvent]) -> list[dict[str, Any]]:
    """Past events (played) then new ones, as the host's JSON history."""
    events: list[dict[str, Any]] = []
    for played, batch in ((True, past), (False, new)):
        for event in batch:
            converted = df_event(event, played)
            if converted is not None:
                events.append(converted)
    return events


def orchestration_context_json(instance_id: str, past: list[pb.HistoryEvent], new: list[pb.HistoryEvent],
                               schema: int, schema_new: int | None) -> str:
    """The JSON body an orchestrator function is called with: history, instance id, input, replay flag, schema."""
    started = next((e.executionStarted for e in (*past, *new) if e.HasField("executionStarted")), None)
    if started is None:
        raise ValueError(f"the history of {instance_id!r} has no ExecutionStarted event")
    input_value: Any = None
    if started.HasField("input"):
        input_value = json.loads(started.input.value)  # the extension hands the stored value, not its text
    parent = started.parentInstance.orchestrationInstance.instanceId if started.HasField("parentInstance") else None
    body: dict[str, Any] = {
        "history": df_history(past, new),
        "instanceId": instance_id,
        "isReplaying": bool(past),
        "parentInstanceId": parent,
        "input": input_value,
        "upperSchemaVersion": schema,
    }
    if schema_new is not None:
        body["upperSchemaVersionNew"] = schema_new
    return json.dumps(body)
