"""Request validation: every refusal names the offending field, action or id, and happens before any change.

Failure details nested deeper than :data:`MAX_FAILURE_DEPTH` are truncated with a note instead of refused: an
SDK builds such chains from legitimately failing sub-orchestrations, and protobuf cannot encode a work item
nested more than 100 levels deep.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf import struct_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError, ErrorCode, invalid
from ..vocabulary import optional_string, status_name, to_datetime

COMPLETION_STATUSES = frozenset(
    {
        pb.ORCHESTRATION_STATUS_COMPLETED,
        pb.ORCHESTRATION_STATUS_FAILED,
        pb.ORCHESTRATION_STATUS_TERMINATED,
        pb.ORCHESTRATION_STATUS_CANCELED,
        pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
    }
)

MAX_FAILURE_DEPTH = 64  # levels of TaskFailureDetails (outermost included) the fake keeps
MAX_PROPERTY_DEPTH = 16  # nesting of a failure property's google.protobuf.Value
TRUNCATED_ERROR_TYPE = "FailureDetailsTruncated"


def require_text(value: str, field: str) -> None:
    """Refuse an empty id or name."""
    if not value or not value.strip():
        raise invalid(f"{field} must not be empty")


def check_statuses(statuses: Iterable[int], field: str) -> None:
    """Refuse a runtime-status filter holding a value that is not an OrchestrationStatus."""
    known = pb.OrchestrationStatus.values()
    for status in statuses:
        if status not in known:
            raise invalid(f"{field} holds {status}, which is not an OrchestrationStatus value")


def check_payload(value: str | None, field: str, limit: int) -> None:
    """Refuse a payload larger than ``limit`` bytes (UTF-8)."""
    if value is None or len(value) * 4 <= limit:
        return
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > limit:
        raise EngineError(
            ErrorCode.RESOURCE_EXHAUSTED,
            f"{field} is {size} bytes, over the fake sidecar's payload limit of {limit} bytes",
        )


def _value_depth(value: struct_pb2.Value) -> int:
    """Nesting depth of a google.protobuf.Value (a scalar is 1), without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        deepest = max(deepest, depth)
        kind = current.WhichOneof("kind")
        if kind == "list_value":
            pending.extend((item, depth + 1) for item in current.list_value.values)
        elif kind == "struct_value":
            pending.extend((item, depth + 1) for item in current.struct_value.fields.values())
    return deepest


def check_failure_details(details: pb.TaskFailureDetails, field: str, limit: int) -> None:
    """Payload limits for every level of failure details; bounded nesting of their properties."""
    level: pb.TaskFailureDetails | None = details
    where = field
    for _ in range(MAX_FAILURE_DEPTH):
        if level is None:
            return
        check_payload(level.errorMessage, f"{where}.errorMessage", limit)
        check_payload(optional_string(level, "stackTrace"), f"{where}.stackTrace", limit)
        for key, value in level.properties.items():
            if _value_depth(value) > MAX_PROPERTY_DEPTH:
                raise invalid(
                    f"{where}.properties['{key}'] is nested more than {MAX_PROPERTY_DEPTH} levels deep "
                    "(the fake sidecar's limit)"
                )
        level = level.innerFailure if level.HasField("innerFailure") else None
        where = f"{field}.innerFailure..."


def failure_depth(details: pb.TaskFailureDetails) -> int:
    """Levels in a failure-details chain (the outermost counts as 1)."""
    depth = 1
    while details.HasField("innerFailure"):
        details = details.innerFailure
        depth += 1
    return depth


def bounded_failure(details: pb.TaskFailureDetails) -> pb.TaskFailureDetails:
    """A copy of ``details`` cut to :data:`MAX_FAILURE_DEPTH` levels; the last kept level says what was cut."""
    copy = pb.TaskFailureDetails()
    copy.CopyFrom(details)
    depth = failure_depth(copy)
    if depth <= MAX_FAILURE_DEPTH:
        return copy
    level = copy
    for _ in range(MAX_FAILURE_DEPTH - 2):
        level = level.innerFailure
    level.innerFailure.CopyFrom(
        pb.TaskFailureDetails(
            errorType=TRUNCATED_ERROR_TYPE,
            errorMessage=f"{depth - MAX_FAILURE_DEPTH + 1} more nested failures were cut by the fake sidecar "
            f"(it keeps at most {MAX_FAILURE_DEPTH} levels of innerFailure)",
        )
    )
    return copy


def validate_response(response: pb.OrchestratorResponse, limit: int) -> None:
    """Check a whole orchestrator response before any of it is applied (all or nothing).

    Action ids are not checked for uniqueness, as durabletask-go does not check them: the published Python SDK
    schedules every retry attempt of a call under the first attempt's id. A second completeOrchestration action
    is refused: an orchestration completes once.
    """
    check_payload(optional_string(response, "customStatus"), "customStatus", limit)
    completed_at: int | None = None
    for index, action in enumerate(response.actions):
        where = f"actions[{index}] (id {action.id})"
        kind = action.WhichOneof("orchestratorActionType")
        if kind is None:
            raise invalid(f"{where} has no action type set")
        if kind == "rewindOrchestration":
            _validate_rewind(action.rewindOrchestration, where, len(response.actions))
        if kind == "completeOrchestration":
            if completed_at is not None:
                raise invalid(
                    f"{where} is a second completeOrchestration action (the first is actions[{completed_at}]): "
                    "an orchestrator work item can complete its orchestration only once"
                )
            completed_at = index
        _validate_action(kind, action, where, limit)


