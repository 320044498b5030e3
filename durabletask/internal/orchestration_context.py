"""The OrchestrationContext orchestrator functions receive: the public API, forwarded to the engine's state.

Everything that changes during replay lives in :class:`~durabletask.internal.execution.Execution`, which the
replay engine owns; this object only translates the user's calls (names, defaults, argument checks).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from durabletask import task
from durabletask.entities import EntityInstanceId, EntityLock
from durabletask.internal import serialization as ser
from durabletask.internal.execution import Execution


class RuntimeOrchestrationContext(task.OrchestrationContext):
    """OrchestrationContext implementation backed by one execution's engine state."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    @property
    def instance_id(self) -> str:
        return self._execution.instance_id

    @property
    def parent_instance_id(self) -> str | None:
        return self._execution.parent_instance_id

    @property
    def version(self) -> str | None:
        return self._execution.version

    @property
    def current_utc_datetime(self) -> datetime:
        return self._execution.current_utc_datetime

    @property
    def is_replaying(self) -> bool:
        return self._execution.is_replaying

    def set_custom_status(self, custom_status: Any) -> None:
        self._execution.set_custom_status(custom_status)

    def create_timer(self, fire_at: datetime | timedelta) -> task.TimerTask:
        return self._execution.create_timer(fire_at)

    def call_activity(self, activity: task.Activity[Any, Any] | str, *,
                      input: Any | None = None,
                      retry_policy: task.RetryPolicy | None = None,
                      tags: dict[str, str] | None = None,
                      return_type: type | None = None,
                      timeout: timedelta | None = None) -> task.CompletableTask[Any]:
        if isinstance(activity, str):
            name = activity
        else:
            name = task.get_name(activity)
            if return_type is None:
                return_type = ser.output_type_of(activity, self._execution.converter)
        return self._execution.call_activity(name, input, tags, retry_policy, return_type, timeout)

    def call_sub_orchestrator(self, orchestrator: task.Orchestrator[Any, Any] | str, *,
                              input: Any | None = None,
                              instance_id: str | None = None,
                              retry_policy: task.RetryPolicy | None = None,
                              version: str | None = None,
                              return_type: type | None = None,
                              timeout: timedelta | None = None) -> task.CompletableTask[Any]:
        name = orchestrator if isinstance(orchestrator, str) else task.get_name(orchestrator)
        return self._execution.call_sub_orchestrator(name, input, instance_id, version, retry_policy, return_type,
                                                     timeout)

    def wait_for_external_event(self, name: str, *, data_type: type | None = None) -> task.CancellableTask[Any]:
        return self._execution.wait_for_external_event(name, data_type)

    def send_event(self, instance_id: str, event_name: str, *, data: Any | None = None) -> None:
        if not instance_id or not instance_id.strip():
            raise ValueError("send_event(): instance_id cannot be empty")
        if not event_name or not event_name.strip():
            raise ValueError("send_event(): event_name cannot be empty")
        self._execution.send_event(instance_id, event_name, data)

    def call_entity(self, entity: EntityInstanceId, operation: str, input: Any = None, *,
                    return_type: type | None = None) -> task.CompletableTask[Any]:
        return self._execution.call_entity(entity, operation, input, return_type)

    def signal_entity(self, entity_id: EntityInstanceId, operation_name: str, input: Any = None,
                      signal_time: datetime | None = None) -> None:
        self._execution.signal_entity(entity_id, operation_name, input, signal_time)

    def lock_entities(self, entities: list[EntityInstanceId]) -> task.CompletableTask[EntityLock]:
        return self._execution.lock_entities(entities, self)

    def _exit_critical_section(self) -> None:
        """Release the locks of the critical section (called when the EntityLock's ``with`` block ends)."""
        self._execution.exit_critical_section()

    def continue_as_new(self, new_input: Any, *, save_events: bool = False, new_version: str | None = None) -> None:
        self._execution.continue_as_new(new_input, save_events, new_version)

    def new_uuid(self) -> str:
        return self._execution.new_uuid()
