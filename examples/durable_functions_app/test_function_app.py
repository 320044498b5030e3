"""Tests of the example Durable Functions app (function_app.py) on the fake sidecar, through its real code.

The app is named by the ini option ``durabletask_functions_app`` (pytest.ini beside this file). Each test drives
it as a user would: through its HTTP starter or the Durable Functions client, then reads the client's status.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

pytest.importorskip("azure.durable_functions", reason="needs azure-functions-durable (scripts/functions_venv.py)")

import azure.durable_functions as df  # noqa: E402


def start(durable_functions, orchestrator, body=None):
    response = durable_functions.call_http("http_start", "POST", route_params={"functionName": orchestrator},
                                           body=body)
    assert response.status_code == 202
    return durable_functions.instance_id_of(response)


def test_http_starter_answers_with_the_extensions_status_urls(durable_functions):
    response = durable_functions.call_http("http_start", "POST", route_params={"functionName": "hello_chain"})

    payload = json.loads(response.get_body())
    assert response.status_code == 202
    assert response.headers["Location"] == payload["statusQueryGetUri"]
    for key in ("statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri",
                "suspendPostUri", "resumePostUri", "restartPostUri"):
        assert payload[key].startswith(durable_functions.management_url), key
        assert payload["id"] in payload[key]


def test_status_url_of_the_check_status_response_is_served(durable_functions):
    import urllib.request

    response = durable_functions.call_http("http_start", "POST", route_params={"functionName": "hello_chain"})
    instance_id = durable_functions.instance_id_of(response)
    durable_functions.wait_for_completion(instance_id)

    with urllib.request.urlopen(json.loads(response.get_body())["statusQueryGetUri"], timeout=10) as answer:
        status = json.loads(answer.read())
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_chaining_runs_the_activities_in_order(durable_functions, durable_timeline_snapshot):
    instance_id = start(durable_functions, "hello_chain")

    status = durable_functions.wait_for_completion(instance_id)

    assert status.runtime_status == df.OrchestrationRuntimeStatus.Completed
    assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    durable_timeline_snapshot(instance_id)


def test_fan_out_fan_in_sums_the_parallel_results_and_sets_custom_status(durable_functions):
    instance_id = start(durable_functions, "fan_out_fan_in", 5)

    status = durable_functions.wait_for_completion(instance_id)

    assert status.output == sum(len(f"item-{n}") for n in range(5))
    assert status.custom_status == {"processed": 5}


def test_an_activity_stub_replaces_the_real_activity(durable_functions):
    stub = durable_functions.stub_activity("say_hello", returns="stubbed")

    status = durable_functions.wait_for_completion(start(durable_functions, "hello_chain"))

    assert status.output == ["stubbed", "stubbed", "stubbed"]
    assert stub.inputs == ["Tokyo", "Seattle", "London"]


def test_approval_before_the_deadline_is_approved(durable_functions):
    instance_id = start(durable_functions, "approval_workflow", {"who": "ann"})
    durable_functions.sidecar.wait_until_idle()

    answer = durable_functions.call_http("http_approve", "POST", route_params={"instanceId": instance_id},
                                         body={"approved": True})

    assert answer.status_code == 202
    assert durable_functions.wait_for_completion(instance_id).output == "approved"


def test_auto_clock_jumps_over_the_72_hour_timeout(durable_functions, durable_clock):
    started_at = durable_clock.now()
    instance_id = start(durable_functions, "approval_workflow", {"who": "bob"})

    status = durable_functions.wait_for_completion(instance_id)

    assert status.output == "escalated"
    assert durable_clock.now() - started_at >= timedelta(hours=72)


@pytest.mark.durabletask(clock="manual")
def test_manual_clock_fires_the_timeout_when_the_test_moves_time(durable_functions, durable_clock):
    instance_id = start(durable_functions, "approval_workflow", {"who": "cy"})
    durable_functions.sidecar.wait_until_idle()
    durable_clock.advance(timedelta(hours=71))
    durable_functions.sidecar.wait_until_idle()
    assert durable_functions.get_status(instance_id).runtime_status == df.OrchestrationRuntimeStatus.Running

    durable_clock.advance(timedelta(hours=1))

    assert durable_functions.wait_for_completion(instance_id).output == "escalated"


def test_monitor_continues_as_new_until_the_job_is_done(durable_functions, durable_clock):
    job = {"id": "job-1", "checks": 0, "max_checks": 10, "done_after": 3}
    started_at = durable_clock.now()  # three 30-minute waits: virtual time (skipped on a real sidecar)

    status = durable_functions.wait_for_completion(start(durable_functions, "job_monitor", job))

    assert status.output == {"job": "job-1", "status": "done", "checks": 4}
    assert durable_clock.now() - started_at >= timedelta(minutes=90)


def test_entity_counts_the_signals_before_the_call(durable_functions):
    instance_id = start(durable_functions, "count_to", {"key": "k1", "amounts": [1, 2, 3]})

    assert durable_functions.wait_for_completion(instance_id).output == 6
    state = durable_functions.run(durable_functions.client.read_entity_state(df.EntityId("counter", "k1")))
    assert state.entity_exists and state.entity_state == 6


def test_retry_policy_outlasts_two_injected_failures(durable_functions, durable_faults):
    durable_faults.fail_activity("charge_card", times=2)

    status = durable_functions.wait_for_completion(start(durable_functions, "charge_with_retry", {"amount": 5}))

    assert status.output == "charged 5"
    history = [e.WhichOneof("eventType") for e in durable_functions.sidecar.history(status.instance_id)]
    assert history.count("taskFailed") == 2 and history.count("timerFired") == 2


def test_retry_policy_gives_up_after_its_attempts(durable_functions, durable_faults):
    durable_faults.fail_activity("charge_card", times=3)

    status = durable_functions.wait_for_completion(start(durable_functions, "charge_with_retry", {"amount": 5}))

    assert status.runtime_status == df.OrchestrationRuntimeStatus.Failed


def test_sub_orchestrations_run_as_instances_of_their_own(durable_functions, durable_sidecar):
    instance_id = start(durable_functions, "chains_in_parallel", 3)

    status = durable_functions.wait_for_completion(instance_id)

    assert status.output == ["Hello Tokyo!"] * 3
    child = durable_sidecar.instance(f"{instance_id}-child-2")
    assert child is not None and child.parent_instance_id == instance_id


def test_the_client_works_from_a_plain_test(durable_functions):
    client = durable_functions.client
    instance_id = durable_functions.run(client.start_new("hello_chain"))
    durable_functions.wait_for_completion(instance_id)

    assert durable_functions.run(client.get_status(instance_id)).output[0] == "Hello Tokyo!"
    purged = durable_functions.run(client.purge_instance_history(instance_id))
    assert purged.instances_deleted == 1


async def test_the_client_works_from_an_async_test(durable_functions):
    client = durable_functions.client
    instance_id = await client.start_new("approval_workflow", client_input={"who": "dee"})
    durable_functions.sidecar.wait_until_idle()
    await client.raise_event(instance_id, "Approval", {"approved": False})
    durable_functions.wait_for_completion(instance_id)

    status = await client.get_status(instance_id)
    assert status.output == "rejected"


def test_terminate_suspend_and_resume_through_the_client(durable_functions):
    client = durable_functions.client
    if not hasattr(client, "suspend"):
        pytest.skip("this azure-functions-durable version's client has no suspend/resume")
    waiting = start(durable_functions, "approval_workflow", {"who": "eve"})
    durable_functions.sidecar.wait_until_idle()

    durable_functions.run(client.suspend(waiting, "hold"))
    durable_functions.sidecar.wait_until_idle()
    assert durable_functions.get_status(waiting).runtime_status == df.OrchestrationRuntimeStatus.Suspended
    durable_functions.run(client.resume(waiting, "go on"))
    durable_functions.run(client.terminate(waiting, "no longer needed"))

    assert durable_functions.wait_for_completion(waiting).runtime_status == df.OrchestrationRuntimeStatus.Terminated
