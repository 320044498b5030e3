"""One fake per pytest process, reused test after test (``fixtures/reuse.py``): every test still sees a fresh sidecar.

The inner file's first test leaves everything behind that could leak (a waiting instance with a pending timer and
an event wait, a completed instance, an entity, a stub, an injected fault, a moved clock); the next tests check,
on the same server (same address, so the reuse really happened), that none of it is there and that none of it
acts: the same instance id starts afresh, the real activity answers (no stub, no fault), moving the clock past
the old timer fires nothing, the event the old instance waited for reaches nobody. Then the pool's rules:
another clock mode and start time, a test that stopped its fake, a fake still reached by a worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from durabletask_pytest.fixtures.reuse import SidecarPool, is_quiet
from durabletask_pytest.fixtures.settings import DurableSettings
from durabletask_pytest.fixtures.waiting import wait_until

WORKFLOWS = '''
from datetime import timedelta

from durabletask import entities, task


def greet(ctx, name):
    return f"Hello {name}!"


def greeting(ctx, name):
    return (yield ctx.call_activity(greet, input=name))


def waiting(ctx, _):
    approval = ctx.wait_for_external_event("go")
    timeout = ctx.create_timer(timedelta(hours=2))
    winner = yield task.when_any([approval, timeout])
    return "event" if winner == approval else "timer"


def counter(ctx):
    ctx.set_state((ctx.get_state(int) or 0) + (ctx.get_input() or 1))
'''

REUSE_TESTS = '''
from datetime import datetime, timedelta, timezone

import pytest
from durabletask import client, entities

from durabletask_pytest import wait_until
from workflows import counter, greet, greeting, waiting

START = datetime(2030, 1, 1, tzinfo=timezone.utc)
SEEN = {}


@pytest.mark.durabletask(clock="manual", start_time=START)
def test_a_leaves_everything_behind(durable_worker, durable_client, durable_sidecar, durable_clock, durable_faults):
    durable_worker.add_entity(counter)
    durable_worker.stub_activity("greet", returns="stubbed")
    durable_worker.start_with(orchestrators=[greeting, waiting])
    done = durable_client.schedule_new_orchestration(greeting, input="A", instance_id="same-id")
    assert durable_client.wait_for_orchestration_completion(done, timeout=10).get_output() == "stubbed"
    durable_client.schedule_new_orchestration(waiting, instance_id="left-waiting")
    durable_client.signal_entity(entities.EntityInstanceId("counter", "left"), "add", input=5)
    assert wait_until(lambda: durable_sidecar.entities(), timeout=10)
    assert durable_sidecar.wait_until_idle(10)
    durable_clock.advance(timedelta(hours=1))
    durable_faults.fail_activity("greet", times=None)
    SEEN["address"] = durable_sidecar.address
    SEEN["sidecar"] = durable_sidecar
    assert len(durable_sidecar.instances()) == 2 and durable_faults.log == []


@pytest.mark.durabletask(clock="manual", start_time=START)
def test_b_sees_none_of_it(durable_worker, durable_client, durable_sidecar, durable_clock, durable_faults):
    assert durable_sidecar.address == SEEN["address"] and durable_sidecar is SEEN["sidecar"], "not reused"
    assert durable_sidecar.instances() == [] and durable_sidecar.entities() == []
    assert durable_clock.mode == "manual" and durable_clock.now() == START
    assert durable_faults.log == [] and durable_faults.seed is None
    assert durable_worker.stubs == [] and not durable_worker.is_running
    durable_worker.start_with(orchestrators=[greeting], activities=[greet])
    again = durable_client.schedule_new_orchestration(greeting, input="B", instance_id="same-id")
    state = durable_client.wait_for_orchestration_completion(again, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == "Hello B!"  # the real activity: no stub, no injected failure
    with pytest.raises(Exception):  # the instance test A left waiting is gone: nobody to receive its event
        durable_client.raise_orchestration_event("left-waiting", "go")
    durable_clock.advance(timedelta(hours=3))  # past the timer test A left pending
    assert durable_sidecar.wait_until_idle(10)
    assert [snapshot.instance_id for snapshot in durable_sidecar.instances()] == ["same-id"]
    assert durable_sidecar.entities() == []
    assert durable_faults.log == []


@pytest.mark.durabletask(clock="manual", start_time=START + timedelta(days=3))
def test_c_gets_its_own_start_time(durable_sidecar, durable_clock):
    assert durable_sidecar is SEEN["sidecar"]
    assert durable_clock.now() == START + timedelta(days=3)


def test_d_another_clock_mode_gets_another_fake(durable_sidecar, durable_clock):
    assert durable_clock.mode == "auto"
    assert durable_sidecar is not SEEN["sidecar"]
    SEEN["auto"] = durable_sidecar
    durable_sidecar.stop()  # a test may stop its fake


def test_e_a_stopped_fake_is_not_handed_out_again(durable_worker, durable_client, durable_sidecar):
    assert durable_sidecar is not SEEN["auto"] and durable_sidecar.is_running
    durable_worker.start_with(orchestrators=[greeting], activities=[greet])
    instance_id = durable_client.schedule_new_orchestration(greeting, input="E")
    assert durable_client.wait_for_orchestration_completion(instance_id, timeout=10).get_output() == "Hello E!"
'''


@pytest.fixture
def workflow_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workflows=WORKFLOWS)
    pytester.syspathinsert()
    return pytester


def test_a_reused_fake_shows_no_trace_of_the_earlier_test(workflow_project: pytest.Pytester) -> None:
    workflow_project.makepyfile(test_reuse=REUSE_TESTS)
    result = workflow_project.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


@pytest.fixture
def pool() -> Iterator[SidecarPool]:
    kept = SidecarPool()
    yield kept
    kept.close()


def test_a_fake_still_reached_by_a_worker_is_stopped_instead_of_reused(pool: SidecarPool) -> None:
    from durabletask import worker as dt_worker

    settings = DurableSettings()
    first = pool.take(settings)
    leaked = dt_worker.TaskHubGrpcWorker(host_address=first.address)  # a worker the test never stopped
    leaked.start()
    try:
        wait_until(lambda: first.engine.connections(), timeout=10, what="the leaked worker's stream")
        assert not is_quiet(first)
        pool.give_back(first)
        second = pool.take(settings)
        assert second is not first and not first.is_running and second.is_running
        assert second.instances() == [] and is_quiet(second)
        pool.give_back(second)
        assert len(pool) == 1
    finally:
        leaked.stop()


def test_a_quiet_fake_is_emptied_and_handed_out_again(pool: SidecarPool) -> None:
    settings = DurableSettings()
    first = pool.take(settings)
    first.faults.chaos(7, rate=0.5)
    first.clock.advance(60)
    pool.give_back(first)
    second = pool.take(DurableSettings(clock="manual"))
    assert second is not first and second.clock.mode == "manual"  # kept per clock mode
    third = pool.take(settings)
    assert third is first and third.is_running
    assert third.instances() == [] and third.faults.seed is None and third.clock.now() == third.clock.start_time
    pool.give_back(second)
    pool.give_back(third)
    assert len(pool) == 2
    pool.close()
    assert not first.is_running and not second.is_running and len(pool) == 0
