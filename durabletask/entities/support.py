"""The one message for entity features that need sidecar support the fake sidecar does not have yet."""

from __future__ import annotations


def entities_not_supported(what: str) -> NotImplementedError:
    """The error raised when ``what`` (an entity operation) is actually used."""
    return NotImplementedError(
        f"{what}: durable entities are not supported by this SDK yet (they wait for entity work items in the "
        f"fake sidecar: SignalEntity/GetEntity/QueryEntities/CleanEntityStorage, entity work items and "
        f"CompleteEntityTask).")
