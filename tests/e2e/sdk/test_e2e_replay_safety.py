"""End-to-end over real gRPC: replay safety (non-determinism, new_uuid, the sidecar's time), payload-less
queries and retry time-outs on the virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar

START = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)

# Which action each instance's orchestrator code takes; a test flips it to simulate a code change mid-flight.
CODE_PATH: dict[str, str] = {}


def greet(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def echo(ctx: task.ActivityContext, value):
    return value


def changes_its_mind(ctx: task.OrchestrationContext, _: object):
    """Schedules a timer or an activity, depending on which code is "deployed" for this instance."""
    if CODE_PATH[ctx.instance_id] == "timer":
        yield ctx.create_timer(timedelta(hours=1))
    else:
        yield ctx.call_activity(greet, input="world")
    return "done"


def uuids_and_times(ctx: task.OrchestrationContext, _: object):
    """Generates ids and reads the time before and after an activity; replays must see the same values."""
    first_id = str(ctx.new_uuid())
    first_time = ctx.current_utc_datetime.isoformat()
    echoed = yield ctx.call_activity(echo, input=[first_id, first_time])
    second_id = str(ctx.new_uuid())
    return {"echoed": echoed, "replayed": [first_id, first_time], "second": second_id}


def always_failing(ctx: task.ActivityContext, _: object) -> None:  # never runs: the fake fails it first
    raise AssertionError("the fault plan should have answered for this activity")


def retries_for_ten_minutes(ctx: task.OrchestrationContext, _: object):
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(minutes=1),
        max_number_of_attempts=100,
        backoff_coefficient=2.0,
        retry_timeout=timedelta(minutes=10),
    )
    started = ctx.current_utc_datetime
    try:
        yield ctx.call_activity(always_failing, retry_policy=policy)
    except task.TaskFailedError as error:
        return {"error": error.details.message, "minutes": (ctx.current_utc_datetime - started).total_seconds() / 60}
    return "unexpected success"


def _run(fake: FakeSidecar, orchestrators: list, activities: list) -> tuple[worker.TaskHubGrpcWorker,
                                                                            client.TaskHubGrpcClient]:
    w = worker.TaskHubGrpcWorker(host_address=fake.address)
    for fn in orchestrators:
        w.add_orchestrator(fn)
    for fn in activities:
        w.add_activity(fn)
    w.start()
    return w, client.TaskHubGrpcClient(host_address=fake.address)


def test_changed_code_fails_the_orchestration_with_a_non_determinism_error_naming_both_actions():
    with FakeSidecar(clock="manual", start_time=START) as fake:
        w, c = _run(fake, [changes_its_mind], [greet])
        try:
            CODE_PATH["nd-1"] = "timer"
            c.schedule_new_orchestration(changes_its_mind, instance_id="nd-1")
            c.wait_for_orchestration_start("nd-1", timeout=10)
            assert fake.wait_until_idle(timeout=10)  # the timer is scheduled; nothing else can happen yet
            kinds = [e.WhichOneof("eventType") for e in fake.history("nd-1")]
            assert "timerCreated" in kinds
            CODE_PATH["nd-1"] = "activity"  # new code deployed while the timer is pending
            fake.clock.advance(timedelta(hours=1))
            state = c.wait_for_orchestration_completion("nd-1", timeout=10)
        finally:
            CODE_PATH.pop("nd-1", None)
            c.close()
            w.stop()
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    message = state.failure_details.message
    assert "determinis" in message.lower(), message
    assert "timer" in message.lower() and "greet" in message, message


def test_new_uuid_and_current_time_are_the_same_on_replay_and_come_from_the_sidecar_clock():
    with FakeSidecar(clock="auto", start_time=START) as fake:
        w, c = _run(fake, [uuids_and_times], [echo])
        try:
            iid = c.schedule_new_orchestration(uuids_and_times)
            state = c.wait_for_orchestration_completion(iid, timeout=10)
        finally:
            c.close()
            w.stop()
    output = state.get_output()
    assert output["echoed"] == output["replayed"]  # the replay regenerated exactly what the first run sent
    assert output["second"] != output["replayed"][0]
    # the virtual time, not the wall clock (naive UTC, as the published SDK gives it)
    assert datetime.fromisoformat(output["replayed"][1]) == START.replace(tzinfo=None)


def test_fetch_payloads_false_leaves_out_inputs_and_outputs():
    with FakeSidecar(clock="auto") as fake:
        w, c = _run(fake, [uuids_and_times], [echo])
        try:
            iid = c.schedule_new_orchestration(uuids_and_times, input={"secret": 1})
            done = c.wait_for_orchestration_completion(iid, fetch_payloads=False, timeout=10)
            bare = c.get_orchestration_state(iid, fetch_payloads=False)
            full = c.get_orchestration_state(iid)
        finally:
            c.close()
            w.stop()
    for state in (done, bare):
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED
        assert state.serialized_input is None and state.serialized_output is None
    assert full.serialized_input == '{"secret": 1}' and full.serialized_output is not None


def test_retry_timeout_stops_retries_on_the_virtual_clock():
    with FakeSidecar(clock="auto", start_time=START) as fake:
        fake.faults.fail_activity(always_failing, times=None, message="still down")
        w, c = _run(fake, [retries_for_ten_minutes], [always_failing])
        try:
            iid = c.schedule_new_orchestration(retries_for_ten_minutes)
            state = c.wait_for_orchestration_completion(iid, timeout=10)
        finally:
            c.close()
            w.stop()
    output = state.get_output()
    assert output["error"] == "still down"
    # attempts at 0, 1, 3 and 7 virtual minutes; the failure at 7 starts a back-off ending at 15, past the
    # 10-minute retry timeout, so no fifth attempt is made (the published SDK's outcome, on orchestration time)
    assert [r.kind for r in fake.faults.log] == ["fail_activity"] * 4
    assert [r.time - START for r in fake.faults.log] == [timedelta(minutes=m) for m in (0, 1, 3, 7)]
    assert output["minutes"] == 15


def named_parent(ctx: task.OrchestrationContext, _: object):
    """Calls its activity and child by registered name (strings), not by function."""
    greeting = yield ctx.call_activity("greet", input="by name")
    child = yield ctx.call_sub_orchestrator("renamed_child", input=greeting, instance_id=f"{ctx.instance_id}-child")
    return child


def child_impl(ctx: task.OrchestrationContext, greeting: str) -> str:
    return greeting.upper()


def test_calls_by_name_and_recursive_purge_of_parent_and_child():
    with FakeSidecar(clock="auto") as fake:
        w = worker.TaskHubGrpcWorker(host_address=fake.address)
        w.add_orchestrator(named_parent)
        w.add_orchestrator(child_impl, name="renamed_child")
        w.add_activity(greet)
        w.start()
        c = client.TaskHubGrpcClient(host_address=fake.address)
        try:
            state = c.wait_for_orchestration_completion(c.schedule_new_orchestration("named_parent",
                                                                                      instance_id="np"), timeout=10)
            assert state.get_output() == "HELLO BY NAME!"
            assert c.get_orchestration_state("np-child").runtime_status == client.OrchestrationStatus.COMPLETED
            assert c.purge_orchestration("np", recursive=False).deleted_instance_count == 1
            assert c.get_orchestration_state("np") is None and c.get_orchestration_state("np-child") is not None
            state = c.wait_for_orchestration_completion(c.schedule_new_orchestration("named_parent",
                                                                                      instance_id="np2"), timeout=10)
            assert c.purge_orchestration("np2", recursive=True).deleted_instance_count == 2
            assert c.get_orchestration_state("np2") is None and c.get_orchestration_state("np2-child") is None
        finally:
            c.close()
            w.stop()
