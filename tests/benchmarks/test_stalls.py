"""Regression tests for throughput stalls found by the benchmarks (a work-item stream sleeping while work waits)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from durabletask import client, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.sidecar import SHORT_RPC_THREADS


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


def test_many_long_polls_do_not_starve_short_rpcs() -> None:
    # Short RPCs run on a small pool (SHORT_RPC_THREADS); long polls and streams have a pool of their own. With
    # more open long polls than short-RPC threads, starting, completing and raising events must still work.
    waiting = SHORT_RPC_THREADS * 2
    with FakeSidecar(clock="auto", port=0) as sidecar:
        w = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        w.add_orchestrator(wait_for_go)
        w.start()
        c = client.TaskHubGrpcClient(host_address=sidecar.address)
        try:
            ids = [c.schedule_new_orchestration(wait_for_go) for _ in range(waiting)]
            with ThreadPoolExecutor(max_workers=waiting) as pool:
                polls = [pool.submit(c.wait_for_orchestration_completion, i, timeout=10) for i in ids]
                assert sidecar.engine.wait_until_idle(5)  # every poll open, every instance waiting for "go"
                for instance_id in ids:
                    c.raise_orchestration_event(instance_id, "go", data="done")
                outputs = [poll.result(timeout=10).serialized_output for poll in polls]
            assert outputs == ['"done"'] * waiting
        finally:
            w.stop()
            c.close()


def wait_for_go(ctx: Any, _: Any) -> Any:
    """An orchestration that waits for the 'go' event and returns its data."""
    return (yield ctx.wait_for_external_event("go"))
