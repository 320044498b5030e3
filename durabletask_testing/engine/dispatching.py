"""Handing work items to worker streams and taking them back (tokens, re-dispatch, back-off)."""

from __future__ import annotations

import time

from ..errors import EngineError, invalid, not_found, precondition
from . import events
from .base import WorkItem
from .lifecycle import Lifecycle
from .state import ActivityWorkItem, Connection, Instance, OrchestratorWorkItem, status_name


class Dispatching(Lifecycle):
    """Handing work items to worker streams and taking them back (tokens, re-dispatch, back-off)."""

    def _dispatch(self, connection: Connection) -> WorkItem | None:
        """The stream's next work item, queued activities first: the results of a fan-out then reach their
        orchestration in fewer orchestrator work items, each of which the worker answers with a full replay."""
        return self._dispatch_activity_to(connection) or self._dispatch_orchestrator_to(connection)

    def _dispatch_orchestrator_to(self, connection: Connection) -> OrchestratorWorkItem | None:
        if connection.can_take_orchestrator():
            for _ in range(len(self._ready)):
                instance_id = self._ready.popleft()
                instance = self._instances.get(instance_id)
                if instance is None or instance.in_flight is not None or not instance.inbox:
                    self._queued.discard(instance_id)
                    continue
                if not connection.wants_orchestration(instance.name) or self._another_stream_preferred(
                    instance, connection
                ):
                    self._ready.append(instance_id)
                    continue
                self._queued.discard(instance_id)
                return self._dispatch_orchestrator(instance, connection)
        return None

    def _dispatch_activity_to(self, connection: Connection) -> ActivityWorkItem | None:
        if connection.can_take_activity():
            for _ in range(len(self._activities)):
                activity = self._activities.popleft()
                instance = self._instances.get(activity.instance_id)
                if instance is None or instance.is_terminal or instance.execution_id != activity.execution_id:
                    continue  # its orchestration ended or moved on: nobody needs the result
                if not connection.wants_activity(activity.name):
                    self._activities.append(activity)
                    continue
                now = self.clock.now()
                attempt = activity.attempt
                activity.attempt += 1
                failure = self.faults.activity_dispatch_fault(
                    activity.instance_id, activity.task_id, activity.name, attempt, now
                )
                if failure is not None:
                    self._deliver(instance, events.task_failed(now, activity.task_id, failure))
                    continue
                return self._dispatch_activity(activity, connection)
        return None

    def _another_stream_preferred(self, instance: Instance, connection: Connection) -> bool:
        """True when ``connection`` abandoned the instance's last work item (e.g. a worker of another version
        rejected it) and another open stream that takes this orchestration has a free slot now."""
        if instance.abandoned_by != connection.connection_id:
            return False
        return any(
            other is not connection
            and not other.closed
            and other.wants_orchestration(instance.name)
            and other.can_take_orchestrator()
            for other in self._connections.values()
        )

    def _next_token(self, prefix: str) -> str:
        self._token_counter += 1
        return f"{prefix}{self._token_counter}"

    def _dispatch_orchestrator(self, instance: Instance, connection: Connection) -> OrchestratorWorkItem:
        new_events = [events.orchestrator_started(self.clock.now())]
        new_events.extend(instance.inbox)
        instance.inbox = []
        item = OrchestratorWorkItem(
            token=self._next_token("o"),
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            new_events=new_events,
            past_events=list(instance.history),
            attempt=instance.dispatch_count,
            connection=connection,
        )
        instance.dispatch_count += 1
        instance.in_flight = item
        self._orchestrators_in_flight[item.token] = item
        connection.tokens.add(item.token)
        connection.orchestrators_in_flight += 1
        return item

    def _dispatch_activity(self, activity: ActivityWorkItem, connection: Connection) -> ActivityWorkItem:
        activity.token = self._next_token("a")
        activity.connection = connection
        self._activities_in_flight[activity.token] = activity
        self._activity_by_task[(activity.instance_id, activity.task_id)] = activity
        connection.tokens.add(activity.token)
        connection.activities_in_flight += 1
        return activity

    def _return_to_queue(self, item: WorkItem, backoff: float) -> None:
        """Undo a dispatch: the same events / activity are handed out again (after ``backoff`` seconds)."""
        self._release(item)
        if isinstance(item, OrchestratorWorkItem):
            instance = self._instances.get(item.instance_id)
            if instance is None or instance.in_flight is not item:
                return
            instance.in_flight = None
            instance.inbox = item.new_events[1:] + instance.inbox
            if backoff > 0:
                instance.held_until = time.monotonic() + backoff
            self._make_ready(instance)
        else:
            item.token = ""
            if backoff > 0:
                self._hold(time.monotonic() + backoff, item)
            else:
                self._activities.appendleft(item)
                self._work_added = True

    def _find_orchestrator_item(self, token: str, instance_id: str) -> OrchestratorWorkItem:
        if token:
            item = self._orchestrators_in_flight.get(token)
            if item is None:
                raise self._bad_token(token, "o", "orchestrator")
            return item
        if not instance_id:
            raise invalid("completionToken is empty and no instanceId was given to identify the work item")
        instance = self._require_instance(instance_id)
        if instance.in_flight is None:
            state = f"it has ended ({status_name(instance.status)})" if instance.is_terminal else "none was dispatched"
            raise precondition(f"no orchestrator work item for instance '{instance_id}' is in flight: {state}")
        return instance.in_flight

    def _find_activity_item(self, token: str, instance_id: str, task_id: int | None) -> ActivityWorkItem:
        if token:
            item = self._activities_in_flight.get(token)
            if item is None:
                raise self._bad_token(token, "a", "activity")
            return item
        if not instance_id:
            raise invalid("completionToken is empty and no instanceId was given to identify the work item")
        found = self._activity_by_task.get((instance_id, task_id if task_id is not None else -1))
        if found is None:
            raise precondition(f"no activity work item for instance '{instance_id}' task {task_id} is in flight")
        return found

    def _bad_token(self, token: str, prefix: str, kind: str) -> EngineError:
        other = "activity" if prefix == "o" else "orchestrator"
        if token[:1] in ("o", "a") and token[1:].isdigit():
            if token[0] != prefix:
                return invalid(f"completion token '{token}' belongs to an {other} work item, not an {kind} work item")
            if int(token[1:]) <= self._token_counter:
                return precondition(
                    f"completion token '{token}' was already used or is no longer valid "
                    f"(the {kind} work item was completed, abandoned or dispatched again)"
                )
        return not_found(f"completion token '{token}' is unknown to this fake sidecar")
