"""End-to-end over real gRPC: the client API added for parity with the published SDK (history, listing,
purging by filter, rewind, restart, suspend/resume reasons, the asyncio client), and send_event /
continue_as_new(new_version=...) from orchestrations."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import grpc
import pytest
from sdk_e2e_helpers import wait_status

from durabletask import client, history, task


def greet(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def greeter(ctx: task.OrchestrationContext, name: str):
    return (yield ctx.call_activity(greet, input=name))


def waits_for_go(ctx: task.OrchestrationContext, _):
    return (yield ctx.wait_for_external_event("go"))


def test_history_is_returned_as_typed_events(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[greeter], activities=[greet])
    iid = durable_client.schedule_new_orchestration(greeter, input="Tokyo")
    durable_client.wait_for_orchestration_completion(iid, timeout=10)
    events = durable_client.get_orchestration_history(iid)
    kinds = [type(e) for e in events]
    assert kinds[:2] == [history.OrchestratorStartedEvent, history.ExecutionStartedEvent]
    started = events[1]
    assert started.name == "greeter" and started.input == '"Tokyo"'
    scheduled = next(e for e in events if isinstance(e, history.TaskScheduledEvent))
    completed = next(e for e in events if isinstance(e, history.TaskCompletedEvent))
    assert scheduled.name == "greet" and completed.task_scheduled_id == scheduled.event_id
    assert completed.result == '"Hello Tokyo!"'
    assert isinstance(events[-1], history.ExecutionCompletedEvent)
    assert all(isinstance(e.timestamp, datetime) and e.timestamp.tzinfo is not None for e in events)
    assert history.to_dict(events[-1])["result"] == '"Hello Tokyo!"'


def test_list_instance_ids_pages_through_terminal_instances(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[greeter], activities=[greet])
    ids = {durable_client.schedule_new_orchestration(greeter, input=str(i)) for i in range(3)}
    for iid in ids:
        durable_client.wait_for_orchestration_completion(iid, timeout=10)
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = durable_client.list_instance_ids(runtime_status=[client.OrchestrationStatus.COMPLETED],
                                                page_size=2, continuation_token=token)
        assert len(page.items) <= 2
        seen.extend(page.items)
        token = page.continuation_token
        if token is None:
            break
    assert set(seen) == ids


def test_purge_orchestrations_by_status(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[greeter, waits_for_go], activities=[greet])
    done = durable_client.schedule_new_orchestration(greeter, input="x")
    durable_client.wait_for_orchestration_completion(done, timeout=10)
    running = durable_client.schedule_new_orchestration(waits_for_go)
    wait_status(durable_client, running, client.OrchestrationStatus.RUNNING)
    result = durable_client.purge_orchestrations_by(runtime_status=[client.OrchestrationStatus.COMPLETED])
    assert result.deleted_instance_count == 1
    assert durable_client.get_orchestration_state(done) is None
    assert durable_client.get_orchestration_state(running) is not None
    with pytest.raises(ValueError):
        durable_client.purge_orchestrations_by(timeout=timedelta(0))


def test_rewind_sends_the_request_and_surfaces_the_sidecars_answer(durable_worker, durable_client):
    def fails(ctx, _):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    durable_worker.start_with(orchestrators=[fails])
    iid = durable_client.schedule_new_orchestration(fails)
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).runtime_status == \
        client.OrchestrationStatus.FAILED
    # The call reaches the sidecar and its answer is raised as is: an unknown id is NOT_FOUND.
    with pytest.raises(grpc.RpcError) as raised:
        durable_client.rewind_orchestration(iid + "-unknown", reason="fixed the bug")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert iid in raised.value.details()


def test_restart_with_the_same_and_a_new_instance_id(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[greeter], activities=[greet])
    iid = durable_client.schedule_new_orchestration(greeter, input="Oslo")
    durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert durable_client.restart_orchestration(iid) == iid
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == "Hello Oslo!"
    new_id = durable_client.restart_orchestration(iid, restart_with_new_instance_id=True)
    assert new_id != iid
    assert durable_client.wait_for_orchestration_completion(new_id, timeout=10).get_output() == "Hello Oslo!"


def test_suspend_and_resume_record_their_reasons(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[waits_for_go])
    iid = durable_client.schedule_new_orchestration(waits_for_go)
    wait_status(durable_client, iid, client.OrchestrationStatus.RUNNING)
    durable_client.suspend_orchestration(iid, reason="maintenance")
    wait_status(durable_client, iid, client.OrchestrationStatus.SUSPENDED)
    durable_client.raise_orchestration_event(iid, "go", data="kept while suspended")
    durable_client.resume_orchestration(iid, reason="done")
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == "kept while suspended"
    events = durable_client.get_orchestration_history(iid)
    suspended = next(e for e in events if isinstance(e, history.ExecutionSuspendedEvent))
    resumed = next(e for e in events if isinstance(e, history.ExecutionResumedEvent))
    assert (suspended.input, resumed.input) == ("maintenance", "done")


def sender(ctx: task.OrchestrationContext, target: str):
    ctx.send_event(target, "go", data={"from": ctx.instance_id})
    return "sent"


def test_send_event_from_an_orchestration(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[sender, waits_for_go])
    receiver = durable_client.schedule_new_orchestration(waits_for_go)
    source = durable_client.schedule_new_orchestration(sender, input=receiver)
    assert durable_client.wait_for_orchestration_completion(source, timeout=10).get_output() == "sent"
    received = durable_client.wait_for_orchestration_completion(receiver, timeout=10).get_output()
    assert received == {"from": source}


def upgrading(ctx: task.OrchestrationContext, runs: int):
    if ctx.version == "2.0":
        return f"finished on {ctx.version} after {runs} runs"
    ctx.continue_as_new(runs + 1, new_version="2.0")


def test_continue_as_new_with_a_new_version(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[upgrading])
    iid = durable_client.schedule_new_orchestration(upgrading, input=1, version="1.0")
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == "finished on 2.0 after 2 runs"


def test_async_client_from_asyncio_code(durable_worker, durable_sidecar):
    durable_worker.start_with(orchestrators=[greeter, waits_for_go], activities=[greet])

    async def scenario() -> tuple[object, ...]:
        async with client.AsyncTaskHubGrpcClient(host_address=durable_sidecar.address) as c:
            iid = await c.schedule_new_orchestration(greeter, input="Lima")
            done = await c.wait_for_orchestration_completion(iid, timeout=10)
            waiting = await c.schedule_new_orchestration(waits_for_go)
            await c.wait_for_orchestration_start(waiting, timeout=10)
            await c.raise_orchestration_event(waiting, "go", data=42)
            answered = await c.wait_for_orchestration_completion(waiting, timeout=10)
            events = await c.get_orchestration_history(iid)
            states = await c.get_all_orchestration_states()
            missing = await c.get_orchestration_state("nope")
            purged = await c.purge_orchestration(iid)
            return done.get_output(), answered.get_output(), type(events[-1]), len(states), missing, purged
    output, answer, last_event, count, missing, purged = asyncio.run(scenario())
    assert (output, answer, last_event, count, missing) == ("Hello Lima!", 42, history.ExecutionCompletedEvent, 2,
                                                            None)
    assert purged.deleted_instance_count == 1


def test_async_client_wait_timeout_raises_timeout_error(durable_worker, durable_sidecar):
    durable_worker.start_with(orchestrators=[waits_for_go])

    async def scenario() -> None:
        async with client.AsyncTaskHubGrpcClient(host_address=durable_sidecar.address) as c:
            iid = await c.schedule_new_orchestration(waits_for_go)
            await c.wait_for_orchestration_completion(iid, timeout=0.2)
    with pytest.raises(TimeoutError):
        asyncio.run(scenario())


ATTEMPTS: list[str] = []


def flaky_once(ctx: task.ActivityContext, name: str) -> str:
    ATTEMPTS.append(name)
    if ATTEMPTS.count(name) == 1:
        raise RuntimeError(f"{name}: first call fails")
    return f"{name} done"


def two_steps(ctx: task.OrchestrationContext, _: None):  # type: ignore[no-untyped-def]
    first = yield ctx.call_activity(flaky_once, input="ok-first")  # fails once, is not retried
    return first


def child_then_parent(ctx: task.OrchestrationContext, _: None):  # type: ignore[no-untyped-def]
    return (yield ctx.call_sub_orchestrator(two_steps))


def test_rewind_reruns_the_failed_work_of_an_instance_and_its_children(durable_worker, durable_client):
    ATTEMPTS.clear()
    durable_worker.start_with(orchestrators=[two_steps, child_then_parent], activities=[flaky_once])
    iid = durable_client.schedule_new_orchestration(child_then_parent)
    failed = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert failed.runtime_status == client.OrchestrationStatus.FAILED
    durable_client.rewind_orchestration(iid, reason="the bug is fixed")
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == "ok-first done"
    assert ATTEMPTS == ["ok-first", "ok-first"]  # the failed activity ran again, once
