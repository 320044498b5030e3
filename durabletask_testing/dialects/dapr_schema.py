"""The Dapr dialect of the protocol: our messages with Dapr's field numbers and Dapr-only fields.

Dapr Workflow's SDKs speak a fork of TaskHubSidecarService: the same RPC paths and mostly the same field
numbers, but some numbers mean other things (``ScheduleTaskAction`` field 5 is Dapr's ``taskExecutionId``,
ours ``parentTraceContext``). The dialect is built at import time from the fake's own descriptor and the
table of differences below, under the proto package :data:`PACKAGE` (so it loads beside any other
bindings). Message and field names stay ours; only what travels on the wire follows Dapr.
``tests/interop/test_dapr_protocol_compat.py`` compares the result with the protos Dapr's SDK ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

PACKAGE = "durabletask_testing.dapr"
FILE_NAME = "durabletask_testing/dialects/dapr_orchestrator_service.proto"

_F = descriptor_pb2.FieldDescriptorProto
STRING, BOOL, UINT32, MESSAGE, ENUM = _F.TYPE_STRING, _F.TYPE_BOOL, _F.TYPE_UINT32, _F.TYPE_MESSAGE, _F.TYPE_ENUM


@dataclass(frozen=True)
class Field:
    """A Dapr field added to one of our messages (``type_name``: a message or enum of the dialect)."""

    message: str
    name: str
    number: int
    type: int
    type_name: str = ""
    repeated: bool = False
    oneof: str | None = None


# Our fields whose numbers Dapr uses for something else (or that Dapr does not have where it matters).
DROPPED: tuple[tuple[str, str], ...] = (
    ("ScheduleTaskAction", "tags"),
    ("ScheduleTaskAction", "parentTraceContext"),
    ("CreateSubOrchestrationAction", "parentTraceContext"),
    ("CreateSubOrchestrationAction", "tags"),
    ("OrchestratorAction", "rewindOrchestration"),
    ("TaskScheduledEvent", "tags"),
    ("SubOrchestrationInstanceCreatedEvent", "tags"),
    ("HistoryEvent", "executionRewound"),
    ("ActivityRequest", "tags"),
    ("OrchestratorRequest", "properties"),
    ("OrchestratorRequest", "orchestrationTraceContext"),
    ("OrchestratorResponse", "orchestrationTraceContext"),
    ("GetWorkItemsRequest", "capabilities"),
    ("CreateInstanceRequest", "requestTime"),
    ("PurgeInstancesRequest", "instanceBatch"),
    ("PurgeInstancesRequest", "isOrchestration"),
)

# Our fields that Dapr numbers differently.
MOVED: tuple[tuple[str, str, int], ...] = (("WorkItem", "healthPing", 6),)

ROUTER = ".durabletask_testing.dapr.TaskRouter"
SCOPE = ".durabletask_testing.dapr.HistoryPropagationScope"

# Dapr's fields, on our messages.
ADDED: tuple[Field, ...] = (
    Field("ScheduleTaskAction", "router", 4, MESSAGE, ROUTER),  # Dapr 1.18 only (reserved in 1.19)
    Field("ScheduleTaskAction", "taskExecutionId", 5, STRING),
    Field("ScheduleTaskAction", "historyPropagationScope", 6, ENUM, SCOPE),
    Field("CreateSubOrchestrationAction", "router", 5, MESSAGE, ROUTER),  # Dapr 1.18 only
    Field("CreateSubOrchestrationAction", "historyPropagationScope", 6, ENUM, SCOPE),
    Field("OrchestratorAction", "router", 9, MESSAGE, ROUTER),
    Field("CreateTimerAction", "name", 2, STRING),
    Field("TaskScheduledEvent", "taskExecutionId", 5, STRING),
    Field("TaskCompletedEvent", "taskExecutionId", 3, STRING),
    Field("TaskFailedEvent", "taskExecutionId", 3, STRING),
    Field("TimerCreatedEvent", "name", 2, STRING),
    Field("HistoryEvent", "router", 30, MESSAGE, ROUTER),
    Field("ActivityRequest", "taskExecutionId", 7, STRING),
    Field("OrchestratorRequest", "router", 7, MESSAGE, ROUTER),
    Field("OrchestratorResponse", "version", 6, MESSAGE, ".durabletask_testing.dapr.WorkflowVersion"),
    Field("GetWorkItemsRequest", "capabilities", 4, ENUM, ".durabletask_testing.dapr.DaprWorkerCapability",
          repeated=True),
    Field("CreateInstanceRequest", "enforceUniqueInstanceId", 10, BOOL),
    Field("CreateInstanceRequest", "router", 11, MESSAGE, ROUTER),
    Field("PurgeInstancesRequest", "force", 4, BOOL),
    Field("PurgeInstancesRequest", "router", 5, MESSAGE, ROUTER),
    Field("GetInstanceRequest", "router", 3, MESSAGE, ROUTER),
    Field("RaiseEventRequest", "router", 4, MESSAGE, ROUTER),
    Field("TerminateRequest", "router", 4, MESSAGE, ROUTER),
    Field("SuspendRequest", "router", 3, MESSAGE, ROUTER),
    Field("ResumeRequest", "router", 3, MESSAGE, ROUTER),
)

# Dapr-only messages: name -> fields (name, number, type, type_name, repeated).
NEW_MESSAGES: dict[str, tuple[tuple[str, int, int, str, bool], ...]] = {
    "TaskRouter": (("sourceAppID", 1, STRING, "", False), ("targetAppID", 2, STRING, "", False),
                   ("targetAppNamespace", 3, STRING, "", False)),
    "WorkflowVersion": (("patches", 1, STRING, "", True), ("name", 2, STRING, "", False)),
    "ListInstanceIDsRequest": (("continuationToken", 1, STRING, "", False), ("pageSize", 2, UINT32, "", False)),
    "ListInstanceIDsResponse": (("instanceIds", 1, STRING, "", True), ("continuationToken", 2, STRING, "", False)),
    "GetInstanceHistoryRequest": (("instanceId", 1, STRING, "", False),),
    "GetInstanceHistoryResponse": (("events", 1, MESSAGE, ".durabletask_testing.dapr.HistoryEvent", True),),
}

# Dapr-only enums (value names carry a prefix: enum values share the package's scope with ours).
NEW_ENUMS: dict[str, tuple[tuple[str, int], ...]] = {
    "HistoryPropagationScope": (("DAPR_SCOPE_NONE", 0), ("DAPR_SCOPE_OWN_HISTORY", 1), ("DAPR_SCOPE_LINEAGE", 2)),
    "DaprWorkerCapability": (("DAPR_WORKER_CAPABILITY_UNSPECIFIED", 0), ("DAPR_WORKER_CAPABILITY_STATEFUL_HISTORY", 2),
                             ("DAPR_WORKER_CAPABILITY_HEALTH_PING", 3)),
}
HEALTH_PING_CAPABILITY = 3

# Dapr-only RPCs served by the dialect: name -> (request, response) messages of the dialect.
NEW_RPCS: dict[str, tuple[str, str]] = {
    "CompleteWorkflowTask": ("OrchestratorResponse", "CompleteTaskResponse"),
    "ListInstanceIDs": ("ListInstanceIDsRequest", "ListInstanceIDsResponse"),
    "GetInstanceHistory": ("GetInstanceHistoryRequest", "GetInstanceHistoryResponse"),
}


def _requalify(fdp: descriptor_pb2.FileDescriptorProto, old: str, new: str) -> None:
    def moved(name: str) -> str:
        return new + name[len(old):] if name.startswith(old) else name

    def fix(messages: Any) -> None:
        for message in messages:
            for field in message.field:
                if field.type_name.startswith(old):
                    field.type_name = moved(field.type_name)
            fix(message.nested_type)

    fix(fdp.message_type)
    for service in fdp.service:
        for method in service.method:
            method.input_type, method.output_type = moved(method.input_type), moved(method.output_type)


def _find(fdp: descriptor_pb2.FileDescriptorProto, name: str) -> descriptor_pb2.DescriptorProto:
    for message in fdp.message_type:
        if message.name == name:
            return message
    raise KeyError(f"the protocol has no message {name!r}")


def _add_field(message: descriptor_pb2.DescriptorProto, name: str, number: int, kind: int, type_name: str,
               repeated: bool) -> None:
    field = message.field.add(name=name, json_name=name, number=number, type=kind,
                              label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if type_name:
        field.type_name = type_name


def build_file() -> descriptor_pb2.FileDescriptorProto:
    """The dialect's file descriptor: ours, re-packaged, with the table above applied."""
    fdp = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(fdp)
    _requalify(fdp, f".{fdp.package}.", f".{PACKAGE}.")
    fdp.name, fdp.package = FILE_NAME, PACKAGE
    for message_name, field_name in DROPPED:
        message = _find(fdp, message_name)
        kept = [field for field in message.field if field.name != field_name]
        if len(kept) == len(message.field):
            raise KeyError(f"{message_name} has no field {field_name!r}")
        del message.field[:]
        message.field.extend(kept)
    for message_name, field_name, number in MOVED:
        next(field for field in _find(fdp, message_name).field if field.name == field_name).number = number
    for name, values in NEW_ENUMS.items():
        enum = fdp.enum_type.add(name=name)
        for value_name, number in values:
            enum.value.add(name=value_name, number=number)
    for name, fields in NEW_MESSAGES.items():
        message = fdp.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            _add_field(message, field_name, number, kind, type_name, repeated)
    for added in ADDED:
        _add_field(_find(fdp, added.message), added.name, added.number, added.type, added.type_name, added.repeated)
    service = fdp.service[0]
    for rpc, (request, response) in NEW_RPCS.items():
        service.method.add(name=rpc, input_type=f".{PACKAGE}.{request}", output_type=f".{PACKAGE}.{response}")
    return fdp


def _load() -> Any:
    pool = descriptor_pool.Default()
    try:
        return pool.FindFileByName(FILE_NAME)
    except KeyError:
        return pool.Add(build_file())


FILE = _load()


def message_class(name: str) -> type[Message]:
    """The dialect's class for our message ``name`` (or a Dapr-only message)."""
    return message_factory.GetMessageClass(FILE.message_types_by_name[name])  # type: ignore[no-any-return]


SERVICE = FILE.services_by_name["TaskHubSidecarService"]
