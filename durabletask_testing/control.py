"""The control API: HTTP/JSON beside the sidecar protocol, so tests in any language drive a fake sidecar.

Served by ``python -m durabletask_testing serve`` (on its own loopback port; ``--control-port``) and available to
any in-process :class:`~durabletask_testing.FakeSidecar` through :class:`ControlServer`. Every route is under
``/v1``; requests and responses are JSON; errors answer ``{"error": "<message>"}`` with a 4xx/5xx status. When
the sidecar has an API token, every request needs ``Authorization: Bearer <token>``. The full description is
docs/control-api.md and the OpenAPI document docs/control-api.openapi.json.

The routes (all times ISO-8601 UTC, durations in seconds):

- ``GET /v1/info``: what this is (``{"api": "durabletask-testing-control", "version": 1, "sidecar": "HOST:PORT",
  "clock": {...}}``)
- ``GET /v1/clock``; ``POST /v1/clock/advance`` ``{"seconds": 86400}``; ``POST /v1/clock/advance-to``
  ``{"time": "..."}``
- ``POST /v1/wait-until-idle`` ``{"timeout": 10}`` -> ``{"idle": true}``
- ``GET /v1/instances``; ``GET /v1/instances/{id}``; ``GET /v1/instances/{id}/history`` (protobuf JSON of each
  event); ``GET /v1/instances/{id}/timeline`` (``text/plain``)
- ``GET /v1/entities``; ``GET /v1/entities/{id}``: durable entities with their state, lock and operations
- ``POST /v1/faults`` ``{"kind": "fail_activity", "activity": "charge", "times": 2}`` (every FaultPlan kind);
  ``DELETE /v1/faults``; ``GET /v1/faults/log``
- ``POST /v1/reset`` ``{"clock": "manual", "start_time": "..."}`` (both optional): empty the fake between tests
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from google.protobuf import json_format

from .clock import CLOCK_MODES, as_utc
from .timeline import format_history, format_offset
from .vocabulary import parse_iso, status_name

if TYPE_CHECKING:
    from .engine import InstanceSnapshot
    from .engine.views import EntitySnapshot
    from .faults import FaultPlan
    from .sidecar import FakeSidecar

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
API_NAME = "durabletask-testing-control"
API_VERSION = 1
MAX_BODY_BYTES = 1 << 20
MAX_WAIT_SECONDS = 300.0


class ControlError(Exception):
    """A request the control API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise ControlError(HTTPStatus.BAD_REQUEST, f"{field} must be an ISO-8601 date-time string")
    try:
        return parse_iso(value)
    except ValueError:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"{field} is not an ISO-8601 date-time: {value[:80]!r}") from None


def _number(body: dict[str, Any], field: str, *, default: float | None = None, minimum: float = 0.0) -> float:
    value = body.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlError(HTTPStatus.BAD_REQUEST, f"{field} must be a number")
    if value < minimum:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"{field} must be at least {minimum}; got {value}")
    return float(value)


def snapshot_json(snapshot: InstanceSnapshot) -> dict[str, Any]:
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
        "created_at": _iso(snapshot.created_at),
        "last_updated_at": _iso(snapshot.last_updated_at),
        "completed_at": _iso(snapshot.completed_at),
        "parent_instance_id": snapshot.parent_instance_id,
        "execution_id": snapshot.execution_id,
    }


def entity_json(entity: EntitySnapshot) -> dict[str, Any]:
    """An entity snapshot as JSON: state, lock, queue and the operations it ran."""
    return {
        "entity_id": entity.entity_id,
        "name": entity.name,
        "key": entity.key,
        "state": entity.state,
        "last_modified": _iso(entity.last_modified),
        "queued": entity.queued,
        "locked_by": entity.locked_by,
        "lock_owner": entity.lock_owner,
        "in_flight": entity.in_flight,
        "operations": [
            {"request_id": r.request_id, "operation": r.operation, "caller": r.caller, "outcome": r.outcome,
             "at": _iso(r.at), "error_type": r.error_type}
            for r in entity.operations
        ],
    }


def clock_json(sidecar: FakeSidecar) -> dict[str, Any]:
    clock = sidecar.clock
    return {"mode": clock.mode, "now": _iso(clock.now()), "start_time": _iso(clock.start_time)}


# -- faults: one JSON shape per FaultPlan method ----------------------------------------------------------------

def _times(body: dict[str, Any]) -> int | None:
    times = body.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
        raise ControlError(HTTPStatus.BAD_REQUEST, "times must be an integer or null (every time)")
    return times


def _name(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"{field} must be a non-empty string")
    return value


