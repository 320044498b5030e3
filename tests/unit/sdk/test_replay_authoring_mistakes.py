"""Replay engine: common authoring mistakes fail the orchestration with a message that says what went wrong."""

from __future__ import annotations

import history_builders as h
import pytest
from sdk_replay_helpers import T0, completion, confirm, registry, run, started, tick

from durabletask import task, worker
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.registry import Registry


def forgot_yield(ctx: task.OrchestrationContext, _):
    return ctx.call_activity("work")


def forgot_last_yield(ctx: task.OrchestrationContext, _):
    yield ctx.create_timer(ctx.current_utc_datetime)
    return task.when_all([ctx.call_activity("work")])


class Opaque:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 1


def returns_opaque(ctx: task.OrchestrationContext, _):
    if False:
        yield
    return Opaque()


async def async_orchestrator(ctx: task.OrchestrationContext, _):
    return 1


def returns_coroutine(ctx: task.OrchestrationContext, _):
    return async_orchestrator(ctx, _)


def _failure(result) -> pb.TaskFailureDetails:
    done = completion(result)
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    return done.failureDetails


def test_returning_a_task_instead_of_yielding_it_fails_with_a_hint():
    details = _failure(run(registry(forgot_yield), [], started("forgot_yield")))
    assert "forget 'yield'" in details.errorMessage
    assert "CompletableTask" in details.errorMessage
    assert details.errorType == "builtins.TypeError"


def test_a_generator_returning_a_task_fails_too():
    reg = registry(forgot_last_yield)
    first = run(reg, [], started("forgot_last_yield"))
    history = started("forgot_last_yield") + confirm(first)
    details = _failure(run(reg, history, [tick(), h.new_timer_fired_event(1, T0)]))
    assert "forget 'yield'" in details.errorMessage
    assert "WhenAllTask" in details.errorMessage


def test_a_non_serializable_output_names_its_type_and_hides_engine_internals():
    details = _failure(run(registry(returns_opaque), [], started("returns_opaque")))
    assert "'Opaque'" in details.errorMessage
    assert "JSON" in details.errorMessage
    assert "StopIteration" not in str(details)


def test_async_orchestrators_are_refused_at_registration():
    for add in (Registry().add_orchestrator, worker.TaskHubGrpcWorker().add_orchestrator):
        with pytest.raises(TypeError, match="generator function"):
            add(async_orchestrator)


def test_an_orchestrator_returning_a_coroutine_fails_at_first_execution(recwarn):
    details = _failure(run(registry(returns_coroutine), [], started("returns_coroutine")))
    assert "generator function" in details.errorMessage
    assert "coroutine" in details.errorMessage
    assert not [w for w in recwarn if "never awaited" in str(w.message)]  # closed, not left to the GC
