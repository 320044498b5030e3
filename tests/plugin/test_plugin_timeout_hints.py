"""A wait that times out says so when the test never started its worker."""

from __future__ import annotations

import pytest

HINT_TESTS = '''
import pytest


def greet(ctx, name):
    return f"hello {name}"


def other(ctx, _):
    return None


def test_forgot_to_start_the_worker(durable_worker, durable_client):
    durable_worker.add_orchestrator(greet)
    instance_id = durable_client.schedule_new_orchestration(greet, input="x")
    with pytest.raises(TimeoutError, match=r"no worker of this test is running: .*durable_worker\\.start\\(\\)"):
        durable_client.wait_for_orchestration_completion(instance_id, timeout=0.5)


def test_the_wait_for_start_says_so_too(durable_worker, durable_client):
    instance_id = durable_client.schedule_new_orchestration("greet", input="x")
    with pytest.raises(TimeoutError, match="no worker of this test is running"):
        durable_client.wait_for_orchestration_start(instance_id, timeout=0.5)


def waits(ctx, _):
    yield ctx.wait_for_external_event("never")


def test_no_hint_once_the_worker_runs(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[waits])
    instance_id = durable_client.schedule_new_orchestration(waits)
    with pytest.raises(TimeoutError) as raised:
        durable_client.wait_for_orchestration_completion(instance_id, timeout=0.5)
    assert "no worker of this test is running" not in str(raised.value)
'''


def test_timeouts_explain_a_worker_that_was_never_started(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_hints=HINT_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
