"""End-to-end over real gRPC: authoring mistakes fail the orchestration loudly, with a message that helps."""

from __future__ import annotations

from durabletask import client, task


def work(ctx: task.ActivityContext, _) -> str:
    return "done"


def forgot_yield(ctx: task.OrchestrationContext, _):
    return ctx.call_activity(work)


class Opaque:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 1


def returns_opaque(ctx: task.OrchestrationContext, _):
    yield ctx.call_activity(work)
    return Opaque()


async def async_orchestrator(ctx: task.OrchestrationContext, _):
    return 1


def _failed(durable_client, orchestrator) -> task.FailureDetails:
    iid = durable_client.schedule_new_orchestration(orchestrator)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert state.serialized_output is None
    return state.failure_details


def test_forgetting_yield_fails_the_orchestration_instead_of_returning_the_task_object(durable_client,
                                                                                       durable_worker):
    durable_worker.start_with(orchestrators=[forgot_yield], activities=[work])
    details = _failed(durable_client, forgot_yield)
    assert "did you forget 'yield'" in details.message


def test_a_non_serializable_output_is_reported_by_type_without_engine_internals(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[returns_opaque], activities=[work])
    details = _failed(durable_client, returns_opaque)
    assert "'Opaque'" in details.message and "JSON" in details.message
    assert details.inner_failure is None


def test_an_async_orchestrator_is_refused_at_registration_or_else_fails_at_first_execution(durable_client,
                                                                                           durable_worker):
    # The SDK refuses it at registration (tests/unit/sdk/test_replay_authoring_mistakes.py); the plugin's worker
    # registers a synchronous trampoline in its place, so here the refusal may come at the first execution.
    try:
        durable_worker.start_with(orchestrators=[async_orchestrator])
    except TypeError as refused:
        assert "must be generator functions" in str(refused)
        return
    details = _failed(durable_client, async_orchestrator)
    assert "must be generator functions" in details.message
    assert "Failed to serialize" not in details.message
