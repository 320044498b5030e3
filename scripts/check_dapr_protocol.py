"""Compare the fake's Dapr dialect with the protocol Dapr's Python SDK ships, field by field, per Dapr version.

Dapr renamed most messages, so the comparison walks both from the RPCs of TaskHubSidecarService and pairs
fields by number: every field Dapr declares on a message the fake serves must be declared by the dialect with
the same number, type and cardinality (messages compared the same way, recursively), unless it is listed in
:data:`IGNORED` with the reason the fake may drop it. Every Dapr RPC must be served by the dialect.

Usage: python scripts/check_dapr_protocol.py   # needs the venvs of scripts/dapr_venvs.py
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dapr_venvs import DAPR_VERSIONS, ensure_dapr_venv  # noqa: E402

_DUMP = (
    "import base64, sys\n"
    "from google.protobuf import descriptor_pb2\n"
    "from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2 as pb\n"
    "files = descriptor_pb2.FileDescriptorSet()\n"
    "seen = set()\n"
    "def add(fd):\n"
    "    if fd.name in seen: return\n"
    "    seen.add(fd.name)\n"
    "    for dep in fd.dependencies: add(dep)\n"
    "    fd.CopyToProto(files.file.add())\n"
    "add(pb.DESCRIPTOR)\n"
    "sys.stdout.write(base64.b64encode(files.SerializeToString()).decode())\n"
)

# Dapr fields (Dapr's message name, field name) the dialect leaves undeclared: protobuf keeps them as unknown
# fields, and the fake needs none of them.
IGNORED: dict[tuple[str, str], str] = {
    ("ParentInstanceInfo", "appID"): "cross-app calls: the fake is one app",
    ("ParentInstanceInfo", "appNamespace"): "cross-app calls: the fake is one app",
    ("WorkflowState", "parentAppId"): "cross-app calls: the fake is one app",
    ("WorkflowState", "startedAt"): "not reported by the fake",
    ("WorkflowRequest", "propagatedHistory"): "history propagation is not supported by the fake",
    ("WorkflowRequest", "cachedHistory"): "the fake always sends the whole history (no worker-side cache)",
    ("ActivityRequest", "propagatedHistory"): "history propagation is not supported by the fake",
    ("TaskScheduledEvent", "rerunParentInstanceInfo"): "RerunWorkflowFromEvent is not supported by the fake",
    ("TaskScheduledEvent", "historyPropagationScope"): "history propagation is not supported by the fake",
    ("TaskCompletedEvent", "attestation"): "attestation is not supported by the fake",
    ("TaskCompletedEvent", "signerCertificate"): "attestation is not supported by the fake",
    ("TaskFailedEvent", "attestation"): "attestation is not supported by the fake",
    ("TaskFailedEvent", "signerCertificate"): "attestation is not supported by the fake",
    ("ChildWorkflowInstanceCreatedEvent", "rerunParentInstanceInfo"): "RerunWorkflowFromEvent is not supported",
    ("ChildWorkflowInstanceCreatedEvent", "historyPropagationScope"): "history propagation is not supported",
    ("ChildWorkflowInstanceCreatedEvent", "retryParentInstanceInfo"): "child-workflow retry lineage not recorded",
    ("ChildWorkflowInstanceCompletedEvent", "attestation"): "attestation is not supported by the fake",
    ("ChildWorkflowInstanceCompletedEvent", "signerCertificate"): "attestation is not supported by the fake",
    ("ChildWorkflowInstanceFailedEvent", "attestation"): "attestation is not supported by the fake",
    ("ChildWorkflowInstanceFailedEvent", "signerCertificate"): "attestation is not supported by the fake",
    ("TimerCreatedEvent", "rerunParentInstanceInfo"): "RerunWorkflowFromEvent is not supported by the fake",
    ("TimerCreatedEvent", "createTimer"): "timer origins are not recorded by the fake",
    ("TimerCreatedEvent", "externalEvent"): "timer origins are not recorded by the fake",
    ("TimerCreatedEvent", "activityRetry"): "timer origins are not recorded by the fake",
    ("TimerCreatedEvent", "childWorkflowRetry"): "timer origins are not recorded by the fake",
    ("CreateTimerAction", "createTimer"): "timer origins are not recorded by the fake",
    ("CreateTimerAction", "externalEvent"): "timer origins are not recorded by the fake",
    ("CreateTimerAction", "activityRetry"): "timer origins are not recorded by the fake",
    ("CreateTimerAction", "childWorkflowRetry"): "timer origins are not recorded by the fake",
    ("CreateChildWorkflowAction", "retryParentInstanceInfo"): "child-workflow retry lineage not recorded",
    ("WorkflowStartedEvent", "version"): "workflow patches (versioning) are not recorded by the fake",
    ("HistoryEvent", "executionStalled"): "the fake never stalls an instance",
    ("HistoryEvent", "detachedWorkflowInstanceCreated"): "detached workflows are not supported by the fake",
    ("WorkflowAction", "workflowVersionNotAvailable"): "workflow patches (versioning) are not supported",
    ("WorkflowAction", "createDetachedWorkflow"): "detached workflows are not supported by the fake",
}


def dapr_descriptors(version: str) -> descriptor_pb2.FileDescriptorSet:
    """The protocol files of Dapr's SDK in the venv ``version`` (a key of DAPR_VERSIONS)."""
    python = ensure_dapr_venv(version)
    out = subprocess.run([str(python), "-c", _DUMP], check=True, capture_output=True).stdout
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(base64.b64decode(out))
    return files


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED


