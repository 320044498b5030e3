"""freeze_time: activity code and the test body read the virtual clock through datetime and time."""

from __future__ import annotations

import pytest

FROZEN_TESTS = '''
import time
from datetime import datetime, timedelta, timezone

import pytest
from durabletask import task


def what_time_is_it(ctx, _):
    return {"now": datetime.now().isoformat(), "utc": datetime.now(timezone.utc).isoformat(), "epoch": time.time()}


def ask_the_time(ctx, _):
    return (yield ctx.call_activity(what_time_is_it))


def ask_again_tomorrow(ctx, _):
    first = yield ctx.call_activity(what_time_is_it)
    yield ctx.create_timer(timedelta(hours=24))
    second = yield ctx.call_activity(what_time_is_it)
    return [first, second]


@pytest.mark.durabletask(clock="manual", start_time="2030-01-01T08:00:00Z", freeze_time=True)
def test_activity_returns_the_virtual_time(durable_worker, durable_client, durable_clock):
    assert datetime.now() == datetime(2030, 1, 1, 8)
    durable_clock.advance(timedelta(days=3, minutes=5))
    virtual = durable_clock.now()
    assert datetime.now(timezone.utc) == virtual
    assert time.time() == virtual.timestamp()

    durable_worker.start_with(orchestrators=[ask_the_time], activities=[what_time_is_it])
    instance_id = durable_client.schedule_new_orchestration(ask_the_time)
    seen = durable_client.wait_for_orchestration_completion(instance_id, timeout=10).get_output()
    assert seen == {"now": "2030-01-04T08:05:00", "utc": virtual.isoformat(), "epoch": virtual.timestamp()}


@pytest.mark.durabletask(start_time="2030-01-01T00:00:00Z", freeze_time=True)
def test_time_moves_when_the_auto_clock_jumps(durable_worker, durable_client, durable_clock):
    durable_worker.start_with(orchestrators=[ask_again_tomorrow], activities=[what_time_is_it])
    instance_id = durable_client.schedule_new_orchestration(ask_again_tomorrow)
    first, second = durable_client.wait_for_orchestration_completion(instance_id, timeout=10).get_output()
    assert first["now"] == "2030-01-01T00:00:00"
    assert second["now"] == "2030-01-02T00:00:00"
    assert datetime.now() == datetime(2030, 1, 2)


def test_without_freeze_time_the_wall_clock_is_real(durable_clock):
    assert abs(time.time() - durable_clock.now().timestamp()) < 60
    assert datetime.now(timezone.utc).year < 2030
'''


def test_freeze_time_makes_activities_and_the_test_body_read_virtual_time(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_frozen=FROZEN_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
