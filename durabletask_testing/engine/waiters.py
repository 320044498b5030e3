"""Who is blocked on the engine, and the conditions that wake them (all on the engine's one lock)."""

from __future__ import annotations

import threading
from typing import Literal

WaitTarget = Literal["start", "completion"]


class Waiters:
    """Conditions for worker streams, the real-time timer pump, idle waiters and per-instance long polls."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.work_ready = threading.Condition(lock)  # worker streams wait here
        self.timer_changed = threading.Condition(lock)  # the real-time timer pump waits here
        self.idle_changed = threading.Condition(lock)  # wait_until_idle waits here
        self.idle_waiters = 0
        self.completion_waiters = 0  # clients blocked until some instance completes (drive the auto clock)
        # per instance: its condition, and [waiters, of which waiting for the start]
        self._instances: dict[str, tuple[threading.Condition, list[int]]] = {}

    def register(self, instance_id: str, until: WaitTarget = "completion") -> threading.Condition:
        """The condition to wait on for changes of one instance; pair with :meth:`unregister` (same ``until``)."""
        slot = self._instances.get(instance_id)
        if slot is None:
            slot = (threading.Condition(self._lock), [0, 0])
            self._instances[instance_id] = slot
        slot[1][0] += 1
        if until == "start":
            slot[1][1] += 1
        return slot[0]

    def unregister(self, instance_id: str, until: WaitTarget = "completion") -> None:
        slot = self._instances.get(instance_id)
        if slot is not None:
            slot[1][0] -= 1
            if until == "start":
                slot[1][1] -= 1
            if slot[1][0] <= 0:
                del self._instances[instance_id]

    def notify_instance(self, instance_id: str) -> None:
        slot = self._instances.get(instance_id)
        if slot is not None:
            slot[0].notify_all()

    def notify_progress(self, instance_id: str, ended: bool) -> None:
        """A work item of the instance was applied: wake its waiters when it ended, else only those waiting for
        its start (a completion waiter would find nothing to answer and wait again)."""
        slot = self._instances.get(instance_id)
        if slot is not None and (ended or slot[1][1] > 0):
            slot[0].notify_all()

    def notify_all_instances(self) -> None:
        for condition, _ in self._instances.values():
            condition.notify_all()

    def notify_everyone(self) -> None:
        """Wake every blocked caller (shutdown)."""
        self.work_ready.notify_all()
        self.timer_changed.notify_all()
        self.idle_changed.notify_all()
        self.notify_all_instances()
