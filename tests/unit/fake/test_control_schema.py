"""The control API's one schema: fault kinds against FaultPlan and RemoteFaultPlan, JSON both ways, the OpenAPI
document, and a client that imports no engine."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from durabletask_testing import FaultPlan, FaultRecord
from durabletask_testing.control import FAULT_KINDS, RemoteFaultPlan, SchemaError, schema
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.views import EntitySnapshot, InstanceSnapshot, OperationRecord

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "control-api.openapi.json"


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_control_client_and_schema_import_no_engine_shell_or_sidecar() -> None:
    code = (
        "import sys\n"
        "import durabletask_testing.control.client, durabletask_testing.control.schema\n"
        "from durabletask_testing.control import RemoteFake, FAULT_KINDS\n"
        "from durabletask_testing import RemoteFake, InstanceSnapshot\n"
        "rooms = ('durabletask_testing.engine', 'durabletask_testing.shell', 'durabletask_testing.sidecar',\n"
        "         'durabletask_testing.control.server', 'grpc')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(rooms))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_each_fault_kind_is_a_fault_plan_method_and_remote_fault_plan_has_its_exact_parameters(kind: str) -> None:
    method = getattr(FaultPlan, kind)
    assert _parameters(getattr(RemoteFaultPlan, kind)) == _parameters(method)
    parameters = inspect.signature(method).parameters
    fields = FAULT_KINDS[kind]
    assert [spec.param for spec in fields] == [name for name in parameters if name != "self"]
    for spec in fields:
        assert spec.required == (parameters[spec.param].default is inspect.Parameter.empty), spec


def test_every_fault_configuring_method_of_fault_plan_is_a_kind() -> None:
    configuring = {  # the configuration methods are the public ones that return the plan
        name for name, member in vars(FaultPlan).items()
        if not name.startswith("_") and callable(member)
        and inspect.signature(member).return_annotation in (FaultPlan, "FaultPlan")
    }
    assert configuring == set(FAULT_KINDS)


def test_a_fault_body_from_remote_arguments_configures_the_plan_as_the_direct_call_does() -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("fail_activity", {"activity": "charge", "times": 2, "message": "m", "error_type": "E"}),
        ("lose_activity_result", {"activity": "charge", "times": None}),
        ("lose_orchestrator_result", {"orchestrator": "flow", "times": 1}),
        ("delay_activity", {"activity": "ship", "by": timedelta(seconds=5), "times": None}),
        ("disconnect_workers", {"after": 3}),
        ("fail_rpc", {"method": "RaiseEvent", "code": "UNAVAILABLE", "times": 1}),
        ("fail_entity", {"entity": "counter", "times": 1, "message": "m", "error_type": "E"}),
        ("lose_entity_result", {"entity": "counter", "times": 1}),
        ("lose_result_at", {"kind": "activity", "step": 2}),
        ("chaos", {"seed": 7, "rate": 0.5, "kinds": ["delay_activity"], "max_delay": timedelta(seconds=3)}),
    ]
    for kind, arguments in calls:
        body = json.loads(json.dumps(schema.fault_body(kind, arguments)))  # as it travels
        decoded_kind, decoded = schema.fault_arguments(body)
        assert decoded_kind == kind
        assert decoded == arguments
        via_json, direct = FaultPlan(), FaultPlan()
        schema.add_fault(via_json, body)
        getattr(direct, kind)(**arguments)
        assert repr(via_json) == repr(direct)


def test_a_function_target_travels_as_its_name() -> None:
    def charge() -> None: ...

    assert schema.fault_body("lose_activity_result", {"activity": charge, "times": 1})["activity"] == "charge"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "nope"}, "kind must be one of"),
        ({}, "kind must be one of"),
        ({"kind": "fail_activity"}, "activity must be a non-empty string"),
        ({"kind": "delay_activity", "activity": "a"}, "seconds must be a number"),
        ({"kind": "fail_activity", "activity": ""}, "activity must be a non-empty string"),
        ({"kind": "fail_activity", "activity": "a", "times": "2"}, "times must be an integer or null"),
        ({"kind": "lose_result_at", "result": "activity", "step": 1.5}, "step must be a whole number"),
        ({"kind": "delay_activity", "activity": "a", "seconds": -1}, "seconds must be positive"),
        ({"kind": "chaos", "seed": 1, "rate": 0.1, "kinds": "delay_activity"}, "kinds must be a list"),
        ({"kind": "chaos", "seed": 1, "rate": 2}, "rate must be at most 1"),
        ({"kind": "lose_result_at", "result": "entity", "step": 0}, "lose_result_at: kind must be"),
    ],
)
def test_a_bad_fault_body_is_refused_naming_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        schema.add_fault(FaultPlan(), body)


def test_snapshots_and_fault_records_round_trip_through_json() -> None:
    instance = InstanceSnapshot(
        instance_id="i1", name="flow", version="2", status=pb.ORCHESTRATION_STATUS_FAILED, input='"x"', output=None,
        custom_status="c", failure_details=pb.TaskFailureDetails(errorType="E", errorMessage="m"),
        created_at=T0, last_updated_at=T0 + timedelta(seconds=1), parent_instance_id="p", execution_id="e",
        completed_at=T0 + timedelta(seconds=2),
    )
    assert schema.instance_from_json(json.loads(json.dumps(schema.instance_json(instance)))) == instance
    entity = EntitySnapshot(
        entity_id="@counter@a", name="counter", key="a", state="3", last_modified=T0, queued=1, locked_by=None,
        lock_owner=None, in_flight=True,
        operations=(OperationRecord("r1", "add", None, "completed", T0), OperationRecord("r2", "add", "i1", "failed",
                                                                                          T0, "E")),
    )
    assert schema.entity_from_json(json.loads(json.dumps(schema.entity_json(entity)))) == entity
    records = [FaultRecord(T0, "fail_activity", "i1", 3, "charge failed")]
    assert schema.fault_log_from_json(json.loads(json.dumps(schema.fault_log_json(7, records)))) == (7, records)
    clock = schema.clock_from_json(schema.clock_json("manual", T0 + timedelta(hours=1), T0))
    assert (clock.mode, clock.now, clock.start_time) == ("manual", T0 + timedelta(hours=1), T0)


@pytest.mark.parametrize("missing", ["now", "start_time"])
def test_an_answer_without_a_time_is_refused_rather_than_filled_in_from_the_local_clock(missing: str) -> None:
    item = schema.clock_json("manual", T0, T0)
    del item[missing]
    with pytest.raises(SchemaError, match=repr(missing)):
        schema.clock_from_json(item)
    item = schema.clock_json("manual", T0, T0)
    item[missing] = None
    with pytest.raises(SchemaError, match=f"{missing} must be an ISO-8601"):
        schema.clock_from_json(item)


def test_the_openapi_document_shows_the_schema() -> None:
    components = json.loads(DOCUMENT.read_text())["components"]["schemas"]
    assert components["Fault"] == schema.fault_openapi(), "run: python scripts/gen_control_openapi.py"
    instance = InstanceSnapshot("i", "n", None, 0, None, None, None, None, T0, T0, None)
    entity = EntitySnapshot("@e@k", "e", "k", None, T0, 0, None, None, False, (OperationRecord("r", "o", None,
                                                                                              "completed", T0),))
    shown = {
        "Instance": schema.instance_json(instance),
        "Entity": schema.entity_json(entity),
        "FaultRecord": schema.fault_log_json(None, [FaultRecord(T0, "fail_rpc", None, None, "d")])["log"][0],
        "Clock": schema.clock_json("manual", T0, T0),
        "Info": schema.info_json("h:1", {}),
    }
    for name, example in shown.items():
        assert set(components[name]["properties"]) == set(example), name
    operation = components["Entity"]["properties"]["operations"]["items"]["properties"]
    assert set(operation) == set(schema.entity_json(entity)["operations"][0])
