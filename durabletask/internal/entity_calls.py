"""An orchestration's side of durable entities: calls waiting for their answers, lock requests waiting for
their grant, and the critical section (which entities are locked, which may be called now).

Held by one :class:`~durabletask.internal.execution.Execution`; pure bookkeeping, no actions are built here.
Answers are matched by the request id and critical section id recorded in history (the confirming event),
so a history written by another SDK replays too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durabletask import task
from durabletask.entities import EntityInstanceId, EntityLock


@dataclass(slots=True, eq=False)
class EntityCall:
    """A ``call_entity`` waiting for its EntityOperationCompleted/Failed event."""

    task: task.CompletableTask[Any]
    entity_id: EntityInstanceId
    operation: str
    expected_type: Any


class CriticalSection:
    """The entities an orchestration holds locks on (at most one section at a time), and which of them it may
    call now: a locked entity can be called again only once its previous call answered."""

    def __init__(self) -> None:
        self.id: str | None = None
        self.locks: list[EntityInstanceId] = []
        self._available: list[EntityInstanceId] = []
        self._acquiring = False

    @property
    def is_active(self) -> bool:
        """True from ``lock_entities`` until the locks are released."""
        return self.id is not None

    def check_call(self, entity_id: EntityInstanceId, one_way: bool) -> None:
        """Raise RuntimeError if calling (or, ``one_way``, signalling) ``entity_id`` breaks the section's rules;
        a call takes the entity until its answer comes back."""
        if not self.is_active:
            return
        if one_way:
            if entity_id in self.locks:
                raise RuntimeError(f"Cannot signal the locked entity '{entity_id}' from inside its critical "
                                   f"section (call it instead).")
            return
        if entity_id in self._available:
            self._available.remove(entity_id)
            return
        if self._acquiring:
            raise RuntimeError("The lock request must complete (yield its task) before calling an entity.")
        if entity_id in self.locks:
            raise RuntimeError(f"A previous call to the locked entity '{entity_id}' is still running; yield it "
                               f"before calling the entity again.")
        raise RuntimeError(f"Inside a critical section only the locked entities can be called; '{entity_id}' "
                           f"is not one of them.")

    def check_enter(self) -> None:
        """Raise RuntimeError when a section is already held (sections do not nest)."""
        if self.is_active:
            raise RuntimeError("Cannot lock entities inside a critical section: critical sections do not nest.")

    def enter(self, section_id: str, entities: list[EntityInstanceId]) -> list[EntityInstanceId]:
        """Start acquiring the locks; returns the lock set, sorted and without duplicates (the fixed order
        every orchestration acquires locks in, which prevents deadlocks)."""
        if not entities:
            raise ValueError("lock_entities() needs at least one entity id.")
        self.id = section_id
        self.locks = sorted(set(entities))
        self._available = []
        self._acquiring = True
        return self.locks

    def granted(self) -> None:
        """All locks are held: every locked entity may be called."""
        self._available = list(self.locks)
        self._acquiring = False

    def answered(self, entity_id: EntityInstanceId) -> None:
        """A call to ``entity_id`` answered: it may be called again."""
        if self.is_active and entity_id in self.locks:
            self._available.append(entity_id)

    def leave(self) -> tuple[str, list[EntityInstanceId]]:
        """Forget the section; returns its id and the entities to unlock."""
        assert self.id is not None
        left = (self.id, self.locks)
        self.id, self.locks, self._available, self._acquiring = None, [], [], False
        return left


class EntityCalls:
    """Entity calls and lock requests of one execution, by action id until history confirms them, then by
    the request id / critical section id the answer will carry."""

    def __init__(self) -> None:
        self.section = CriticalSection()
        self._calls_by_action: dict[int, EntityCall] = {}
        self._calls_by_request: dict[str, EntityCall] = {}
        self._locks_by_action: dict[int, task.CompletableTask[EntityLock]] = {}
        self._locks_by_section: dict[str, task.CompletableTask[EntityLock]] = {}
        self._request_ids: dict[int, list[str]] = {}  # id(call) -> every request id it is filed under

    def add_call(self, action_id: int, request_id: str, call: EntityCall) -> None:
        """Track a new call (also under its own request id, in case its answer comes before replaying it)."""
        self._calls_by_action[action_id] = call
        self._calls_by_request[request_id] = call
        self._request_ids[id(call)] = [request_id]

    def add_lock(self, action_id: int, section_id: str, lock_task: task.CompletableTask[EntityLock]) -> None:
        """Track a new lock request."""
        self._locks_by_action[action_id] = lock_task
        self._locks_by_section[section_id] = lock_task

    def call_confirmed(self, action_id: int, recorded_request_id: str) -> None:
        """History recorded the call with ``recorded_request_id``: its answer is matched by that id."""
        call = self._calls_by_action.pop(action_id, None)
        if call is not None:
            self._calls_by_request[recorded_request_id] = call
            self._request_ids.setdefault(id(call), []).append(recorded_request_id)

    def lock_confirmed(self, action_id: int, recorded_section_id: str) -> None:
        """History recorded the lock request with ``recorded_section_id``: the grant is matched by that id."""
        lock_task = self._locks_by_action.pop(action_id, None)
        if lock_task is not None:
            self._locks_by_section[recorded_section_id] = lock_task
            if self.section.is_active:
                self.section.id = recorded_section_id

    def take_call(self, request_id: str) -> EntityCall | None:
        """The call answered by ``request_id`` (None if unknown or already answered)."""
        call = self._calls_by_request.pop(request_id, None)
        if call is not None:
            for alias in self._request_ids.pop(id(call), []):
                self._calls_by_request.pop(alias, None)
        return call

    def take_lock(self, section_id: str) -> task.CompletableTask[EntityLock] | None:
        """The lock request granted for ``section_id`` (None if unknown or already granted)."""
        return self._locks_by_section.pop(section_id, None)
