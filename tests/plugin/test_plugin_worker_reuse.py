"""One connected worker per kept fake, lent test after test (``fixtures/reuse.py``, ``sdk/worker.py``).

The inner tests run in order on one kept fake. Each checks, through the real SDK worker and client, that the lent
worker runs exactly its own test's functions: an orchestrator, activity or entity only an earlier test
registered is unknown, a name registered again runs the new function, stubs do not leak, a worker not started
yet gets nothing (the instance stays pending), ``stop()`` in the middle really stops (the work goes to the next
worker), and a worker with versioning options gets an SDK worker of its own.
"""

from __future__ import annotations

import pytest

WORKFLOWS = '''
from durabletask import entities


def greet(ctx, name):
    return f"Hello {name}!"


def greeting(ctx, name):
    return (yield ctx.call_activity("greet", input=name))


def only_in_a(ctx, _):
    return "a"


def counter(ctx, _):
    ctx.set_state((ctx.get_state(int) or 0) + 1)


def uses_counter(ctx, _):
    yield ctx.call_entity(entities.EntityInstanceId("counter", "one"), "add")
    return "called"
'''

TESTS = '''
import pytest
from durabletask import client
from durabletask_pytest import wait_until
from workflows import counter, greet, greeting, only_in_a, uses_counter

SEEN = {}


def _connected_tags(sidecar):
    return {connection.worker_tag for connection in sidecar.engine.connections(include_held=True)}


def _running_tag(sidecar):
    """The tag of the one SDK worker running the test's functions (held workers are not listed)."""
    assert wait_until(lambda: len(sidecar.engine.connections()) == 1, timeout=10)
    (connection,) = sidecar.engine.connections()
    return connection.worker_tag


def test_a_registers_more_than_the_next_ones(durable_worker, durable_client, durable_sidecar):
    durable_worker.add_entity(counter)
    durable_worker.stub_activity("greet", returns="stubbed")
    durable_worker.start_with(orchestrators=[greeting, only_in_a, uses_counter])
    done = durable_client.schedule_new_orchestration(greeting, input="A")
    assert durable_client.wait_for_orchestration_completion(done, timeout=10).get_output() == "stubbed"
    used = durable_client.schedule_new_orchestration(uses_counter)
    assert durable_client.wait_for_orchestration_completion(used, timeout=10).get_output() == "called"
    SEEN["sidecar"] = durable_sidecar
    SEEN["tag"] = _running_tag(durable_sidecar)


def test_b_runs_only_its_own_functions_on_the_lent_worker(durable_worker, durable_client, durable_sidecar):
    assert durable_sidecar is SEEN["sidecar"], "the fake was not kept"
    assert _connected_tags(durable_sidecar) == {SEEN["tag"]}, "the worker of test a is not kept connected"
    durable_worker.start_with(orchestrators=[greeting], activities=[greet])
    assert _connected_tags(durable_sidecar) == {SEEN["tag"]}, "a second SDK worker was started"
    state = durable_client.wait_for_orchestration_completion(
        durable_client.schedule_new_orchestration(greeting, input="B"), timeout=10)
    assert state.get_output() == "Hello B!"  # the real activity: test a's stub is gone
    gone = durable_client.wait_for_orchestration_completion(
        durable_client.schedule_new_orchestration("only_in_a"), timeout=10)
    assert gone.runtime_status == client.OrchestrationStatus.FAILED
    assert "only_in_a" in gone.failure_details.message
    entity_gone = durable_client.wait_for_orchestration_completion(
        durable_client.schedule_new_orchestration("uses_counter"), timeout=10)
    assert entity_gone.runtime_status == client.OrchestrationStatus.FAILED  # not registered in this test


def test_c_a_worker_not_started_gets_nothing(durable_worker, durable_client, durable_sidecar):
    durable_worker.register(orchestrators=[greeting], activities=[greet])
    instance_id = durable_client.schedule_new_orchestration(greeting, input="C")
    assert not durable_sidecar.wait_until_idle(0.3)  # queued, and nobody takes it
    assert durable_client.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.PENDING
    durable_worker.start()
    assert durable_client.wait_for_orchestration_completion(instance_id, timeout=10).get_output() == "Hello C!"
    with pytest.raises(RuntimeError, match="running"):
        durable_worker.add_activity(counter)


def test_d_stop_in_the_middle_really_stops(durable_worker, durable_client, durable_sidecar):
    durable_worker.start_with(orchestrators=[greeting], activities=[greet])
    assert durable_client.wait_for_orchestration_completion(
        durable_client.schedule_new_orchestration(greeting, input="D1"), timeout=10).get_output() == "Hello D1!"
    durable_worker.stop()
    assert wait_until(lambda: SEEN["tag"] not in _connected_tags(durable_sidecar), timeout=10)
    instance_id = durable_client.schedule_new_orchestration(greeting, input="D2")
    assert not durable_sidecar.wait_until_idle(0.3)
    durable_worker.start()  # its own SDK worker now
    assert durable_client.wait_for_orchestration_completion(instance_id, timeout=10).get_output() == "Hello D2!"
    assert _running_tag(durable_sidecar) == durable_worker.worker_tag
    SEEN["tag"] = durable_worker.worker_tag


def test_e_versioning_gets_a_worker_of_its_own(durable_worker, durable_client, durable_sidecar):
    from durabletask import worker as dt_worker

    kept = SEEN["tag"]
    assert kept in _connected_tags(durable_sidecar)
    any_version = dt_worker.VersionMatchStrategy.NONE
    durable_worker.use_versioning(dt_worker.VersioningOptions(version="1.0", match_strategy=any_version))
    durable_worker.start_with(orchestrators=[greeting], activities=[greet])
    assert _running_tag(durable_sidecar) == durable_worker.worker_tag != kept
    assert _connected_tags(durable_sidecar) == {kept, durable_worker.worker_tag}  # the kept one stays held
    assert durable_client.wait_for_orchestration_completion(
        durable_client.schedule_new_orchestration(greeting, input="E"), timeout=10).get_output() == "Hello E!"
'''


@pytest.mark.parametrize("flags", [(), ("-p", "xdist", "-n", "1")], ids=["plain", "xdist"])
def test_a_lent_worker_runs_exactly_the_test_s_functions(pytester: pytest.Pytester, flags: tuple[str, ...]) -> None:
    pytester.makepyfile(workflows=WORKFLOWS, test_worker_reuse=TESTS)
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *flags)
    result.assert_outcomes(passed=5)
