"""The Durable extension's rules for turning an out-of-process orchestrator's answer into sidecar actions.

An out-of-process orchestrator (the Durable Functions Python SDK) answers each episode with its whole action list
since the start, not with the new actions only. The extension then replays that list inside a Durable Task
Framework orchestration: it calls the framework's API once per action, in order, awaiting each action (schema V2
and V3) or each group of actions (schema V1) before the next, and the framework matches every call against the
history by a sequence number. Retries (a framework retry loop: attempt, back-off timer, attempt ...), timer
cancellation, external-event buffering, suspension and entity request ids all happen in that replay, not in the
SDK. The SDK mirrors those rules when it numbers its tasks, so the numbers agree.

This module is that replay, pure: :func:`replay_episode` takes the episode's protocol history and the SDK's JSON
answer and returns the new protocol actions (those the history does not confirm yet) and, when the replay runs to
its end, the completion. It runs the replay as coroutines on a tiny synchronous loop, so that a continuation runs
as soon as the event that completes its task is applied, as the framework's single-threaded scheduler does.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import timestamp_pb2, wrappers_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from .history import to_datetime

# Out-of-process action types (the extension's AsyncActionType numbers).
CALL_ACTIVITY = 0
CALL_ACTIVITY_WITH_RETRY = 1
CALL_SUB_ORCHESTRATOR = 2
CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
CONTINUE_AS_NEW = 4
CREATE_TIMER = 5
WAIT_FOR_EXTERNAL_EVENT = 6
CALL_ENTITY = 7
CALL_HTTP = 8
SIGNAL_ENTITY = 9
SCHEDULED_SIGNAL_ENTITY = 10
WHEN_ANY = 11
WHEN_ALL = 12

ACTION_TYPE_NAMES = {
    CALL_ACTIVITY: "CallActivity", CALL_ACTIVITY_WITH_RETRY: "CallActivityWithRetry",
    CALL_SUB_ORCHESTRATOR: "CallSubOrchestrator", CALL_SUB_ORCHESTRATOR_WITH_RETRY: "CallSubOrchestratorWithRetry",
    CONTINUE_AS_NEW: "ContinueAsNew", CREATE_TIMER: "CreateTimer", WAIT_FOR_EXTERNAL_EVENT: "WaitForExternalEvent",
    CALL_ENTITY: "CallEntity", CALL_HTTP: "CallHttp", SIGNAL_ENTITY: "SignalEntity",
    SCHEDULED_SIGNAL_ENTITY: "ScheduledSignalEntity", WHEN_ANY: "WhenAny", WHEN_ALL: "WhenAll",
}
# Schema versions of the out-of-process protocol (the extension's SchemaVersion numbers).
SCHEMA_V1 = 0
SCHEMA_V2 = 1
SCHEMA_V3 = 2
# The activity name under which the extension runs durable HTTP calls.
HTTP_ACTIVITY = "BuiltIn::HttpActivity"
# The framework's retry defaults for what the SDK leaves out.
DEFAULT_MAX_RETRY_INTERVAL = timedelta(days=6)
# Namespace of the deterministic entity request ids (any fixed UUID; the host uses one of its own).
REQUEST_ID_NAMESPACE = uuid.UUID("5d0f5a59-4f1e-4a34-9cf3-1c1f0b4f7d21")


class ReplayError(Exception):
    """The replay cannot go on: the orchestration fails with ``error_type`` and this message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class TaskFailure(Exception):
    """A scheduled call ended in failure (activity, sub-orchestration, entity): what the framework throws."""

    def __init__(self, details: pb.TaskFailureDetails) -> None:
        super().__init__(details.errorMessage)
        self.details = details


class TaskCancelled(Exception):
    """A timer whose cancellation token was cancelled."""


# -- a synchronous task loop ------------------------------------------------------------------------


class Task:
    """A framework task: pending until the history (or another task) completes it; continuations run at once."""

    __slots__ = ("done", "value", "error", "_callbacks")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self._callbacks: list[Callable[[Task], None]] = []

    def resolve(self, value: Any = None) -> None:
        self._finish(value, None)

    def reject(self, error: BaseException) -> None:
        self._finish(None, error)

    def _finish(self, value: Any, error: BaseException | None) -> None:
        if self.done:
            return
        self.done, self.value, self.error = True, value, error
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def then(self, callback: Callable[[Task], None]) -> None:
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def __await__(self) -> Generator[Task, None, Any]:
        if not self.done:
            yield self
        if self.error is not None:
            raise self.error
        return self.value


