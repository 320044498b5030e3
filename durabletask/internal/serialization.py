"""JSON codec for user payloads (inputs, outputs, event data, custom status).

Wire format: plain JSON with no type markers. Custom objects (dataclasses, SimpleNamespace, objects with a
``to_json`` hook, enums, plain class instances) become plain JSON values, as the published ``durabletask``
package writes them. Named tuples are written as JSON objects of their fields (the published package writes
arrays, which lose the field names); plain tuples, lists and sets are arrays.

Reading: without a target type every JSON object decodes as a :class:`JsonObject`, a ``dict`` that also
allows attribute access (so ``event.approver`` works on an untyped event payload); the legacy marker key
``"__durabletask_autoobject__"`` older SDKs wrote is dropped. With a target type (``return_type=``,
``data_type=``, ``expected_type=`` or a function annotation) the value is rebuilt as that type: a named tuple
from an object (by field name) or from an array (by position, as the published SDK writes them).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import json
import typing
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace, UnionType
from typing import Any

AUTO_SERIALIZED = "__durabletask_autoobject__"


class JsonObject(dict[str, Any]):
    """An untyped JSON object: a plain ``dict`` (equal to one, serialized as one) that also allows attribute
    access to its keys (``obj.approver``). Keys named like dict methods (``items``, ``get`` ...) must be read
    with ``obj["items"]``. A missing key read as an attribute raises AttributeError."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"'JsonObject' has no attribute or key '{name}'") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def _is_named_tuple(o: Any) -> bool:
    return isinstance(o, tuple) and hasattr(type(o), "_fields")


def _prepare(o: Any) -> Any:
    """Named tuples become objects of their fields (the encoder would write arrays); containers are walked."""
    if _is_named_tuple(o):
        return {name: _prepare(value) for name, value in zip(o._fields, o, strict=True)}
    t = type(o)
    if t is list or t is tuple:
        return [_prepare(v) for v in o] if any(_needs_prepare(v) for v in o) else o
    if t is dict or t is JsonObject:
        return {k: _prepare(v) for k, v in o.items()} if any(_needs_prepare(v) for v in o.values()) else o
    return o


def _needs_prepare(o: Any) -> bool:
    t = type(o)
    if t is str or t is int or t is float or t is bool or o is None:
        return False
    if t is list or t is tuple:
        return any(_needs_prepare(v) for v in o)
    if t is dict or t is JsonObject:
        return any(_needs_prepare(v) for v in o.values())
    return _is_named_tuple(o)


def _encode_custom(o: Any) -> Any:
    """``default`` hook of the JSON encoder: the plain JSON form of a value it cannot encode natively."""
    hook = getattr(type(o), "to_json", None)
    if callable(hook):
        return _prepare(hook(o))
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, SimpleNamespace):
        return _prepare(vars(o))
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return _prepare({f.name: getattr(o, f.name) for f in dataclasses.fields(o)})
    if isinstance(o, (set, frozenset)):
        return _prepare(list(o))
    if hasattr(o, "__dict__") and not isinstance(o, type) and not callable(o):
        return _prepare(vars(o))
    raise TypeError(f"Object of type '{type(o).__name__}' is not JSON serializable")


_ENCODER = json.JSONEncoder(default=_encode_custom)
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii


def to_json(obj: Any) -> str:
    """Serialize a value to a JSON string (custom objects become plain JSON, as the published SDK writes)."""
    t = type(obj)
    if t is str:  # fast paths for the most common payloads, same output as the encoder
        return _encode_str(obj)
    if t is int:
        return int.__repr__(obj)
    try:
        return _ENCODER.encode(_prepare(obj))
    except (TypeError, ValueError) as e:
        raise TypeError(f"Failed to serialize a value of type '{type(obj).__name__}' to JSON: {e}") from e


def _object_hook(d: dict[str, Any]) -> Any:
    d.pop(AUTO_SERIALIZED, None)
    return JsonObject(d)


def _strip_hook(d: dict[str, Any]) -> dict[str, Any]:
    d.pop(AUTO_SERIALIZED, None)
    return d


_DECODER = json.JSONDecoder(object_hook=_object_hook)
_PLAIN_DECODER = json.JSONDecoder(object_hook=_strip_hook)


def from_json(data: str | bytes, expected_type: Any = None) -> Any:
    """Deserialize JSON; rebuild ``expected_type`` when given (best effort: falls back to the raw value)."""
    text = data.decode() if isinstance(data, bytes | bytearray) else data
    if expected_type is None or expected_type is Any:
        return _DECODER.decode(text)
    raw = _PLAIN_DECODER.decode(text)
    try:
        return coerce(raw, expected_type)
    except Exception:
        return _DECODER.decode(text)


def serialize(value: Any) -> str | None:
    """Serialize a payload; ``None`` stays ``None`` (no payload)."""
    return None if value is None else to_json(value)


def deserialize(data: str | None, expected_type: Any = None) -> Any:
    """Deserialize a payload; absent or empty payloads give ``None``."""
    if data is None or data == "":
        return None
    return from_json(data, expected_type)


# ------------------------------------------------------------------------------ typed reconstruction


def _fields_of(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, SimpleNamespace):
        return dict(vars(value))
    return None


