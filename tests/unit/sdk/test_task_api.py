"""Task composition and the public authoring types, without a runtime."""

from __future__ import annotations

from datetime import timedelta

import pytest

from durabletask import task
from durabletask.internal import helpers


def test_when_any_returns_the_first_completed_child():
    a, b = task.CompletableTask(), task.CompletableTask()
    any_task = task.when_any([a, b])
    assert not any_task.is_complete
    b.complete("B")
    assert any_task.is_complete and any_task.get_result() is b
    a.complete("A")
    assert any_task.get_result() is b


def test_when_any_with_an_already_completed_child():
    a, b = task.CompletableTask(), task.CompletableTask()
    a.complete(1)
    assert task.when_any([b, a]).get_result() is a


def test_when_all_counts_and_failure_after_all():
    a, b = task.CompletableTask(), task.CompletableTask()
    all_task = task.when_all([a, b])
    a.fail("boom", ValueError("x"))
    assert not all_task.is_complete and all_task.pending_tasks == 1
    b.complete(2)
    assert all_task.is_complete and all_task.is_failed
    with pytest.raises(task.TaskFailedError, match="boom"):
        all_task.get_result()


def test_nested_composition():
    a, b, c = (task.CompletableTask() for _ in range(3))
    outer = task.when_all([task.when_any([a, b]), c])
    a.complete(1)
    c.complete(3)
    winner, third = outer.get_result()
    assert winner is a and third == 3


def test_task_state_errors():
    t = task.CompletableTask()
    with pytest.raises(ValueError):
        t.get_result()
    with pytest.raises(ValueError):
        t.get_exception()
    t.complete(1)
    with pytest.raises(ValueError):
        t.complete(2)


def test_cancellable_task():
    t = task.CancellableTask()
    assert t.cancel() and t.is_cancelled
    with pytest.raises(task.TaskCancelledError):
        t.get_result()
    assert not t.cancel()


def test_task_failed_error_details_from_exception_and_proto():
    try:
        raise KeyError("k")
    except KeyError as e:
        err = task.TaskFailedError("failed", e)
    assert err.details.error_type == "builtins.KeyError"
    assert err.details.is_caused_by(KeyError) and err.details.is_caused_by(LookupError)
    assert err.details.is_caused_by(ValueError) is False
    assert err.details.is_caused_by("KeyError") and err.details.is_caused_by("builtins.KeyError")
    proto = helpers.new_failure_details(ValueError("v"))
    assert task.TaskFailedError("m", proto).details.message == "v"
    with pytest.raises(TypeError):
        err.details.is_caused_by(42)  # type: ignore[arg-type]


def test_retry_policy_properties():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3,
                              backoff_coefficient=2, max_retry_interval=timedelta(seconds=10),
                              retry_timeout=timedelta(minutes=1))
    assert (policy.first_retry_interval, policy.max_number_of_attempts, policy.backoff_coefficient,
            policy.max_retry_interval, policy.retry_timeout) == (
        timedelta(seconds=1), 3, 2, timedelta(seconds=10), timedelta(minutes=1))


def test_get_name_and_activity_context():
    def my_fn(ctx, x):
        return x

    assert task.get_name(my_fn) == "my_fn"
    with pytest.raises(ValueError, match="lambda"):
        task.get_name(lambda: None)
    ctx = task.ActivityContext("orch-1", 7)
    assert (ctx.orchestration_id, ctx.task_id) == ("orch-1", 7)
