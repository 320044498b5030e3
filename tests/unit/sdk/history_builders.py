"""History-event builders for replay-engine unit tests (the SDK itself never builds these events)."""

from __future__ import annotations

from datetime import datetime, timezone

from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.helpers import (
    get_string_value,
    new_failure_details,
    new_timestamp,
)
from durabletask.internal.helpers import (
    new_event_raised_event as new_event_raised_event,  # re-exported: the SDK builds these too
)


def _event(timestamp: datetime | None = None, event_id: int = -1) -> pb.HistoryEvent:
    ts = new_timestamp(timestamp if timestamp is not None else datetime.now(timezone.utc))
    return pb.HistoryEvent(eventId=event_id, timestamp=ts)


def new_orchestrator_started_event(timestamp: datetime | None = None) -> pb.HistoryEvent:
    """OrchestratorStarted event stamped with ``timestamp`` (default: now)."""
    e = _event(timestamp)
    e.orchestratorStarted.SetInParent()
    return e


def new_execution_started_event(name: str, instance_id: str, encoded_input: str | None = None,
                                version: str | None = None, parent_instance_id: str | None = None,
                                tags: dict[str, str] | None = None,
                                timestamp: datetime | None = None) -> pb.HistoryEvent:
    """ExecutionStarted event for instance ``instance_id`` of orchestrator ``name``."""
    e = _event(timestamp)
    e.executionStarted.CopyFrom(pb.ExecutionStartedEvent(
        name=name, input=get_string_value(encoded_input), version=get_string_value(version), tags=tags,
        orchestrationInstance=pb.OrchestrationInstance(instanceId=instance_id)))
    if parent_instance_id is not None:
        e.executionStarted.parentInstance.orchestrationInstance.instanceId = parent_instance_id
    return e


def new_task_scheduled_event(event_id: int, name: str, encoded_input: str | None = None) -> pb.HistoryEvent:
    """TaskScheduled event for action ``event_id``."""
    e = _event(event_id=event_id)
    e.taskScheduled.CopyFrom(pb.TaskScheduledEvent(name=name, input=get_string_value(encoded_input)))
    return e


def new_task_completed_event(task_id: int, encoded_output: str | None = None) -> pb.HistoryEvent:
    """TaskCompleted event for the activity scheduled with id ``task_id``."""
    e = _event()
    e.taskCompleted.CopyFrom(pb.TaskCompletedEvent(taskScheduledId=task_id, result=get_string_value(encoded_output)))
    return e


def new_task_failed_event(task_id: int, ex: BaseException) -> pb.HistoryEvent:
    """TaskFailed event for the activity scheduled with id ``task_id``."""
    e = _event()
    e.taskFailed.CopyFrom(pb.TaskFailedEvent(taskScheduledId=task_id, failureDetails=new_failure_details(ex)))
    return e


def new_timer_created_event(timer_id: int, fire_at: datetime) -> pb.HistoryEvent:
    """TimerCreated event for action ``timer_id``."""
    e = _event(event_id=timer_id)
    e.timerCreated.fireAt.CopyFrom(new_timestamp(fire_at))
    return e


def new_timer_fired_event(timer_id: int, fire_at: datetime) -> pb.HistoryEvent:
    """TimerFired event for timer ``timer_id``."""
    e = _event()
    e.timerFired.CopyFrom(pb.TimerFiredEvent(fireAt=new_timestamp(fire_at), timerId=timer_id))
    return e


def new_sub_orchestration_created_event(event_id: int, name: str, instance_id: str,
                                        encoded_input: str | None = None,
                                        version: str | None = None) -> pb.HistoryEvent:
    """SubOrchestrationInstanceCreated event for action ``event_id``."""
    e = _event(event_id=event_id)
    e.subOrchestrationInstanceCreated.CopyFrom(pb.SubOrchestrationInstanceCreatedEvent(
        name=name, instanceId=instance_id, input=get_string_value(encoded_input), version=get_string_value(version)))
    return e


