"""Pluggable payload serialization: every input, output, event payload and custom status goes through a
:class:`DataConverter`.

Pass the same converter to the worker and the client (``data_converter=``). The default,
:class:`JsonDataConverter`, writes plain JSON (the bytes the published ``durabletask`` package writes) and
rebuilds typed values when the caller names a type (an annotation, ``return_type=``, ``data_type=``,
``expected_type=``); see docs/orchestrations.md, "Payloads and custom objects", for the exact rules.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from durabletask.internal import serialization as _codec

logger = logging.getLogger("durabletask")


class DataConverter(ABC):
    """Turns payload values into strings and back. Must be deterministic (replay re-serializes values)."""

    @abstractmethod
    def serialize(self, value: Any) -> str | None:
        """``value`` as a string; None for None (no payload)."""

    @abstractmethod
    def deserialize(self, data: str | None, target_type: type | None = None) -> Any:
        """The value in ``data`` (None for no or an empty payload), rebuilt as ``target_type`` when given."""

    @abstractmethod
    def coerce(self, value: Any, target_type: type | None = None) -> Any:
        """An already deserialized ``value`` rebuilt as ``target_type`` (unchanged without one)."""

    def can_reconstruct(self, target_type: Any) -> bool:
        """True when this converter rebuilds ``target_type``: only then is a function's input or return
        annotation used as the target type. The base class claims nothing."""
        return False


class JsonDataConverter(DataConverter):
    """The default converter: plain JSON out; best-effort typed reconstruction in (falls back to the raw value)."""

    def serialize(self, value: Any) -> str | None:
        return _codec.serialize(value)

    def deserialize(self, data: str | None, target_type: type | None = None) -> Any:
        return _codec.deserialize(data, target_type)

    def coerce(self, value: Any, target_type: type | None = None) -> Any:
        if target_type is None or value is None:
            return value
        try:
            return _codec.coerce(value, target_type)
        except Exception as error:
            logger.debug("Could not rebuild a value as %r (%s); keeping the raw value.", target_type, error)
            return value

    def can_reconstruct(self, target_type: Any) -> bool:
        return _codec.reconstructs(target_type)


DEFAULT_DATA_CONVERTER: DataConverter = JsonDataConverter()
"""The converter used when none is given."""

__all__ = ["DEFAULT_DATA_CONVERTER", "DataConverter", "JsonDataConverter"]
