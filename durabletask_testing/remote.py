"""A fake sidecar in another process, driven through its control API as if it were in this one.

``RemoteFake("http://127.0.0.1:4002")`` offers what a :class:`~durabletask_testing.FakeSidecar` offers a test:
``address``, ``clock`` (``now``, ``advance``, ``advance_to``), ``faults`` (every FaultPlan kind, ``log``,
``seed``), ``instances()``, ``instance(id)``, ``history(id)``, ``timeline(id)``, ``wait_until_idle()`` and
``reset()``. The pytest plugin uses it when ``--durabletask-sidecar`` points at a CLI fake.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from google.protobuf import json_format

from .engine import InstanceSnapshot
from .engine.entities import OperationRecord
from .engine.views import EntitySnapshot
from .faults import FaultRecord
from .protocol import orchestrator_service_pb2 as pb
from .vocabulary import STATUS_VALUES, as_utc, parse_iso

REQUEST_TIMEOUT_SECONDS = 30.0


class RemoteFakeError(RuntimeError):
    """The control API refused a request or could not be reached; the message says which and why."""


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return parse_iso(text)


def _seconds(value: timedelta | float | int) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a timedelta or a number of seconds; got {type(value).__name__}")
    return float(value)


def _name(target: Any) -> str:
    return target if isinstance(target, str) else str(getattr(target, "__name__", target))


class _Connection:
    def __init__(self, url: str, api_token: str | None) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if api_token:
            self._headers["Authorization"] = f"Bearer {api_token}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/v1/{path}", data=data, method=method, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or REQUEST_TIMEOUT_SECONDS) as response:
                payload = response.read()
                if response.headers.get_content_type() == "text/plain":
                    return payload.decode()
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise RemoteFakeError(f"{method} /v1/{path}: {error.code} {detail}") from None
        except urllib.error.URLError as error:
            raise RemoteFakeError(f"cannot reach the control API at {self.url}: {error.reason}") from None


class RemoteClock:
    """The remote fake's clock."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = self._connection.call("GET", "clock")
        return state

    @property
    def mode(self) -> str:
        """``"real"``, ``"manual"`` or ``"auto"``."""
        return str(self._state()["mode"])

    @property
    def is_virtual(self) -> bool:
        """True for the manual and auto modes."""
        return self.mode != "real"

    @property
    def start_time(self) -> datetime:
        """Where a virtual clock started."""
        return _time(self._state()["start_time"]) or datetime.now(timezone.utc)

    def now(self) -> datetime:
        """The remote fake's current time."""
        return _time(self._state()["now"]) or datetime.now(timezone.utc)

    def advance(self, delta: timedelta | float | int) -> datetime:
        """Move the virtual clock forward; every timer due by then fires before this returns."""
        state = self._connection.call("POST", "clock/advance", {"seconds": _seconds(delta)})
        return _time(state["now"]) or self.now()

    def advance_to(self, when: datetime) -> datetime:
        """Move the virtual clock forward to ``when`` (naive means UTC)."""
        state = self._connection.call("POST", "clock/advance-to", {"time": as_utc(when).isoformat()})
        return _time(state["now"]) or self.now()