def _kind(field: Any) -> str:
    kind = {field.TYPE_MESSAGE: "message", field.TYPE_ENUM: "enum"}.get(field.type, f"scalar type {field.type}")
    return ("repeated " if _repeated(field) else "") + kind


def compare(files: descriptor_pb2.FileDescriptorSet, served: set[str], service: Any = None) -> list[str]:
    """Every way the dialect (or another ``service`` descriptor) differs from Dapr's protocol in ``files``."""
    from durabletask_testing.dialects import dapr_schema

    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    theirs = pool.FindServiceByName("TaskHubSidecarService")
    ours = dapr_schema.SERVICE if service is None else service
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()

    def walk(mine: Any, dapr: Any) -> None:
        if (mine.full_name, dapr.full_name) in seen:
            return
        seen.add((mine.full_name, dapr.full_name))
        by_number = {field.number: field for field in mine.fields}
        for field in dapr.fields:
            where = f"{dapr.name}.{field.name} (#{field.number})"
            other = by_number.get(field.number)
            if other is None:
                if (dapr.name, field.name) not in IGNORED:
                    problems.append(f"{where}: not declared by the dialect's {mine.name}")
            elif other.type != field.type or _repeated(other) != _repeated(field):
                problems.append(f"{where}: Dapr {_kind(field)}, dialect {mine.name}.{other.name} {_kind(other)}")
            elif field.type == field.TYPE_MESSAGE:
                walk(other.message_type, field.message_type)

    for method in theirs.methods:
        if method.name not in served:
            problems.append(f"rpc {method.name}: not served by the dialect")
            continue
        mine = ours.methods_by_name.get(method.name)
        if mine is not None:
            walk(mine.input_type, method.input_type)
            walk(mine.output_type, method.output_type)
    return problems


def served_rpcs() -> set[str]:
    """The RPCs the dialect's gRPC handler answers (including those it refuses with a reason)."""
    from durabletask_testing.dialects import dapr

    return {"Hello", "GetWorkItems", "ListInstanceIDs", "GetInstanceHistory", *dapr._UNARY, *dapr.NOT_IMPLEMENTED}


def main() -> int:
    failed = False
    for version in DAPR_VERSIONS:
        problems = compare(dapr_descriptors(version), served_rpcs())
        for problem in problems:
            print(f"{version}: {problem}")
        print(f"{version}: {'OK' if not problems else f'{len(problems)} mismatches'}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
