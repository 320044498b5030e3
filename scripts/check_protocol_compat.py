"""Compare our protocol definition with the one shipped in the published `durabletask` package.

Every message, field, enum value and RPC that our .proto declares must exist in the published
protocol with the same name, number, type, label and oneof membership. (The published protocol may
declare more than we do.) Exit status 1 and a list of mismatches if anything differs.

Usage: python scripts/check_protocol_compat.py
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from published_venv import ensure_published_venv  # noqa: E402

_DUMP_PUBLISHED = (
    "import base64, sys\n"
    "from google.protobuf import descriptor_pb2\n"
    "from durabletask.internal import orchestrator_service_pb2 as pb\n"
    "fdp = descriptor_pb2.FileDescriptorProto()\n"
    "pb.DESCRIPTOR.CopyToProto(fdp)\n"
    "sys.stdout.write(base64.b64encode(fdp.SerializeToString()).decode())\n"
)


def ours() -> descriptor_pb2.FileDescriptorProto:
    """Our protocol's file descriptor."""
    from durabletask.internal import orchestrator_service_pb2 as pb

    fdp = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(fdp)
    return fdp


def fake_sidecar() -> descriptor_pb2.FileDescriptorProto:
    """The fake sidecar's protocol file descriptor, with its proto package taken out of every name.

    The fake's bindings declare the protocol under the package ``durabletask_testing.protocol`` so that they load
    beside any SDK's; with the package removed they must equal ours exactly.
    """
    from durabletask_testing.protocol import orchestrator_service_pb2 as fake_pb

    fdp = descriptor_pb2.FileDescriptorProto()
    fake_pb.DESCRIPTOR.CopyToProto(fdp)
    prefix = f".{fdp.package}."

    def strip(name: str) -> str:
        return "." + name.removeprefix(prefix) if name.startswith(prefix) else name

    def strip_messages(messages) -> None:  # type: ignore[no-untyped-def]
        for message in messages:
            for field in message.field:
                field.type_name = strip(field.type_name)
            strip_messages(message.nested_type)

    strip_messages(fdp.message_type)
    for service in fdp.service:
        for method in service.method:
            method.input_type = strip(method.input_type)
            method.output_type = strip(method.output_type)
    fdp.package = ""
    return fdp


def published() -> descriptor_pb2.FileDescriptorProto:
    """The published package's protocol file descriptor, read in its own venv."""
    python = ensure_published_venv()
    out = subprocess.run([str(python), "-c", _DUMP_PUBLISHED], check=True, capture_output=True).stdout
    fdp = descriptor_pb2.FileDescriptorProto()
    fdp.ParseFromString(base64.b64decode(out))
    return fdp


def _field_signature(msg: descriptor_pb2.DescriptorProto, field: descriptor_pb2.FieldDescriptorProto) -> tuple:
    oneof = msg.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None
    return (field.number, field.type, field.type_name, field.label, oneof, field.proto3_optional)


def _compare_message(path: str, mine: descriptor_pb2.DescriptorProto, theirs: descriptor_pb2.DescriptorProto,
                     problems: list[str]) -> None:
    their_fields = {f.name: f for f in theirs.field}
    for field in mine.field:
        other = their_fields.get(field.name)
        if other is None:
            problems.append(f"{path}.{field.name}: field not in the published protocol")
        elif _field_signature(mine, field) != _field_signature(theirs, other):
            problems.append(
                f"{path}.{field.name}: ours (number, type, type_name, label, oneof, optional)="
                f"{_field_signature(mine, field)} published={_field_signature(theirs, other)}"
            )
    _compare_enums(path, mine.enum_type, theirs.enum_type, problems)
    _compare_messages(path, mine.nested_type, theirs.nested_type, problems)


def _compare_messages(prefix: str, mine, theirs, problems: list[str]) -> None:
    their_by_name = {m.name: m for m in theirs}
    for msg in mine:
        path = f"{prefix}.{msg.name}" if prefix else msg.name
        if msg.name not in their_by_name:
            problems.append(f"{path}: message not in the published protocol")
            continue
        _compare_message(path, msg, their_by_name[msg.name], problems)


def _compare_enums(prefix: str, mine, theirs, problems: list[str]) -> None:
    their_by_name = {e.name: e for e in theirs}
    for enum in mine:
        path = f"{prefix}.{enum.name}" if prefix else enum.name
        other = their_by_name.get(enum.name)
        if other is None:
            problems.append(f"{path}: enum not in the published protocol")
            continue
        their_values = {v.name: v.number for v in other.value}
        for value in enum.value:
            if their_values.get(value.name) != value.number:
                problems.append(f"{path}.{value.name}={value.number}: published has {their_values.get(value.name)}")


def _compare_services(mine, theirs, problems: list[str]) -> None:
    their_by_name = {s.name: s for s in theirs}
    for service in mine:
        other = their_by_name.get(service.name)
        if other is None:
            problems.append(f"service {service.name}: not in the published protocol")
            continue
        their_methods = {m.name: m for m in other.method}
        for method in service.method:
            o = their_methods.get(method.name)
            sig = (method.input_type, method.output_type, method.client_streaming, method.server_streaming)
            if o is None:
                problems.append(f"rpc {service.name}.{method.name}: not in the published protocol")
            elif sig != (o.input_type, o.output_type, o.client_streaming, o.server_streaming):
                problems.append(f"rpc {service.name}.{method.name}: ours {sig} differs from the published one")


def compare(mine: descriptor_pb2.FileDescriptorProto, theirs: descriptor_pb2.FileDescriptorProto) -> list[str]:
    """List every way our declarations differ from the published protocol (empty list: compatible)."""
    problems: list[str] = []
    if mine.package != theirs.package:
        problems.append(f"proto package: ours {mine.package!r}, published {theirs.package!r}")
    _compare_enums("", mine.enum_type, theirs.enum_type, problems)
    _compare_messages("", mine.message_type, theirs.message_type, problems)
    _compare_services(mine.service, theirs.service, problems)
    return problems


def main() -> int:
    mine = ours()
    problems = compare(mine, published())
    problems += [f"fake sidecar vs SDK: {p}" for p in compare(fake_sidecar(), mine) + compare(mine, fake_sidecar())]
    for problem in problems:
        print(problem)
    n_fields = sum(len(m.field) for m in mine.message_type)
    print(f"{len(mine.message_type)} messages, {n_fields} fields, {len(mine.enum_type)} enums checked: "
          f"{'OK' if not problems else f'{len(problems)} mismatches'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
