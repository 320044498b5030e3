"""Authoring API for orchestrations and activities: contexts, durable tasks, composition and errors.

Same public names as the published ``durabletask`` package: ``OrchestrationContext``, ``ActivityContext``,
``Task`` and its subclasses, ``when_all``, ``when_any``, ``RetryPolicy``, ``FailureDetails``,
``TaskFailedError``, ``NonDeterminismError``, ``OrchestrationStateError``, ``get_name``.
"""

from __future__ import annotations

import logging
import math
import random as _random
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeAlias, TypeVar

from durabletask.entities import DurableEntity, EntityContext, EntityInstanceId, EntityLock
from durabletask.internal import helpers as pbh
from durabletask.internal import orchestrator_service_pb2 as pb

T = TypeVar("T")
TInput = TypeVar("TInput")
TOutput = TypeVar("TOutput")


# ---------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class FailureDetails:
    """Description of a failure: message, error type (qualified name), stack trace and inner failure."""

    message: str
    error_type: str
    stack_trace: str | None
    inner_failure: FailureDetails | None = None
    properties: dict[str, Any] | None = None

    def is_caused_by(self, error_type: str | type[BaseException]) -> bool:
        """True when this failure's type is ``error_type`` (a name, or an exception type or its subclass)."""
        if isinstance(error_type, str):
            stored = self.error_type
            if not stored or not error_type:
                return False
            if stored == error_type:
                return True
            if "." in stored and "." in error_type:
                return False
            return stored.rsplit(".", 1)[-1] == error_type.rsplit(".", 1)[-1]
        if not (isinstance(error_type, type) and issubclass(error_type, BaseException)):
            raise TypeError(f"is_caused_by() expects an exception type or a type name, got {error_type!r}")
        pending: list[type] = [error_type]
        seen: set[type] = set()
        while pending:
            candidate = pending.pop()
            if candidate in seen:
                continue
            seen.add(candidate)
            name = pbh.get_qualified_name(candidate)
            if self.error_type == name or ("." not in self.error_type and self.error_type == candidate.__name__):
                return True
            pending.extend(candidate.__subclasses__())
        return False


def failure_details_from_proto(details: pb.TaskFailureDetails) -> FailureDetails:
    """Convert protobuf TaskFailureDetails to :class:`FailureDetails` (``properties`` as plain Python values)."""
    return FailureDetails(
        message=details.errorMessage,
        error_type=details.errorType,
        stack_trace=details.stackTrace.value if details.HasField("stackTrace") else None,
        inner_failure=failure_details_from_proto(details.innerFailure) if details.HasField("innerFailure") else None,
        properties={k: pbh.python_value(v) for k, v in details.properties.items()} if details.properties else None,
    )


class TaskFailedError(Exception):
    """Raised into an orchestrator when an activity or sub-orchestration it awaited failed."""

    def __init__(self, message: str, details: pb.TaskFailureDetails | Exception):
        super().__init__(message)
        if isinstance(details, BaseException):
            details = pbh.new_failure_details(details)
        self._details = failure_details_from_proto(details)

    @property
    def details(self) -> FailureDetails:
        """The failure details of the task that failed."""
        return self._details


class NonDeterminismError(Exception):
    """The orchestrator's replay did not match its recorded history."""


class OrchestrationStateError(Exception):
    """The orchestration history or state is invalid."""


class TaskCancelledError(Exception):
    """Raised when reading the result of a cancelled task."""


# ----------------------------------------------------------------------------------------------- tasks


class Task(ABC, Generic[T]):
    """A durable task an orchestrator can ``yield``."""

    def __init__(self) -> None:
        self._is_complete = False
        self._exception: TaskFailedError | None = None
        self._result: Any = None
        self._parents: list[CompositeTask[Any]] = []

    @property
    def is_complete(self) -> bool:
        """True once the task has completed (successfully or not)."""
        return self._is_complete

    @property
    def is_failed(self) -> bool:
        """True when the task completed with a failure."""
        return self._exception is not None

    @property
    def result(self) -> T:
        """The task's result (alias of :meth:`get_result`)."""
        return self.get_result()

    def get_result(self) -> T:
        """The task's result; raises the failure if the task failed."""
        if not self._is_complete:
            raise ValueError("The task has not completed.")
        if self._exception is not None:
            raise self._exception
        result: T = self._result
        return result

    def get_exception(self) -> TaskFailedError:
        """The failure of a failed task."""
        if self._exception is None:
            raise ValueError("The task has not failed.")
        return self._exception

    def _notify_parents(self) -> None:
        parents, self._parents = self._parents, []
        for parent in parents:
            parent.on_child_completed(self)


