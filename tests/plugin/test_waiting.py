"""Unit tests of wait_until: returns the first truthy value, times out with a message, even with frozen time."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timezone

import pytest
from durabletask_pytest import wait_until
from durabletask_pytest.fixtures.freezing import VirtualTimeFreezer


def test_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "ready", timeout=5) == "ready"


def test_waits_for_another_thread() -> None:
    flag = threading.Event()
    threading.Timer(0.01, flag.set).start()
    assert wait_until(flag.is_set, timeout=5) is True


def test_times_out_naming_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.02 s waiting for the timer"):
        wait_until(lambda: False, timeout=0.02, what="the timer")


def test_times_out_in_real_time_while_time_is_frozen() -> None:
    class StandingClock:
        def now(self) -> datetime:
            return datetime(2030, 1, 1, tzinfo=timezone.utc)

    freezer = VirtualTimeFreezer(StandingClock())
    freezer.start()
    try:
        with pytest.raises(AssertionError, match="timed out"):
            wait_until(lambda: False, timeout=0.02)
    finally:
        freezer.stop()


@pytest.mark.parametrize(("kwargs", "message"), [({"timeout": -1}, "timeout"), ({"interval": 0}, "interval")])
def test_bad_arguments_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wait_until(lambda: True, **kwargs)
