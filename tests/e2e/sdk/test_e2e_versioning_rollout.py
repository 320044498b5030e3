"""End-to-end over real gRPC: the seeds' versioning scenario 4 as a rolling deployment.

Old orchestrations are in flight (waiting for an event) when workers of a new, breaking version join the
same sidecar; with STRICT matching and REJECT, every old instance must finish on old code and every new one on
new code, with no event lost or applied twice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from durabletask import client, task, worker

V = worker.VersionMatchStrategy
F = worker.VersionFailureStrategy


def ship(ctx: task.ActivityContext, order: int) -> int:
    return order


def deployment(label: str) -> Any:
    """The 'fulfil' orchestrator as deployed by code ``label``: waits for 'go', then ships."""
    def fulfil(ctx: task.OrchestrationContext, order: int):
        go = yield ctx.wait_for_external_event("go")
        shipped = yield ctx.call_activity(ship, input=order)
        return {"code": label, "version": ctx.version, "go": go, "shipped": shipped}
    return fulfil


def _strict(version: str) -> worker.VersioningOptions:
    return worker.VersioningOptions(version=version, default_version=version, match_strategy=V.STRICT,
                                    failure_strategy=F.REJECT)


def test_old_in_flight_orchestrations_finish_on_old_workers_after_new_workers_join(durable_sidecar, start_worker):
    start_worker([deployment("v1")], [ship], versioning=_strict("1.0.0"))
    with client.TaskHubGrpcClient(host_address=durable_sidecar.address, default_version="1.0.0") as old_client, \
            client.TaskHubGrpcClient(host_address=durable_sidecar.address, default_version="2.0.0") as new_client:
        old_ids = [old_client.schedule_new_orchestration("fulfil", input=i) for i in range(5)]
        for instance_id in old_ids:
            assert old_client.wait_for_orchestration_start(instance_id, timeout=10) is not None
        assert durable_sidecar.wait_until_idle(timeout=10)  # every old instance is waiting for its event

        start_worker([deployment("v2")], [ship], versioning=_strict("2.0.0"))  # the new deployment joins
        new_ids = [new_client.schedule_new_orchestration("fulfil", input=100 + i) for i in range(5)]
        for instance_id in old_ids + new_ids:
            new_client.raise_orchestration_event(instance_id, "go", data=instance_id)

        for ids, code, version, offset in ((old_ids, "v1", "1.0.0", 0), (new_ids, "v2", "2.0.0", 100)):
            for i, instance_id in enumerate(ids):
                state = new_client.wait_for_orchestration_completion(instance_id, timeout=10)
                assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
                assert state.get_output() == {"code": code, "version": version, "go": instance_id,
                                              "shipped": offset + i}
                assert state.version == version
                kinds = Counter(e.WhichOneof("eventType") for e in durable_sidecar.history(instance_id))
                assert (kinds["executionStarted"], kinds["eventRaised"], kinds["taskScheduled"],
                        kinds["taskCompleted"], kinds["executionCompleted"]) == (1, 1, 1, 1, 1), kinds
