"""The control API's server: HTTP/JSON beside the sidecar protocol, so tests in any language drive a fake sidecar.

Served by ``python -m durabletask_testing serve`` (on its own loopback port; ``--control-port``) and available to
any in-process :class:`~durabletask_testing.FakeSidecar` through :class:`ControlServer`. Every route is under
``/v1``; requests and responses are JSON in the format of :mod:`.schema`; errors answer ``{"error": "<message>"}``
with a 4xx/5xx status; a value that does not fit is a 400 naming its field. When the sidecar has an API token,
every request needs ``Authorization: Bearer <token>``. Before routing, :class:`RequestGuard` refuses requests a
browser page could send (a foreign ``Host`` or ``Origin``, a body that is not JSON), and the server bounds how long
a request may take to arrive and how many connections it serves at once. The full description is
docs/control-api.md and the OpenAPI document docs/control-api.openapi.json; the promises are in
docs/reliability.md.

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

import ipaddress
import json
import socket
import threading
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..checks import whole
from ..messages import echo
from ..shell import bearer_matches, is_loopback
from ..timeline import format_history, format_offset
from ..vocabulary import status_name
from . import schema
from .schema import SchemaError, iso

if TYPE_CHECKING:
    from ..sidecar import FakeSidecar

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
            delta = schema.parse_advance(body)
            try:
                sidecar.clock.advance(delta)
            except ValueError as error:  # past year 9999
                raise ControlError(HTTPStatus.CONFLICT, f"seconds: {error}") from None
            return HTTPStatus.OK, _clock(sidecar)
        if route == ["clock", "advance-to"] and method == "POST":
            self._require_virtual_clock()
            when = schema.parse_advance_to(body)
            try:
                sidecar.clock.advance_to(when)
            except ValueError as error:  # backwards
                raise ControlError(HTTPStatus.CONFLICT, f"time: {error}") from None
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

MAX_BODY_BYTES = 1 << 20
IDLE_TIMEOUT_SECONDS = 2.0  # the longest silence while a request arrives; then the connection is closed
MAX_CONNECTIONS = 64  # connections served at once (each holds a thread); more are answered 503 at once
JSON_TYPE = "application/json"
_WILDCARDS = ("", "0.0.0.0", "::")


def _host_and_port(netloc: str) -> tuple[str, int | None]:
    """``(host name in lower case, port or None)`` of a ``Host`` header or an origin's netloc; ValueError if it is
    not one."""
    parts = urlsplit(f"//{netloc}")
    host, port = parts.hostname, parts.port  # .port raises ValueError for a port that is not a number
    if not host or parts.username is not None or parts.path:
        raise ValueError(netloc)
    return host, port


class RequestGuard:
    """What the control API checks before it routes a request (docs/reliability.md, "The control API").

    - ``Authorization: Bearer <token>`` when the server has a token (the scheme in any case);
    - ``Host`` (DNS rebinding): on a server bound to a loopback or a named address, the host must be a loopback
      name (``localhost``, ``127.0.0.1``, ``[::1]`` ...) or the bound address, and a port, if given, the server's;
    - ``Origin`` (a page in a browser): when sent, it must be this server itself (same host and port as ``Host``);
      ``Sec-Fetch-Site``, when sent, must be ``same-origin`` or ``none``;
    - a body: only JSON (``Content-Type: application/json``; a request with another Content-Type is refused, 415),
      with a ``Content-Length`` of ASCII digits; chunked bodies are refused (411).
    """

    def __init__(self, host: str, port: int, token: str | None) -> None:
        self._bound = host.strip("[]").lower()
        self._port = port
        self._expected = None if token is None else token.encode("utf-8")
        self._check_host = self._bound not in _WILDCARDS

    def admit(self, method: str, headers: Message) -> None:
        """Raise ControlError when the request's headers are refused."""
        if self._expected is not None and not bearer_matches(headers.get("Authorization"), self._expected):
            raise ControlError(HTTPStatus.UNAUTHORIZED, "missing or wrong 'Authorization: Bearer <token>'")
        host = headers.get("Host")
        if host is not None and self._check_host:
            self._require_local_host(host)
        origin = headers.get("Origin")
        if origin is not None:
            self._require_same_origin(origin, host)
        fetch_site = headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none"):
            raise ControlError(HTTPStatus.FORBIDDEN, f"Sec-Fetch-Site {echo(fetch_site, 40)}: the control API does "
                                                     "not serve pages of other sites")
        if headers.get("Transfer-Encoding") is not None:
            raise ControlError(HTTPStatus.LENGTH_REQUIRED, "chunked bodies are not read: send the body with a "
                                                           "Content-Length")

    def _require_local_host(self, header: str) -> None:
        try:
            host, port = _host_and_port(header)
        except ValueError:
            raise ControlError(HTTPStatus.BAD_REQUEST, f"Host {echo(header, 80)} is not a host name") from None
        if not (host == self._bound or self._loopback(host)) or (port is not None and port != self._port):
            raise ControlError(HTTPStatus.MISDIRECTED_REQUEST,
                               f"Host {echo(header, 80)} is not this control API: it answers only to a loopback "
                               f"host name (localhost, 127.0.0.1, [::1]) or {self._bound}, port {self._port}")

    @staticmethod
    def _loopback(host: str) -> bool:
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _require_same_origin(self, origin: str, host: str | None) -> None:
        parts = urlsplit(origin)
        try:
            same = host is not None and parts.scheme == "http" and (
                _host_and_port(parts.netloc) == _host_and_port(host))
        except ValueError:
            same = False
        if not same:
            raise ControlError(HTTPStatus.FORBIDDEN, f"Origin {echo(origin, 80)}: the control API does not serve "
                                                     "pages of other origins")


