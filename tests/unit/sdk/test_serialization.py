"""Payload serialization: wire format of custom objects and typed reconstruction."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import NamedTuple, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durabletask.internal import serialization as ser

MARK = ser.AUTO_SERIALIZED


@dataclass
class Inner:
    x: int


@dataclass
class Outer:
    name: str
    inner: Inner
    items: list[Inner] = field(default_factory=list)
    maybe: Optional[Inner] = None  # noqa: UP045 - exercising typing.Optional on purpose


class Pair(NamedTuple):
    a: int
    b: str


class Plain:
    def __init__(self, label: str, pair: Pair):
        self.label = label
        self.pair = pair


class Color(enum.Enum):
    RED = "red"


def test_builtins_are_plain_json():
    for value in [1, 1.5, "s", True, None, [1, "a"], {"k": [1, {"n": None}]}]:
        assert json.loads(ser.to_json(value)) == value
    assert ser.to_json((1, 2)) == "[1, 2]"


def test_custom_objects_are_plain_json_nested_anywhere():
    value = {"list": [Inner(1), Pair(2, "b")], "obj": Plain("p", Pair(3, "c")), "ns": SimpleNamespace(q=Color.RED)}
    text = ser.to_json(value)
    assert MARK not in text
    # json.dumps' default separators, as the published SDK writes; named tuples as objects of their fields
    # (the published SDK writes arrays, which lose the field names)
    assert text == json.dumps({"list": [{"x": 1}, {"a": 2, "b": "b"}],
                               "obj": {"label": "p", "pair": {"a": 3, "b": "c"}}, "ns": {"q": "red"}})


def test_untyped_decode_of_plain_json_gives_plain_values_with_attribute_access():
    decoded = ser.from_json(ser.to_json({"obj": Plain("p", Pair(3, "c")), "n": [Inner(5)]}))
    assert decoded == {"obj": {"label": "p", "pair": {"a": 3, "b": "c"}}, "n": [{"x": 5}]}
    assert isinstance(decoded["obj"], dict)
    assert decoded["obj"].label == "p" and decoded["obj"].pair.b == "c" and decoded["n"][0].x == 5
    assert json.loads(ser.to_json(decoded)) == decoded
    with pytest.raises(AttributeError):
        _ = decoded["obj"].missing


def test_named_tuples_are_rebuilt_from_objects_and_from_the_published_sdks_arrays():
    assert ser.from_json('{"a": 1, "b": "x"}', Pair) == Pair(1, "x")
    assert ser.from_json('[1, "x"]', Pair) == Pair(1, "x")
    assert ser.from_json('[1, "x"]') == [1, "x"]  # untyped: the field names are not on the wire


def test_untyped_decode_of_legacy_marked_objects_gives_attribute_and_item_access():
    payload = json.dumps({"obj": {"label": "p", "pair": {"a": 3, "b": "c", MARK: True}, MARK: True},
                          "n": [{"x": 5, MARK: True}]})
    decoded = ser.from_json(payload)
    assert decoded["obj"].label == "p" and decoded["obj"].pair.b == "c"
    assert decoded["obj"]["label"] == "p" and "pair" in decoded["obj"]
    assert decoded["n"][0].x == 5
    assert decoded["n"][0] == {"x": 5}
    assert dict(decoded["obj"].items())["label"] == "p"


def test_decoded_legacy_objects_re_serialize_as_plain_json():
    decoded = ser.from_json(json.dumps({"x": 7, MARK: True}))
    assert ser.to_json(decoded) == '{"x": 7}'
    assert ser.to_json(SimpleNamespace(q=1)) == '{"q": 1}'
    assert ser.from_json(json.dumps({"x": 7, MARK: True}), Inner) == Inner(7)


def test_typed_reconstruction():
    outer = Outer("o", Inner(1), [Inner(2), Inner(3)], Inner(4))
    assert ser.from_json(ser.to_json(outer), Outer) == outer
    assert ser.from_json(ser.to_json([Pair(1, "x")]), list[Pair]) == [Pair(1, "x")]
    assert ser.from_json(ser.to_json({"k": Inner(1)}), dict[str, Inner]) == {"k": Inner(1)}
    plain = ser.from_json(ser.to_json(Plain("p", Pair(1, "y"))), Plain)
    assert isinstance(plain, Plain) and plain.label == "p"
    assert ser.from_json(ser.to_json(Color.RED), Color) is Color.RED
    assert ser.from_json('{"x": 9}', Inner) == Inner(9)  # plain JSON written by the published SDK


def test_typed_reconstruction_falls_back_to_raw_value():
    assert ser.from_json('"not an inner"', Inner) == "not an inner"


def test_legacy_marker_payload_from_other_sdks_decodes():
    assert ser.from_json('{"a": 1, "__durabletask_autoobject__": true}').a == 1


def test_to_json_hook_and_from_json_hook():
    class Money:
        def __init__(self, cents: int):
            self.cents = cents

        def to_json(self):
            return f"{self.cents}c"

        @classmethod
        def from_json(cls, value):
            return cls(int(value[:-1]))

    assert ser.to_json(Money(5)) == '"5c"'
    assert ser.from_json('"5c"', Money).cents == 5


def test_unserializable_value_names_the_type():
    with pytest.raises(TypeError, match="function"):
        ser.to_json(lambda: 1)


def test_none_and_empty_payloads():
    assert ser.serialize(None) is None
    assert ser.deserialize(None) is None and ser.deserialize("") is None


def test_type_discovery_from_annotations():
    def activity(ctx, data: Outer) -> list[Inner]:
        return []

    def untyped(ctx, data):
        return data

    def builtin(ctx, data: int) -> str:
        return ""

    assert ser.input_type_of(activity) is Outer
    assert ser.output_type_of(activity) == list[Inner]
    assert ser.input_type_of(untyped) is None and ser.output_type_of(untyped) is None
    assert ser.input_type_of(builtin) is None and ser.output_type_of(builtin) is None


@given(st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)))
def test_scalar_encoding_matches_the_json_module(value):
    assert ser.to_json(value) == json.dumps(value)
    assert ser.from_json(ser.to_json(value)) == value