def spawn(coroutine: Coroutine[Task, None, Any]) -> Task:
    """Run ``coroutine`` until it awaits a pending task, resume it when that task completes; its own task."""
    outcome = Task()

    def step(_: Task | None = None) -> None:
        try:
            awaited = coroutine.send(None)
        except StopIteration as stop:
            outcome.resolve(stop.value)
            return
        except (TaskFailure, TaskCancelled, ReplayError) as error:
            outcome.reject(error)
            return
        awaited.then(step)

    step()
    return outcome


def when_all(tasks: list[Task]) -> Task:
    """Done when every task is done (.NET ``Task.WhenAll``): failed with the first failure, if any."""
    combined = Task()
    remaining = [len(tasks)]
    if not tasks:
        combined.resolve([])
        return combined

    def one_done(_: Task) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            failure = next((t.error for t in tasks if t.error is not None), None)
            if failure is not None:
                combined.reject(failure)
            else:
                combined.resolve([t.value for t in tasks])

    for task in tasks:
        task.then(one_done)
    return combined


def when_any(tasks: list[Task]) -> Task:
    """Done (successfully, with the winner) when the first task is done (.NET ``Task.WhenAny``)."""
    combined = Task()
    for task in tasks:
        task.then(lambda t: combined.resolve(t))
    return combined


# -- the replay -----------------------------------------------------------------------------------


@dataclass
class RetryOptions:
    """The framework's retry options, from the SDK's ``retryOptions`` JSON."""

    first_interval: timedelta
    max_attempts: int
    backoff: float = 1.0
    max_interval: timedelta = DEFAULT_MAX_RETRY_INTERVAL
    timeout: timedelta | None = None

    @classmethod
    def from_json(cls, body: Any) -> RetryOptions:
        if not isinstance(body, dict):
            raise ReplayError("ArgumentException", f"retryOptions must be a JSON object; got {body!r}")
        for required in ("firstRetryIntervalInMilliseconds", "maxNumberOfAttempts"):
            if required not in body:
                raise ReplayError("ArgumentException", f"retryOptions lacks the field {required!r}")
        first = float(body["firstRetryIntervalInMilliseconds"])
        if first <= 0:
            raise ReplayError("ArgumentException",
                              f"retryOptions.firstRetryIntervalInMilliseconds must be positive; got {first:g}")
        options = cls(timedelta(milliseconds=first), int(body["maxNumberOfAttempts"]))
        if body.get("backoffCoefficient") is not None:
            options.backoff = float(body["backoffCoefficient"])
        if body.get("maxRetryIntervalInMilliseconds") is not None:
            options.max_interval = timedelta(milliseconds=float(body["maxRetryIntervalInMilliseconds"]))
        if body.get("retryTimeoutInMilliseconds") is not None:
            options.timeout = timedelta(milliseconds=float(body["retryTimeoutInMilliseconds"]))
        return options

    def next_delay(self, attempt: int, first_attempt: datetime, now: datetime) -> timedelta:
        """The back-off after failed attempt ``attempt`` (0-based); zero once the retry timeout has passed."""
        if self.timeout is not None and now >= first_attempt + self.timeout:
            return timedelta(0)
        delay = self.first_interval * (self.backoff ** attempt)
        return delay if delay < self.max_interval else self.max_interval


@dataclass
class _Scheduled:
    """An action the replay asked for and the history has not confirmed yet."""

    kind: str  # the protocol's oneof name of the action; also what confirms it
    name: str
    action: pb.OrchestratorAction


@dataclass
class Episode:
    """What one episode's replay produced: the new actions (the completion last, if any) and the custom status."""

    actions: list[pb.OrchestratorAction]
    custom_status: str | None
    completed: bool


_CONFIRMING_EVENTS = {
    "taskScheduled": "scheduleTask",
    "timerCreated": "createTimer",
    "subOrchestrationInstanceCreated": "createSubOrchestration",
    "eventSent": "sendEvent",
    "entityOperationCalled": "sendEntityMessage",
    "entityOperationSignaled": "sendEntityMessage",
    "entityLockRequested": "sendEntityMessage",
    "entityUnlockSent": "sendEntityMessage",
}


def _stamp(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when.astimezone(timezone.utc).replace(tzinfo=None))
    return stamp


