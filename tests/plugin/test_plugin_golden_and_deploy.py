"""Golden timelines next to the test, and mid-flight deployments of new orchestrator code (durable_deploy)."""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN_TESTS = '''
from datetime import timedelta

from durabletask import task


def step(ctx, name):
    return name.upper()


def flow(ctx, _):
    first = yield ctx.call_activity(step, input="a")
    yield ctx.create_timer(timedelta(minutes=WAIT_MINUTES))
    parts = yield task.when_all([ctx.call_activity(step, input=c) for c in "xyz"])
    return [first, *parts]


def test_flow(durable_worker, durable_client, durable_timeline_snapshot):
    durable_worker.start_with(orchestrators=[flow], activities=[step])
    instance_id = durable_client.schedule_new_orchestration(flow)
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    durable_timeline_snapshot(instance_id)
'''


def _golden_file(pytester: pytest.Pytester, minutes: int) -> None:
    pytester.makepyfile(test_golden=GOLDEN_TESTS.replace("WAIT_MINUTES", str(minutes)))


def test_golden_timelines_are_written_compared_and_diffed(pytester: pytest.Pytester) -> None:
    _golden_file(pytester, 5)
    missing = pytester.runpytest("-p", "no:cacheprovider")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*no golden timeline at*--durabletask-update-timelines*"])

    pytester.runpytest("-p", "no:cacheprovider", "--durabletask-update-timelines").assert_outcomes(passed=1)
    snapshot = Path(pytester.path, "__durable_timelines__", "test_golden", "test_flow.txt")
    lines = snapshot.read_text().splitlines()
    assert lines[0] == "+00:00:00.000  ExecutionStarted  flow"
    assert "+00:00:00.000  TimerCreated  fires +00:05:00.000" in lines
    assert lines[-1] == "+00:05:00.000  ExecutionCompleted  COMPLETED"
    assert not any("OrchestratorStarted" in line or "#" in line for line in lines)  # no boundaries, no ids

    for _ in range(3):  # the same schedule every time, although the three results race each other
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)

    _golden_file(pytester, 7)  # the code changed: the timer is longer
    changed = pytester.runpytest("-p", "no:cacheprovider")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines([
        "*the timeline differs from test_flow.txt*",
        "*-+00:00:00.000  TimerCreated  fires +00:05:00.000*",
        "*++00:00:00.000  TimerCreated  fires +00:07:00.000*",
    ])


DEPLOY_TESTS = '''
from durabletask import client, task, worker


def one(ctx, _):
    return "one"


def two(ctx, _):
    return "two"


def three(ctx, _):
    return "three"


def shipment_v1(ctx, _):
    steps = [(yield ctx.call_activity(one))]
    yield ctx.wait_for_external_event("go")
    steps.append((yield ctx.call_activity(two)))
    return steps


def shipment_v2(ctx, _):
    """Version-aware: 1.0.0 instances keep the old path."""
    steps = [(yield ctx.call_activity(one))]
    yield ctx.wait_for_external_event("go")
    if (ctx.version or "") > "1.0.0":
        steps.append((yield ctx.call_activity(three)))
    steps.append((yield ctx.call_activity(two)))
    return steps


V1 = worker.VersioningOptions(version="1.0.0", default_version="1.0.0",
                              match_strategy=worker.VersionMatchStrategy.NONE)


def start_v1(durable_worker, durable_client):
    durable_worker.register(orchestrators=[shipment_v1], activities=[one, two])
    durable_worker.use_versioning(V1)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration("shipment_v1", version="1.0.0")
    durable_client.wait_for_orchestration_start(instance_id, timeout=10)
    return instance_id


def test_v2_continues_a_v1_instance(durable_worker, durable_client, durable_deploy):
    instance_id = start_v1(durable_worker, durable_client)
    durable_deploy(orchestrators={"shipment_v1": shipment_v2}, activities=[one, two, three],
                   versioning=worker.VersioningOptions(
                       version="2.0.0", default_version="2.0.0",
                       match_strategy=worker.VersionMatchStrategy.CURRENT_OR_OLDER,
                       failure_strategy=worker.VersionFailureStrategy.FAIL))
    assert not durable_worker.is_running
    durable_client.raise_orchestration_event(instance_id, "go")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == ["one", "two"]


def test_a_strict_v2_refuses_the_v1_instance(durable_worker, durable_client, durable_deploy):
    instance_id = start_v1(durable_worker, durable_client)
    durable_deploy(orchestrators={"shipment_v1": shipment_v2}, activities=[one, two, three],
                   versioning=worker.VersioningOptions(
                       version="2.0.0", default_version="2.0.0",
                       match_strategy=worker.VersionMatchStrategy.STRICT,
                       failure_strategy=worker.VersionFailureStrategy.FAIL))
    durable_client.raise_orchestration_event(instance_id, "go")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert "1.0.0" in state.failure_details.message and "2.0.0" in state.failure_details.message
'''


def test_durable_deploy_continues_or_refuses_instances_on_new_code(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_deploy=DEPLOY_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
