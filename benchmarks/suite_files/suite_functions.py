"""Orchestrations, activities and an entity of the benchmark suite (``session_suite.py``): plain SDK code.

Copied into a temporary test folder and imported there by both ``conftest.py`` variants (our plugin's
fixtures, or a session fixture over the published in-memory backend), so both run exactly these functions.
Durations are short real ones (timers 100 ms, retries 50 ms): the published backend waits them out, our fake's
auto clock skips them.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from durabletask import task
from durabletask.entities import EntityInstanceId

TIMER = timedelta(milliseconds=100)
RETRY = task.RetryPolicy(first_retry_interval=timedelta(milliseconds=50), max_number_of_attempts=3)
_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def hello(ctx: Any, name: str) -> str:
    return f"Hello {name}!"


def square(ctx: Any, value: int) -> int:
    return value * value


def flaky(ctx: Any, key: str) -> str:
    """Fails the first ``fails`` attempts for ``key`` (``key`` is ``NAME:fails``), then succeeds."""
    fails = int(key.rsplit(":", 1)[1])
    with _attempts_lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        attempt = _attempts[key]
    if attempt <= fails:
        raise RuntimeError(f"attempt {attempt} of {key} fails")
    return f"{key} ok after {attempt}"


def broken(ctx: Any, _: Any) -> None:
    raise ValueError("this activity always fails")


def chain(ctx: Any, names: list[str]) -> Any:
    results = []
    for name in names:
        results.append((yield ctx.call_activity(hello, input=name)))
    return results


def fan_out(ctx: Any, count: int) -> Any:
    results = yield task.when_all([ctx.call_activity(square, input=i) for i in range(count)])
    return sum(results)


def sleepy(ctx: Any, _: Any) -> Any:
    yield ctx.create_timer(TIMER)
    return "woke"


def timer_then_activity(ctx: Any, name: str) -> Any:
    yield ctx.create_timer(TIMER)
    return (yield ctx.call_activity(hello, input=name))


def approval(ctx: Any, _: Any) -> Any:
    event = ctx.wait_for_external_event("approved")
    timeout = ctx.create_timer(timedelta(seconds=30))
    winner = yield task.when_any([event, timeout])
    return f"approved by {event.get_result()}" if winner == event else "timed out"


def approval_times_out(ctx: Any, _: Any) -> Any:
    event = ctx.wait_for_external_event("approved")
    timeout = ctx.create_timer(TIMER)
    winner = yield task.when_any([event, timeout])
    return "approved" if winner == event else "timed out"


def two_events(ctx: Any, _: Any) -> Any:
    first = yield ctx.wait_for_external_event("first")
    second = yield ctx.wait_for_external_event("second")
    return [first, second]


def parent(ctx: Any, names: list[str]) -> Any:
    return (yield ctx.call_sub_orchestrator(chain, input=names))


def parent_fan_out(ctx: Any, count: int) -> Any:
    children = [ctx.call_sub_orchestrator(fan_out, input=i + 1) for i in range(count)]
    return (yield task.when_all(children))


def counter(ctx: Any, value: Any) -> Any:
    """Entity: ``add`` adds to the state, ``get`` returns it."""
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        ctx.set_state(state + value)
        return None
    return state


def counting(ctx: Any, key: str) -> Any:
    entity = EntityInstanceId("counter", key)
    yield ctx.call_entity(entity, "add", 5)
    yield ctx.call_entity(entity, "add", 7)
    return (yield ctx.call_entity(entity, "get"))


def retried(ctx: Any, key: str) -> Any:
    return (yield ctx.call_activity(flaky, input=key, retry_policy=RETRY))


def caught(ctx: Any, _: Any) -> Any:
    try:
        yield ctx.call_activity(broken)
    except task.TaskFailedError:
        return "recovered"
    return "not reached"


def looping(ctx: Any, count: int) -> Any:
    if count >= 3:
        return count
    yield ctx.call_activity(square, input=count)
    ctx.continue_as_new(count + 1)
    return None


def echo(ctx: Any, value: Any) -> Any:
    return value


ORCHESTRATORS = (chain, fan_out, sleepy, timer_then_activity, approval, approval_times_out, two_events, parent,
                 parent_fan_out, counting, retried, caught, looping, echo)
ACTIVITIES = (hello, square, flaky, broken)


def register(worker: Any) -> None:
    """Register every function of the suite on ``worker`` (before it starts)."""
    for orchestrator in ORCHESTRATORS:
        worker.add_orchestrator(orchestrator)
    for activity in ACTIVITIES:
        worker.add_activity(activity)
    worker.add_entity(counter, name="counter")
