"""Constructors for the protocol history events the fake writes (all timestamps come from the caller)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import wrappers_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..vocabulary import string_value, timestamp
from .state import Instance


def execution_started(
    when: datetime,
    instance: Instance,
    *,
    scheduled_start: datetime | None = None,
    trace_context: pb.TraceContext | None = None,
) -> pb.HistoryEvent:
    """The ExecutionStarted event that opens the current execution of ``instance``."""
    started = pb.ExecutionStartedEvent(
        name=instance.name,
        version=string_value(instance.version),
        input=string_value(instance.input),
        orchestrationInstance=pb.OrchestrationInstance(
            instanceId=instance.instance_id, executionId=string_value(instance.execution_id)
        ),
        parentInstance=instance.parent,
        scheduledStartTimestamp=timestamp(scheduled_start) if scheduled_start is not None else None,
        parentTraceContext=trace_context,
        tags=instance.tags,
    )
    return pb.HistoryEvent(eventId=-1, timestamp=timestamp(when), executionStarted=started)


def orchestrator_started(when: datetime) -> pb.HistoryEvent:
    """Marks the start of one orchestrator work item; its timestamp is the orchestration's current time."""
    return pb.HistoryEvent(eventId=-1, timestamp=timestamp(when), orchestratorStarted=pb.OrchestratorStartedEvent())


def event_raised(when: datetime, name: str, input: str | None) -> pb.HistoryEvent:
    """An external event delivered to an instance."""
    return pb.HistoryEvent(
        eventId=-1, timestamp=timestamp(when), eventRaised=pb.EventRaisedEvent(name=name, input=string_value(input))
    )


def execution_terminated(when: datetime, output: str | None, recurse: bool) -> pb.HistoryEvent:
    """A request to terminate an instance."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        executionTerminated=pb.ExecutionTerminatedEvent(input=string_value(output), recurse=recurse),
    )


def execution_suspended(when: datetime, reason: str | None) -> pb.HistoryEvent:
    """A request to suspend an instance."""
    return pb.HistoryEvent(
        eventId=-1, timestamp=timestamp(when), executionSuspended=pb.ExecutionSuspendedEvent(input=string_value(reason))
    )


def execution_resumed(when: datetime, reason: str | None) -> pb.HistoryEvent:
    """A request to resume a suspended instance."""
    return pb.HistoryEvent(
        eventId=-1, timestamp=timestamp(when), executionResumed=pb.ExecutionResumedEvent(input=string_value(reason))
    )


def task_completed(when: datetime, task_id: int, result: wrappers_pb2.StringValue | None) -> pb.HistoryEvent:
    """An activity's successful result."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        taskCompleted=pb.TaskCompletedEvent(taskScheduledId=task_id, result=result),
    )


def task_failed(when: datetime, task_id: int, failure: pb.TaskFailureDetails) -> pb.HistoryEvent:
    """An activity's failure."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        taskFailed=pb.TaskFailedEvent(taskScheduledId=task_id, failureDetails=failure),
    )


def timer_fired(when: datetime, timer_id: int, fire_at: datetime) -> pb.HistoryEvent:
    """A durable timer reaching its fire time."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        timerFired=pb.TimerFiredEvent(fireAt=timestamp(fire_at), timerId=timer_id),
    )


def sub_orchestration_completed(when: datetime, task_id: int, result: str | None) -> pb.HistoryEvent:
    """A child orchestration's successful result, delivered to its parent."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        subOrchestrationInstanceCompleted=pb.SubOrchestrationInstanceCompletedEvent(
            taskScheduledId=task_id, result=string_value(result)
        ),
    )


def sub_orchestration_failed(when: datetime, task_id: int, failure: pb.TaskFailureDetails | None) -> pb.HistoryEvent:
    """A child orchestration's failure (or other end but completion), delivered to its parent."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        subOrchestrationInstanceFailed=pb.SubOrchestrationInstanceFailedEvent(
            taskScheduledId=task_id, failureDetails=failure
        ),
    )


def failure(error_type: str, message: str, *, non_retriable: bool = False) -> pb.TaskFailureDetails:
    """Failure details written by the fake itself."""
    return pb.TaskFailureDetails(errorType=error_type, errorMessage=message, isNonRetriable=non_retriable)


def execution_completed(when: datetime, status: int, failure: pb.TaskFailureDetails | None) -> pb.HistoryEvent:
    """The end of an execution written by the fake itself (e.g. when its work item could not be encoded)."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        executionCompleted=pb.ExecutionCompletedEvent(orchestrationStatus=status, failureDetails=failure),  # type: ignore[arg-type]
    )


def execution_rewound(when: datetime, reason: str | None, parent_execution_id: str | None) -> pb.HistoryEvent:
    """A request to rewind a failed instance (``parent_execution_id``: the rewound parent's new execution)."""
    rewound = pb.ExecutionRewoundEvent(reason=string_value(reason))
    if parent_execution_id is not None:
        rewound.parentExecutionId.value = parent_execution_id
    return pb.HistoryEvent(eventId=-1, timestamp=timestamp(when), executionRewound=rewound)


def entity_lock_granted(when: datetime, critical_section_id: str) -> pb.HistoryEvent:
    """Every entity of a critical section's lock set is locked for the orchestration."""
    return pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(when),
        entityLockGranted=pb.EntityLockGrantedEvent(criticalSectionId=critical_section_id),
    )
