"""Finding a Durable Functions app's functions: orchestrators, activities, entities, HTTP triggers, clients.

Works from the app object itself (a ``DFApp``, an ``azure.functions.FunctionApp`` with registered blueprints, or a
``Blueprint``), as the Python worker's indexing does: each function's trigger binding says what it is, its
``durableClient`` binding which parameter receives the client, and the function (or trigger) name what the host
calls it. ``load_app("module:attribute")`` imports an app by the spec the plugin's ini option takes;
``user_function`` finds the app's own orchestrator function behind the SDK's handle.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

FunctionKind = Literal["orchestrator", "activity", "entity", "http", "other"]

_TRIGGER_KINDS: dict[str, FunctionKind] = {
    "orchestrationTrigger": "orchestrator",
    "activityTrigger": "activity",
    "entityTrigger": "entity",
    "httpTrigger": "http",
}
# What the trigger object calls the registered name of each kind (the decorator's optional name argument).
_NAME_ATTRIBUTES = {"orchestrator": "orchestration", "activity": "activity", "entity": "entity_name"}


class AppError(Exception):
    """The app cannot be loaded or run as asked; the message names what is missing or wrong."""


@dataclass(frozen=True)
class AppFunction:
    """One function of the app, as the host indexes it."""

    name: str
    kind: FunctionKind
    call: Callable[..., Any]  # what the worker calls (for orchestrators and entities: the SDK's handle)
    trigger_parameter: str
    client_parameter: str | None = None
    route: str | None = None
    methods: tuple[str, ...] = ()
    parameters: tuple[str, ...] = field(default=())


@dataclass
class AppFunctions:
    """The indexed functions of one app, by kind and name."""

    functions: list[AppFunction]

    def named(self, kind: FunctionKind) -> dict[str, AppFunction]:
        return {function.name: function for function in self.functions if function.kind == kind}

    def get(self, kind: FunctionKind, name: str) -> AppFunction | None:
        return self.named(kind).get(name)

    def http(self, name: str) -> AppFunction:
        """The HTTP-triggered function ``name`` names (see :meth:`http_target`); AppError naming those there."""
        return self.http_target(name)[0]

    def http_target(self, name: str) -> tuple[AppFunction, dict[str, str]]:
        """The HTTP-triggered function ``name`` names and the route parameters it gives: its function name or its
        route template (no parameters), else a path its route matches (``orders/42/approve`` under
        ``orders/{id}/approve``: ``{"id": "42"}``); AppError naming the HTTP functions and their routes otherwise."""
        functions = self.named("http")
        if name in functions:
            return functions[name], {}
        by_route = [f for f in functions.values() if f.route == name]
        if by_route:
            return by_route[0], {}
        for function in functions.values():
            found = match_route(function.route or function.name, name)
            if found is not None:
                return function, found
        known = ", ".join(f"{key} ({functions[key].route or key})" for key in sorted(functions)) or "none"
        raise AppError(f"the app has no HTTP-triggered function named {name!r}, nor one whose route matches it "
                       f"(HTTP functions and routes: {known})")


def load_app(spec: str) -> Any:
    """The app object named by ``"package.module:attribute"``; AppError naming what could not be found."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name.strip() or not attribute.strip():
        raise AppError(f"a functions app is named as 'module:attribute' (e.g. 'function_app:app'); got {spec!r}")
    try:
        module = importlib.import_module(module_name.strip())
    except Exception as error:  # ImportError, or whatever the module's own code raised while it was imported
        hint = ""
        if isinstance(error, ModuleNotFoundError) and error.name == module_name.strip().split(".", 1)[0]:
            hint = (f"; the folder holding it is not on sys.path (from {os.getcwd()!r}): with pytest, add "
                    f"'pythonpath = .' to the configuration file beside the app, or run 'python -m pytest' there")
        said = str(error) if isinstance(error, ImportError) else f"{type(error).__name__}: {error}"
        raise AppError(f"cannot import the functions app module {module_name.strip()!r}: {said}{hint}") from error
    target: Any = module
    for part in attribute.strip().split("."):
        if not hasattr(target, part):
            raise AppError(f"module {module_name.strip()!r} has no attribute {attribute.strip()!r}")
        target = getattr(target, part)
    return target


