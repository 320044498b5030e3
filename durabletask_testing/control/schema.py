"""The control API's JSON format, in one place: routes, request fields, the fault kinds and their fields, and the
JSON of clocks, snapshots, histories and fault records, written and read here.

The server (:mod:`.server`) parses requests and writes answers with these functions, the client (:mod:`.client`,
``RemoteFake``) writes requests and parses answers with them, and the ``Fault`` component of
docs/control-api.openapi.json is :func:`fault_openapi` (``scripts/gen_control_openapi.py`` writes it; a test keeps
the two equal). A value that does not fit raises :class:`SchemaError` naming the field. This module imports only
the kernel (no engine, no gRPC server), so a client can use it without the fake.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from google.protobuf import json_format

from .. import checks
from ..clock import CLOCK_MODES, as_utc
from ..faults import RPC_STATUS_CODES, FaultPlan, FaultRecord
from ..protocol import orchestrator_service_pb2 as pb
from ..views import EntitySnapshot, InstanceSnapshot, OperationRecord
from ..vocabulary import STATUS_VALUES, parse_iso, status_name

API_NAME = "durabletask-testing-control"
API_VERSION = 1
MAX_WAIT_SECONDS = 300.0  # the longest wait-until-idle the server serves

# Every route, as documented in docs/control-api.openapi.json (a test keeps the two equal).
ROUTES = (
    ("GET", "/v1/info"),
    ("GET", "/v1/clock"),
    ("POST", "/v1/clock/advance"),
    ("POST", "/v1/clock/advance-to"),
    ("POST", "/v1/wait-until-idle"),
    ("GET", "/v1/instances"),
    ("GET", "/v1/instances/{instance_id}"),
    ("GET", "/v1/instances/{instance_id}/history"),
    ("GET", "/v1/instances/{instance_id}/timeline"),
    ("GET", "/v1/entities"),
    ("GET", "/v1/entities/{entity_id}"),
    ("POST", "/v1/faults"),
    ("DELETE", "/v1/faults"),
    ("GET", "/v1/faults/log"),
    ("POST", "/v1/reset"),
)

Json = dict[str, Any]
T = TypeVar("T")


class SchemaError(Exception):
    """A JSON value that does not fit the control API's format; the message names the field."""


# -- values -----------------------------------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    """A moment as ISO-8601 UTC with a ``Z``; None stays None."""
    return None if moment is None else as_utc(moment).isoformat().replace("+00:00", "Z")


def parse_time(value: Any, field: str) -> datetime:
    """An ISO-8601 date-time string as an aware datetime."""
    if not isinstance(value, str):
        raise SchemaError(f"{field} must be an ISO-8601 date-time string")
    try:
        return parse_iso(value)
    except ValueError:
        raise SchemaError(f"{field} is not an ISO-8601 date-time: {value[:80]!r}") from None


def checked(check: Callable[..., T], value: Any, field: str, **options: Any) -> T:
    """``check(value, field, **options)`` (one of :mod:`~durabletask_testing.checks`), its refusal a SchemaError
    naming ``field``."""
    try:
        return check(value, field, **options)
    except (TypeError, ValueError) as error:
        raise SchemaError(str(error)) from None


def number(body: Mapping[str, Any], field: str, *, default: float | None = None, minimum: float = 0.0) -> float:
    """``body[field]`` as a finite number of at least ``minimum`` (``default`` when absent and a default is given)."""
    if field not in body and default is None:
        raise SchemaError(f"{field} is required (a number)")
    return checked(checks.finite, body.get(field, default), field, minimum=minimum)


def _get(item: Any, field: str) -> Any:
    if not isinstance(item, Mapping) or field not in item:
        raise SchemaError(f"the answer has no field {field!r}")
    return item[field]


def _time(item: Any, field: str) -> datetime:
    return parse_time(_get(item, field), field)


def _optional_time(item: Any, field: str) -> datetime | None:
    value = item.get(field) if isinstance(item, Mapping) else None
    return None if value is None else parse_time(value, field)


def seconds_of(value: timedelta | float | int, name: str = "seconds") -> float:
    """A duration (timedelta or seconds) as seconds: finite, not negative (TypeError/ValueError naming ``name``)."""
    return checks.seconds(value, name)


# -- requests ---------------------------------------------------------------------------------------------------

def advance_body(delta: timedelta | float | int) -> Json:
    """``POST /v1/clock/advance``."""
    return {"seconds": seconds_of(delta)}


def parse_advance(body: Mapping[str, Any]) -> timedelta:
    if "seconds" not in body:
        raise SchemaError("seconds is required (a number of seconds, not negative)")
    return checked(checks.duration, body["seconds"], "seconds")


def advance_to_body(when: datetime) -> Json:
    """``POST /v1/clock/advance-to`` (naive means UTC)."""
    return {"time": iso(when)}


