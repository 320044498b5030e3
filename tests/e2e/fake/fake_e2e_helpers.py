"""Helpers for end-to-end tests of the fake sidecar with the SDK's worker and client over real gRPC."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar


@dataclass
class Order:
    cost: float
    product: str


def send_approval_request(ctx: task.ActivityContext, order: Any) -> None:
    return None


def place_order(ctx: task.ActivityContext, order: Any) -> str:
    return "placed"


def purchase_order_workflow(ctx: task.OrchestrationContext, order: Any):
    """The seeds' human-interaction pattern: approval within 24 hours or the order is canceled."""
    if order["cost"] < 1000:
        return "Auto-approved"
    yield ctx.call_activity(send_approval_request, input=order)
    approval_event = ctx.wait_for_external_event("approval_received")
    timeout_event = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"
    yield ctx.call_activity(place_order, input=order)
    approval_details = approval_event.get_result()
    return f"Approved by '{approval_details['approver']}'"


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def sequence(ctx: task.OrchestrationContext, _: Any):
    """The seeds' function-chaining pattern."""
    result1 = yield ctx.call_activity(hello, input="Tokyo")
    result2 = yield ctx.call_activity(hello, input="Seattle")
    result3 = yield ctx.call_activity(hello, input="London")
    return [result1, result2, result3]


def get_work_items(ctx: task.ActivityContext, count: int) -> list[str]:
    return [f"item-{i}" for i in range(count)]


def process_work_item(ctx: task.ActivityContext, item: str) -> int:
    return int(item.split("-")[1])


def fan_out_fan_in(ctx: task.OrchestrationContext, count: int):
    """The seeds' fan-out/fan-in pattern."""
    work_items = yield ctx.call_activity(get_work_items, input=count)
    results = yield task.when_all([ctx.call_activity(process_work_item, input=item) for item in work_items])
    return {"work_items": work_items, "results": results, "total": sum(results)}


def long_sleeper(ctx: task.OrchestrationContext, days: int):
    yield ctx.create_timer(timedelta(days=days))
    return ctx.current_utc_datetime.isoformat()


@contextlib.contextmanager
def connected(
    sidecar: FakeSidecar,
    orchestrators: Sequence[Callable[..., Any]] = (),
    activities: Sequence[Callable[..., Any]] = (),
    metadata: list[tuple[str, str]] | None = None,
) -> Iterator[client.TaskHubGrpcClient]:
    """A started worker (with the given functions) and a client, both connected to ``sidecar``."""
    w = worker.TaskHubGrpcWorker(host_address=sidecar.address, metadata=metadata)
    for orchestrator in orchestrators:
        w.add_orchestrator(orchestrator)
    for activity in activities:
        w.add_activity(activity)
    w.start()
    c = client.TaskHubGrpcClient(host_address=sidecar.address, metadata=metadata)
    try:
        yield c
    finally:
        c.close()
        w.stop()


def reap(process: subprocess.Popen[str]) -> None:
    """Kill a CLI process still running after its test, and close its pipes."""
    if process.poll() is None:
        process.kill()
        process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
