"""Testing Azure Durable Functions Python apps on the fake sidecar (no Functions host, no Azure).

``FunctionsHost(app, sidecar.address)`` runs a ``DFApp`` (or ``FunctionApp``/``Blueprint``) on a sidecar: it calls
the app's real orchestrator, activity, entity and HTTP-triggered functions through the Durable Functions SDK's own
replay and entity code, turns the SDK's answers into sidecar actions by the Durable extension's rules, and serves
the HTTP management API the SDK's ``DurableOrchestrationClient`` calls. Needs ``azure-functions`` and
``azure-functions-durable`` installed beside the testkit; the pytest plugin's ``durable_functions`` fixture wraps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import AppError, index_app, load_app
    from .host import FunctionsHost
    from .worker import ActivityCall, ActivityFailure

_EXPORTS = {
    "ActivityCall": ".worker",
    "ActivityFailure": ".worker",
    "AppError": ".app",
    "FunctionsHost": ".host",
    "index_app": ".app",
    "load_app": ".app",
}


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'durabletask_testing.functions' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name, __name__), name)
    globals()[name] = value
    return value


__all__ = ["ActivityCall", "ActivityFailure", "AppError", "FunctionsHost", "index_app", "load_app"]
