"""A fake sidecar in another process, driven through its control API as if it were in this one.

``RemoteFake("http://127.0.0.1:4002")`` offers what a :class:`~durabletask_testing.FakeSidecar` offers a test:
``address``, ``clock`` (``now``, ``advance``, ``advance_to``), ``faults`` (every FaultPlan kind, ``log``,
``seed``), ``instances()``, ``instance(id)``, ``history(id)``, ``timeline(id)``, ``wait_until_idle()`` and
``reset()``. The pytest plugin uses it when ``--durabletask-sidecar`` points at a CLI fake. Requests and answers
are written and read by :mod:`.schema`; this module imports no engine, gRPC server or ``FakeSidecar``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from google.protobuf import json_format

from ..faults import DEFAULT_CHAOS_KINDS, INJECTED_ERROR_TYPE, ChaosKind, FaultRecord
from ..protocol import orchestrator_service_pb2 as pb
from ..views import EntitySnapshot, InstanceSnapshot
from . import schema

REQUEST_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


class RemoteFakeError(RuntimeError):
    """The control API refused a request, could not be reached, or answered in a format this client does not read;
    the message says which and why. ``status`` is the HTTP status of a refusal (None otherwise)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteFakeNotFound(RemoteFakeError):
    """The control API answered 404: no such instance, entity or route."""


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
            refused = RemoteFakeNotFound if error.code == 404 else RemoteFakeError
            raise refused(f"{method} /v1/{path}: {error.code} {detail}", status=error.code) from None
        except urllib.error.URLError as error:
            raise RemoteFakeError(f"cannot reach the control API at {self.url}: {error.reason}") from None

    def read(self, parse: Callable[[Any], T], method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float | None = None) -> T:
        """``parse`` of the answer; RemoteFakeError when the answer does not fit the format."""
        answer = self.call(method, path, body, timeout)
        try:
            return parse(answer)
        except (schema.SchemaError, json_format.ParseError, KeyError, TypeError, ValueError, AttributeError) as error:
            raise RemoteFakeError(f"{method} /v1/{path}: the answer does not fit the control API's format: "
                                  f"{error}") from None


class RemoteClock:
    """The remote fake's clock."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def _state(self) -> schema.ClockState:
        return self._connection.read(schema.clock_from_json, "GET", "clock")

    @property
    def mode(self) -> str:
        """``"real"``, ``"manual"`` or ``"auto"``."""
        return self._state().mode

    @property
    def is_virtual(self) -> bool:
        """True for the manual and auto modes."""
        return self.mode != "real"

    @property
    def start_time(self) -> datetime:
        """Where a virtual clock started."""
        return self._state().start_time

    def now(self) -> datetime:
        """The remote fake's current time."""
        return self._state().now

    def advance(self, delta: timedelta | float | int) -> datetime:
        """Move the virtual clock forward; every timer due by then fires before this returns."""
        return self._connection.read(schema.clock_from_json, "POST", "clock/advance", schema.advance_body(delta)).now

    def advance_to(self, when: datetime) -> datetime:
        """Move the virtual clock forward to ``when`` (naive means UTC)."""
        body = schema.advance_to_body(when)
        return self._connection.read(schema.clock_from_json, "POST", "clock/advance-to", body).now


