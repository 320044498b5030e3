"""The context manager an orchestration holds while it has locked entities."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from durabletask.task import OrchestrationContext


class EntityLock:
    """Entered after ``yield ctx.lock_entities([...])``; leaving the ``with`` block releases the locks."""

    def __init__(self, context: OrchestrationContext):
        self._context = context

    def __enter__(self) -> EntityLock:
        return self

    def __exit__(self, *args: object) -> None:
        release = getattr(self._context, "_exit_critical_section", None)
        if callable(release):
            release()
