"""On an external sidecar, a test's instances are terminated and purged when the test ends.

A real sidecar outlives the test run, so an instance a test left running (it failed, was skipped, or just did
not wait) would hand its work to the next test's worker. At teardown the plugin terminates each instance the
test's ``durable_client`` scheduled (recursively, so sub-orchestrations too), waits briefly for it to end
while the test's worker can still process the termination, and purges it. Problems become a pytest warning,
never a test failure. Speaks the public protocol with the testkit's own bindings, so it works with any SDK.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence

import grpc

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

# How long teardown may spend on one test's instances in all.
CLEANUP_BUDGET_SECONDS = 10.0
_RUNNING = {
    pb.ORCHESTRATION_STATUS_RUNNING,
    pb.ORCHESTRATION_STATUS_PENDING,
    pb.ORCHESTRATION_STATUS_SUSPENDED,
    pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
}


class ExternalCleanupWarning(UserWarning):
    """A test's instance could not be terminated or purged on the external sidecar."""


def clean_up_instances(
    address: str,
    instance_ids: Iterable[str],
    metadata: Sequence[tuple[str, str]] = (),
    budget_seconds: float = CLEANUP_BUDGET_SECONDS,
) -> list[str]:
    """Terminate (recursively) and purge each instance; returns the ids it could not purge, with the reason."""
    deadline = time.monotonic() + budget_seconds
    problems: list[str] = []
    ids = list(dict.fromkeys(instance_ids))
    if not ids:
        return problems
    with grpc.insecure_channel(address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)  # type: ignore[no-untyped-call]

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        for instance_id in ids:
            try:
                state = stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id), timeout=left(),
                                         metadata=list(metadata))
                if not state.exists:
                    continue
                if state.orchestrationState.orchestrationStatus in _RUNNING:
                    stub.TerminateInstance(
                        pb.TerminateRequest(instanceId=instance_id, recursive=True), timeout=left(),
                        metadata=list(metadata))
                    stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId=instance_id), timeout=left(),
                                                   metadata=list(metadata))
                stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId=instance_id, recursive=True),
                                    timeout=left(), metadata=list(metadata))
            except grpc.RpcError as error:
                problems.append(f"{instance_id!r}: {error.code().name}: {error.details()}")
    return problems


def warn_about(problems: list[str], address: str) -> None:
    """Report instances that stayed behind on the external sidecar."""
    if problems:
        warnings.warn(
            ExternalCleanupWarning(
                f"durabletask: {len(problems)} instance(s) of this test could not be cleaned up on the external "
                f"sidecar at {address} and may reach later tests' workers: " + "; ".join(problems)
            ),
            stacklevel=2,
        )