class RemoteFaultPlan:
    """The remote fake's fault plan: the methods of :class:`~durabletask_testing.FaultPlan`, with its parameters
    and defaults (a test keeps them equal); the fields each kind sends are :data:`.schema.FAULT_KINDS`."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def _add(self, kind: str, /, **arguments: Any) -> RemoteFaultPlan:
        self._connection.call("POST", "faults", schema.fault_body(kind, arguments))
        return self

    def fail_activity(self, activity: Any, *, times: int | None = 1, message: str = "injected activity failure",
                      error_type: str = INJECTED_ERROR_TYPE) -> RemoteFaultPlan:
        return self._add("fail_activity", activity=activity, times=times, message=message, error_type=error_type)

    def lose_activity_result(self, activity: Any, *, times: int | None = 1) -> RemoteFaultPlan:
        return self._add("lose_activity_result", activity=activity, times=times)

    def lose_orchestrator_result(self, orchestrator: Any, *, times: int | None = 1) -> RemoteFaultPlan:
        return self._add("lose_orchestrator_result", orchestrator=orchestrator, times=times)

    def delay_activity(self, activity: Any, *, by: timedelta | float, times: int | None = None) -> RemoteFaultPlan:
        return self._add("delay_activity", activity=activity, by=by, times=times)

    def disconnect_workers(self, *, after: int = 0) -> RemoteFaultPlan:
        return self._add("disconnect_workers", after=after)

    def fail_rpc(self, method: str, *, code: Any = "UNAVAILABLE", times: int | None = 1) -> RemoteFaultPlan:
        return self._add("fail_rpc", method=method, code=code, times=times)

    def fail_entity(self, entity: str, *, times: int | None = 1, message: str = "injected entity failure",
                    error_type: str = INJECTED_ERROR_TYPE) -> RemoteFaultPlan:
        return self._add("fail_entity", entity=entity, times=times, message=message, error_type=error_type)

    def lose_entity_result(self, entity: str, *, times: int | None = 1) -> RemoteFaultPlan:
        return self._add("lose_entity_result", entity=entity, times=times)

    def lose_result_at(self, kind: str, step: int) -> RemoteFaultPlan:
        return self._add("lose_result_at", kind=kind, step=step)

    def chaos(self, seed: int, *, rate: float, kinds: Iterable[ChaosKind] = DEFAULT_CHAOS_KINDS,
              max_delay: timedelta = timedelta(seconds=30)) -> RemoteFaultPlan:
        return self._add("chaos", seed=seed, rate=rate, kinds=kinds, max_delay=max_delay)

    def clear(self) -> None:
        """Remove every configured fault (the log is kept)."""
        self._connection.call("DELETE", "faults")

    @property
    def seed(self) -> int | None:
        """The chaos seed, when chaos is on."""
        return self._connection.read(schema.fault_log_from_json, "GET", "faults/log")[0]

    @property
    def log(self) -> list[FaultRecord]:
        """Every injected fault so far, in order."""
        return self._connection.read(schema.fault_log_from_json, "GET", "faults/log")[1]


class RemoteFake:
    """A CLI fake sidecar (``python -m durabletask_testing serve``) driven through its control API."""

    def __init__(self, control_url: str, api_token: str | None = None) -> None:
        self._connection = _Connection(control_url, api_token)
        address = schema.sidecar_address_of(self._connection.call("GET", "info"))
        if address is None:
            raise RemoteFakeError(f"{control_url} does not serve the durabletask-testing control API")
        self._address = address
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
        self._connection.call("POST", "reset", schema.reset_body(clock, start_time))

    def wait_until_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until no work is queued or running on the fake. True if idle."""
        body = schema.wait_body(timeout)
        return self._connection.read(schema.idle_from_json, "POST", "wait-until-idle", body,
                                     timeout=body["timeout"] + 10)

    def instances(self) -> list[InstanceSnapshot]:
        """Snapshots of every instance, in creation order."""
        return self._connection.read(lambda items: [schema.instance_from_json(i) for i in items], "GET", "instances")

    def instance(self, instance_id: str) -> InstanceSnapshot | None:
        """One instance's snapshot, or None."""
        try:
            return self._connection.read(schema.instance_from_json, "GET", f"instances/{_segment(instance_id)}")
        except RemoteFakeNotFound:
            return None

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        """The committed history events of an instance's current execution."""
        return self._connection.read(schema.history_from_json, "GET", f"instances/{_segment(instance_id)}/history")

    def entities(self) -> list[EntitySnapshot]:
        """Snapshots of every durable entity: state, lock, waiting operations and the operations it ran."""
        return self._connection.read(lambda items: [schema.entity_from_json(i) for i in items], "GET", "entities")

    def entity(self, entity_id: str) -> EntitySnapshot | None:
        """One entity's snapshot (its id as ``@name@key``), or None."""
        try:
            return self._connection.read(schema.entity_from_json, "GET", f"entities/{_segment(entity_id)}")
        except RemoteFakeNotFound:
            return None

    def timeline(self, instance_id: str) -> str:
        """An instance's history as readable text."""
        return str(self._connection.call("GET", f"instances/{_segment(instance_id)}/timeline"))


def _segment(identifier: str) -> str:
    return quote(identifier, safe="")