class CompletableTask(Task[T]):
    """A task completed by the runtime when its history event arrives."""

    def __init__(self, expected_type: Any = None) -> None:
        """``expected_type`` is accepted for compatibility with the published package; the replay engine
        keeps the type a result is decoded as."""
        super().__init__()

    def complete(self, result: T) -> None:
        """Complete the task with ``result``."""
        if self._is_complete:
            raise ValueError("The task has already completed.")
        self._result = result
        self._is_complete = True
        self._notify_parents()

    def fail(self, message: str, details: Exception | pb.TaskFailureDetails) -> None:
        """Complete the task with a failure."""
        if self._is_complete:
            raise ValueError("The task has already completed.")
        self._exception = TaskFailedError(message, details)
        self._is_complete = True
        self._notify_parents()


class CancellableTask(CompletableTask[T]):
    """A completable task that can be cancelled before it finishes."""

    def __init__(self, expected_type: Any = None) -> None:
        super().__init__(expected_type)
        self._is_cancelled = False
        self._cancel_handler: Callable[[], None] | None = None

    @property
    def is_cancelled(self) -> bool:
        """True if the task was cancelled."""
        return self._is_cancelled

    def get_result(self) -> T:
        if self._is_cancelled:
            raise TaskCancelledError("The task was cancelled.")
        return super().get_result()

    def set_cancel_handler(self, cancel_handler: Callable[[], None]) -> None:
        """Register the callback run when the task is cancelled."""
        self._cancel_handler = cancel_handler

    def cancel(self) -> bool:
        """Cancel the task; False if it had already completed."""
        if self._is_complete:
            return False
        if self._cancel_handler is not None:
            self._cancel_handler()
        self._is_cancelled = True
        self._is_complete = True
        self._notify_parents()
        return True


class RetryableTask(CompletableTask[T]):
    """An activity or sub-orchestration call governed by a :class:`RetryPolicy`."""

    def __init__(self, retry_policy: RetryPolicy, action: Any, start_time: datetime, is_sub_orch: bool,
                 expected_type: Any = None) -> None:
        """``action`` and ``is_sub_orch`` are accepted for compatibility with the published package; the
        replay engine keeps the action it re-schedules on each attempt."""
        super().__init__(expected_type)
        self._retry_policy = retry_policy
        self._attempt_count = 1
        self._start_time = start_time
        self._clock: Callable[[], datetime] | None = None

    def _use_clock(self, clock: Callable[[], datetime]) -> None:
        """The replay engine's clock (orchestration time) used by :meth:`compute_next_delay`."""
        self._clock = clock

    def excludes(self, failure: FailureDetails) -> bool:
        """True when the policy's ``non_retryable_error_types`` name this failure's error type."""
        return any(failure.is_caused_by(t) for t in self._retry_policy.non_retryable_error_types)

    def retry_timeout_passed(self, now: datetime) -> bool:
        """True when ``now`` (orchestration time) is at or after the first attempt's time plus the retry timeout."""
        timeout = self._retry_policy.retry_timeout
        return timeout is not None and now >= self._start_time + timeout

    def increment_attempt_count(self) -> None:
        """Record one more attempt."""
        self._attempt_count += 1

    def compute_next_delay(self) -> timedelta | None:
        """Delay before the next attempt, or None when the policy is exhausted.

        As in the published SDK, another attempt is made only while the current time is before the first
        attempt's time plus ``retry_timeout``; here "current time" is the orchestration's replay-safe time
        (``current_utc_datetime`` when the failure is processed), never the wall clock, so replay decides the
        same way.
        """
        policy = self._retry_policy
        now = self._clock() if self._clock is not None else None
        if self._attempt_count >= policy.max_number_of_attempts:
            return None
        if now is not None and self.retry_timeout_passed(now):
            return None
        coefficient = 1.0 if policy.backoff_coefficient is None else policy.backoff_coefficient
        delay = math.pow(coefficient, self._attempt_count - 1) * policy.first_retry_interval.total_seconds()
        if policy.max_retry_interval is not None:
            delay = min(delay, policy.max_retry_interval.total_seconds())
        return timedelta(seconds=delay)