def _content_length(headers: Message) -> int:
    """The declared body size (0 when none); ControlError for a value that is not one count of ASCII digits."""
    declared = headers.get_all("Content-Length") or []
    if len(set(declared)) > 1:
        raise ControlError(HTTPStatus.BAD_REQUEST, "the request has two different Content-Length headers")
    value = declared[0].strip() if declared else "0"
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"Content-Length is not a byte count: {echo(value, 40)}")
    return int(value)


def _json_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """A request body as a JSON object (``{}`` for an empty body without a Content-Type); ControlError naming what
    is wrong."""
    if content_type is None and not raw:
        return {}
    if content_type is None or _media_type(content_type) != JSON_TYPE:
        raise ControlError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the control API reads only JSON "
                           f"(Content-Type: application/json); got {echo(content_type or 'no Content-Type', 80)}")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ControlError(HTTPStatus.BAD_REQUEST, "the body nests deeper than the control API reads") from None
    except ValueError:
        raise ControlError(HTTPStatus.BAD_REQUEST, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ControlError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    return body


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class _HttpServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` at once: one more is answered 503 and closed."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        self._max_connections = max_connections
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__((address[0].strip("[]"), address[1]), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            message = json.dumps({"error": f"the control API serves {self._max_connections} connections at once; "
                                           "try again"}).encode()
            try:
                request.settimeout(IDLE_TIMEOUT_SECONDS)
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(message), message))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class ControlServer:
    """Serves :class:`ControlApi` over HTTP on ``host:port`` (loopback by default) in background threads.

    Binding another address needs an ``api_token`` or ``allow_remote=True`` (anyone who reaches the port may then
    reset the fake and inject faults): ValueError otherwise. Requests are checked by :class:`RequestGuard`.
    """

    def __init__(self, sidecar: FakeSidecar, host: str = "127.0.0.1", port: int = 0,
                 api_token: str | None = None, *, allow_remote: bool = False,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        if api_token is None and not allow_remote and not is_loopback(host):
            raise ValueError(f"the control API would serve {host or 'every interface'!r} without an API token: "
                             "anyone who reaches it could reset the fake and inject faults; give it a token or "
                             "allow it explicitly (--allow-remote-control, allow_remote=True)")
        self._api = ControlApi(sidecar)
        self._httpd = _HttpServer((host, port), self._handler_class(), whole(max_connections, "max_connections",
                                                                                 minimum=1))
        self._guard = RequestGuard(host, int(self._httpd.server_address[1]), api_token)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:4002``."""
        host, port = self._httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}"

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

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "durabletask-testing-control/1"
            timeout = IDLE_TIMEOUT_SECONDS  # every read and write on the connection

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
                pass

            def _answer(self, status: HTTPStatus, payload: Any) -> None:
                if isinstance(payload, str):
                    data, content_type = payload.encode(), "text/plain; charset=utf-8"
                else:
                    data, content_type = json.dumps(payload).encode(), JSON_TYPE
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")  # one request per connection: say so (Java's client asks)
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                try:
                    server._guard.admit(method, self.headers)
                    status, payload = server._api.handle(method, self.path, self._body())
                except ControlError as error:
                    status, payload = error.status, {"error": str(error)}
                except Exception as error:  # never kill the server thread; say what went wrong
                    status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(error).__name__}: {error}"}
                try:
                    self._answer(status, payload)
                except OSError:  # the client hung up or stopped reading
                    self.close_connection = True

            def _body(self) -> dict[str, Any]:
                length = _content_length(self.headers)
                if length > MAX_BODY_BYTES:
                    raise ControlError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
                try:
                    raw = self.rfile.read(length) if length else b""
                except TimeoutError:
                    raise ControlError(HTTPStatus.REQUEST_TIMEOUT, f"the body did not arrive: nothing for "
                                                                   f"{IDLE_TIMEOUT_SECONDS:g} s") from None
                if len(raw) < length:
                    raise ControlError(HTTPStatus.BAD_REQUEST, f"the body ended after {len(raw)} of the {length} "
                                                               "bytes of its Content-Length")
                return _json_body(raw, self.headers.get("Content-Type"))

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

        return Handler
