"""Unit tests of the freezegun integration: test code follows a virtual clock, machinery keeps real time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date, datetime, timedelta, timezone

import pytest
from durabletask_pytest.fixtures.freezing import VirtualTimeFreezer

VIRTUAL_START = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)


class MovableClock:
    """A minimal virtual clock: reads and moves, nothing else."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


@pytest.fixture
def clock_and_freezer():
    clock = MovableClock(VIRTUAL_START)
    freezer = VirtualTimeFreezer(clock)
    freezer.start()
    try:
        yield clock, freezer
    finally:
        freezer.stop()


def test_wall_clock_reads_follow_the_virtual_clock_and_move_with_it(clock_and_freezer) -> None:
    clock, freezer = clock_and_freezer
    assert freezer.active
    assert datetime.now() == datetime(2030, 6, 1, 12, 0)
    assert datetime.now(timezone.utc) == VIRTUAL_START
    assert datetime.utcnow() == datetime(2030, 6, 1, 12, 0)
    assert date.today() == date(2030, 6, 1)
    assert time.time() == VIRTUAL_START.timestamp()

    clock.advance(timedelta(hours=24, seconds=3))
    assert datetime.now(timezone.utc) == VIRTUAL_START + timedelta(hours=24, seconds=3)
    assert time.time() == (VIRTUAL_START + timedelta(hours=24, seconds=3)).timestamp()


def test_code_called_by_an_executor_thread_sees_virtual_time(clock_and_freezer) -> None:
    # Activity functions are called by the SDK worker's executor: they must still see virtual time.
    def activity() -> tuple[datetime, float]:
        return datetime.now(timezone.utc), time.time()

    with ThreadPoolExecutor(max_workers=1) as pool:
        seen_datetime, seen_time = pool.submit(activity).result(timeout=5)
    assert seen_datetime == VIRTUAL_START
    assert seen_time == VIRTUAL_START.timestamp()


def test_timeouts_of_threads_and_executors_keep_real_time(clock_and_freezer) -> None:
    # Frozen time must never turn a bounded wait into a hang.
    from freezegun.api import real_perf_counter

    started = real_perf_counter()
    assert threading.Event().wait(0.02) is False
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(release.wait, 5)
        with pytest.raises(FutureTimeout):
            future.result(timeout=0.02)
        release.set()
    assert real_perf_counter() - started < 2


def test_stop_gives_real_time_back() -> None:
    from freezegun.api import real_datetime

    freezer = VirtualTimeFreezer(MovableClock(VIRTUAL_START))
    freezer.start()
    assert datetime.now(timezone.utc) == VIRTUAL_START
    freezer.stop()
    assert not freezer.active
    now = datetime.now(timezone.utc)
    assert type(now) is real_datetime
    assert now != VIRTUAL_START
    assert abs(time.time() - now.timestamp()) < 5


def test_freezegun_time_moving_helpers_point_at_the_clock(clock_and_freezer) -> None:
    import freezegun.api

    factory = freezegun.api.freeze_factories[-1]
    with pytest.raises(RuntimeError, match="durable_clock.advance"):
        factory.tick()
