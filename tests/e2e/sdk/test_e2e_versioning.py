"""End-to-end over real gRPC: orchestration versioning, the seeds' four deployment scenarios."""

from __future__ import annotations

from typing import Any

from durabletask import client, task, worker

V = worker.VersionMatchStrategy
F = worker.VersionFailureStrategy


def versioned(label: str) -> Any:
    """An orchestrator named 'shipping' whose output says which code ran it and with which version."""
    def shipping(ctx: task.OrchestrationContext, _):
        yield ctx.call_activity(step)
        child = yield ctx.call_sub_orchestrator(report_version)
        return {"code": label, "version": ctx.version, "child_version": child}
    return shipping


def step(ctx, _):
    return None


def report_version(ctx: task.OrchestrationContext, _):
    return ctx.version


def _run(durable_client: client.TaskHubGrpcClient, version: str | None) -> client.OrchestrationState:
    iid = durable_client.schedule_new_orchestration("shipping", version=version)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state is not None
    return state


def test_scenario_1_default_versions_without_matching(durable_sidecar, start_worker):
    opts = worker.VersioningOptions(version="1.0.0", default_version="1.0.0", match_strategy=V.NONE)
    start_worker([versioned("v1"), report_version], [step], versioning=opts)
    with client.TaskHubGrpcClient(host_address=durable_sidecar.address, default_version="1.0.0") as c:
        state = _run(c, None)
        assert state.get_output() == {"code": "v1", "version": "1.0.0", "child_version": "1.0.0"}
        assert state.version == "1.0.0"
        # no matching: any version runs
        assert _run(c, "0.5").get_output()["version"] == "0.5"
        assert _run(c, "9.0").get_output()["child_version"] == "1.0.0"  # sub-orchestrations do not inherit


def test_scenario_2_strict_fail_rejects_old_orchestrations(durable_client, start_worker):
    opts = worker.VersioningOptions(version="2.0.0", default_version="2.0.0", match_strategy=V.STRICT,
                                    failure_strategy=F.FAIL)
    start_worker([versioned("v2"), report_version], [step], versioning=opts)
    old = _run(durable_client, "1.0.0")
    assert old.runtime_status == client.OrchestrationStatus.FAILED
    assert "1.0.0" in old.failure_details.message and "2.0.0" in old.failure_details.message
    assert old.failure_details.error_type == "VersionMismatch"
    new = _run(durable_client, "2.0.0")
    assert new.get_output() == {"code": "v2", "version": "2.0.0", "child_version": "2.0.0"}


def test_scenario_3_current_or_older_runs_old_fails_newer(durable_client, start_worker):
    opts = worker.VersioningOptions(version="1.10.0", default_version="1.10.0",
                                    match_strategy=V.CURRENT_OR_OLDER, failure_strategy=F.FAIL)
    start_worker([versioned("v1.10"), report_version], [step], versioning=opts)
    assert _run(durable_client, "1.9.0").get_output()["code"] == "v1.10"  # 1.9.0 is older than 1.10.0
    assert _run(durable_client, "1.10.0").runtime_status == client.OrchestrationStatus.COMPLETED
    newer = _run(durable_client, "1.11.0")
    assert newer.runtime_status == client.OrchestrationStatus.FAILED
    assert "1.11.0" in newer.failure_details.message and "1.10.0" in newer.failure_details.message


def rollout(label: str) -> Any:
    """An orchestrator named 'rollout' (one activity, then an answer naming the code that ran it)."""
    def rollout(ctx: task.OrchestrationContext, _):
        yield ctx.call_activity(step)
        return {"code": label, "version": ctx.version}
    return rollout


def test_scenario_4_two_workers_strict_reject(durable_client, start_worker):
    for label, version in (("v1", "1.0.0"), ("v2", "2.0.0")):
        opts = worker.VersioningOptions(version=version, default_version=version, match_strategy=V.STRICT,
                                        failure_strategy=F.REJECT)
        start_worker([rollout(label)], [step], versioning=opts)
    ids = {}
    for i in range(4):
        version = "1.0.0" if i % 2 == 0 else "2.0.0"
        ids[durable_client.schedule_new_orchestration("rollout", version=version)] = version
    for iid, version in ids.items():
        state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
        expected = "v1" if version == "1.0.0" else "v2"
        assert state.get_output() == {"code": expected, "version": version}


def activity_one(ctx, _):
    return "one"


def activity_two(ctx, _):
    return "two"


def activity_three(ctx, _):
    return "three"


def my_orchestrator_v1(ctx: task.OrchestrationContext, _):
    calls = [(yield ctx.call_activity(activity_one))]
    yield ctx.wait_for_external_event("continue")
    calls.append((yield ctx.call_activity(activity_two)))
    return calls


def my_orchestrator_v2(ctx: task.OrchestrationContext, _):
    calls = [(yield ctx.call_activity(activity_one))]
    yield ctx.wait_for_external_event("continue")
    if ctx.version > "1.0.0":
        calls.append((yield ctx.call_activity(activity_three)))
    calls.append((yield ctx.call_activity(activity_two)))
    return calls


def test_version_aware_orchestrator_replays_old_instance_on_old_path(durable_sidecar, durable_client):
    acts = [activity_one, activity_two, activity_three]
    old_worker = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address)
    old_worker.add_orchestrator(my_orchestrator_v1, name="my_orchestrator")
    for fn in acts:
        old_worker.add_activity(fn)
    old_worker.start()
    try:
        old_id = durable_client.schedule_new_orchestration("my_orchestrator", version="1.0.0")
        _wait_for_history(durable_sidecar, old_id, "activity_one")
    finally:
        old_worker.stop()

    new_worker = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address)
    new_worker.add_orchestrator(my_orchestrator_v2, name="my_orchestrator")
    for fn in acts:
        new_worker.add_activity(fn)
    new_worker.use_versioning(worker.VersioningOptions(version="2.0.0", default_version="2.0.0",
                                                       match_strategy=V.CURRENT_OR_OLDER, failure_strategy=F.FAIL))
    new_worker.start()
    try:
        new_id = durable_client.schedule_new_orchestration("my_orchestrator", version="2.0.0")
        for iid in (old_id, new_id):
            durable_client.raise_orchestration_event(iid, "continue")
        old_state = durable_client.wait_for_orchestration_completion(old_id, timeout=10)
        new_state = durable_client.wait_for_orchestration_completion(new_id, timeout=10)
        assert old_state.get_output() == ["one", "two"]
        assert new_state.get_output() == ["one", "three", "two"]
    finally:
        new_worker.stop()


def _wait_for_history(fake, instance_id: str, activity: str) -> None:
    from sdk_e2e_helpers import wait_until

    def completed() -> bool:
        names = {e.eventId: e.taskScheduled.name for e in fake.history(instance_id) if e.HasField("taskScheduled")}
        return any(e.HasField("taskCompleted") and names.get(e.taskCompleted.taskScheduledId) == activity
                   for e in fake.history(instance_id))
    wait_until(completed, timeout=10)
