"""Committing an orchestrator work item: its events, then each of its actions in order."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from . import events
from .dispatching import Dispatching
from .events import optional_field, optional_string
from .state import ActivityWorkItem, Instance, OrchestratorWorkItem, status_name
from .timers import TimerEntry
from .validation import to_datetime


class ActionApplier(Dispatching):
    """Committing an orchestrator work item: its events, then each of its actions in order."""

    def _commit(
        self,
        instance: Instance,
        item: OrchestratorWorkItem,
        response: pb.OrchestratorResponse,
        custom_status: str | None,
        now: datetime,
    ) -> None:
        instance.history.extend(item.new_events)
        if instance.status == pb.ORCHESTRATION_STATUS_PENDING:
            instance.status = pb.ORCHESTRATION_STATUS_RUNNING
        for event in item.new_events:
            if event.HasField("executionSuspended"):
                instance.status = pb.ORCHESTRATION_STATUS_SUSPENDED
            elif event.HasField("executionResumed") and instance.status == pb.ORCHESTRATION_STATUS_SUSPENDED:
                instance.status = pb.ORCHESTRATION_STATUS_RUNNING
        instance.custom_status = custom_status
        for action in response.actions:
            kind = action.WhichOneof("orchestratorActionType")
            if kind == "scheduleTask":
                self._apply_schedule_task(instance, action, now)
            elif kind == "createTimer":
                fire_at = to_datetime(action.createTimer.fireAt, "createTimer.fireAt")
                self._record(instance, action, now, timerCreated=pb.TimerCreatedEvent(fireAt=action.createTimer.fireAt))
                self._push_timer(TimerEntry("timer", fire_at, instance.instance_id, instance.execution_id, action.id))
            elif kind == "createSubOrchestration":
                self._apply_sub_orchestration(instance, action, now)
            elif kind == "sendEvent":
                self._apply_send_event(instance, action, now)
            elif kind == "terminateOrchestration":
                target = action.terminateOrchestration
                self._terminate(target.instanceId, optional_string(target, "reason"), target.recurse)
            elif kind == "completeOrchestration":
                if action.completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
                    self._continue_as_new(instance, action.completeOrchestration, now)
                    break
                self._finish(instance, action, now)
        instance.last_updated_at = now
        if instance.is_terminal:
            instance.compact_history()
        else:
            self._make_ready(instance)
        self._notify_instance(instance.instance_id)
        self._fire_due_timers(now)

    def _record(self, instance: Instance, action: pb.OrchestratorAction, now: datetime, **event: Any) -> None:
        """Append the history event that records an applied action (``event``: its one event-type field)."""
        instance.history.append(pb.HistoryEvent(eventId=action.id, timestamp=events.timestamp(now), **event))

    def _apply_schedule_task(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        task = action.scheduleTask
        trace = optional_field(task, "parentTraceContext")
        self._record(
            instance,
            action,
            now,
            taskScheduled=pb.TaskScheduledEvent(
                name=task.name,
                version=optional_field(task, "version"),
                input=optional_field(task, "input"),
                parentTraceContext=trace,
                tags=task.tags,
            ),
        )
        self._activities.append(
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
        self._work_added = True

    def _apply_sub_orchestration(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        sub = action.createSubOrchestration
        child_id = sub.instanceId or f"{instance.instance_id}:{action.id:04x}"
        trace = optional_field(sub, "parentTraceContext")
        self._record(
            instance,
            action,
            now,
            subOrchestrationInstanceCreated=pb.SubOrchestrationInstanceCreatedEvent(
                instanceId=child_id,
                name=sub.name,
                version=optional_field(sub, "version"),
                input=optional_field(sub, "input"),
                parentTraceContext=trace,
                tags=sub.tags,
            ),
        )
        existing = self._instances.get(child_id)
        if existing is not None and not existing.is_terminal:
            failure = events.failure(
                "OrchestrationAlreadyExistsError",
                f"cannot start sub-orchestration '{child_id}': an instance with that id already exists "
                f"(status {status_name(existing.status)})",
            )
            self._deliver(instance, events.sub_orchestration_failed(now, action.id, failure))
            return
        parent = pb.ParentInstanceInfo(
            taskScheduledId=action.id,
            orchestrationInstance=pb.OrchestrationInstance(instanceId=instance.instance_id),
        )
        parent.name.value = instance.name
        if instance.version is not None:
            parent.version.value = instance.version
        parent.orchestrationInstance.executionId.value = instance.execution_id
        instance.children.add(child_id)
        self._create_instance(
            child_id,
            sub.name,
            optional_string(sub, "version"),
            optional_string(sub, "input"),
            tags=dict(sub.tags),
            parent=parent,
            trace_context=trace,
        )

    def _apply_send_event(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        send = action.sendEvent
        self._record(
            instance,
            action,
            now,
            eventSent=pb.EventSentEvent(
                instanceId=send.instance.instanceId, name=send.name, input=optional_field(send, "data")
            ),
        )
        target = self._instances.get(send.instance.instanceId)
        if target is not None:
            self._deliver(target, events.event_raised(now, send.name, optional_string(send, "data")))

    def _finish(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        complete = action.completeOrchestration
        failure = optional_field(complete, "failureDetails")
        self._record(
            instance,
            action,
            now,
            executionCompleted=pb.ExecutionCompletedEvent(
                orchestrationStatus=complete.orchestrationStatus,
                result=optional_field(complete, "result"),
                failureDetails=failure,
            ),
        )
        instance.status = complete.orchestrationStatus
        instance.output = optional_string(complete, "result")
        if failure is not None:
            instance.failure_details = pb.TaskFailureDetails()
            instance.failure_details.CopyFrom(failure)
        instance.completed_at = now
        instance.inbox = []
        self._notify_parent(instance, now)

    def _notify_parent(self, child: Instance, now: datetime) -> None:
        parent_info = child.parent
        if parent_info is None:
            return
        parent = self._instances.get(parent_info.orchestrationInstance.instanceId)
        if parent is None or parent.is_terminal:
            return
        parent_execution = optional_string(parent_info.orchestrationInstance, "executionId")
        if parent_execution and parent.execution_id != parent_execution:
            return
        task_id = parent_info.taskScheduledId
        if child.status == pb.ORCHESTRATION_STATUS_COMPLETED:
            event = events.sub_orchestration_completed(now, task_id, child.output)
        else:
            failure = child.failure_details or events.failure(
                "SubOrchestration" + status_name(child.status).title(),
                f"sub-orchestration '{child.instance_id}' ended with status {status_name(child.status)}",
            )
            event = events.sub_orchestration_failed(now, task_id, failure)
        self._deliver(parent, event)

    def _continue_as_new(self, instance: Instance, complete: pb.CompleteOrchestrationAction, now: datetime) -> None:
        instance.execution_id = uuid.uuid4().hex
        if complete.HasField("newVersion"):
            instance.version = complete.newVersion.value
        instance.input = optional_string(complete, "result")
        instance.output = None
        instance.failure_details = None
        instance.history = []
        instance.status = pb.ORCHESTRATION_STATUS_RUNNING
        instance.inbox = [events.execution_started(now, instance), *complete.carryoverEvents, *instance.inbox]
