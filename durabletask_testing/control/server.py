"""The control API's server: HTTP/JSON beside the sidecar protocol, so tests in any language drive a fake sidecar.

Served by ``python -m durabletask_testing serve`` (on its own loopback port; ``--control-port``) and available to
any in-process :class:`~durabletask_testing.FakeSidecar` through :class:`ControlServer`. Every route is under
``/v1``; requests and responses are JSON in the format of :mod:`.schema`; errors answer ``{"error": "<message>"}``
with a 4xx/5xx status. When the sidecar has an API token, every request needs ``Authorization: Bearer <token>``.
The full description is docs/control-api.md and the OpenAPI document docs/control-api.openapi.json.

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
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..timeline import format_history, format_offset
from ..vocabulary import status_name
from . import schema
from .schema import SchemaError, iso

if TYPE_CHECKING:
    from ..sidecar import FakeSidecar

MAX_BODY_BYTES = 1 << 20


class ControlError(Exception):
    """A request the control API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _clock(sidecar: FakeSidecar) -> dict[str, Any]:
    clock = sidecar.clock
    return schema.clock_json(clock.mode, clock.now(), clock.start_time)


# -- routing ------------------------------------------------------------------------------------------------------

class ControlApi:
    """The routes over one FakeSidecar: ``handle(method, path, body)`` -> (status, payload)."""

    def __init__(self, sidecar: FakeSidecar) -> None:
        self._sidecar = sidecar

    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[HTTPStatus, Any]:
        """Answer one request; raises ControlError for a request it refuses."""
        try:
            return self._route(method, path, body)
        except SchemaError as error:
            raise ControlError(HTTPStatus.BAD_REQUEST, str(error)) from None

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[HTTPStatus, Any]:
        parts = [unquote(p) for p in path.split("?", 1)[0].strip("/").split("/")]
        if not parts or parts[0] != "v1":
            raise ControlError(HTTPStatus.NOT_FOUND, f"unknown path {path[:200]!r}; every route starts with /v1")
        route = parts[1:]
        sidecar = self._sidecar
        if route == ["info"] and method == "GET":
            return HTTPStatus.OK, schema.info_json(sidecar.address, _clock(sidecar))
        if route == ["clock"] and method == "GET":
            return HTTPStatus.OK, _clock(sidecar)
        if route == ["clock", "advance"] and method == "POST":
            self._require_virtual_clock()
            sidecar.clock.advance(schema.parse_advance(body))
            return HTTPStatus.OK, _clock(sidecar)
        if route == ["clock", "advance-to"] and method == "POST":
            self._require_virtual_clock()
            when = schema.parse_advance_to(body)
            try:
                sidecar.clock.advance_to(when)
            except ValueError as error:
                raise ControlError(HTTPStatus.CONFLICT, str(error)) from None
            return HTTPStatus.OK, _clock(sidecar)
        if route == ["wait-until-idle"] and method == "POST":
            return HTTPStatus.OK, schema.idle_json(sidecar.wait_until_idle(schema.parse_wait(body)))
        if route == ["instances"] and method == "GET":
            return HTTPStatus.OK, [schema.instance_json(s) for s in sidecar.instances()]
        if len(route) in (2, 3) and route[0] == "instances" and method == "GET":
            return self._instance(route[1], route[2] if len(route) == 3 else "")
        if route == ["entities"] and method == "GET":
            return HTTPStatus.OK, [schema.entity_json(e) for e in sidecar.entities()]
        if len(route) == 2 and route[0] == "entities" and method == "GET":
            entity = sidecar.entity(route[1])
            if entity is None:
                raise ControlError(HTTPStatus.NOT_FOUND, f"no entity {route[1][:200]!r}")
            return HTTPStatus.OK, schema.entity_json(entity)
        if route == ["faults"] and method == "POST":
            schema.add_fault(sidecar.faults, body)
            return HTTPStatus.OK, {"faults": repr(sidecar.faults)}
        if route == ["faults"] and method == "DELETE":
            sidecar.faults.clear()
            return HTTPStatus.OK, {"faults": repr(sidecar.faults)}
        if route == ["faults", "log"] and method == "GET":
            return HTTPStatus.OK, schema.fault_log_json(sidecar.faults.seed, sidecar.faults.log)
        if route == ["reset"] and method == "POST":
            self._reset(body)
            return HTTPStatus.OK, {"clock": _clock(sidecar)}
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
            return HTTPStatus.OK, schema.instance_json(snapshot)
        history = self._sidecar.history(instance_id)
        if what == "history":
            return HTTPStatus.OK, schema.history_json(history)
        if what == "timeline":
            origin = snapshot.created_at
            header = (f"instance {snapshot.instance_id!r} ({snapshot.name}): {status_name(snapshot.status)}, "
                      f"created {iso(origin)}, last updated {format_offset(snapshot.last_updated_at, origin)}")
            return HTTPStatus.OK, "\n".join([header, *format_history(history, origin, indent="  ")]) + "\n"
        raise ControlError(HTTPStatus.NOT_FOUND, f"no route GET instances/<id>/{what[:50]}")

    def _reset(self, body: dict[str, Any]) -> None:
        mode, start = schema.parse_reset(body)
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
