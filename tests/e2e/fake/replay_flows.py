"""Orchestrator code of two releases, for the replayer tests (imported by the CLI as ``replay_flows:...``).

v1 charges, then reviews big orders, then ships. v2 inserts a fraud check before charging big orders: an
incompatible change for v1 instances of big orders only.
"""

from __future__ import annotations

from typing import Any


def charge(ctx: Any, amount: int) -> str:
    return f"charged {amount}"


def review(ctx: Any, amount: int) -> str:
    return "reviewed"


def fraud_check(ctx: Any, amount: int) -> str:
    return "clean"


def ship(ctx: Any, amount: int) -> str:
    return "shipped"


def order_v1(ctx: Any, amount: int) -> Any:
    steps = [(yield ctx.call_activity(charge, input=amount))]
    if amount > 100:
        steps.append((yield ctx.call_activity(review, input=amount)))
    steps.append((yield ctx.call_activity(ship, input=amount)))
    return steps


def order_v2(ctx: Any, amount: int) -> Any:
    steps = []
    if amount > 100:
        steps.append((yield ctx.call_activity(fraud_check, input=amount)))
    steps.append((yield ctx.call_activity(charge, input=amount)))
    if amount > 100:
        steps.append((yield ctx.call_activity(review, input=amount)))
    steps.append((yield ctx.call_activity(ship, input=amount)))
    return steps


def tags(ctx: Any, _: Any) -> Any:
    """Wrong: iterates a set of strings, whose order depends on the process's hash seed."""
    results = []
    for name in {"alpha", "bravo", "charlie", "delta"}:
        results.append((yield ctx.call_activity(charge, input=name)))
    return results


def v1_orchestrators() -> dict[str, Any]:
    return {"order": order_v1}


def v2_orchestrators() -> dict[str, Any]:
    return {"order": order_v2}


def tag_orchestrators() -> list[Any]:
    return [tags]


def v2_worker(host_address: str, metadata: list[tuple[str, str]]) -> Any:
    """A worker configured as in production (any SDK): the replayer starts it against its own sidecar."""
    from durabletask import worker

    built = worker.TaskHubGrpcWorker(host_address=host_address, metadata=metadata)
    if hasattr(built._registry, "add_named_orchestrator"):  # the published SDK: its worker takes no name
        built._registry.add_named_orchestrator("order", order_v2)
    else:
        built.add_orchestrator(order_v2, name="order")
    return built
