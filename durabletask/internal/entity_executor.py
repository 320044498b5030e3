"""Running one entity work item: every operation of the batch in order, against the entity's state.

Pure apart from reading the wall clock for the operations' start and end times: (registry, request) ->
EntityBatchResult. An operation that raises fails alone; its state change and messages are rolled back.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, cast

from google.protobuf import wrappers_pb2

from durabletask.entities import DurableEntity, EntityContext, EntityInstanceId
from durabletask.internal import helpers
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import serialization as ser
from durabletask.internal.entity_state import EntityState
from durabletask.internal.registry import EntityNotRegisteredError, Registry

logger = logging.getLogger("durabletask.entities")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_batch_request(request: pb.EntityRequest) -> tuple[pb.EntityBatchRequest, list[pb.OperationInfo]]:
    """The batch form of an ``entityRequestV2`` work item, and where each operation's answer goes (the
    calling orchestration; none for signals)."""
    batch = pb.EntityBatchRequest(instanceId=request.instanceId, entityState=request.entityState)
    infos: list[pb.OperationInfo] = []
    for event in request.operationRequests:
        kind = event.WhichOneof("eventType")
        if kind == "entityOperationSignaled":
            signaled = event.entityOperationSignaled
            batch.operations.append(pb.OperationRequest(requestId=signaled.requestId, operation=signaled.operation,
                                                        input=signaled.input))
            infos.append(pb.OperationInfo(requestId=signaled.requestId))
        elif kind == "entityOperationCalled":
            called = event.entityOperationCalled
            batch.operations.append(pb.OperationRequest(requestId=called.requestId, operation=called.operation,
                                                        input=called.input))
            infos.append(pb.OperationInfo(requestId=called.requestId, responseDestination=pb.OrchestrationInstance(
                instanceId=called.parentInstanceId.value, executionId=called.parentExecutionId)))
    return batch, infos


def execute_entity_batch(registry: Registry, request: pb.EntityBatchRequest | pb.EntityRequest,
                         completion_token: str = "",
                         now: Callable[[], datetime] = _utcnow) -> pb.EntityBatchResult:
    """Run the batch; the result carries one OperationResult per operation, the committed messages and the
    final state. A batch for an id that is not ``@name@key`` fails as a whole (``failureDetails``)."""
    infos: list[pb.OperationInfo] = []
    if isinstance(request, pb.EntityRequest):
        request, infos = to_batch_request(request)
    converter = registry.data_converter
    state = EntityState(request.entityState.value or None, converter, is_serialized=True)
    try:
        entity_id = EntityInstanceId.parse(request.instanceId)
    except ValueError as ex:
        return pb.EntityBatchResult(completionToken=completion_token, operationInfos=infos,
                                    entityState=request.entityState if request.HasField("entityState") else None,
                                    failureDetails=helpers.new_failure_details(ValueError(
                                        f"Invalid entity instance ID '{request.instanceId}': {ex}")))
    results: list[pb.OperationResult] = []
    for operation in request.operations:
        started = helpers.new_timestamp(now())
        try:
            output = run_operation(registry, entity_id, operation.operation, state,
                                   operation.input.value or None)
        except Exception as ex:
            logger.info("Operation '%s' of entity '%s' failed: %r", operation.operation, entity_id, ex)
            state.rollback()
            details = helpers.new_failure_details(ex, properties_provider=registry.exception_properties_provider)
            results.append(pb.OperationResult(failure=pb.OperationResultFailure(
                failureDetails=details, startTimeUtc=started, endTimeUtc=helpers.new_timestamp(now()))))
            continue
        state.commit()
        results.append(pb.OperationResult(success=pb.OperationResultSuccess(
            result=wrappers_pb2.StringValue(value=output or ""), startTimeUtc=started,
            endTimeUtc=helpers.new_timestamp(now()))))
    return pb.EntityBatchResult(results=results, actions=state.get_operation_actions(),
                                entityState=helpers.get_string_value(state.encode_state()),
                                completionToken=completion_token, operationInfos=infos)


def run_operation(registry: Registry, entity_id: EntityInstanceId, operation: str, state: EntityState,
                  encoded_input: str | None) -> str | None:
    """Run one operation and return its serialized result; raises what the operation raises.

    A function-based entity is called as ``fn(context, input)``; for a :class:`DurableEntity` subclass a new
    instance's method named like the operation is called, with the input when it takes one."""
    fn = registry.entities.get(entity_id.entity)
    if fn is None:
        raise EntityNotRegisteredError(f"Entity function named '{entity_id.entity}' was not registered!")
    converter = registry.data_converter
    context = EntityContext(str(entity_id), operation, state, entity_id, converter)
    if isinstance(fn, type) and issubclass(fn, DurableEntity):
        instance = fn()
        method = getattr(instance, operation, None)
        if method is None:
            raise AttributeError(f"Entity '{entity_id}' does not have operation '{operation}'")
        if not callable(method):
            raise TypeError(f"Entity operation '{operation}' is not callable")
        instance._initialize_entity_context(context)
        input_value = _decode_input(getattr(fn, operation), encoded_input, converter)
        if input_value is not None or _takes_input(method):
            output = method(input_value)
        else:
            output = method()
    else:
        entity_fn = cast(Callable[[EntityContext, Any], Any], fn)
        output = entity_fn(context, _decode_input(entity_fn, encoded_input, converter))
    return converter.serialize(output)


def _decode_input(fn: Any, encoded_input: str | None, converter: Any) -> Any:
    """The operation's input, rebuilt as the annotated type of its input parameter (the one after ``self`` or
    the context) when the converter can."""
    if encoded_input is None:
        return None
    return converter.deserialize(encoded_input, ser.input_type_of(fn, converter))


def _takes_input(method: Callable[..., Any]) -> bool:
    """True when a bound operation method has a parameter without a default (it must be given the input)."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.default is inspect.Parameter.empty for p in parameters
               if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))
