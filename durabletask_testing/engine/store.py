"""The instance store: every instance by id, in creation order; the page tokens handed out for it; the per-name
creation counters behind fault keys; the listeners told of each instance that leaves it (purged or replaced)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import invalid, not_found
from .state import Instance


class InstanceStore:
    """Instances by id (creation order) and the continuation tokens of the pages read from them."""

    def __init__(self) -> None:
        self._instances: dict[str, Instance] = {}
        self._page_tokens: set[tuple[str, str]] = set()  # (field, token) of every page token handed out
        self._created_by_name: dict[str, int] = {}
        self.removal_listeners: list[Callable[[Instance], None]] = []
        """Called (under the engine's lock) with each instance purged or replaced by a new one of its id."""

    def get(self, instance_id: str) -> Instance | None:
        return self._instances.get(instance_id)

    def require(self, instance_id: str) -> Instance:
        """The instance, or NOT_FOUND."""
        instance = self._instances.get(instance_id)
        if instance is None:
            raise not_found(f"no orchestration instance with id '{instance_id}'")
        return instance

    def put(self, instance: Instance) -> Instance | None:
        """Store ``instance`` (last in creation order); returns the instance it replaced, if any."""
        old = self._instances.pop(instance.instance_id, None)
        self._instances[instance.instance_id] = instance
        if old is not None:
            self._removed(old)
        return old

    def remove(self, instance: Instance) -> bool:
        """Delete ``instance`` if it is still the one stored under its id."""
        if self._instances.get(instance.instance_id) is not instance:
            return False
        del self._instances[instance.instance_id]
        self._removed(instance)
        return True

    def _removed(self, instance: Instance) -> None:
        for listener in list(self.removal_listeners):
            listener(instance)

    def next_fault_key(self, name: str) -> str:
        """``name#n`` for the n-th top-level instance of ``name`` created since the last reset."""
        count = self._created_by_name.get(name, 0)
        self._created_by_name[name] = count + 1
        return f"{name}#{count}"

    def __iter__(self) -> Iterator[Instance]:
        return iter(list(self._instances.values()))

    def __len__(self) -> int:
        return len(self._instances)

    def remember_page_token(self, field: str, token: str) -> None:
        self._page_tokens.add((field, token))

    def check_page_token(self, field: str, token: str) -> None:
        """Refuse a continuation token this store never handed out (an empty one means the first page)."""
        if token and (field, token) not in self._page_tokens:
            raise invalid(f"{field} '{token}' matches no page this fake sidecar handed out (or it was reset since)")

    def clear(self) -> None:
        self._instances.clear()
        self._page_tokens.clear()
        self._created_by_name.clear()