class RemoteFaultPlan:
    """The remote fake's fault plan: the same methods as :class:`~durabletask_testing.FaultPlan`."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def _add(self, kind: str, **fields: Any) -> RemoteFaultPlan:
        self._connection.call("POST", "faults", {"kind": kind, **fields})
        return self

    def fail_activity(self, activity: Any, *, times: int | None = 1, message: str | None = None,
                      error_type: str | None = None) -> RemoteFaultPlan:
        extra = {k: v for k, v in (("message", message), ("error_type", error_type)) if v is not None}
        return self._add("fail_activity", activity=_name(activity), times=times, **extra)

    def lose_activity_result(self, activity: Any, *, times: int | None = 1) -> RemoteFaultPlan:
        return self._add("lose_activity_result", activity=_name(activity), times=times)

    def lose_orchestrator_result(self, orchestrator: Any, *, times: int | None = 1) -> RemoteFaultPlan:
        return self._add("lose_orchestrator_result", orchestrator=_name(orchestrator), times=times)

    def delay_activity(self, activity: Any, *, by: timedelta | float, times: int | None = None) -> RemoteFaultPlan:
        return self._add("delay_activity", activity=_name(activity), seconds=_seconds(by), times=times)

    def disconnect_workers(self, *, after: int = 0) -> RemoteFaultPlan:
        return self._add("disconnect_workers", after=after)

    def fail_rpc(self, method: str, *, code: Any = "UNAVAILABLE", times: int | None = 1) -> RemoteFaultPlan:
        return self._add("fail_rpc", method=method, code=str(getattr(code, "name", code)), times=times)

    def fail_entity(self, entity: str, *, times: int | None = 1, message: str | None = None,
                    error_type: str | None = None) -> RemoteFaultPlan:
        extra = {k: v for k, v in (("message", message), ("error_type", error_type)) if v is not None}
        return self._add("fail_entity", entity=entity, times=times, **extra)

    def lose_entity_result(self, entity: str, *, times: int | None = 1) -> RemoteFaultPlan:
        return self._add("lose_entity_result", entity=entity, times=times)

    def lose_result_at(self, kind: str, step: int) -> RemoteFaultPlan:
        return self._add("lose_result_at", result=kind, step=step)

    def chaos(self, seed: int, *, rate: float, kinds: Any = None,
              max_delay: timedelta | None = None) -> RemoteFaultPlan:
        fields: dict[str, Any] = {"seed": seed, "rate": rate}
        if kinds is not None:
            fields["kinds"] = list(kinds)
        if max_delay is not None:
            fields["max_delay_seconds"] = _seconds(max_delay)
        return self._add("chaos", **fields)

    def clear(self) -> None:
        """Remove every configured fault (the log is kept)."""
        self._connection.call("DELETE", "faults")

    @property
    def seed(self) -> int | None:
        """The chaos seed, when chaos is on."""
        seed = self._connection.call("GET", "faults/log")["seed"]
        return None if seed is None else int(seed)

    @property
    def log(self) -> list[FaultRecord]:
        """Every injected fault so far, in order."""
        records = self._connection.call("GET", "faults/log")["log"]
        return [
            FaultRecord(time=_time(r["time"]) or datetime.now(timezone.utc), kind=r["kind"],
                        instance_id=r["instance_id"], task_id=r["task_id"], detail=r["detail"])
            for r in records
        ]


class RemoteFake:
    """A CLI fake sidecar (``python -m durabletask_testing serve``) driven through its control API."""

    def __init__(self, control_url: str, api_token: str | None = None) -> None:
        self._connection = _Connection(control_url, api_token)
        info = self._connection.call("GET", "info")
        if not isinstance(info, dict) or info.get("api") != "durabletask-testing-control":
            raise RemoteFakeError(f"{control_url} does not serve the durabletask-testing control API")
        self._address = str(info["sidecar"])
        self.clock = RemoteClock(self._connection)
        self.faults = RemoteFaultPlan(self._connection)

    def __repr__(self) -> str:
        return f"RemoteFake({self._address}, control={self._connection.url})"

    @property
    def address(self) -> str:
        """``host:port`` of the fake's sidecar protocol."""
        return self._address

    @property
    def control_url(self) -> str:
        """Base URL of the control API."""
        return self._connection.url

    def reset(self, clock: str | None = None, start_time: datetime | None = None) -> None:
        """Empty the fake (instances, queues, timers, faults); optionally switch the clock's mode and start."""
        body: dict[str, Any] = {}
        if clock is not None:
            body["clock"] = clock
        if start_time is not None:
            body["start_time"] = start_time.isoformat()
        self._connection.call("POST", "reset", body)

    def wait_until_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until no work is queued or running on the fake. True if idle."""
        limit = 300.0 if timeout is None else timeout
        answer = self._connection.call("POST", "wait-until-idle", {"timeout": limit}, timeout=limit + 10)
        return bool(answer["idle"])

    def instances(self) -> list[InstanceSnapshot]:
        """Snapshots of every instance, in creation order."""
        return [_snapshot(item) for item in self._connection.call("GET", "instances")]

    def instance(self, instance_id: str) -> InstanceSnapshot | None:
        """One instance's snapshot, or None."""
        try:
            return _snapshot(self._connection.call("GET", f"instances/{quote(instance_id, safe='')}"))
        except RemoteFakeError as error:
            if " 404 " in str(error):
                return None
            raise

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        """The committed history events of an instance's current execution."""
        events = self._connection.call("GET", f"instances/{quote(instance_id, safe='')}/history")
        return [json_format.ParseDict(event, pb.HistoryEvent()) for event in events]

    def entities(self) -> list[EntitySnapshot]:
        """Snapshots of every durable entity: state, lock, waiting operations and the operations it ran."""
        return [_entity(item) for item in self._connection.call("GET", "entities")]

    def entity(self, entity_id: str) -> EntitySnapshot | None:
        """One entity's snapshot (its id as ``@name@key``), or None."""
        try:
            return _entity(self._connection.call("GET", f"entities/{quote(entity_id, safe='')}"))
        except RemoteFakeError as error:
            if " 404 " in str(error):
                return None
            raise

    def timeline(self, instance_id: str) -> str:
        """An instance's history as readable text."""
        return str(self._connection.call("GET", f"instances/{quote(instance_id, safe='')}/timeline"))


def _entity(item: dict[str, Any]) -> EntitySnapshot:
    now = datetime.now(timezone.utc)
    operations = tuple(
        OperationRecord(request_id=r["request_id"], operation=r["operation"], caller=r["caller"],
                        outcome=r["outcome"], at=_time(r["at"]) or now, error_type=r["error_type"])
        for r in item["operations"]
    )
    return EntitySnapshot(
        entity_id=item["entity_id"], name=item["name"], key=item["key"], state=item["state"],
        last_modified=_time(item["last_modified"]) or now, queued=item["queued"], locked_by=item["locked_by"],
        lock_owner=item["lock_owner"], in_flight=bool(item.get("in_flight")), operations=operations,
    )


def _snapshot(item: dict[str, Any]) -> InstanceSnapshot:
    failure = None
    if item.get("failure") is not None:
        failure = json_format.ParseDict(item["failure"], pb.TaskFailureDetails())
    now = datetime.now(timezone.utc)
    return InstanceSnapshot(
        instance_id=item["instance_id"], name=item["name"], version=item.get("version"),
        status=STATUS_VALUES.get(item["status"], -1), input=item.get("input"), output=item.get("output"),
        custom_status=item.get("custom_status"), failure_details=failure,
        created_at=_time(item.get("created_at")) or now, last_updated_at=_time(item.get("last_updated_at")) or now,
        parent_instance_id=item.get("parent_instance_id"), execution_id=item.get("execution_id") or "",
        completed_at=_time(item.get("completed_at")),
    )