def _add_fault(plan: FaultPlan, body: dict[str, Any]) -> None:
    kind = body.get("kind")
    adders: dict[str, Callable[[], Any]] = {
        "fail_activity": lambda: plan.fail_activity(
            _name(body, "activity"), times=_times(body),
            **{k: str(body[k]) for k in ("message", "error_type") if k in body}),
        "lose_activity_result": lambda: plan.lose_activity_result(_name(body, "activity"), times=_times(body)),
        "lose_orchestrator_result": lambda: plan.lose_orchestrator_result(
            _name(body, "orchestrator"), times=_times(body)),
        "delay_activity": lambda: plan.delay_activity(
            _name(body, "activity"), by=timedelta(seconds=_number(body, "seconds")), times=body.get("times")),
        "disconnect_workers": lambda: plan.disconnect_workers(after=int(_number(body, "after", default=0))),
        "fail_rpc": lambda: plan.fail_rpc(_name(body, "method"), code=str(body.get("code", "UNAVAILABLE")),
                                          times=_times(body)),
        "fail_entity": lambda: plan.fail_entity(
            _name(body, "entity"), times=_times(body),
            **{k: str(body[k]) for k in ("message", "error_type") if k in body}),
        "lose_entity_result": lambda: plan.lose_entity_result(_name(body, "entity"), times=_times(body)),
        "lose_result_at": lambda: plan.lose_result_at(
            _name(body, "result"),  # type: ignore[arg-type]  # checked by the plan: activity or orchestrator
            int(_number(body, "step"))),
        "chaos": lambda: _add_chaos(plan, body),
    }
    adder = adders.get(kind) if isinstance(kind, str) else None
    if adder is None:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"kind must be one of {', '.join(sorted(adders))}; got {kind!r}")
    try:
        adder()
    except (TypeError, ValueError) as error:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"{kind}: {error}") from None


def _add_chaos(plan: FaultPlan, body: dict[str, Any]) -> None:
    options: dict[str, Any] = {}
    if "kinds" in body:
        kinds = body["kinds"]
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise ControlError(HTTPStatus.BAD_REQUEST, "kinds must be a list of fault kind names")
        options["kinds"] = kinds
    if "max_delay_seconds" in body:
        options["max_delay"] = timedelta(seconds=_number(body, "max_delay_seconds"))
    plan.chaos(int(_number(body, "seed")), rate=_number(body, "rate"), **options)


def _fault_log(plan: FaultPlan) -> list[dict[str, Any]]:
    return [
        {"time": _iso(r.time), "kind": str(r.kind), "instance_id": r.instance_id, "task_id": r.task_id,
         "detail": r.detail}
        for r in plan.log
    ]


# -- routing ------------------------------------------------------------------------------------------------------