def _text_value(text: str | None) -> wrappers_pb2.StringValue | None:
    return wrappers_pb2.StringValue(value=text) if text is not None else None


def _stored(value: Any) -> str | None:
    """The JSON text the extension stores for an action's ``input`` (the SDK's serialized text, as a JSON value)."""
    return None if value is None else json.dumps(value)


def parse_fire_at(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ReplayError("ArgumentException", f"a CreateTimer action needs fireAt as ISO-8601 text; got {text!r}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError("ArgumentException", f"a CreateTimer action has an unreadable fireAt {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class Replay:
    """One episode's framework-side replay of the SDK's action list against the history."""

    def __init__(self, instance_id: str, execution_id: str, parent_instance_id: str | None,
                 state: dict[str, Any]) -> None:
        self.instance_id = instance_id
        self.execution_id = execution_id
        self.parent_instance_id = parent_instance_id
        self.state = state
        self.now = datetime.min.replace(tzinfo=timezone.utc)
        self._next_id = 0
        self._scheduled: dict[int, _Scheduled] = {}
        self._open: dict[int, Task] = {}
        self._waiters: dict[str, deque[Task]] = {}
        self._buffered: dict[str, deque[str | None]] = {}
        self._entity_waiters: dict[str, Task] = {}
        self._suspended = False
        self._held: list[pb.HistoryEvent] = []
        self.continue_as_new_input: str | None = None
        self.continued = False
        self.terminated: pb.ExecutionTerminatedEvent | None = None
        self.shim: Task | None = None

    # -- the framework API the replay calls ------------------------------------------------------

    def _allocate(self, kind: str, name: str, action: pb.OrchestratorAction) -> int:
        action_id = self._next_id
        self._next_id += 1
        action.id = action_id
        self._scheduled[action_id] = _Scheduled(kind, name, action)
        return action_id

    def _call(self, kind: str, name: str, action: pb.OrchestratorAction) -> Task:
        task = Task()
        self._open[self._allocate(kind, name, action)] = task
        return task

    def schedule_task(self, name: str, input_text: str | None) -> Task:
        action = pb.OrchestratorAction(scheduleTask=pb.ScheduleTaskAction(name=name, input=_text_value(input_text)))
        return self._call("scheduleTask", name, action)

    def create_timer(self, fire_at: datetime, cancelled: bool = False) -> Task:
        action = pb.OrchestratorAction(createTimer=pb.CreateTimerAction(fireAt=_stamp(fire_at)))
        task = self._call("createTimer", "", action)
        if cancelled:
            task.reject(TaskCancelled())
        return task

    def call_sub_orchestrator(self, name: str, instance_id: str | None, input_text: str | None) -> Task:
        if instance_id is not None and instance_id in {self.instance_id, self.parent_instance_id}:
            raise ReplayError("ArgumentException",
                              "a sub-orchestration's instance id must differ from its parent's and its own")
        if instance_id is not None and instance_id.startswith("@"):
            raise ReplayError("ArgumentException", "orchestration instance ids must not start with @")
        child_id = instance_id if instance_id else f"{self.execution_id}:{self._next_id}"
        action = pb.OrchestratorAction(createSubOrchestration=pb.CreateSubOrchestrationAction(
            instanceId=child_id, name=name, input=_text_value(input_text)))
        return self._call("createSubOrchestration", name, action)

    def _request_id(self) -> str:
        return str(uuid.uuid5(REQUEST_ID_NAMESPACE, f"{self.instance_id}:{self.execution_id}:{self._next_id}"))

    def call_entity(self, entity_id: str, operation: str, input_text: str | None) -> Task:
        request_id = self._request_id()
        called = pb.EntityOperationCalledEvent(
            requestId=request_id, operation=operation, input=_text_value(input_text),
            parentInstanceId=_text_value(self.instance_id), parentExecutionId=_text_value(self.execution_id),
            targetInstanceId=_text_value(entity_id))
        action = pb.OrchestratorAction(sendEntityMessage=pb.SendEntityMessageAction(entityOperationCalled=called))
        self._allocate("sendEntityMessage", operation, action)
        task = Task()
        self._entity_waiters[request_id] = task
        return task

    def signal_entity(self, entity_id: str, operation: str, input_text: str | None,
                      when: datetime | None = None) -> None:
        signaled = pb.EntityOperationSignaledEvent(
            requestId=self._request_id(), operation=operation, input=_text_value(input_text),
            targetInstanceId=_text_value(entity_id))
        if when is not None:
            signaled.scheduledTime.CopyFrom(_stamp(when))
        action = pb.OrchestratorAction(sendEntityMessage=pb.SendEntityMessageAction(entityOperationSignaled=signaled))
        self._allocate("sendEntityMessage", operation, action)

    def wait_for_event(self, name: str) -> Task:
        task = Task()
        buffered = self._buffered.get(name)
        if buffered:
            task.resolve(buffered.popleft())
        else:
            self._waiters.setdefault(name, deque()).append(task)
        return task

    def with_retry(self, call: Callable[[], Task], options: RetryOptions) -> Task:
        async def attempts() -> Any:
            first_attempt = self.now
            last: TaskFailure | None = None
            for attempt in range(options.max_attempts):
                try:
                    return await call()
                except TaskFailure as failure:
                    last = failure
                delay = options.next_delay(attempt, first_attempt, self.now)
                if delay <= timedelta(0):
                    break
                await self.create_timer(self.now + delay)
            assert last is not None  # max_attempts >= 1 made at least one attempt
            raise last

        if options.max_attempts < 1:
            raise ReplayError("ArgumentException",
                              f"retryOptions.maxNumberOfAttempts must be at least 1; got {options.max_attempts}")
        return spawn(attempts())

    # -- the SDK's action list --------------------------------------------------------------------

    def invoke(self, action: Any) -> Task | None:
        """Call the framework API one SDK action stands for; its task (None for fire-and-forget)."""
        if not isinstance(action, dict) or "actionType" not in action:
            raise ReplayError("ArgumentException", f"an action must be a JSON object with actionType; got {action!r}")
        kind = action["actionType"]
        if kind == CALL_ACTIVITY:
            return self.schedule_task(_function_name(action), _stored(action.get("input")))
        if kind == CALL_ACTIVITY_WITH_RETRY:
            name, input_text = _function_name(action), _stored(action.get("input"))
            return self.with_retry(lambda: self.schedule_task(name, input_text),
                                   RetryOptions.from_json(action.get("retryOptions")))
        if kind == CALL_SUB_ORCHESTRATOR:
            return self.call_sub_orchestrator(_function_name(action), action.get("instanceId"),
                                              _stored(action.get("input")))
        if kind == CALL_SUB_ORCHESTRATOR_WITH_RETRY:
            name, child, input_text = _function_name(action), action.get("instanceId"), _stored(action.get("input"))
            return self.with_retry(lambda: self.call_sub_orchestrator(name, child, input_text),
                                   RetryOptions.from_json(action.get("retryOptions")))
        if kind == CREATE_TIMER:
            return self.create_timer(parse_fire_at(action.get("fireAt")), bool(action.get("isCanceled")))
        if kind == WAIT_FOR_EXTERNAL_EVENT:
            return self.wait_for_event(str(action.get("externalEventName")))
        if kind == CONTINUE_AS_NEW:
            self.continued = True
            self.continue_as_new_input = _stored(action.get("input"))
            return None
        if kind == CALL_ENTITY:
            return self.call_entity(str(action.get("instanceId")), str(action.get("operation")),
                                    _entity_input(action.get("input")))
        if kind in (SIGNAL_ENTITY, SCHEDULED_SIGNAL_ENTITY):
            when = parse_fire_at(action.get("fireAt")) if kind == SCHEDULED_SIGNAL_ENTITY else None
            self.signal_entity(str(action.get("instanceId")), str(action.get("operation")),
                               _entity_input(action.get("input")), when)
            return None
        if kind == CALL_HTTP:
            return self.schedule_task(HTTP_ACTIVITY, json.dumps(action.get("httpRequest")))
        if kind in (WHEN_ALL, WHEN_ANY):
            children = [self.invoke(child) for child in action.get("compoundActions") or []]
            tasks = [child if child is not None else _done() for child in children]
            return when_all(tasks) if kind == WHEN_ALL else when_any(tasks)
        raise ReplayError("ArgumentException", f"unknown out-of-process action type {kind!r} in {action!r}")

    async def run_actions(self, actions: Any, schema: int) -> None:
        """The extension's replay of the action list: one action (V2/V3) or one group (V1) awaited at a time."""
        if not isinstance(actions, list):
            raise ReplayError("ArgumentException", f"the orchestrator state's actions must be a list; got {actions!r}")
        if schema >= SCHEMA_V2:
            if len(actions) != 1:
                raise ReplayError("ArgumentException", f"with schema V{schema + 1} the actions array must hold one "
                                  f"list; got {len(actions)}")
            for action in actions[0]:
                task = self.invoke(action)
                if task is not None:
                    try:
                        await task
                    except (TaskFailure, TaskCancelled):
                        pass  # the SDK handles failures; the replay only keeps going
            return
        for group in actions:
            tasks = [task for task in (self.invoke(action) for action in group or []) if task is not None]
            if tasks:
                await when_any(tasks)

    # -- applying the history ---------------------------------------------------------------------

    def apply(self, event: pb.HistoryEvent) -> None:
        kind = event.WhichOneof("eventType")
        if self._suspended and kind not in ("executionResumed", "executionTerminated", "orchestratorStarted",
                                            "orchestratorCompleted", *_CONFIRMING_EVENTS):
            self._held.append(event)
            return
        if kind == "orchestratorStarted":
            self.now = to_datetime(event.timestamp)
        elif kind == "executionStarted":
            self.shim = spawn(self.run_actions(self.state.get("actions", []), _schema(self.state)))
        elif kind in _CONFIRMING_EVENTS:
            self._confirm(event, kind)
        elif kind == "taskCompleted":
            self._finish(event.taskCompleted.taskScheduledId, _optional(event.taskCompleted, "result"), None)
        elif kind == "taskFailed":
            self._finish(event.taskFailed.taskScheduledId, None, event.taskFailed.failureDetails)
        elif kind == "subOrchestrationInstanceCompleted":
            done = event.subOrchestrationInstanceCompleted
            self._finish(done.taskScheduledId, _optional(done, "result"), None)
        elif kind == "subOrchestrationInstanceFailed":
            failed = event.subOrchestrationInstanceFailed
            self._finish(failed.taskScheduledId, None, failed.failureDetails)
        elif kind == "timerFired":
            self._finish(event.timerFired.timerId, None, None)
        elif kind == "eventRaised":
            self._raise(event.eventRaised.name, _optional(event.eventRaised, "input"))
        elif kind == "entityOperationCompleted":
            self._entity_done(event.entityOperationCompleted.requestId)
        elif kind == "entityOperationFailed":
            self._entity_done(event.entityOperationFailed.requestId)
        elif kind == "executionSuspended":
            self._suspended = True
        elif kind == "executionResumed":
            self._suspended = False
            held, self._held = self._held, []
            for waiting in held:
                self.apply(waiting)
        elif kind == "executionTerminated":
            self.terminated = event.executionTerminated

    def _confirm(self, event: pb.HistoryEvent, kind: str) -> None:
        scheduled = self._scheduled.pop(event.eventId, None)
        expected = _CONFIRMING_EVENTS[kind]
        if scheduled is None or scheduled.kind != expected:
            asked = f"{scheduled.kind} {scheduled.name!r}" if scheduled is not None else "nothing"
            raise ReplayError("NonDeterministicOrchestrationException",
                              f"the history has {kind} with id {event.eventId}, but this replay of the orchestrator's "
                              f"actions asked for {asked} at that id: the orchestrator code is not deterministic")
        name = {"taskScheduled": lambda: event.taskScheduled.name,
                "subOrchestrationInstanceCreated": lambda: event.subOrchestrationInstanceCreated.name}.get(kind)
        if name is not None and name() != scheduled.name:
            raise ReplayError("NonDeterministicOrchestrationException",
                              f"the history has {kind} {name()!r} with id {event.eventId}, but the orchestrator now "
                              f"asks for {scheduled.name!r} there: the orchestrator code is not deterministic")

    def _finish(self, task_id: int, result: str | None, failure: pb.TaskFailureDetails | None) -> None:
        task = self._open.pop(task_id, None)
        if task is None:
            return  # a late or duplicate completion (a cancelled timer firing): the framework ignores it
        if failure is not None:
            task.reject(TaskFailure(failure))
        else:
            task.resolve(result)

    def _raise(self, name: str, data: str | None) -> None:
        waiters = self._waiters.get(name)
        if waiters:
            waiters.popleft().resolve(data)
        else:
            self._buffered.setdefault(name, deque()).append(data)

    def _entity_done(self, request_id: str) -> None:
        task = self._entity_waiters.pop(request_id, None)
        if task is not None:
            task.resolve(None)  # the SDK reads the response itself; the replay only moves on

    # -- the outcome ------------------------------------------------------------------------------

    def outcome(self) -> Episode:
        actions = [scheduled.action for _, scheduled in sorted(self._scheduled.items())]
        custom = self.state.get("customStatus")
        custom_status = json.dumps(custom) if custom is not None else None
        completion = self._completion()
        if completion is not None:
            completion.id = self._next_id
            actions.append(completion)
        return Episode(actions, custom_status, completion is not None)

    def _completion(self) -> pb.OrchestratorAction | None:
        if self.terminated is not None:
            return _complete(pb.ORCHESTRATION_STATUS_TERMINATED, _optional(self.terminated, "input"))
        if self.shim is None or not self.shim.done:
            return None  # more work to do: the framework waits for the next events
        if isinstance(self.shim.error, ReplayError):
            raise self.shim.error
        error = self.state.get("error")
        if error:
            return _failed("OrchestrationFailureException", str(error))
        if not self.state.get("isDone"):
            return None
        if self.continued:
            return _complete(pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, self.continue_as_new_input)
        output = self.state.get("output")
        return _complete(pb.ORCHESTRATION_STATUS_COMPLETED, json.dumps(output) if output is not None else None)


def _done() -> Task:
    task = Task()
    task.resolve(None)
    return task


def _schema(state: dict[str, Any]) -> int:
    value = state.get("schemaVersion", SCHEMA_V1)
    names = {"Original": SCHEMA_V1, "V2": SCHEMA_V2, "V3": SCHEMA_V3}
    if isinstance(value, str):
        if value not in names:
            raise ReplayError("ArgumentException", f"unknown out-of-process schema version {value!r}")
        return names[value]
    if value not in (SCHEMA_V1, SCHEMA_V2, SCHEMA_V3):
        raise ReplayError("ArgumentException", f"unknown out-of-process schema version {value!r}")
    return int(value)


def _function_name(action: dict[str, Any]) -> str:
    name = action.get("functionName")
    if not isinstance(name, str) or not name:
        raise ReplayError("ArgumentException",
                          f"a {ACTION_TYPE_NAMES.get(action['actionType'], 'call')} action needs a functionName")
    return name


def _entity_input(value: Any) -> str | None:
    """An entity operation's input as the entity function reads it: the SDK's serialized text, kept as it is."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _optional(message: Any, field_name: str) -> str | None:
    return str(getattr(message, field_name).value) if message.HasField(field_name) else None


def _complete(status: int, result: str | None) -> pb.OrchestratorAction:
    return pb.OrchestratorAction(completeOrchestration=pb.CompleteOrchestrationAction(
        orchestrationStatus=status, result=_text_value(result)))  # type: ignore[arg-type]


def _failed(error_type: str, message: str) -> pb.OrchestratorAction:
    return pb.OrchestratorAction(completeOrchestration=pb.CompleteOrchestrationAction(
        orchestrationStatus=pb.ORCHESTRATION_STATUS_FAILED,
        failureDetails=pb.TaskFailureDetails(errorType=error_type, errorMessage=message)))


def replay_episode(instance_id: str, execution_id: str, parent_instance_id: str | None,
                   events: Iterable[pb.HistoryEvent], state: dict[str, Any]) -> Episode:
    """The new actions of one episode: the SDK's ``state`` (its JSON answer) replayed against ``events``.

    A replay that cannot go on (a history the actions do not match, an action the extension would refuse) fails the
    orchestration with the framework's exception type and a message naming the problem.
    """
    replay = Replay(instance_id, execution_id, parent_instance_id, state)
    try:
        for event in events:
            replay.apply(event)
        return replay.outcome()
    except ReplayError as error:
        return Episode([_with_id(_failed(error.error_type, str(error)), replay._next_id)],
                       None, True)


def _with_id(action: pb.OrchestratorAction, action_id: int) -> pb.OrchestratorAction:
    action.id = action_id
    return action


def terminated_episode(events: Iterable[pb.HistoryEvent]) -> Episode | None:
    """The episode's answer without calling the SDK, when its new events terminate the instance (else None)."""
    for event in events:
        if event.HasField("executionTerminated"):
            done = _complete(pb.ORCHESTRATION_STATUS_TERMINATED, _optional(event.executionTerminated, "input"))
            return Episode([done], None, True)
    return None


__all__ = ["Episode", "ReplayError", "replay_episode", "terminated_episode"]
