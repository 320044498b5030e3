"""Long-timer chunking, decided in one place: a durable timer longer than the worker's maximum interval is
written as a chain of shorter timers, each created when the previous one fires."""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_MAXIMUM_TIMER_INTERVAL = timedelta(days=3)


def next_chunk_fire_at(now: datetime, final_fire_at: datetime, maximum_interval: timedelta | None) -> datetime:
    """Fire time of the next timer to create at ``now`` on the way to ``final_fire_at``."""
    if maximum_interval is not None and maximum_interval > timedelta(0) and now + maximum_interval < final_fire_at:
        return now + maximum_interval
    return final_fire_at
