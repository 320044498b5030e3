"""Tests of the version-aware orchestrator and of the deployment scenarios around it."""

from __future__ import annotations

import pytest
from version_aware_orchestrator import activity_one, activity_three, activity_two, main, my_orchestrator, register

from durabletask import client, worker

Status = client.OrchestrationStatus
OLD_PATH = ["one", "two"]
NEW_PATH = ["one", "three", "two"]


@pytest.fixture
def versions_are_kept(durable_settings) -> None:
    """Skip on real sidecars: not all keep orchestration versions (durabletask-go v0.6.0 drops them)."""
    if not durable_settings.has_fake_controls:  # the in-process fake, or a CLI fake with its control API
        pytest.skip("needs the fake sidecar: not every real sidecar keeps orchestration versions "
                    "(durabletask-go v0.6.0 drops them, see docs/limitations.md)")


needs_kept_versions = pytest.mark.usefixtures("versions_are_kept")


def finish(durable_client, instance_id: str) -> client.OrchestrationState:
    return durable_client.wait_for_orchestration_completion(instance_id, timeout=10)


@needs_kept_versions
def test_instances_keep_the_path_of_the_version_they_started_with(durable_worker, durable_client) -> None:
    register(durable_worker)
    durable_worker.start()

    old = durable_client.schedule_new_orchestration(my_orchestrator, version="1.0.0")
    new = durable_client.schedule_new_orchestration(my_orchestrator, version="2.0.0")

    assert finish(durable_client, old).get_output() == OLD_PATH
    assert finish(durable_client, new).get_output() == NEW_PATH


@needs_kept_versions
def test_instances_newer_than_the_worker_fail_with_both_versions_named(durable_worker, durable_client) -> None:
    register(durable_worker)  # version 2.0.0, CURRENT_OR_OLDER, FAIL
    durable_worker.start()

    state = finish(durable_client, durable_client.schedule_new_orchestration(my_orchestrator, version="3.0.0"))

    assert state.runtime_status == Status.FAILED
    assert "3.0.0" in state.failure_details.message and "2.0.0" in state.failure_details.message


@needs_kept_versions
def test_strict_worker_fails_older_instances(durable_worker, durable_client) -> None:
    register(durable_worker)
    durable_worker.use_versioning(worker.VersioningOptions(
        version="2.0.0", default_version="2.0.0",
        match_strategy=worker.VersionMatchStrategy.STRICT, failure_strategy=worker.VersionFailureStrategy.FAIL))
    durable_worker.start()

    state = finish(durable_client, durable_client.schedule_new_orchestration(my_orchestrator, version="1.0.0"))

    assert state.runtime_status == Status.FAILED


def old_deployment(w: worker.TaskHubGrpcWorker) -> None:
    """The 1.0.0 code: no activity_three in the orchestrator, and it marks its results."""

    def my_orchestrator(ctx, _):  # same name as the new orchestrator: it is the same orchestration, older code
        first = yield ctx.call_activity(activity_one)
        second = yield ctx.call_activity(activity_two)
        return [first, second, "ran on 1.0.0 code"]

    w.add_orchestrator(my_orchestrator)
    for activity in (activity_one, activity_two, activity_three):
        w.add_activity(activity)
    w.use_versioning(worker.VersioningOptions(
        version="1.0.0", default_version="1.0.0",
        match_strategy=worker.VersionMatchStrategy.STRICT, failure_strategy=worker.VersionFailureStrategy.REJECT))


@needs_kept_versions
def test_side_by_side_deployment_sends_each_instance_to_its_own_version(durable_worker, durable_client,
                                                                        durable_sidecar) -> None:
    old_worker = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address)
    old_deployment(old_worker)
    old_worker.start()
    try:
        register(durable_worker)
        durable_worker.use_versioning(worker.VersioningOptions(
            version="2.0.0", default_version="2.0.0",
            match_strategy=worker.VersionMatchStrategy.STRICT,
            failure_strategy=worker.VersionFailureStrategy.REJECT))
        durable_worker.start()

        old_ids = [durable_client.schedule_new_orchestration(my_orchestrator, version="1.0.0") for _ in range(3)]
        new_ids = [durable_client.schedule_new_orchestration(my_orchestrator, version="2.0.0") for _ in range(3)]

        for instance_id in old_ids:
            assert finish(durable_client, instance_id).get_output() == [*OLD_PATH, "ran on 1.0.0 code"]
        for instance_id in new_ids:
            assert finish(durable_client, instance_id).get_output() == NEW_PATH
    finally:
        old_worker.stop()


def test_example_script_runs_on_its_embedded_fake(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "1.0.0 (before the deployment)  -> COMPLETED, steps ['one', 'two']" in out
    assert "2.0.0 (the client's default)   -> COMPLETED, steps ['one', 'three', 'two']" in out
    assert "3.0.0 (newer than the worker)  -> FAILED: " in out
