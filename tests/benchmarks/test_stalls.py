"""Regression tests for throughput stalls found by the benchmarks (a work-item stream sleeping while work waits)."""

from __future__ import annotations

from typing import Any

from durabletask import client, worker
from durabletask_testing import FakeSidecar


def echo(ctx: Any, value: int) -> int:
    """An orchestration that completes in its first work item without scheduling anything."""
    return value


def test_freed_concurrency_slot_wakes_the_stream() -> None:
    # With one orchestration slot, each completion frees the slot but adds no new work. The stream must
    # still be woken to hand out the next queued instance, not sleep until its next health ping (30 s).
    with FakeSidecar(clock="auto", port=0) as sidecar:
        options = worker.ConcurrencyOptions(maximum_concurrent_orchestration_work_items=1)
        w = worker.TaskHubGrpcWorker(host_address=sidecar.address, concurrency_options=options)
        w.add_orchestrator(echo)
        w.start()
        c = client.TaskHubGrpcClient(host_address=sidecar.address)
        try:
            ids = [c.schedule_new_orchestration(echo, input=i) for i in range(5)]
            outputs = []
            for instance_id in ids:
                state = c.wait_for_orchestration_completion(instance_id, timeout=5)
                assert state is not None
                outputs.append(state.serialized_output)
            assert outputs == [str(i) for i in range(5)]
        finally:
            w.stop()
            c.close()