def parse_advance_to(body: Mapping[str, Any]) -> datetime:
    return parse_time(body.get("time"), "time")


def wait_body(timeout: float | None) -> Json:
    """``POST /v1/wait-until-idle``; None waits as long as the server allows."""
    checked_timeout = checks.timeout(timeout)
    return {"timeout": MAX_WAIT_SECONDS if checked_timeout is None else min(checked_timeout, MAX_WAIT_SECONDS)}


def parse_wait(body: Mapping[str, Any]) -> float:
    """The timeout of a wait-until-idle body (default 10 s), at most :data:`MAX_WAIT_SECONDS`."""
    timeout = checked(checks.timeout, body.get("timeout", 10.0), "timeout")
    return MAX_WAIT_SECONDS if timeout is None else min(timeout, MAX_WAIT_SECONDS)


def idle_json(idle: bool) -> Json:
    """The answer of ``POST /v1/wait-until-idle``."""
    return {"idle": idle}


def idle_from_json(item: Any) -> bool:
    return bool(_get(item, "idle"))


def reset_body(clock: str | None = None, start_time: datetime | None = None) -> Json:
    """``POST /v1/reset``: both fields optional."""
    body: Json = {}
    if clock is not None:
        body["clock"] = clock
    if start_time is not None:
        body["start_time"] = iso(start_time)
    return body


def parse_reset(body: Mapping[str, Any]) -> tuple[str | None, datetime | None]:
    """``(clock mode or None, start time or None)``."""
    mode = body.get("clock")
    start_time = body.get("start_time")
    if mode is not None and mode not in CLOCK_MODES:
        raise SchemaError(f"clock must be one of {', '.join(CLOCK_MODES)}; got {mode!r}")
    start = None if start_time is None else parse_time(start_time, "start_time")
    if mode == "real" and start is not None:
        raise SchemaError("start_time cannot be combined with clock 'real'")
    return mode, start


# -- fault kinds: one row per FaultPlan method ------------------------------------------------------------------

FieldType = Literal["name", "text", "count", "seconds", "natural", "fraction", "code", "kinds", "result"]


@dataclass(frozen=True)
class FaultField:
    """One JSON field of a fault kind: its name in the body, the FaultPlan parameter it fills, and its type.

    Absent optional fields are not passed, so FaultPlan's own default applies (the OpenAPI document shows it).
    """

    json: str
    param: str
    type: FieldType
    required: bool = True
    note: str = ""


_TIMES = FaultField("times", "times", "count", required=False)
_MESSAGE = FaultField("message", "message", "text", required=False)
_ERROR_TYPE = FaultField("error_type", "error_type", "text", required=False)
_ENTITY = FaultField("entity", "entity", "name", note="entity name (the name in @name@key)")

FAULT_KINDS: dict[str, tuple[FaultField, ...]] = {
    "fail_activity": (FaultField("activity", "activity", "name"), _TIMES, _MESSAGE, _ERROR_TYPE),
    "lose_activity_result": (FaultField("activity", "activity", "name"), _TIMES),
    "lose_orchestrator_result": (FaultField("orchestrator", "orchestrator", "name"), _TIMES),
    "delay_activity": (FaultField("activity", "activity", "name"), FaultField("seconds", "by", "seconds"), _TIMES),
    "disconnect_workers": (FaultField("after", "after", "natural", required=False),),
    "fail_rpc": (FaultField("method", "method", "name"), FaultField("code", "code", "code", required=False), _TIMES),
    "chaos": (
        FaultField("seed", "seed", "natural"),
        FaultField("rate", "rate", "fraction"),
        FaultField("kinds", "kinds", "kinds", required=False),
        FaultField("max_delay_seconds", "max_delay", "seconds", required=False),
    ),
    "fail_entity": (_ENTITY, _TIMES, _MESSAGE, _ERROR_TYPE),
    "lose_entity_result": (_ENTITY, _TIMES),
    "lose_result_at": (FaultField("result", "kind", "result"), FaultField("step", "step", "natural")),
}
"""Every fault kind the control API accepts, each a FaultPlan method of the same name, with its fields in the
method's parameter order."""


def _decode(spec: FaultField, value: Any) -> Any:
    field, kind = spec.json, spec.type
    if kind in ("name", "result"):
        if not isinstance(value, str) or not value:
            raise SchemaError(f"{field} must be a non-empty string")
        return value
    if kind in ("text", "code"):
        if not isinstance(value, str):
            raise SchemaError(f"{field} must be a string")
        return value
    if kind == "kinds":
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
            raise SchemaError(f"{field} must be a list of fault kind names")
        return value
    if kind == "count" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{field} must be {'an integer or null (every time)' if kind == 'count' else 'a number'}")
    if kind == "count":
        return checked(checks.whole, value, field, minimum=1)
    if kind == "seconds":
        return checked(checks.duration, value, field, positive=True)
    if kind == "fraction":
        return checked(checks.finite, value, field, minimum=0.0, maximum=1.0)
    return checked(checks.whole, value, field)  # natural


