"""External events of one execution: tasks waiting for an event name, and events that arrived before anyone
waited for them (kept in arrival order, and carried over by ``continue_as_new(save_events=True)``)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from durabletask import task
from durabletask.serialization import DataConverter


@dataclass(slots=True, eq=False)
class _Waiter:
    task: task.CancellableTask[Any]
    data_type: Any


class ExternalEventInbox:
    """Matches raised events to waiting tasks by case-insensitive name, oldest first."""

    def __init__(self, converter: DataConverter) -> None:
        self._converter = converter
        self._waiters: dict[str, deque[_Waiter]] = {}
        self._received: dict[str, deque[tuple[int, str, str | None]]] = {}
        self._received_count = 0

    def wait(self, name: str, data_type: Any) -> task.CancellableTask[Any]:
        """A task completed by the next event named ``name`` (at once if one is already buffered)."""
        key = name.casefold()
        event_task: task.CancellableTask[Any] = task.CancellableTask(expected_type=data_type)
        buffered = self._received.get(key)
        if buffered:
            _, _, payload = buffered.popleft()
            if not buffered:
                del self._received[key]
            event_task.complete(self._converter.deserialize(payload, data_type))
            return event_task
        waiter = _Waiter(event_task, data_type)
        self._waiters.setdefault(key, deque()).append(waiter)

        def cancel() -> None:
            queue = self._waiters.get(key)
            if queue is not None and waiter in queue:
                queue.remove(waiter)
                if not queue:
                    del self._waiters[key]

        event_task.set_cancel_handler(cancel)
        return event_task

    def deliver(self, name: str, payload: str | None, accept: bool = True) -> bool:
        """Hand a payload to the oldest waiter (when ``accept``), or buffer it. True when a waiter got it."""
        key = name.casefold()
        waiters = self._waiters.get(key)
        if waiters and accept:
            waiter = waiters.popleft()
            if not waiters:
                del self._waiters[key]
            waiter.task.complete(self._converter.deserialize(payload, waiter.data_type))
            return True
        self._received.setdefault(key, deque()).append((self._received_count, name, payload))
        self._received_count += 1
        return False

    def buffered(self) -> list[tuple[str, str | None]]:
        """(name, payload) of every event nobody waited for, in arrival order."""
        items = sorted(item for queue in self._received.values() for item in queue)
        return [(name, payload) for _, name, payload in items]
