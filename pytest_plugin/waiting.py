"""Waiting for a condition with a deadline, in real time even while freeze_time is on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_POLL_SECONDS = 0.001


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    interval: float = DEFAULT_POLL_SECONDS,
    what: str = "the condition",
) -> T:
    """Return the first truthy value of ``condition()``; raise AssertionError after ``timeout`` seconds.

    Use it with a manual clock to let the worker catch up before moving time, e.g.
    ``wait_until(lambda: "timerCreated" in kinds(durable_sidecar.history(iid)), what="the timer")``.
    """
    if timeout < 0:
        raise ValueError(f"timeout must not be negative; got {timeout}")
    if interval <= 0:
        raise ValueError(f"interval must be positive; got {interval}")
    pause = threading.Event()  # never set: its wait() is a timeout that freezegun cannot freeze
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(min(interval, remaining))


def history_event_types(sidecar: Any, instance_id: str) -> list[str]:
    """The event types (``executionStarted``, ``timerCreated`` ...) of an instance's history on the fake."""
    history = sidecar.history(instance_id)
    return [event.WhichOneof("eventType") for event in history]