class ControlApi:
    """The routes over one FakeSidecar: ``handle(method, path, body)`` -> (status, content type, payload)."""

    def __init__(self, sidecar: FakeSidecar) -> None:
        self._sidecar = sidecar

    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[HTTPStatus, Any]:
        """Answer one request; raises ControlError for a request it refuses."""
        parts = [unquote(p) for p in path.split("?", 1)[0].strip("/").split("/")]
        if not parts or parts[0] != "v1":
            raise ControlError(HTTPStatus.NOT_FOUND, f"unknown path {path[:200]!r}; every route starts with /v1")
        route = parts[1:]
        sidecar = self._sidecar
        if route == ["info"] and method == "GET":
            return HTTPStatus.OK, {"api": API_NAME, "version": API_VERSION, "sidecar": sidecar.address,
                                   "clock": clock_json(sidecar)}
        if route == ["clock"] and method == "GET":
            return HTTPStatus.OK, clock_json(sidecar)
        if route == ["clock", "advance"] and method == "POST":
            self._require_virtual_clock()
            sidecar.clock.advance(timedelta(seconds=_number(body, "seconds")))
            return HTTPStatus.OK, clock_json(sidecar)
        if route == ["clock", "advance-to"] and method == "POST":
            self._require_virtual_clock()
            try:
                sidecar.clock.advance_to(_parse_time(body.get("time"), "time"))
            except ValueError as error:
                raise ControlError(HTTPStatus.CONFLICT, str(error)) from None
            return HTTPStatus.OK, clock_json(sidecar)
        if route == ["wait-until-idle"] and method == "POST":
            timeout = min(_number(body, "timeout", default=10.0), MAX_WAIT_SECONDS)
            return HTTPStatus.OK, {"idle": sidecar.wait_until_idle(timeout)}
        if route == ["instances"] and method == "GET":
            return HTTPStatus.OK, [snapshot_json(s) for s in sidecar.instances()]
        if len(route) in (2, 3) and route[0] == "instances" and method == "GET":
            return self._instance(route[1], route[2] if len(route) == 3 else "")
        if route == ["entities"] and method == "GET":
            return HTTPStatus.OK, [entity_json(e) for e in sidecar.entities()]
        if len(route) == 2 and route[0] == "entities" and method == "GET":
            entity = sidecar.entity(route[1])
            if entity is None:
                raise ControlError(HTTPStatus.NOT_FOUND, f"no entity {route[1][:200]!r}")
            return HTTPStatus.OK, entity_json(entity)
        if route == ["faults"] and method == "POST":
            _add_fault(sidecar.faults, body)
            return HTTPStatus.OK, {"faults": repr(sidecar.faults)}
        if route == ["faults"] and method == "DELETE":
            sidecar.faults.clear()
            return HTTPStatus.OK, {"faults": repr(sidecar.faults)}
        if route == ["faults", "log"] and method == "GET":
            return HTTPStatus.OK, {"seed": sidecar.faults.seed, "log": _fault_log(sidecar.faults)}
        if route == ["reset"] and method == "POST":
            self._reset(body)
            return HTTPStatus.OK, {"clock": clock_json(sidecar)}
        raise ControlError(HTTPStatus.NOT_FOUND, f"no route {method} {path[:200]!r}")

    def _require_virtual_clock(self) -> None:
        if not self._sidecar.clock.is_virtual:
            raise ControlError(HTTPStatus.CONFLICT, "the clock is 'real': only a manual or auto clock can be moved; "
                                                    "reset with {\"clock\": \"manual\"} or serve with --clock manual")

    def _instance(self, instance_id: str, what: str) -> tuple[HTTPStatus, Any]:
        snapshot = self._sidecar.instance(instance_id)
        if snapshot is None:
            raise ControlError(HTTPStatus.NOT_FOUND, f"no instance {instance_id[:200]!r}")
        if what == "":
            return HTTPStatus.OK, snapshot_json(snapshot)
        history = self._sidecar.history(instance_id)
        if what == "history":
            return HTTPStatus.OK, [json_format.MessageToDict(event) for event in history]
        if what == "timeline":
            origin = snapshot.created_at
            header = (f"instance {snapshot.instance_id!r} ({snapshot.name}): {status_name(snapshot.status)}, "
                      f"created {_iso(origin)}, last updated {format_offset(snapshot.last_updated_at, origin)}")
            return HTTPStatus.OK, "\n".join([header, *format_history(history, origin, indent="  ")]) + "\n"
        raise ControlError(HTTPStatus.NOT_FOUND, f"no route GET instances/<id>/{what[:50]}")

    def _reset(self, body: dict[str, Any]) -> None:
        mode = body.get("clock")
        start_time = body.get("start_time")
        if mode is not None and mode not in CLOCK_MODES:
            raise ControlError(HTTPStatus.BAD_REQUEST, f"clock must be one of {', '.join(CLOCK_MODES)}; got {mode!r}")
        start = None if start_time is None else _parse_time(start_time, "start_time")
        if mode == "real" and start is not None:
            raise ControlError(HTTPStatus.BAD_REQUEST, "start_time cannot be combined with clock 'real'")
        self._sidecar.reset()
        if mode is not None or start is not None:
            self._sidecar.clock.reconfigure(mode or self._sidecar.clock.mode, start)


# -- HTTP -----------------------------------------------------------------------------------------------------------

class ControlServer:
    """Serves :class:`ControlApi` over HTTP on ``host:port`` (loopback by default) in background threads."""

    def __init__(self, sidecar: FakeSidecar, host: str = "127.0.0.1", port: int = 0,
                 api_token: str | None = None) -> None:
        self._api = ControlApi(sidecar)
        self._token = api_token
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:4002``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ControlServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="durabletask-control", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        expected = f"Bearer {self._token}".encode()
        return header is not None and hmac.compare_digest(header.encode(), expected)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "durabletask-testing-control/1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
                pass

            def _answer(self, status: HTTPStatus, payload: Any) -> None:
                if isinstance(payload, str):
                    data, content_type = payload.encode(), "text/plain; charset=utf-8"
                else:
                    data, content_type = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")  # one request per connection: say so (Java's client asks)
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                try:
                    if not server._authorized(self.headers.get("Authorization")):
                        raise ControlError(HTTPStatus.UNAUTHORIZED, "missing or wrong 'Authorization: Bearer <token>'")
                    status, payload = server._api.handle(method, self.path, self._body())
                except ControlError as error:
                    status, payload = error.status, {"error": str(error)}
                except Exception as error:  # never kill the server thread; say what went wrong
                    status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(error).__name__}: {error}"}
                self._answer(status, payload)

            def _body(self) -> dict[str, Any]:
                declared = self.headers.get("Content-Length") or "0"
                if not declared.isdigit():
                    raise ControlError(HTTPStatus.BAD_REQUEST, f"Content-Length is not a byte count: {declared[:40]!r}")
                length = int(declared)
                if length > MAX_BODY_BYTES:
                    raise ControlError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
                raw = self.rfile.read(length) if length else b""
                if not raw.strip():
                    return {}
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise ControlError(HTTPStatus.BAD_REQUEST, "the body is not valid JSON") from None
                if not isinstance(body, dict):
                    raise ControlError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
                return body

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

        return Handler