def _type_hints(cls: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return dict(getattr(cls, "__annotations__", {}))


def coerce(value: Any, expected_type: Any) -> Any:
    """Rebuild an already-parsed JSON value as ``expected_type`` (recursing through generic hints)."""
    if value is None or expected_type is None or expected_type is Any:
        return value
    origin = typing.get_origin(expected_type)
    if origin is not None:
        return _coerce_generic(value, expected_type, origin)
    if not isinstance(expected_type, type):
        return value
    if isinstance(value, expected_type) and not isinstance(value, SimpleNamespace | dict):
        return value
    hook = getattr(expected_type, "from_json", None)
    if callable(hook):
        return hook(value)
    if issubclass(expected_type, enum.Enum):
        return expected_type(value)
    fields = _fields_of(value)
    if dataclasses.is_dataclass(expected_type) and fields is not None:
        hints = _type_hints(expected_type)
        kwargs = {f.name: coerce(fields[f.name], hints.get(f.name)) for f in dataclasses.fields(expected_type)
                  if f.init and f.name in fields}
        return expected_type(**kwargs)
    if issubclass(expected_type, tuple) and hasattr(expected_type, "_fields"):
        hints = _type_hints(expected_type)
        if fields is not None:
            return expected_type(**{k: coerce(v, hints.get(k)) for k, v in fields.items()
                                    if k in expected_type._fields})
        if isinstance(value, list):
            return expected_type(*value)
    if isinstance(value, expected_type):
        return value
    if _is_plain_class(expected_type) or dataclasses.is_dataclass(expected_type):
        if fields is None or dataclasses.is_dataclass(expected_type):
            raise TypeError(f"cannot rebuild a '{expected_type.__name__}' from a {type(value).__name__}")
        hints = _type_hints(expected_type)
        obj = expected_type.__new__(expected_type)
        obj.__dict__.update({k: coerce(v, hints.get(k)) for k, v in fields.items()})
        return obj
    return expected_type(value)


def _coerce_generic(value: Any, expected_type: Any, origin: Any) -> Any:
    args = typing.get_args(expected_type)
    if origin is typing.Union or origin is UnionType:
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return coerce(value, members[0])
        return value
    if origin in (list, Sequence, set, frozenset) and isinstance(value, list):
        elem = args[0] if args else None
        items = [coerce(v, elem) for v in value]
        return origin(items) if origin in (set, frozenset) else items
    if origin in (dict, Mapping) and isinstance(value, dict):
        val_type = args[1] if len(args) == 2 else None
        return {k: coerce(v, val_type) for k, v in value.items()}
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0]) for v in value)
        if args and len(args) == len(value):
            return tuple(coerce(v, t) for v, t in zip(value, args))
        return tuple(value)
    return value


def _is_plain_class(cls: type) -> bool:
    return (cls.__module__ not in ("builtins", "typing", "collections", "datetime", "decimal")
            and not issubclass(cls, BaseException))


def is_reconstructable(hint: Any) -> bool:
    """True for annotations worth rebuilding from JSON: user classes, dataclasses, named tuples, enums, and
    Optional / list / dict / tuple hints wrapping them. Builtins and unknown annotations are left alone."""
    origin = typing.get_origin(hint)
    if origin is not None:
        return any(is_reconstructable(a) for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis)
    if not isinstance(hint, type):
        return False
    if dataclasses.is_dataclass(hint) or callable(getattr(hint, "from_json", None)):
        return True
    if issubclass(hint, enum.Enum) or (issubclass(hint, tuple) and hasattr(hint, "_fields")):
        return True
    return _is_plain_class(hint) and not issubclass(hint, (SimpleNamespace, Mapping))


# ------------------------------------------------------------------------------------ type discovery

_NO_TYPE: Any = None


@functools.lru_cache(maxsize=4096)
def _signature_types(fn: Callable[..., Any]) -> tuple[Any, Any]:
    """(input annotation, return annotation) of a ``(ctx, input)`` function (``_NO_TYPE`` where absent)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return _NO_TYPE, _NO_TYPE
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    params = [p for p in sig.parameters.values()
              if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    input_type = _NO_TYPE
    if len(params) >= 2:
        hint = hints.get(params[1].name, params[1].annotation)
        if hint is not inspect.Parameter.empty:
            input_type = hint
    ret = hints.get("return", sig.return_annotation)
    output_type = ret if ret is not inspect.Signature.empty else _NO_TYPE
    return input_type, output_type


def _reconstructable(hint: Any, converter: Any) -> Any:
    if hint is _NO_TYPE:
        return _NO_TYPE
    accepted = reconstructs(hint) if converter is None else converter.can_reconstruct(hint)
    return hint if accepted else _NO_TYPE


def reconstructs(hint: Any) -> bool:
    """:func:`is_reconstructable`, remembered per hashable annotation (it is asked at every call and replay)."""
    try:
        return _reconstructs_cached(hint)
    except TypeError:  # an unhashable annotation
        return is_reconstructable(hint)


@functools.lru_cache(maxsize=4096)
def _reconstructs_cached(hint: Any) -> bool:
    return is_reconstructable(hint)


def input_type_of(fn: Callable[..., Any], converter: Any = None) -> Any:
    """Annotated type of the input parameter of an orchestrator or activity, if the converter (default: this
    codec) can rebuild it."""
    try:
        return _reconstructable(_signature_types(fn)[0], converter)
    except TypeError:  # unhashable callable
        return _NO_TYPE


def output_type_of(fn: Callable[..., Any], converter: Any = None) -> Any:
    """Annotated return type of an activity, if the converter (default: this codec) can rebuild it."""
    try:
        return _reconstructable(_signature_types(fn)[1], converter)
    except TypeError:
        return _NO_TYPE