def user_function(call: Callable[..., Any]) -> Callable[..., Any]:
    """The app's own function behind an orchestrator's SDK handle (what the decorator was given), else ``call``.

    The SDK's ``Orchestrator.create`` wraps it in a ``handle``: 1.7 keeps it as ``handle.orchestrator_function``,
    older versions only in the handle's closure (its free variable ``fn``)."""
    kept = getattr(call, "orchestrator_function", None)
    if callable(kept):
        return kept  # type: ignore[no-any-return]
    code = getattr(call, "__code__", None)
    cells = getattr(call, "__closure__", None) or ()
    if code is not None and "fn" in code.co_freevars:
        held = cells[code.co_freevars.index("fn")].cell_contents
        if callable(held):
            return held  # type: ignore[no-any-return]
    return call


def _built_functions(app: Any) -> list[Any]:
    # The function builders, built as the worker's indexing builds them (not app.get_functions(), which records the
    # names on the app and refuses to run twice for one app object).
    builders = getattr(app, "_function_builders", None)
    if builders is None:
        raise AppError(f"{app!r} is not a Durable Functions app: expected a DFApp, FunctionApp or Blueprint")
    auth_level = getattr(app, "auth_level", None)
    return [builder.build(auth_level) if auth_level is not None else builder.build() for builder in builders]


def _binding_type(binding: Any) -> str:
    binding_type = getattr(binding, "type", None)
    if binding_type is None and hasattr(binding, "get_binding_name"):
        binding_type = binding.get_binding_name()
    return str(getattr(binding_type, "value", binding_type))


def index_app(app: Any) -> AppFunctions:
    """Index ``app``'s functions (a DFApp, a FunctionApp or a Blueprint)."""
    indexed: list[AppFunction] = []
    for function in _built_functions(app):
        trigger = function.get_trigger()
        trigger_type = _binding_type(trigger) if trigger is not None else ""
        kind = _TRIGGER_KINDS.get(trigger_type, "other")
        call = function.get_user_function()
        name = function.get_function_name()
        declared = getattr(trigger, _NAME_ATTRIBUTES.get(kind, ""), None) if kind in _NAME_ATTRIBUTES else None
        if declared:
            name = declared
        client = next((b.name for b in function.get_bindings() if _binding_type(b) == "durableClient"), None)
        route: str | None = None
        methods: tuple[str, ...] = ()
        if kind == "http":
            route = getattr(trigger, "route", None) or name
            declared_methods = getattr(trigger, "methods", None) or ()
            methods = tuple(str(getattr(m, "value", m)).upper() for m in declared_methods)
        try:
            parameters = tuple(inspect.signature(call).parameters)
        except (TypeError, ValueError):
            parameters = ()
        indexed.append(AppFunction(name=name, kind=kind, call=call, trigger_parameter=trigger.name if trigger else "",
                                   client_parameter=client, route=route, methods=methods, parameters=parameters))
    return AppFunctions(indexed)


def match_route(template: str, path: str) -> dict[str, str] | None:
    """The route parameters of ``path`` under a Functions route template (``orchestrators/{name}/{id?}``)."""
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", template.strip("/")):
        if part.startswith("{") and part.endswith("}"):
            inner = part[1:-1]
            optional = inner.endswith("?")
            name = inner.rstrip("?").split(":", 1)[0].split("=", 1)[0]
            pattern += f"(?P<{name}>[^/]+)" + ("?" if optional else "")
        else:
            pattern += re.escape(part)
    pattern = pattern.replace("/(?P<", "/?(?P<")
    found = re.fullmatch(pattern, path.strip("/"))
    if found is None:
        return None
    return {key: value for key, value in found.groupdict().items() if value is not None}
