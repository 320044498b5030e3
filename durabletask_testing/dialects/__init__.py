"""Protocol dialects the fake sidecar can speak: ``durabletask`` (the published protocol) and ``dapr``."""

from __future__ import annotations

DEFAULT_DIALECT = "durabletask"
DIALECTS = (DEFAULT_DIALECT, "dapr")


def check_dialect(name: str) -> str:
    """``name`` if it is a known dialect; ValueError naming the known ones if not."""
    if name not in DIALECTS:
        raise ValueError(f"unknown protocol dialect {name!r}; expected one of {', '.join(DIALECTS)}")
    return name