def _encode(spec: FaultField, value: Any) -> Any:
    kind = spec.type
    if kind == "name":
        return value if isinstance(value, str) else str(getattr(value, "__name__", value))
    if kind == "seconds":
        return seconds_of(value)
    if kind == "code":
        return str(getattr(value, "name", value))
    if kind == "kinds":
        return list(value)
    return value


def fault_arguments(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A ``POST /v1/faults`` body as ``(kind, keyword arguments of the FaultPlan method of that name)``."""
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise SchemaError(f"kind must be one of {', '.join(sorted(FAULT_KINDS))}; got {kind!r}")
    arguments: dict[str, Any] = {}
    for spec in FAULT_KINDS[kind]:
        if spec.json in body or spec.required:  # a missing required field is refused as a wrong one
            arguments[spec.param] = _decode(spec, body.get(spec.json))
    return kind, arguments


def add_fault(plan: FaultPlan, body: Mapping[str, Any]) -> None:
    """Apply a ``POST /v1/faults`` body to ``plan``; SchemaError (prefixed with the kind) when the plan refuses."""
    kind, arguments = fault_arguments(body)
    try:
        getattr(plan, kind)(**arguments)
    except (TypeError, ValueError) as error:
        raise SchemaError(f"{kind}: {error}") from None


def fault_body(kind: str, arguments: Mapping[str, Any]) -> Json:
    """The ``POST /v1/faults`` body of a FaultPlan call ``kind(**arguments)``: every field of the kind, from the
    argument of the parameter it fills (functions as their names, durations as seconds, status codes as names)."""
    return {"kind": kind, **{spec.json: _encode(spec, arguments[spec.param]) for spec in FAULT_KINDS[kind]}}


_OPENAPI_TYPES: dict[FieldType, Json] = {
    "name": {"type": "string"},
    "text": {"type": "string"},
    "code": {"type": "string", "enum": list(RPC_STATUS_CODES)},
    "count": {"type": "integer", "nullable": True, "minimum": 1, "maximum": checks.MAX_INT64},
    "seconds": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": checks.MAX_DURATION_SECONDS},
    "natural": {"type": "integer", "minimum": 0, "maximum": checks.MAX_INT64},
    "fraction": {"type": "number", "minimum": 0, "maximum": 1},
    "kinds": {"type": "array", "items": {"type": "string"}},
    "result": {"type": "string", "enum": ["activity", "orchestrator"]},
}


def _field_doc(kind: str, spec: FaultField) -> str:
    if spec.required:
        return spec.json
    default = inspect.signature(getattr(FaultPlan, kind)).parameters[spec.param].default
    if isinstance(default, timedelta):
        default = default.total_seconds()
    elif isinstance(default, tuple):
        default = list(default)
    shown = "null" if default is None else repr(default)
    return f"{spec.json}={shown}"


def fault_openapi() -> Json:
    """The ``Fault`` component of the OpenAPI document, from :data:`FAULT_KINDS` and FaultPlan's defaults."""
    properties: Json = {"kind": {"type": "string", "enum": list(FAULT_KINDS)}}
    for fields in FAULT_KINDS.values():
        for spec in fields:
            schema = dict(_OPENAPI_TYPES[spec.type])
            if spec.note:
                schema["description"] = spec.note
            if properties.setdefault(spec.json, schema) != schema:
                raise AssertionError(f"fault field {spec.json!r} has two types")
    by_kind = "; ".join(
        f"{kind} {{{', '.join(_field_doc(kind, spec) for spec in fields)}}}" for kind, fields in FAULT_KINDS.items()
    )
    return {
        "type": "object",
        "required": ["kind"],
        "description": f"One fault. Fields by kind (name=default when optional): {by_kind}. times=null means "
        "every time; lose_result_at drops the step-th such result of the run, from 0.",
        "properties": properties,
    }


# -- answers ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClockState:
    """The clock as ``GET /v1/clock`` shows it."""

    mode: str
    now: datetime
    start_time: datetime


def clock_json(mode: str, now: datetime, start_time: datetime) -> Json:
    return {"mode": mode, "now": iso(now), "start_time": iso(start_time)}


def clock_from_json(item: Any) -> ClockState:
    return ClockState(mode=str(_get(item, "mode")), now=_time(item, "now"), start_time=_time(item, "start_time"))


def info_json(sidecar_address: str, clock: Json) -> Json:
    """``GET /v1/info``: what this is, where the sidecar protocol is served, and the clock."""
    return {"api": API_NAME, "version": API_VERSION, "sidecar": sidecar_address, "clock": clock}


def sidecar_address_of(info: Any) -> str | None:
    """The sidecar address of an info answer; None if the answer is not the control API's."""
    if not isinstance(info, Mapping) or info.get("api") != API_NAME or not isinstance(info.get("sidecar"), str):
        return None
    return str(info["sidecar"])


def instance_json(snapshot: InstanceSnapshot) -> Json:
    """An instance snapshot as JSON."""
    failure = snapshot.failure_details
    return {
        "instance_id": snapshot.instance_id,
        "name": snapshot.name,
        "version": snapshot.version,
        "status": status_name(snapshot.status),
        "input": snapshot.input,
        "output": snapshot.output,
        "custom_status": snapshot.custom_status,
        "failure": None if failure is None else json_format.MessageToDict(failure),
        "created_at": iso(snapshot.created_at),
        "last_updated_at": iso(snapshot.last_updated_at),
        "completed_at": iso(snapshot.completed_at),
        "parent_instance_id": snapshot.parent_instance_id,
        "execution_id": snapshot.execution_id,
    }


def instance_from_json(item: Any) -> InstanceSnapshot:
    """The snapshot :func:`instance_json` wrote (``dispatch_count`` is not part of the JSON: 0)."""
    failure = None
    if isinstance(item, Mapping) and item.get("failure") is not None:
        failure = json_format.ParseDict(item["failure"], pb.TaskFailureDetails())
    return InstanceSnapshot(
        instance_id=_get(item, "instance_id"), name=_get(item, "name"), version=item.get("version"),
        status=STATUS_VALUES.get(_get(item, "status"), -1), input=item.get("input"), output=item.get("output"),
        custom_status=item.get("custom_status"), failure_details=failure,
        created_at=_time(item, "created_at"), last_updated_at=_time(item, "last_updated_at"),
        parent_instance_id=item.get("parent_instance_id"), execution_id=item.get("execution_id") or "",
        completed_at=_optional_time(item, "completed_at"),
    )


def history_json(events: Iterable[pb.HistoryEvent]) -> list[Json]:
    """History events as protobuf JSON, one object each."""
    return [json_format.MessageToDict(event) for event in events]


def history_from_json(items: Any) -> list[pb.HistoryEvent]:
    if not isinstance(items, list):
        raise SchemaError("the history answer is not a list of events")
    return [json_format.ParseDict(event, pb.HistoryEvent()) for event in items]


def entity_json(entity: EntitySnapshot) -> Json:
    """An entity snapshot as JSON: state, lock, queue and the operations it ran."""
    return {
        "entity_id": entity.entity_id,
        "name": entity.name,
        "key": entity.key,
        "state": entity.state,
        "last_modified": iso(entity.last_modified),
        "queued": entity.queued,
        "locked_by": entity.locked_by,
        "lock_owner": entity.lock_owner,
        "in_flight": entity.in_flight,
        "operations": [
            {"request_id": r.request_id, "operation": r.operation, "caller": r.caller, "outcome": r.outcome,
             "at": iso(r.at), "error_type": r.error_type}
            for r in entity.operations
        ],
    }


def entity_from_json(item: Any) -> EntitySnapshot:
    """The snapshot :func:`entity_json` wrote."""
    operations = tuple(
        OperationRecord(request_id=_get(r, "request_id"), operation=_get(r, "operation"), caller=r.get("caller"),
                        outcome=_get(r, "outcome"), at=_time(r, "at"), error_type=r.get("error_type"))
        for r in _get(item, "operations")
    )
    return EntitySnapshot(
        entity_id=_get(item, "entity_id"), name=_get(item, "name"), key=_get(item, "key"), state=item.get("state"),
        last_modified=_time(item, "last_modified"), queued=_get(item, "queued"), locked_by=item.get("locked_by"),
        lock_owner=item.get("lock_owner"), in_flight=bool(item.get("in_flight")), operations=operations,
    )


def fault_log_json(seed: int | None, records: Sequence[FaultRecord]) -> Json:
    """``GET /v1/faults/log``: the chaos seed and every injected fault, in order."""
    return {
        "seed": seed,
        "log": [
            {"time": iso(r.time), "kind": str(r.kind), "instance_id": r.instance_id, "task_id": r.task_id,
             "detail": r.detail}
            for r in records
        ],
    }


def fault_log_from_json(item: Any) -> tuple[int | None, list[FaultRecord]]:
    """``(seed, records)`` of a fault log answer."""
    seed = _get(item, "seed")
    records = [
        FaultRecord(time=_time(r, "time"), kind=_get(r, "kind"), instance_id=r.get("instance_id"),
                    task_id=r.get("task_id"), detail=_get(r, "detail"))
        for r in _get(item, "log")
    ]
    return (None if seed is None else int(seed)), records
