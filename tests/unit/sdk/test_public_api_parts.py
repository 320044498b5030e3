"""Pure parts of the public modules added for parity with the published SDK: typed history events, gRPC
options, entity ids and metadata, the data converter, and the entity calls that need sidecar support."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from google.protobuf import timestamp_pb2, wrappers_pb2

from durabletask import entities, history, task
from durabletask.grpc_options import (
    GrpcChannelOptions,
    GrpcClientResiliencyOptions,
    GrpcRetryPolicyOptions,
    GrpcWorkerResiliencyOptions,
)
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.serialization import DEFAULT_DATA_CONVERTER, DataConverter, JsonDataConverter

T = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _ts(dt: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt)
    return ts


def test_every_protocol_history_event_has_a_typed_class():
    oneof = pb.HistoryEvent.DESCRIPTOR.oneofs_by_name["eventType"]
    for field in oneof.fields:
        event = pb.HistoryEvent(eventId=1, timestamp=_ts(T))
        getattr(event, field.name).SetInParent()
        typed = history.from_protobuf(event)
        assert isinstance(typed, history.HistoryEvent) and typed.timestamp == T
        json.dumps(typed.to_dict())


def test_history_event_fields_are_converted():
    failure = pb.TaskFailureDetails(errorType="builtins.ValueError", errorMessage="bad",
                                    innerFailure=pb.TaskFailureDetails(errorType="builtins.KeyError"))
    failure.properties["code"].string_value = "E1"
    event = pb.HistoryEvent(eventId=7, timestamp=_ts(T), taskFailed=pb.TaskFailedEvent(taskScheduledId=3,
                                                                                       failureDetails=failure))
    typed = history.from_protobuf(event)
    assert isinstance(typed, history.TaskFailedEvent) and typed.task_scheduled_id == 3
    assert typed.failure_details == task.FailureDetails("bad", "builtins.ValueError", None,
                                                        task.FailureDetails("", "builtins.KeyError", None),
                                                        {"code": "E1"})
    started = pb.HistoryEvent(eventId=-1, timestamp=_ts(T), executionStarted=pb.ExecutionStartedEvent(
        name="o", input=wrappers_pb2.StringValue(value="1"), scheduledStartTimestamp=_ts(T),
        parentInstance=pb.ParentInstanceInfo(taskScheduledId=4, orchestrationInstance=pb.OrchestrationInstance(
            instanceId="p")), parentTraceContext=pb.TraceContext(traceParent="00-a", spanID="s")))
    typed_started = history.from_protobuf(started)
    assert isinstance(typed_started, history.ExecutionStartedEvent)
    assert (typed_started.input, typed_started.version, typed_started.tags) == ("1", None, None)
    assert typed_started.parent_instance == history.ParentInstanceInfo(4, None, None,
                                                                       history.OrchestrationInstance("p"))
    assert typed_started.parent_trace_context == history.TraceContext("00-a", "s")
    assert history.to_dict(typed_started)["scheduled_start_timestamp"] == T.isoformat()
    with pytest.raises(ValueError):
        history.from_protobuf(pb.HistoryEvent())


def test_channel_options_become_grpc_arguments():
    options = GrpcChannelOptions(max_receive_message_length=10, keepalive_permit_without_calls=True,
                                 retry_policy=GrpcRetryPolicyOptions(), raw_options=[("grpc.x", 1)])
    arguments = dict(options.to_grpc_options())
    assert arguments["grpc.x"] == 1 and arguments["grpc.max_receive_message_length"] == 10
    assert arguments["grpc.keepalive_permit_without_calls"] == 1 and arguments["grpc.enable_retries"] == 1
    config = json.loads(arguments["grpc.service_config"])["methodConfig"][0]["retryPolicy"]
    assert config["initialBackoff"] == "0.05s" and config["retryableStatusCodes"] == ["UNAVAILABLE"]
    with pytest.raises(ValueError):
        GrpcRetryPolicyOptions(max_attempts=1)
    with pytest.raises(ValueError, match="reconnect_backoff_cap_seconds"):
        GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=5, reconnect_backoff_cap_seconds=1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, 0.0, 1e-12])
def test_retry_back_off_must_be_a_positive_finite_duration(bad: float):
    with pytest.raises(ValueError, match="initial_backoff_seconds|nanosecond"):
        GrpcRetryPolicyOptions(initial_backoff_seconds=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), -0.5, "3"])
def test_resiliency_options_refuse_non_finite_and_negative_values(bad: object):
    with pytest.raises(ValueError, match="GrpcClientResiliencyOptions.min_recreate_interval_seconds"):
        GrpcClientResiliencyOptions(min_recreate_interval_seconds=bad)  # type: ignore[arg-type]


def test_entity_ids_parse_and_validate():
    entity_id = entities.EntityInstanceId("Counter", "a-b")
    assert str(entity_id) == "@counter@a-b" and entities.EntityInstanceId.parse("@counter@a-b") == entity_id
    for bad in ("counter@k", "@only", "@c@k@more"):
        with pytest.raises(ValueError):
            entities.EntityInstanceId.parse(bad)
    with pytest.raises(ValueError):
        entities.EntityInstanceId("", "k")


def test_entity_metadata_from_the_protocol():
    metadata = pb.EntityMetadata(instanceId="@counter@k", lastModifiedTime=_ts(T), backlogQueueSize=2,
                                 lockedBy=wrappers_pb2.StringValue(value="@orch@x"),
                                 serializedState=wrappers_pb2.StringValue(value='{"n": 3}'))
    parsed = entities.EntityMetadata.from_entity_metadata(metadata, True, DEFAULT_DATA_CONVERTER)
    assert parsed.id == entities.EntityInstanceId("counter", "k") and parsed.last_modified == T
    assert parsed.get_state() == '{"n": 3}' and parsed.get_typed_state() == {"n": 3}
    assert parsed.get_locked_by() == entities.EntityInstanceId("orch", "x")


def test_entity_context_state_starts_from_a_value_and_is_replaced():
    context = entities.EntityContext("@c@k", "add", None, entities.EntityInstanceId("c", "k"),
                                      DEFAULT_DATA_CONVERTER)
    assert context.get_state(default=5) == 5
    context.set_state({"n": 1})
    assert context.get_state() == {"n": 1}


@dataclass
class Point:
    x: int
    y: int


def test_json_data_converter_round_trips_and_rebuilds_types():
    converter: DataConverter = JsonDataConverter()
    text = converter.serialize(Point(1, 2))
    assert text == '{"x": 1, "y": 2}' and converter.serialize(None) is None
    assert converter.deserialize(text, Point) == Point(1, 2)
    assert converter.deserialize(text).x == 1
    assert converter.coerce({"x": 1, "y": 2}, Point) == Point(1, 2)
    assert converter.coerce("not a point", Point) == "not a point"  # best effort
    assert converter.can_reconstruct(Point) and not converter.can_reconstruct(int)
    assert not DataConverter.can_reconstruct(converter, Point)
