"""FunctionsHost: a Durable Functions app running on a sidecar, as the Functions host would run it.

It indexes the app (:mod:`.app`), runs its orchestrators, activities and entities for the sidecar's work items
(:class:`~.worker.FunctionsWorker`), serves the management API its client calls (:mod:`.http_api`), and invokes
its HTTP-triggered functions with their ``durable_client_input`` binding wired to that API (:meth:`call_http`).

The Durable Functions SDK's client shares one ``aiohttp`` session per process, bound to the event loop that made
it. So every client request of every host runs on one loop of the process (a daemon thread): the function called
by :meth:`call_http` runs there, and the client handed out by :meth:`client` sends its requests there from
whatever loop awaits it (an async test's, or ``asyncio.run`` in a plain one).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import urlencode

import grpc

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

from .app import AppError, AppFunction, AppFunctions, index_app, load_app, match_route
from .http_api import DEFAULT_TASK_HUB, Answer, ManagementApi, ManagementServer
from .worker import ActivityStub, FunctionsWorker, HttpResponder, run_maybe_async

T = TypeVar("T")

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def client_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for Durable Functions client requests (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="df-client-loop", daemon=True).start()
            _loop = loop
        return _loop


def run_on_client_loop(awaitable: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``awaitable`` on the client loop and wait for its result (from a thread that is not that loop)."""
    loop = client_loop()
    future: Future[T] = asyncio.run_coroutine_threadsafe(awaitable, loop)
    return future.result(timeout)


def _on_client_loop(function: Any) -> Any:
    """``function`` (an SDK request coroutine function) made to run on the client loop from any caller's loop."""
    async def delegated(*args: Any, **kwargs: Any) -> Any:
        loop = client_loop()
        future = asyncio.run_coroutine_threadsafe(function(*args, **kwargs), loop)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - always called from a coroutine
            running = None
        if running is loop:
            return await asyncio.wrap_future(future)
        return await asyncio.wrap_future(future, loop=running)
    return delegated


