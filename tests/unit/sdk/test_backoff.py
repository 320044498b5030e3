"""The back-off schedule of the worker's completion retries."""

from __future__ import annotations

import pytest

from durabletask.internal.backoff import Backoff


def test_delays_grow_exponentially_up_to_the_cap():
    backoff = Backoff(initial=0.05, factor=2.0, cap=2.0, budget=1000.0)
    delays = [backoff.delay(attempt, elapsed=0.0) for attempt in range(1, 9)]
    assert delays == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


def test_no_delay_once_the_next_try_would_start_after_the_budget():
    backoff = Backoff(initial=1.0, factor=1.0, cap=1.0, budget=10.0)
    assert backoff.delay(3, elapsed=9.0) == 1.0
    assert backoff.delay(3, elapsed=9.5) is None


def test_the_worker_keeps_retrying_well_beyond_three_quick_tries():
    from durabletask.internal.worker_runtime import COMPLETION_BACKOFF as worker_backoff

    elapsed, attempts = 0.0, 1
    while (delay := worker_backoff.delay(attempts, elapsed)) is not None:
        elapsed += delay
        attempts += 1
    assert attempts > 10
    assert 10.0 <= elapsed <= 30.0
