"""Copy a protobuf message into a message of another dialect, field by field, by name.

Two dialects of the protocol share message and field names; only numbers and a few fields differ. A field
is copied when the target has a field of the same name, kind and cardinality; the rest is left to the
dialect's own hooks (see :mod:`.dapr`).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 6; older versions only have `label`
    return bool(flag) if flag is not None else bool(field.label == FieldDescriptor.LABEL_REPEATED)


def _same_kind(field: Any, other: Any) -> bool:
    return bool(other.type == field.type and _repeated(other) == _repeated(field))


def convert(source: Message, target: Message) -> Message:
    """Copy every field of ``source`` that ``target`` declares alike into ``target``; returns ``target``."""
    declared = target.DESCRIPTOR.fields_by_name
    for field, value in source.ListFields():
        other = declared.get(field.name)
        if other is None or not _same_kind(field, other):
            continue
        if field.type != _MESSAGE:
            if _repeated(field):
                getattr(target, field.name).extend(value)
            else:
                setattr(target, field.name, value)
        elif field.message_type.GetOptions().map_entry:
            _copy_map(field, other, value, getattr(target, field.name))
        elif field.message_type.full_name == other.message_type.full_name:  # a shared type (wrappers, Timestamp)
            if _repeated(field):
                getattr(target, field.name).extend(value)
            else:
                getattr(target, field.name).CopyFrom(value)
        elif _repeated(field):
            items = getattr(target, field.name)
            for item in value:
                convert(item, items.add())
        else:
            child = getattr(target, field.name)
            child.SetInParent()
            convert(value, child)
    return target


def _copy_map(field: Any, other: Any, source: Any, target: Any) -> None:
    value_field = field.message_type.fields_by_name["value"]
    other_value = other.message_type.fields_by_name["value"]
    if value_field.type != _MESSAGE:
        if other_value.type == value_field.type:
            target.update(source)
    elif other_value.type == _MESSAGE and other_value.message_type.full_name == value_field.message_type.full_name:
        for key, item in source.items():
            target[key].CopyFrom(item)
