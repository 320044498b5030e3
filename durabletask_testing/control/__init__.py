"""The control API: HTTP/JSON beside the sidecar protocol, so tests in any language drive a fake sidecar.

:mod:`.schema` is the one home of its JSON format (routes, fault kinds and their fields, snapshots); the server
(:class:`ControlServer`, :mod:`.server`) serves it over a ``FakeSidecar``, and the client (:class:`RemoteFake`,
:mod:`.client`) drives a fake in another process through it. Names are loaded on first use, so importing the
client or the schema imports no engine, gRPC shell or ``FakeSidecar``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import RemoteClock, RemoteFake, RemoteFakeError, RemoteFakeNotFound, RemoteFaultPlan
    from .schema import API_NAME, API_VERSION, FAULT_KINDS, ROUTES, SchemaError
    from .server import ControlApi, ControlError, ControlServer, RequestGuard

_EXPORTS = {
    "API_NAME": ".schema",
    "API_VERSION": ".schema",
    "ControlApi": ".server",
    "ControlError": ".server",
    "ControlServer": ".server",
    "FAULT_KINDS": ".schema",
    "ROUTES": ".schema",
    "RemoteClock": ".client",
    "RemoteFake": ".client",
    "RemoteFakeError": ".client",
    "RemoteFakeNotFound": ".client",
    "RemoteFaultPlan": ".client",
    "RequestGuard": ".server",
    "SchemaError": ".schema",
}


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'durabletask_testing.control' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "API_NAME",
    "API_VERSION",
    "ControlApi",
    "ControlError",
    "ControlServer",
    "FAULT_KINDS",
    "ROUTES",
    "RemoteClock",
    "RemoteFake",
    "RemoteFakeError",
    "RemoteFakeNotFound",
    "RemoteFaultPlan",
    "RequestGuard",
    "SchemaError",
]
