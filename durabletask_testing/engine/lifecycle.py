"""Creating, terminating and deleting instances."""

from __future__ import annotations

import uuid
from datetime import datetime

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError, ErrorCode
from . import events
from .state import Instance, status_name
from .timekeeping import Timekeeping
from .timers import TimerEntry


class Lifecycle(Timekeeping):
    """Creating, terminating and deleting instances."""

    def _check_replaceable(self, existing: Instance, request: pb.CreateInstanceRequest) -> None:
        policy = events.optional_field(request, "orchestrationIdReusePolicy")
        replaceable = set(policy.replaceableStatus) if policy is not None else None
        if replaceable is not None and existing.status in replaceable:
            return
        if existing.is_terminal and replaceable is None:
            return
        raise EngineError(
            ErrorCode.ALREADY_EXISTS,
            f"an orchestration instance with id '{existing.instance_id}' already exists "
            f"(status {status_name(existing.status)})",
        )

    def _create_instance(
        self,
        instance_id: str,
        name: str,
        version: str | None,
        input_value: str | None,
        *,
        tags: dict[str, str],
        parent: pb.ParentInstanceInfo | None = None,
        scheduled_start: datetime | None = None,
        trace_context: pb.TraceContext | None = None,
        execution_id: str | None = None,
    ) -> Instance:
        now = self.clock.now()
        old = self._instances.pop(instance_id, None)
        if old is not None and old.in_flight is not None:
            self._release(old.in_flight)
        instance = Instance(
            instance_id=instance_id,
            name=name,
            version=version,
            execution_id=execution_id or uuid.uuid4().hex,
            input=input_value,
            created_at=now,
            last_updated_at=now,
            scheduled_start=scheduled_start,
            parent=parent,
            tags=tags,
        )
        instance.inbox.append(
            events.execution_started(now, instance, scheduled_start=scheduled_start, trace_context=trace_context)
        )
        self._instances[instance_id] = instance
        if scheduled_start is not None and scheduled_start > now:
            instance.waiting_for_start_time = True
            self._push_timer(TimerEntry("start", scheduled_start, instance_id, instance.execution_id))
        else:
            self._make_ready(instance)
        self._notify_instance(instance_id)
        return instance

    def _terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        instance = self._instances.get(instance_id)
        if instance is None or instance.is_terminal:
            return
        self._deliver(instance, events.execution_terminated(self.clock.now(), output, recursive))
        if instance.waiting_for_start_time:
            instance.waiting_for_start_time = False
            self._make_ready(instance)
        if recursive:
            for child_id in sorted(instance.children):
                self._terminate(child_id, output, True)

    def _delete(self, instance: Instance, recursive: bool) -> int:
        count = 0
        if recursive:
            for child_id in sorted(instance.children):
                child = self._instances.get(child_id)
                if child is not None and child.is_terminal:
                    count += self._delete(child, True)
        if self._instances.get(instance.instance_id) is instance:
            del self._instances[instance.instance_id]
            if instance.in_flight is not None:
                self._release(instance.in_flight)
            self._notify_instance(instance.instance_id)
            count += 1
        return count
