"""Request validation: every refusal names the offending field, action or id, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from google.protobuf import timestamp_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError, ErrorCode, invalid
from .events import optional_string
from .state import status_name

COMPLETION_STATUSES = frozenset(
    {
        pb.ORCHESTRATION_STATUS_COMPLETED,
        pb.ORCHESTRATION_STATUS_FAILED,
        pb.ORCHESTRATION_STATUS_TERMINATED,
        pb.ORCHESTRATION_STATUS_CANCELED,
        pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
    }
)


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


def to_datetime(stamp: timestamp_pb2.Timestamp, field: str) -> datetime:
    """A protobuf Timestamp as an aware UTC datetime, or INVALID_ARGUMENT naming ``field`` when out of range."""
    try:
        return stamp.ToDatetime(tzinfo=timezone.utc)
    except (ValueError, OverflowError) as error:
        raise invalid(f"{field} is not a valid timestamp ({stamp.seconds}s, {stamp.nanos}ns): {error}") from None


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


def check_failure_details(details: pb.TaskFailureDetails, field: str, limit: int) -> None:
    """Payload limits for failure details (message and stack trace)."""
    check_payload(details.errorMessage, f"{field}.errorMessage", limit)
    check_payload(optional_string(details, "stackTrace"), f"{field}.stackTrace", limit)


def validate_actions(actions: Iterable[pb.OrchestratorAction], limit: int) -> None:
    """Check a work item's actions before any is applied (no partial application on error).

    Action ids are not checked for uniqueness, as durabletask-go does not check them: the published Python SDK
    schedules every retry attempt of a call under the first attempt's id.
    """
    for index, action in enumerate(actions):
        where = f"actions[{index}] (id {action.id})"
        kind = action.WhichOneof("orchestratorActionType")
        if kind is None:
            raise invalid(f"{where} has no action type set")
        if kind in ("sendEntityMessage", "rewindOrchestration"):
            raise EngineError(
                ErrorCode.UNIMPLEMENTED, f"{where}: {kind} actions are not implemented by the fake sidecar"
            )
        _validate_action_body(kind, action, where, limit)


def _validate_action_body(kind: str, action: pb.OrchestratorAction, where: str, limit: int) -> None:
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
        complete = action.completeOrchestration
        if complete.orchestrationStatus not in COMPLETION_STATUSES:
            raise invalid(
                f"{where}.completeOrchestration.orchestrationStatus "
                f"{status_name(complete.orchestrationStatus)} is not a completion status"
            )
        check_payload(optional_string(complete, "result"), f"{where}.completeOrchestration.result", limit)
        if complete.HasField("failureDetails"):
            check_failure_details(complete.failureDetails, f"{where}.completeOrchestration.failureDetails", limit)