class TimerTask(CancellableTask[None]):
    """A durable timer. Timers longer than the worker's maximum interval are split into chunks."""

    def __init__(self, final_fire_at: datetime | None = None, maximum_timer_interval: timedelta | None = None):
        """The arguments are accepted for compatibility with the published package: the replay engine decides
        how a long timer is chunked (see ``durabletask.internal.timers``)."""
        super().__init__()

    def set_retryable_parent(self, retryable_task: RetryableTask[Any]) -> None:
        """Accepted for compatibility with the published package: the replay engine itself tracks which
        call a back-off timer delays."""


class CompositeTask(Task[T]):
    """A task composed of other tasks."""

    def __init__(self, tasks: list[Task[Any]]):
        super().__init__()
        self._tasks = tasks
        self._completed_tasks = 0
        distinct: dict[int, Task[Any]] = {}
        for t in tasks:
            distinct.setdefault(id(t), t)
        self._distinct = list(distinct.values())
        self._occurrences: dict[int, int] | None = None
        if len(self._distinct) != len(tasks):
            self._occurrences = {}
            for t in tasks:
                self._occurrences[id(t)] = self._occurrences.get(id(t), 0) + 1

    def _subscribe(self) -> None:
        for t in self._distinct:
            if self._is_complete:
                break
            if t.is_complete:
                self.on_child_completed(t)
            else:
                t._parents.append(self)

    def get_tasks(self) -> list[Task[Any]]:
        """The child tasks, in the order given."""
        return self._tasks

    @abstractmethod
    def on_child_completed(self, task: Task[Any]) -> None:
        """Called once for each distinct child when it completes."""


class WhenAllTask(CompositeTask[list[T]]):
    """Completes when all children complete; a failure surfaces only after every child finished."""

    def __init__(self, tasks: list[Task[T]]):
        super().__init__(list(tasks))
        self._remaining = len(self._distinct)
        self._pending_exception: TaskFailedError | None = None
        if self._remaining == 0:
            self._finish()
        else:
            self._subscribe()

    @property
    def pending_tasks(self) -> int:
        """Number of children that have not completed yet."""
        return len(self._tasks) - self._completed_tasks

    def get_completed_tasks(self) -> int:
        """Number of completed children."""
        return self._completed_tasks

    def on_child_completed(self, task: Task[Any]) -> None:
        if self._is_complete:
            return
        occurrences = 1 if self._occurrences is None else self._occurrences[id(task)]
        self._completed_tasks += occurrences
        if task.is_failed and self._pending_exception is None:
            self._pending_exception = task.get_exception()
        self._remaining -= 1
        if self._remaining == 0:
            self._finish()

    def _finish(self) -> None:
        self._is_complete = True
        if self._pending_exception is not None:
            self._exception = self._pending_exception
        else:
            self._result = [t.get_result() for t in self._tasks]
        self._notify_parents()


class WhenAnyTask(CompositeTask[Task[T]]):
    """Completes with the first child task that completes (the winner itself is the result)."""

    def __init__(self, tasks: list[Task[T]]):
        super().__init__(list(tasks))
        self._subscribe()

    def on_child_completed(self, task: Task[Any]) -> None:
        if not self._is_complete:
            self._completed_tasks += 1
            self._is_complete = True
            self._result = task
            self._notify_parents()


def when_all(tasks: list[Task[T]]) -> WhenAllTask[T]:
    """A task that completes when all ``tasks`` complete; its result is the list of their results, in order."""
    return WhenAllTask(tasks)


def when_any(tasks: Sequence[Task[T]]) -> WhenAnyTask[T]:
    """A task that completes when any of ``tasks`` completes; its result is the winning task."""
    return WhenAnyTask(list(tasks))


# -------------------------------------------------------------------------------------------- contexts


