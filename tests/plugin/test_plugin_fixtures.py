"""The fixtures as users meet them: a workflow test file run by pytester against the fake sidecar."""

from __future__ import annotations

import pytest

WORKFLOWS = '''
from datetime import timedelta

from durabletask import task


def hello(ctx, name):
    return f"Hello {name}!"


def sequence(ctx, _):
    results = []
    for city in ("Tokyo", "Seattle", "London"):
        results.append((yield ctx.call_activity(hello, input=city)))
    return results


def send_approval_request(ctx, order):
    return None


def purchase_order(ctx, order):
    if order["cost"] < 1000:
        return "Auto-approved"
    yield ctx.call_activity(send_approval_request, input=order)
    approval = ctx.wait_for_external_event("approval_received")
    timeout = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval, timeout])
    if winner == timeout:
        return "Canceled"
    return f"Approved by {approval.get_result()['approver']}"
'''

FIXTURE_TESTS = '''
from datetime import timedelta

import pytest
from durabletask import client, worker

from durabletask_pytest import history_event_types, wait_until
from workflows import hello, purchase_order, send_approval_request, sequence

SEEN = {}


def test_chain_of_three_activities(durable_worker, durable_client, durable_sidecar):
    assert isinstance(durable_worker, worker.TaskHubGrpcWorker)
    assert isinstance(durable_client, client.TaskHubGrpcClient)
    durable_worker.start_with(orchestrators=[sequence], activities=[hello])
    instance_id = durable_client.schedule_new_orchestration(sequence)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert [snapshot.instance_id for snapshot in durable_sidecar.instances()] == [instance_id]
    SEEN["worker"], SEEN["sidecar"] = durable_worker, durable_sidecar


def test_the_next_test_gets_a_clean_sidecar_and_worker(durable_worker, durable_client, durable_sidecar):
    assert not SEEN["worker"].is_running, "the previous test's worker was stopped at teardown"
    assert durable_sidecar.instances() == []
    # Nothing registered here: if the previous worker or its registrations leaked, 'sequence' would run.
    durable_worker.start_with(activities=[hello])
    instance_id = durable_client.schedule_new_orchestration("sequence")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.FAILED


def test_clock_and_faults_are_the_sidecars(durable_sidecar, durable_clock, durable_faults):
    assert durable_clock is durable_sidecar.clock
    assert durable_faults is durable_sidecar.faults
    assert durable_faults.log == [] and durable_faults.seed is None


def test_the_sdk_api_works_directly(durable_worker, durable_client):
    durable_worker.add_orchestrator(sequence)
    durable_worker.add_activity(hello)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration(sequence, instance_id="by-hand")
    assert durable_client.wait_for_orchestration_completion(instance_id, timeout=10).get_output()[0] == "Hello Tokyo!"


def test_default_clock_is_auto_and_the_24_hour_timeout_fires_at_once(durable_worker, durable_client, durable_clock):
    assert durable_clock.mode == "auto"
    durable_worker.start_with(orchestrators=[purchase_order], activities=[send_approval_request])
    started = durable_clock.now()
    instance_id = durable_client.schedule_new_orchestration(purchase_order, input={"cost": 2000})
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == "Canceled"
    assert durable_clock.now() - started >= timedelta(hours=24)


def test_approval_before_the_timeout_wins(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[purchase_order], activities=[send_approval_request])
    instance_id = durable_client.schedule_new_orchestration(purchase_order, input={"cost": 2000})
    durable_client.raise_orchestration_event(instance_id, "approval_received", data={"approver": "Ann"})
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == "Approved by Ann"


@pytest.mark.durabletask(clock="manual")
def test_time_travel_past_a_24_hour_timer(durable_worker, durable_client, durable_sidecar, durable_clock):
    durable_worker.start_with(orchestrators=[purchase_order], activities=[send_approval_request])
    instance_id = durable_client.schedule_new_orchestration(purchase_order, input={"cost": 2000})
    wait_until(lambda: "timerCreated" in history_event_types(durable_sidecar, instance_id), what="the timer")

    durable_clock.advance(timedelta(hours=23, minutes=59))
    assert durable_client.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.RUNNING
    durable_clock.advance(timedelta(minutes=1))
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == "Canceled"
    assert state.last_updated_at - state.created_at >= timedelta(hours=24)
'''


FROZEN_UNDER_XDIST = '''
from datetime import datetime

import pytest

from workflows import purchase_order, send_approval_request


@pytest.mark.durabletask(start_time="2030-01-01T00:00:00Z", freeze_time=True)
def test_frozen_time_follows_the_auto_clock_in_an_xdist_worker(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[purchase_order], activities=[send_approval_request])
    instance_id = durable_client.schedule_new_orchestration(purchase_order, input={"cost": 2000})
    assert durable_client.wait_for_orchestration_completion(instance_id, timeout=10).get_output() == "Canceled"
    assert datetime.now() == datetime(2030, 1, 2)
'''


@pytest.fixture
def workflow_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workflows=WORKFLOWS)
    pytester.syspathinsert()
    return pytester


def test_fixtures_run_workflows_isolated_and_in_virtual_time(workflow_project: pytest.Pytester) -> None:
    workflow_project.makepyfile(test_workflows=FIXTURE_TESTS)
    result = workflow_project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_xdist_runs_the_same_file_in_two_processes_with_no_configuration(workflow_project: pytest.Pytester) -> None:
    workflow_project.makepyfile(test_workflows=FIXTURE_TESTS.replace(
        "def test_the_next_test_gets_a_clean_sidecar_and_worker", "def _not_under_xdist"  # relies on test order
    ))
    workflow_project.makepyfile(test_frozen=FROZEN_UNDER_XDIST)
    result = workflow_project.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "-p", "xdist")
    result.assert_outcomes(passed=7)
    assert "2 workers" in result.stdout.str()
