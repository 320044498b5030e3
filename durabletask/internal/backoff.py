"""Capped exponential back-off with a total time budget (for retrying calls to the sidecar)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays of ``initial * factor**(attempt - 1)`` seconds, at most ``cap``, while within ``budget`` seconds."""

    initial: float = 0.05
    factor: float = 2.0
    cap: float = 2.0
    budget: float = 20.0

    def delay(self, failed_attempts: int, elapsed: float) -> float | None:
        """Seconds to wait before the next try, after ``failed_attempts`` tries failed within ``elapsed``
        seconds of the first; None when the next try would start after the budget is spent."""
        delay = min(self.initial * self.factor ** (failed_attempts - 1), self.cap)
        if elapsed + delay > self.budget:
            return None
        return delay