class OrchestrationContext(ABC):
    """The API an orchestrator function uses to schedule durable work."""

    @property
    @abstractmethod
    def instance_id(self) -> str:
        """ID of the current orchestration instance."""

    @property
    @abstractmethod
    def parent_instance_id(self) -> str | None:
        """ID of the parent orchestration, or None for a top-level orchestration."""

    @property
    @abstractmethod
    def version(self) -> str | None:
        """Version the orchestration instance was started with, or None."""

    @property
    @abstractmethod
    def current_utc_datetime(self) -> datetime:
        """Replay-safe current time (naive UTC), taken from the orchestration history."""

    @property
    @abstractmethod
    def is_replaying(self) -> bool:
        """True while the orchestrator is replaying already-recorded history."""

    @abstractmethod
    def set_custom_status(self, custom_status: Any) -> None:
        """Set the instance's custom status (any serializable value)."""

    @abstractmethod
    def create_timer(self, fire_at: datetime | timedelta) -> TimerTask:
        """A durable timer firing at ``fire_at`` (a datetime) or after ``fire_at`` (a timedelta)."""

    @abstractmethod
    def call_activity(self, activity: Activity[TInput, TOutput] | str, *,
                      input: TInput | None = None,
                      retry_policy: RetryPolicy | None = None,
                      tags: dict[str, str] | None = None,
                      return_type: type | None = None,
                      timeout: timedelta | None = None) -> CompletableTask[Any]:
        """Schedule an activity (by function or registered name); the task completes with its result.

        Extension: with ``timeout``, a durable timer races the call (retries included); if it fires first the
        task fails with a TaskFailedError whose details name ``TimeoutError``, and a late result is dropped.
        """

    @abstractmethod
    def call_sub_orchestrator(self, orchestrator: Orchestrator[TInput, TOutput] | str, *,
                              input: TInput | None = None,
                              instance_id: str | None = None,
                              retry_policy: RetryPolicy | None = None,
                              version: str | None = None,
                              return_type: type | None = None,
                              timeout: timedelta | None = None) -> CompletableTask[Any]:
        """Start a sub-orchestration; the task completes with its output. ``timeout``: as for
        :meth:`call_activity` (extension; the child keeps running)."""

    @abstractmethod
    def wait_for_external_event(self, name: str, *, data_type: type | None = None) -> CancellableTask[Any]:
        """A task completing when an event named ``name`` (case-insensitive) is raised to this instance."""

    def send_event(self, instance_id: str, event_name: str, *, data: Any | None = None) -> None:
        """Send an event to another orchestration instance (fire and forget)."""
        raise NotImplementedError("This OrchestrationContext implementation does not support send_event().")

    def call_entity(self, entity: EntityInstanceId, operation: str, input: Any = None, *,
                    return_type: type | None = None) -> CompletableTask[Any]:
        """Call an entity operation; the task completes with its result, or fails with
        :class:`~durabletask.entities.EntityOperationFailedException`. Inside a critical section only the locked
        entities can be called, one call at a time each."""
        raise NotImplementedError("This OrchestrationContext implementation does not support call_entity().")

    def signal_entity(self, entity_id: EntityInstanceId, operation_name: str, input: Any = None,
                      signal_time: datetime | None = None) -> None:
        """Send an entity a one-way operation (fire and forget; delivered at ``signal_time`` when given). A
        locked entity cannot be signalled from its critical section."""
        raise NotImplementedError("This OrchestrationContext implementation does not support signal_entity().")

    def lock_entities(self, entities: list[EntityInstanceId]) -> CompletableTask[EntityLock]:
        """Lock entities for a critical section: yield the task, then use the :class:`EntityLock` it gives in a
        ``with`` block; leaving the block (or the orchestration ending) releases the locks."""
        raise NotImplementedError("This OrchestrationContext implementation does not support lock_entities().")

    @abstractmethod
    def continue_as_new(self, new_input: Any, *, save_events: bool = False,
                        new_version: str | None = None) -> None:
        """Restart the orchestration with ``new_input`` (and fresh history) once the orchestrator returns."""

    @abstractmethod
    def new_uuid(self) -> str:
        """A UUID that is the same on every replay (name-based, RFC 4122 version 5)."""

    def random(self) -> _random.Random:
        """Extension: a random number generator that gives the same values on every replay.

        Each call returns a new generator seeded from :meth:`new_uuid` (so from the instance id, the
        orchestration time and the call's position), never from the wall clock or the OS.
        """
        return _random.Random(self.new_uuid())

    def create_replay_safe_logger(self, logger: logging.Logger) -> ReplaySafeLogger:
        """A logger adapter that stays silent while the orchestrator replays."""
        return ReplaySafeLogger(logger, lambda: self.is_replaying)


class ReplaySafeLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Logger adapter suppressing messages during replay."""

    def __init__(self, logger: logging.Logger, is_replaying: Callable[[], bool]) -> None:
        super().__init__(logger, {})
        self._is_replaying = is_replaying

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging API name
        return not self._is_replaying() and self.logger.isEnabledFor(level)


class ActivityContext:
    """Context passed to activity functions."""

    def __init__(self, orchestration_id: str, task_id: int):
        self._orchestration_id = orchestration_id
        self._task_id = task_id

    @property
    def orchestration_id(self) -> str:
        """ID of the orchestration instance that scheduled this activity."""
        return self._orchestration_id

    @property
    def task_id(self) -> int:
        """ID of this activity call, unique within its orchestration instance."""
        return self._task_id


Orchestrator: TypeAlias = Callable[[OrchestrationContext, TInput], Generator[Task[Any], Any, TOutput] | TOutput]
Activity: TypeAlias = Callable[[ActivityContext, TInput], TOutput]
Entity: TypeAlias = Callable[[EntityContext, TInput], TOutput] | type[DurableEntity]


class RetryPolicy:
    """Retry policy for activity and sub-orchestration calls (back-off is waited out on durable timers)."""

    def __init__(self, *,
                 first_retry_interval: timedelta,
                 max_number_of_attempts: int,
                 backoff_coefficient: float | None = 1.0,
                 max_retry_interval: timedelta | None = None,
                 retry_timeout: timedelta | None = None,
                 non_retryable_error_types: Sequence[type[BaseException] | str] | None = None):
        """Extension (not in the published SDK): ``non_retryable_error_types`` lists exception types or type
        names (qualified or not, matched as :meth:`FailureDetails.is_caused_by` does) whose failures are not
        retried: the call fails at once."""
        if first_retry_interval < timedelta(0):
            raise ValueError("first_retry_interval must be >= 0")
        if max_number_of_attempts < 1:
            raise ValueError("max_number_of_attempts must be >= 1")
        if backoff_coefficient is not None and backoff_coefficient < 1:
            raise ValueError("backoff_coefficient must be >= 1")
        if max_retry_interval is not None and max_retry_interval < timedelta(0):
            raise ValueError("max_retry_interval must be >= 0")
        if retry_timeout is not None and retry_timeout < timedelta(0):
            raise ValueError("retry_timeout must be >= 0")
        self._first_retry_interval = first_retry_interval
        self._max_number_of_attempts = max_number_of_attempts
        self._backoff_coefficient = backoff_coefficient
        self._max_retry_interval = max_retry_interval
        self._retry_timeout = retry_timeout
        self._non_retryable_error_types: tuple[type[BaseException] | str, ...] = tuple(non_retryable_error_types or ())

    @property
    def first_retry_interval(self) -> timedelta:
        """Delay before the first retry."""
        return self._first_retry_interval

    @property
    def max_number_of_attempts(self) -> int:
        """Total number of attempts, the first one included."""
        return self._max_number_of_attempts

    @property
    def backoff_coefficient(self) -> float | None:
        """Multiplier applied to the delay after each retry."""
        return self._backoff_coefficient

    @property
    def max_retry_interval(self) -> timedelta | None:
        """Upper bound of any single delay."""
        return self._max_retry_interval

    @property
    def retry_timeout(self) -> timedelta | None:
        """Overall time budget for retrying, measured in orchestration time from the first attempt: a failure
        after it is not retried, and a retry whose back-off ends after it is not attempted."""
        return self._retry_timeout

    @property
    def non_retryable_error_types(self) -> tuple[type[BaseException] | str, ...]:
        """Error types never retried (extension; empty by default)."""
        return self._non_retryable_error_types


def get_name(fn: Callable[..., Any]) -> str:
    """The name under which a function is registered (its ``__name__``); lambdas need an explicit name."""
    name: str | None = getattr(fn, "__name__", None)
    if not name:
        raise ValueError(f"Cannot infer a name from {fn!r}. Please provide a name explicitly.")
    if name == "<lambda>":
        raise ValueError("Cannot infer a name from a lambda function. Please provide a name explicitly.")
    return name


def get_entity_name(fn: Entity[Any, Any]) -> str:
    """The name an entity is registered under: an explicit ``__durable_entity_name__``, the class name of a
    :class:`DurableEntity` subclass, else the function's name."""
    explicit = getattr(fn, "__durable_entity_name__", None)
    if isinstance(explicit, str):
        return explicit
    if isinstance(fn, type) and issubclass(fn, DurableEntity):
        return fn.__name__
    return get_name(fn)