def _validate_action(kind: str, action: pb.OrchestratorAction, where: str, limit: int) -> None:
    if kind == "scheduleTask":
        require_text(action.scheduleTask.name, f"{where}.scheduleTask.name")
        check_payload(optional_string(action.scheduleTask, "input"), f"{where}.scheduleTask.input", limit)
    elif kind == "createTimer":
        if not action.createTimer.HasField("fireAt"):
            raise invalid(f"{where}.createTimer.fireAt is missing: a timer needs a fire time")
        to_datetime(action.createTimer.fireAt, f"{where}.createTimer.fireAt")
    elif kind == "createSubOrchestration":
        require_text(action.createSubOrchestration.name, f"{where}.createSubOrchestration.name")
        check_payload(
            optional_string(action.createSubOrchestration, "input"), f"{where}.createSubOrchestration.input", limit
        )
    elif kind == "sendEvent":
        require_text(action.sendEvent.instance.instanceId, f"{where}.sendEvent.instance.instanceId")
        require_text(action.sendEvent.name, f"{where}.sendEvent.name")
        check_payload(optional_string(action.sendEvent, "data"), f"{where}.sendEvent.data", limit)
    elif kind == "terminateOrchestration":
        require_text(action.terminateOrchestration.instanceId, f"{where}.terminateOrchestration.instanceId")
        reason = optional_string(action.terminateOrchestration, "reason")
        check_payload(reason, f"{where}.terminateOrchestration.reason", limit)
    elif kind == "completeOrchestration":
        _validate_completion(action.completeOrchestration, f"{where}.completeOrchestration", limit)
    elif kind == "sendEntityMessage":
        _validate_entity_message(action.sendEntityMessage, f"{where}.sendEntityMessage", limit)


def _validate_rewind(rewind: pb.RewindOrchestrationAction, where: str, actions: int) -> None:
    if actions != 1:
        raise invalid(f"{where} is a rewindOrchestration action beside {actions - 1} other actions: it must be alone")
    if not any(event.HasField("executionStarted") for event in rewind.newHistory):
        raise invalid(f"{where}.rewindOrchestration.newHistory has no executionStarted event")


def _entity_id(value: str, where: str) -> None:
    if not value.startswith("@") or len(value.split("@", 2)) != 3 or not value.split("@", 2)[1].strip():
        raise invalid(f"{where} '{value}' is not an entity id: entity ids have the form '@name@key'")


def _validate_entity_message(message: pb.SendEntityMessageAction, where: str, limit: int) -> None:
    kind = message.WhichOneof("EntityMessageType")
    if kind is None:
        raise invalid(f"{where} has no message type set")
    if kind in ("entityOperationSignaled", "entityOperationCalled"):
        operation = getattr(message, kind)
        _entity_id(operation.targetInstanceId.value, f"{where}.{kind}.targetInstanceId")
        require_text(operation.operation, f"{where}.{kind}.operation")
        require_text(operation.requestId, f"{where}.{kind}.requestId")
        check_payload(optional_string(operation, "input"), f"{where}.{kind}.input", limit)
        if operation.HasField("scheduledTime"):
            to_datetime(operation.scheduledTime, f"{where}.{kind}.scheduledTime")
    elif kind == "entityLockRequested":
        lock = message.entityLockRequested
        require_text(lock.criticalSectionId, f"{where}.entityLockRequested.criticalSectionId")
        if not lock.lockSet:
            raise invalid(f"{where}.entityLockRequested.lockSet is empty: a critical section locks at least one entity")
        seen: set[str] = set()
        for index, entity_id in enumerate(lock.lockSet):
            _entity_id(entity_id, f"{where}.entityLockRequested.lockSet[{index}]")
            if entity_id in seen:
                raise invalid(f"{where}.entityLockRequested.lockSet names entity '{entity_id}' twice")
            seen.add(entity_id)
        if not 0 <= lock.position < len(lock.lockSet):
            raise invalid(
                f"{where}.entityLockRequested.position {lock.position} is outside the lock set "
                f"of {len(lock.lockSet)} entities"
            )
    else:
        unlock = message.entityUnlockSent
        require_text(unlock.criticalSectionId, f"{where}.entityUnlockSent.criticalSectionId")
        _entity_id(unlock.targetInstanceId.value, f"{where}.entityUnlockSent.targetInstanceId")


def _validate_completion(complete: pb.CompleteOrchestrationAction, where: str, limit: int) -> None:
    if complete.orchestrationStatus not in COMPLETION_STATUSES:
        raise invalid(
            f"{where}.orchestrationStatus {status_name(complete.orchestrationStatus)} is not a completion status"
        )
    check_payload(optional_string(complete, "result"), f"{where}.result", limit)
    if complete.HasField("failureDetails"):
        check_failure_details(complete.failureDetails, f"{where}.failureDetails", limit)
    check_carryover(complete.carryoverEvents, f"{where}.carryoverEvents", limit)


def check_carryover(carried: Sequence[pb.HistoryEvent], where: str, limit: int) -> None:
    """Events carried into the next execution get the checks a RaiseEvent gets: external events only,
    a name, a payload within the limit."""
    for index, event in enumerate(carried):
        kind = event.WhichOneof("eventType")
        if kind != "eventRaised":
            raise invalid(
                f"{where}[{index}] is a {kind or 'empty'} event: only eventRaised events can be carried over "
                "into the next execution"
            )
        require_text(event.eventRaised.name, f"{where}[{index}].eventRaised.name")
        check_payload(optional_string(event.eventRaised, "input"), f"{where}[{index}].eventRaised.input", limit)