class FunctionsHost:
    """A Durable Functions app served on a sidecar at ``address``: worker, management API, HTTP triggers.

    ``app`` is the app object (``DFApp``, ``FunctionApp``, ``Blueprint``) or its ``"module:attribute"`` spec.
    With ``serve_http`` its HTTP-triggered functions are also served over HTTP, under ``/api/`` of
    :attr:`management_url` (on ``http_port``), as ``func start`` serves them: a local run of the app.
    ``stubs`` replace activities by name with callables of the decoded input; ``http_responder`` answers durable
    HTTP calls (``context.call_http``). ``api_token`` is the sidecar's token, required by the management API too.
    """

    def __init__(self, app: Any, address: str, *, metadata: list[tuple[str, str]] | None = None,
                 api_token: str | None = None, stubs: dict[str, ActivityStub] | None = None,
                 http_responder: HttpResponder | None = None, task_hub: str = DEFAULT_TASK_HUB,
                 serve_http: bool = False, http_port: int = 0) -> None:
        self.app = load_app(app) if isinstance(app, str) else app
        self.functions: AppFunctions = index_app(self.app)
        self.address = address
        self.metadata = list(metadata or [])
        if api_token and not any(key == "authorization" for key, _ in self.metadata):
            self.metadata.append(("authorization", f"Bearer {api_token}"))
        self.worker = FunctionsWorker(self.functions, address, self.metadata, stubs_for=stubs,
                                      http_responder=http_responder)
        self.api = ManagementApi(address, self.metadata, orchestrators=lambda: set(self.functions.named(
            "orchestrator")), task_hub=task_hub, api_token=api_token)
        if serve_http:
            self.api.http_functions = self.serve_http_function
        self.server = ManagementServer(self.api, port=http_port)
        self._channel: grpc.Channel | None = None
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> FunctionsHost:
        self.server.start()
        self.worker.start()
        self._channel = grpc.insecure_channel(self.address)
        self._started = True
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.worker.stop()
        self.server.stop()
        if self._channel is not None:
            self._channel.close()

    def __enter__(self) -> FunctionsHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the app's code receives ---------------------------------------------------------------

    @property
    def management_url(self) -> str:
        return self.server.url

    def client_binding_json(self) -> str:
        """The JSON text the host passes to a ``durable_client_input`` parameter."""
        return json.dumps(self.api.client_binding())

    def client(self) -> Any:
        """A real ``DurableOrchestrationClient`` bound to this host, usable from any event loop."""
        from azure.durable_functions import DurableOrchestrationClient

        client = DurableOrchestrationClient(self.client_binding_json())
        for attribute in ("_post_async_request", "_get_async_request", "_delete_async_request"):
            if hasattr(client, attribute):
                setattr(client, attribute, _on_client_loop(getattr(client, attribute)))
        return client

    def stub_activity(self, name: str, stub: ActivityStub | None) -> None:
        """Answer calls of the activity ``name`` with ``stub(ActivityCall)`` instead of the app's function (None:
        the app's function again)."""
        if stub is None:
            self.worker.stubs.pop(name, None)
        else:
            self.worker.stubs[name] = stub

    def respond_http(self, responder: HttpResponder | None) -> None:
        self.worker.http_responder = responder

    # -- HTTP triggers ------------------------------------------------------------------------------

    def http_request(self, function_name: str, method: str = "GET", route_params: dict[str, str] | None = None,
                     params: dict[str, str] | None = None, body: Any = None,
                     headers: dict[str, str] | None = None) -> Any:
        """The ``azure.functions.HttpRequest`` the host would pass to the HTTP function ``function_name`` (its name,
        its route, or a path its route matches, whose parameters ``route_params`` may override)."""
        return self._http_call(function_name, method, route_params, params, body, headers)[1]

    def _http_call(self, function_name: str, method: str, route_params: dict[str, str] | None,
                   params: dict[str, str] | None, body: Any, headers: dict[str, str] | None) -> tuple[AppFunction, Any]:
        """The HTTP function ``function_name`` names and the request for it; AppError for a method it refuses."""
        import azure.functions as func

        function, from_path = self.functions.http_target(function_name)
        if function.methods and method.upper() not in function.methods:
            raise AppError(f"the HTTP function {function.name!r} accepts {', '.join(function.methods)}, not "
                           f"{method.upper()}")
        route_params = {**from_path, **(route_params or {})}
        route = function.route or function.name
        for key, value in route_params.items():
            for form in (f"{{{key}}}", f"{{{key}?}}"):
                route = route.replace(form, str(value))
        route = "/".join(part for part in route.split("/") if not (part.startswith("{") and part.endswith("?}")))
        url = f"{self.server.url}/api/{route}" + (f"?{urlencode(params)}" if params else "")
        payload: bytes
        sent_headers = dict(headers or {})
        if body is None:
            payload = b""
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        return function, func.HttpRequest(method=method.upper(), url=url, headers=sent_headers, params=params or {},
                                          route_params=route_params, body=payload)

    async def call_http_async(self, function_name: str, method: str = "GET",
                              route_params: dict[str, str] | None = None, params: dict[str, str] | None = None,
                              body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """:meth:`call_http` for async tests: awaitable from any event loop."""
        function, request = self._http_call(function_name, method, route_params, params, body, headers)
        future = asyncio.run_coroutine_threadsafe(self._invoke_http(function.name, request), client_loop())
        return await asyncio.wrap_future(future)

    def call_http(self, function_name: str, method: str = "GET", route_params: dict[str, str] | None = None,
                  params: dict[str, str] | None = None, body: Any = None, headers: dict[str, str] | None = None,
                  timeout: float = 60.0) -> Any:
        """Invoke the HTTP-triggered function ``function_name`` as the host would; its ``HttpResponse``."""
        function, request = self._http_call(function_name, method, route_params, params, body, headers)
        return run_on_client_loop(self._invoke_http(function.name, request), timeout)

    def serve_http_function(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                            body: bytes) -> Answer:
        """An HTTP request to ``/api/<path>`` answered by the app's HTTP function whose route matches it."""
        import azure.functions as func

        for function in self.functions.named("http").values():
            route_params = match_route(function.route or function.name, path)
            if route_params is None:
                continue
            if function.methods and method.upper() not in function.methods:
                return Answer(405, {"Message": f"{function.name} accepts {', '.join(function.methods)}"})
            params = {key: values[0] for key, values in query.items() if values}
            url = f"{self.server.url}/api/{path}" + (f"?{urlencode(params)}" if params else "")
            request = func.HttpRequest(method=method.upper(), url=url, headers=headers, params=params,
                                       route_params=route_params, body=body)
            response = run_on_client_loop(self._invoke_http(function.name, request), 240)
            sent = {str(name): str(value) for name, value in dict(response.headers).items()}
            sent.setdefault("Content-Type", response.mimetype or "text/plain")
            return Answer(int(response.status_code), headers=sent, raw=response.get_body() or b"")
        known = ", ".join(sorted(f.route or f.name for f in self.functions.named("http").values())) or "none"
        return Answer(404, {"Message": f"no HTTP function of the app has a route matching /api/{path} "
                                       f"(routes: {known})"})

    async def _invoke_http(self, function_name: str, request: Any) -> Any:
        function = self.functions.http(function_name)
        kwargs: dict[str, Any] = {function.trigger_parameter: request}
        if function.client_parameter is not None:
            kwargs[function.client_parameter] = self.client_binding_json()
        result = function.call(**kwargs)
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            return await result
        return run_maybe_async(result)

    # -- waiting ------------------------------------------------------------------------------------

    def wait_for_completion(self, instance_id: str, timeout: float = 30.0) -> Any:
        """Block until ``instance_id`` ends (the fake's auto clock jumps meanwhile); the client's status of it."""
        assert self._channel is not None, "start the host first"
        stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]
        try:
            response = stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId=instance_id),
                                                      metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise TimeoutError(f"instance {instance_id!r} did not finish within {timeout} s") from None
            raise
        if not response.exists:
            raise LookupError(f"no instance {instance_id!r} on the sidecar")
        return self.get_status(instance_id)

    def get_status(self, instance_id: str, show_history: bool = False) -> Any:
        """The client's ``DurableOrchestrationStatus`` of ``instance_id``."""
        client = self.client()
        return run_on_client_loop(client.get_status(instance_id, show_history=show_history, show_input=True), 30)

    def run(self, awaitable: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a client coroutine (``host.run(client.raise_event(...))``) from a plain test; its result."""
        return run_on_client_loop(awaitable, timeout)
