"""Print the public API of an installed ``durabletask`` package as JSON (names, kinds and signatures).

Run with the interpreter whose ``durabletask`` should be described, e.g. the published package's venv::

    .interop/published-venv/bin/python scripts/list_public_api.py durabletask durabletask.client ...

For each module: its public names: ``__all__`` plus every name not starting with ``_`` bound to a class, function or
constant of the package's public modules (``internal`` modules, imported modules and typing helpers
excluded). For each name:
its kind, and for functions and classes their signature (parameter names, kinds and default values); for
classes also their public members (methods, properties, enum members, dataclass fields). Annotations are
left out: they are spelled differently by different code bases and say nothing about how a call binds.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import json
import re
import sys
import types
import typing
from typing import Any

PACKAGE = "durabletask"


def _default(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, type):
        return value.__name__
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))  # object identities differ between processes


def signature_of(obj: Any) -> list[list[Any]] | None:
    """[[name, kind, default repr or None], ...] or None when the object has no inspectable signature."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name, _default(p.default)] for p in sig.parameters.values()]


def _own_module(obj: Any) -> bool:
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and (module == PACKAGE or module.startswith(PACKAGE + "."))


def _public_module(obj: Any) -> bool:
    """Defined in a public module of the package (not ``internal`` or a ``_private`` one)."""
    module = getattr(obj, "__module__", None)
    if not _own_module(obj):
        return False
    return not any(part == "internal" or part.startswith("_") for part in str(module).split("."))


def _is_public_value(name: str, obj: Any, module: types.ModuleType) -> bool:
    if name.startswith("_") or name == "TYPE_CHECKING" or isinstance(obj, types.ModuleType):
        return False
    if isinstance(obj, (type, types.FunctionType)):
        return _public_module(obj)
    if isinstance(obj, typing.TypeVar) or typing.get_origin(obj) is not None:
        return False  # type variables and generic aliases are typing helpers, not API
    if getattr(obj, "__module__", None) in ("typing", "typing_extensions"):
        return False
    return isinstance(obj, (int, float, str, bool, tuple, frozenset)) or _own_module(type(obj)) or \
        type(obj).__module__ == "datetime"


def public_names(module: types.ModuleType) -> list[str]:
    declared = set(getattr(module, "__all__", ()))
    return sorted(declared | {n for n, v in vars(module).items() if _is_public_value(n, v, module)})


def _member(cls: type, name: str, raw: Any) -> dict[str, Any]:
    if isinstance(raw, property):
        return {"kind": "property", "settable": raw.fset is not None}
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", "signature": signature_of(raw.__func__)}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", "signature": signature_of(getattr(cls, name))}
    if inspect.isfunction(raw):
        return {"kind": "method", "signature": signature_of(raw)}
    return {"kind": "attribute"}


def describe_class(cls: type) -> dict[str, Any]:
    info: dict[str, Any] = {"kind": "class", "bases": [b.__name__ for b in cls.__bases__]}
    if issubclass(cls, enum.Enum):
        info["kind"] = "enum"
        info["members"] = {m.name: repr(m.value) for m in cls}
        return info
    init = cls.__dict__.get("__init__")
    info["signature"] = signature_of(cls) if init is not None or dataclasses.is_dataclass(cls) else None
    if dataclasses.is_dataclass(cls):
        info["fields"] = [f.name for f in dataclasses.fields(cls)]
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if not _own_module(klass):
            continue
        for name, raw in vars(klass).items():
            if name.startswith("_") and name not in ("__init__", "__call__", "__enter__", "__exit__",
                                                     "__aenter__", "__aexit__"):
                continue
            if name == "__init__":
                continue
            members[name] = _member(cls, name, raw)
    info["members"] = members
    return info


def describe(obj: Any) -> dict[str, Any]:
    if isinstance(obj, type):
        return describe_class(obj)
    if callable(obj):
        return {"kind": "function", "signature": signature_of(obj)}
    return {"kind": "value", "type": type(obj).__name__}


def describe_module(name: str) -> dict[str, Any]:
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        return {"__module_error__": {"kind": "missing", "error": str(e)}}
    result: dict[str, Any] = {}
    for public in public_names(module):
        try:
            obj = getattr(module, public)
        except AttributeError as e:
            result[public] = {"kind": "missing", "error": str(e)}
            continue
        result[public] = describe(obj)
    return result


def main(argv: list[str]) -> None:
    print(json.dumps({name: describe_module(name) for name in argv}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