def new_sub_orchestration_completed_event(task_id: int, encoded_output: str | None = None) -> pb.HistoryEvent:
    """SubOrchestrationInstanceCompleted event for action ``task_id``."""
    e = _event()
    e.subOrchestrationInstanceCompleted.CopyFrom(pb.SubOrchestrationInstanceCompletedEvent(
        taskScheduledId=task_id, result=get_string_value(encoded_output)))
    return e


def new_sub_orchestration_failed_event(task_id: int, ex: BaseException) -> pb.HistoryEvent:
    """SubOrchestrationInstanceFailed event for action ``task_id``."""
    e = _event()
    e.subOrchestrationInstanceFailed.CopyFrom(pb.SubOrchestrationInstanceFailedEvent(
        taskScheduledId=task_id, failureDetails=new_failure_details(ex)))
    return e


def new_event_sent_event(event_id: int, instance_id: str, name: str, encoded_input: str | None = None
                         ) -> pb.HistoryEvent:
    """EventSent event for action ``event_id``."""
    e = _event(event_id=event_id)
    e.eventSent.CopyFrom(pb.EventSentEvent(instanceId=instance_id, name=name, input=get_string_value(encoded_input)))
    return e


def new_suspend_event() -> pb.HistoryEvent:
    """ExecutionSuspended event."""
    e = _event()
    e.executionSuspended.SetInParent()
    return e


def new_resume_event() -> pb.HistoryEvent:
    """ExecutionResumed event."""
    e = _event()
    e.executionResumed.SetInParent()
    return e


def new_terminated_event(encoded_output: str | None = None, recurse: bool = False) -> pb.HistoryEvent:
    """ExecutionTerminated event carrying the termination output."""
    e = _event()
    e.executionTerminated.CopyFrom(pb.ExecutionTerminatedEvent(input=get_string_value(encoded_output),
                                                               recurse=recurse))
    return e


def new_entity_message_event(event_id: int, message: pb.SendEntityMessageAction) -> pb.HistoryEvent:
    """The event a sidecar records for a ``sendEntityMessage`` action ``event_id`` (EntityOperationCalled,
    EntityOperationSignaled, EntityLockRequested or EntityUnlockSent, carrying the message itself)."""
    e = _event(event_id=event_id)
    kind = message.WhichOneof("EntityMessageType")
    assert kind is not None
    getattr(e, kind).CopyFrom(getattr(message, kind))
    return e


def new_entity_operation_called_event(event_id: int, request_id: str, entity_id: str, operation: str,
                                      parent_instance_id: str = "inst-1") -> pb.HistoryEvent:
    """EntityOperationCalled event for action ``event_id``."""
    e = _event(event_id=event_id)
    e.entityOperationCalled.CopyFrom(pb.EntityOperationCalledEvent(
        requestId=request_id, operation=operation, targetInstanceId=get_string_value(entity_id),
        parentInstanceId=get_string_value(parent_instance_id)))
    return e


def new_entity_operation_completed_event(request_id: str, encoded_output: str | None = None) -> pb.HistoryEvent:
    """EntityOperationCompleted event answering ``request_id``."""
    e = _event()
    e.entityOperationCompleted.CopyFrom(pb.EntityOperationCompletedEvent(
        requestId=request_id, output=get_string_value(encoded_output)))
    return e


def new_entity_operation_failed_event(request_id: str, ex: BaseException) -> pb.HistoryEvent:
    """EntityOperationFailed event answering ``request_id``."""
    e = _event()
    e.entityOperationFailed.CopyFrom(pb.EntityOperationFailedEvent(requestId=request_id,
                                                                   failureDetails=new_failure_details(ex)))
    return e


def new_entity_lock_granted_event(critical_section_id: str) -> pb.HistoryEvent:
    """EntityLockGranted event for a critical section."""
    e = _event()
    e.entityLockGranted.CopyFrom(pb.EntityLockGrantedEvent(criticalSectionId=critical_section_id))
    return e
