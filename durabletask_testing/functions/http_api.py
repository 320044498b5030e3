"""The Durable extension's HTTP management API, served on loopback and translated to the sidecar protocol.

``DurableOrchestrationClient`` (the Durable Functions SDK's client) calls the Functions host over HTTP: the local
RPC base URL (``rpcBaseUrl`` of its binding) for its own calls, the webhook URLs (``statusQueryGetUri`` ...) in the
payload of ``create_check_status_response``. :class:`ManagementApi` serves both path prefixes with the routes,
status codes and JSON bodies the extension documents, and answers each request with gRPC calls to the sidecar, so
the app's client code runs unchanged against the fake (or any sidecar).

Routes (under ``/runtime/webhooks/durabletask/`` and the RPC prefix ``/durabletask/``):
``POST orchestrators/{name}[/{id}]``, ``GET instances/[{id}]``, ``DELETE instances/[{id}]``,
``POST instances/{id}/{terminate|suspend|resume|rewind|restart}``, ``POST instances/{id}/raiseEvent/{event}``,
``GET entities/{name}[/{key}]``, ``POST|DELETE entities/{name}/{key}``.

Tokens: with an API token (the sidecar's), every request needs ``Authorization: Bearer <token>`` or the query
parameter ``code=<token>`` (the form of a Functions system key, which the webhook URLs carry); the RPC base URL,
which the client extends with paths and queries of its own, carries the token as a path segment instead.
"""

from __future__ import annotations

import hmac
import json
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import grpc
from google.protobuf import timestamp_pb2, wrappers_pb2

from ..control import ControlError, RequestGuard
from ..protocol import orchestrator_service_pb2 as pb
from ..protocol import orchestrator_service_pb2_grpc as stubs
from ..shell import bearer_matches, is_loopback

WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
RPC_PREFIX = "/durabletask/"
DEFAULT_TASK_HUB = "TestHubName"
DEFAULT_CONNECTION = "Storage"
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
MAX_BODY_BYTES = 16 * 1024 * 1024
CALL_TIMEOUT = 30.0

# The extension's runtime status names (OrchestrationRuntimeStatus) for the protocol's statuses.
RUNTIME_STATUS = {
    pb.ORCHESTRATION_STATUS_RUNNING: "Running",
    pb.ORCHESTRATION_STATUS_COMPLETED: "Completed",
    pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW: "ContinuedAsNew",
    pb.ORCHESTRATION_STATUS_FAILED: "Failed",
    pb.ORCHESTRATION_STATUS_CANCELED: "Canceled",
    pb.ORCHESTRATION_STATUS_TERMINATED: "Terminated",
    pb.ORCHESTRATION_STATUS_PENDING: "Pending",
    pb.ORCHESTRATION_STATUS_SUSPENDED: "Suspended",
}
STATUS_BY_NAME = {name.lower(): status for status, name in RUNTIME_STATUS.items()}
TERMINAL = {pb.ORCHESTRATION_STATUS_COMPLETED, pb.ORCHESTRATION_STATUS_FAILED, pb.ORCHESTRATION_STATUS_TERMINATED,
            pb.ORCHESTRATION_STATUS_CANCELED}
RUNNING_LIKE = {pb.ORCHESTRATION_STATUS_RUNNING, pb.ORCHESTRATION_STATUS_PENDING,
                pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, pb.ORCHESTRATION_STATUS_SUSPENDED}


class Answer:
    """An HTTP answer: status, JSON body (or None) or the raw bytes of an HTTP function's answer, headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
                 raw: bytes | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


# What serves the app's HTTP-triggered functions under /api/: (method, route path, query, headers, body) -> Answer.
HttpFunctions = Callable[[str, str, dict[str, list[str]], dict[str, str], bytes], Answer]
HTTP_FUNCTIONS_PREFIX = "/api/"


def _error(status: int, message: str) -> Answer:
    return Answer(status, {"Message": message, "ExceptionMessage": message})


def _stamp_text(stamp: timestamp_pb2.Timestamp) -> str:
    moment = datetime.fromtimestamp(stamp.seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_or_text(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.astimezone(timezone.utc).replace(tzinfo=None))
    return stamp


def _flag(query: dict[str, list[str]], name: str, default: bool) -> bool:
    values = query.get(name)
    if not values:
        return default
    return values[0].strip().lower() == "true"


def history_json(event: pb.HistoryEvent, with_output: bool) -> dict[str, Any]:
    """One history event as the status API's ``historyEvents`` entry (EventType by name, function, timestamp)."""
    kind = event.WhichOneof("eventType") or ""
    entry: dict[str, Any] = {"EventType": kind[:1].upper() + kind[1:], "Timestamp": _stamp_text(event.timestamp)}
    payload = getattr(event, kind)
    for source, target in (("name", "FunctionName"), ("instanceId", "InstanceId")):
        if hasattr(payload, source) and isinstance(getattr(payload, source), str) and getattr(payload, source):
            entry[target] = getattr(payload, source)
    if with_output:
        for source, target in (("input", "Input"), ("result", "Result")):
            if source in payload.DESCRIPTOR.fields_by_name and payload.HasField(source):
                entry[target] = _json_or_text(getattr(payload, source).value)
    if kind in ("taskFailed", "subOrchestrationInstanceFailed"):
        entry["Reason"] = payload.failureDetails.errorMessage
    if kind == "executionCompleted" and payload.HasField("failureDetails"):
        entry["Reason"] = payload.failureDetails.errorMessage
    return entry


class ManagementApi:
    """The management API's request handling, over a gRPC channel to the sidecar."""

    def __init__(self, address: str, metadata: list[tuple[str, str]] | None = None, *,
                 orchestrators: Callable[[], set[str]] | None = None, task_hub: str = DEFAULT_TASK_HUB,
                 api_token: str | None = None) -> None:
        self._channel = grpc.insecure_channel(address)
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = list(metadata or [])
        self._orchestrators = orchestrators
        self.task_hub = task_hub
        self.api_token = api_token
        self.base_url = ""  # set by the server once it listens
        self.http_functions: HttpFunctions | None = None
        """The app's HTTP-triggered functions, served under ``/api/`` when set (a local run of the app)."""

    def close(self) -> None:
        self._channel.close()

    # -- URLs --------------------------------------------------------------------------------------

    @property
    def rpc_base_url(self) -> str:
        secret = f"{quote(self.api_token, safe='')}/" if self.api_token else ""
        return f"{self.base_url}/{secret}durabletask/"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}{WEBHOOK_PREFIX.rstrip('/')}"

    def _query_suffix(self) -> str:
        suffix = f"taskHub={quote(self.task_hub)}&connection={DEFAULT_CONNECTION}"
        if self.api_token:
            suffix += f"&code={quote(self.api_token, safe='')}"
        return suffix

    def management_urls(self, instance_id: str, origin: str | None = None) -> dict[str, str]:
        """The extension's HttpManagementPayload for ``instance_id`` (its webhook URLs, on ``origin`` if given)."""
        base = (origin.rstrip("/") + WEBHOOK_PREFIX.rstrip("/")) if origin else self.webhook_url
        prefix = f"{base}/instances/{quote(instance_id, safe='')}"
        suffix = self._query_suffix()
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{prefix}?{suffix}",
            "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{suffix}",
            "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{suffix}",
            "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{suffix}",
            "purgeHistoryDeleteUri": f"{prefix}?{suffix}",
            "restartPostUri": f"{prefix}/restart?{suffix}",
            "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{suffix}",
            "resumePostUri": f"{prefix}/resume?reason={{text}}&{suffix}",
        }

    def client_binding(self) -> dict[str, Any]:
        """The JSON the host gives a ``durable_client_input`` parameter: task hub, creation/management URLs, RPC."""
        creation = f"{self.webhook_url}/orchestrators/{{functionName}}[/{{instanceId}}]"
        suffix = self._query_suffix()
        return {
            "taskHubName": self.task_hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{creation}?{suffix}",
                "createAndWaitOnNewInstancePostUri":
                    f"{creation}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{suffix}",
            },
            "managementUrls": self.management_urls(INSTANCE_ID_PLACEHOLDER),
            "baseUrl": self.webhook_url,
            "requiredQueryStringParameters": f"code={quote(self.api_token, safe='')}" if self.api_token else "",
            "rpcBaseUrl": self.rpc_base_url,
        }

    # -- dispatch ----------------------------------------------------------------------------------

    def authorized(self, path: str, query: dict[str, list[str]], header: str | None) -> bool:
        """True without a token; with one, when the request carries it: ``Authorization: Bearer``, ``?code=``, or
        as the first path segment of the RPC base URL (each compared in constant time)."""
        if self.api_token is None:
            return True
        token = self.api_token.encode("utf-8")
        if bearer_matches(header, token):
            return True
        code = (query.get("code") or [""])[0]
        if code and hmac.compare_digest(code.encode("utf-8", "surrogateescape"), token):
            return True
        first, _, rest = path.lstrip("/").partition("/")
        return f"/{rest}".startswith(RPC_PREFIX) and hmac.compare_digest(
            unquote(first).encode("utf-8", "surrogateescape"), token)

    def route(self, path: str) -> str | None:
        """The route part of ``path`` after a known prefix, or None for a path outside the API."""
        if self.api_token:
            secret = f"/{quote(self.api_token, safe='')}{RPC_PREFIX}"
            if path.startswith(secret):
                return path[len(secret):]
        for prefix in (WEBHOOK_PREFIX, RPC_PREFIX):
            if path.startswith(prefix):
                return path[len(prefix):]
        return None

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        if not self.authorized(parts.path, query, headers.get("authorization")):
            return _error(HTTPStatus.UNAUTHORIZED,
                          "this management API needs the API token: 'Authorization: Bearer <token>' or ?code=<token>")
        if self.http_functions is not None and parts.path.startswith(HTTP_FUNCTIONS_PREFIX):
            return self.http_functions(method, unquote(parts.path[len(HTTP_FUNCTIONS_PREFIX):]), query, headers, body)
        route = self.route(parts.path)
        if route is None:
            return _error(HTTPStatus.NOT_FOUND, f"no Durable Functions management route at {parts.path}")
        segments = [unquote(s) for s in route.strip("/").split("/")] if route.strip("/") else []
        origin = f"http://{headers['host']}" if headers.get("host") else None
        try:
            return self._dispatch(method, segments, query, headers, body, origin)
        except grpc.RpcError as error:
            code = error.code()
            status = {grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
                      grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
                      grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
                      grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.PRECONDITION_FAILED,
                      }.get(code, HTTPStatus.INTERNAL_SERVER_ERROR)
            return _error(status, f"the sidecar refused the request ({code.name}): {error.details()}")

    def _dispatch(self, method: str, segments: list[str], query: dict[str, list[str]], headers: dict[str, str],
                  body: bytes, origin: str | None) -> Answer:
        head = segments[0] if segments else ""
        if head == "orchestrators" and len(segments) in (2, 3):
            if method != "POST":
                return _error(HTTPStatus.NOT_FOUND, "start an orchestration with POST")
            return self.start(segments[1], segments[2] if len(segments) == 3 else None, body, query, origin)
        if head == "instances":
            if len(segments) == 1:
                if method == "GET":
                    return self.list_instances(query)
                if method == "DELETE":
                    return self.purge_by_filter(query)
            elif len(segments) == 2:
                if method == "GET":
                    return self.status(segments[1], query)
                if method == "DELETE":
                    return self.purge(segments[1])
            elif len(segments) == 3 and method == "POST":
                return self.operate(segments[1], segments[2].lower(), query, origin)
            elif len(segments) == 4 and segments[2] == "raiseEvent" and method == "POST":
                return self.raise_event(segments[1], segments[3], headers, body)
            return _error(HTTPStatus.NOT_FOUND, f"no {method} route at instances/{'/'.join(segments[1:])}")
        if head == "entities" and len(segments) in (2, 3):
            if method == "GET" and len(segments) == 3:
                return self.read_entity(segments[1], segments[2])
            if method == "GET":
                return self.list_entities(segments[1])
            if method in ("POST", "DELETE") and len(segments) == 3:
                operation = "delete" if method == "DELETE" else (query.get("op") or [""])[0]
                return self.signal_entity(segments[1], segments[2], operation, headers, body)
        return _error(HTTPStatus.NOT_FOUND, f"no Durable Functions management route {method} /{'/'.join(segments)}")

    # -- orchestrations ----------------------------------------------------------------------------

    def _state(self, instance_id: str, with_io: bool = True) -> pb.OrchestrationState | None:
        response = self._stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=with_io),
                                          metadata=self._metadata, timeout=CALL_TIMEOUT)
        return response.orchestrationState if response.exists else None

    def start(self, name: str, instance_id: str | None, body: bytes, query: dict[str, list[str]],
              origin: str | None) -> Answer:
        known = self._orchestrators() if self._orchestrators is not None else None
        if known is not None and name not in known:
            names = ", ".join(sorted(known)) or "none"
            return _error(HTTPStatus.BAD_REQUEST, f"the function {name!r} is not an orchestrator function of this app "
                                                  f"(orchestrators: {names})")
        request = pb.CreateInstanceRequest(instanceId=instance_id or uuid.uuid4().hex, name=name)
        if body.strip():
            try:
                held = json.loads(body)
            except ValueError:
                return _error(HTTPStatus.BAD_REQUEST, "the request body is not valid JSON")
            request.input.value = json.dumps(held)
        version = (query.get("version") or [""])[0]
        if version:
            request.version.value = version
        # As the extension does by default: an instance that has ended may be replaced by a new one of the same id.
        request.orchestrationIdReusePolicy.replaceableStatus.extend(sorted(TERMINAL))
        created = self._stub.StartInstance(request, metadata=self._metadata, timeout=CALL_TIMEOUT)
        return self.check_status(created.instanceId, origin)

    def check_status(self, instance_id: str, origin: str | None) -> Answer:
        payload = self.management_urls(instance_id, origin)
        payload.pop("rewindPostUri")
        return Answer(HTTPStatus.ACCEPTED, payload, {"Location": payload["statusQueryGetUri"], "Retry-After": "10"})

    def status_json(self, state: pb.OrchestrationState, show_input: bool) -> dict[str, Any]:
        output: Any = _json_or_text(state.output.value) if state.HasField("output") else None
        if state.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED and state.HasField("failureDetails"):
            output = state.failureDetails.errorMessage
        return {
            "name": state.name,
            "instanceId": state.instanceId,
            "runtimeStatus": RUNTIME_STATUS.get(state.orchestrationStatus, "Unknown"),
            "input": _json_or_text(state.input.value) if show_input and state.HasField("input") else None,
            "customStatus": _json_or_text(state.customStatus.value) if state.HasField("customStatus") else None,
            "output": output,
            "createdTime": _stamp_text(state.createdTimestamp),
            "lastUpdatedTime": _stamp_text(state.lastUpdatedTimestamp),
        }

    def status(self, instance_id: str, query: dict[str, list[str]]) -> Answer:
        state = self._state(instance_id)
        if state is None:
            return Answer(HTTPStatus.NOT_FOUND, None)
        body = self.status_json(state, _flag(query, "showInput", True))
        if _flag(query, "showHistory", False):
            chunks = self._stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=instance_id),
                                                      metadata=self._metadata, timeout=CALL_TIMEOUT)
            with_output = _flag(query, "showHistoryOutput", False)
            body["historyEvents"] = [history_json(e, with_output) for chunk in chunks for e in chunk.events]
        if state.orchestrationStatus in RUNNING_LIKE:
            return Answer(HTTPStatus.ACCEPTED, body, {"Retry-After": "5"})
        if state.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED and _flag(
                query, "returnInternalServerErrorOnFailure", False):
            return Answer(HTTPStatus.INTERNAL_SERVER_ERROR, body)
        return Answer(HTTPStatus.OK, body)

    def _instance_query(self, query: dict[str, list[str]]) -> pb.InstanceQuery:
        selection = pb.InstanceQuery(fetchInputsAndOutputs=_flag(query, "showInput", False))
        for name in ",".join(query.get("runtimeStatus", [])).split(","):
            status = STATUS_BY_NAME.get(name.strip().lower())
            if status is not None:
                selection.runtimeStatus.append(status)
        for field_name, key in (("createdTimeFrom", "createdTimeFrom"), ("createdTimeTo", "createdTimeTo")):
            moment = _parse_time((query.get(key) or [""])[0])
            if moment is not None:
                getattr(selection, field_name).CopyFrom(_timestamp(moment))
        prefix = (query.get("instanceIdPrefix") or [""])[0]
        if prefix:
            selection.instanceIdPrefix.value = prefix
        top = (query.get("top") or [""])[0]
        if top.isdigit():
            selection.maxInstanceCount = int(top)
        return selection

    def list_instances(self, query: dict[str, list[str]]) -> Answer:
        selection = self._instance_query(query)
        show_input = _flag(query, "showInput", False)
        states: list[dict[str, Any]] = []
        while True:
            response = self._stub.QueryInstances(pb.QueryInstancesRequest(query=selection), metadata=self._metadata,
                                                 timeout=CALL_TIMEOUT)
            states.extend(self.status_json(state, show_input) for state in response.orchestrationState)
            if selection.maxInstanceCount or not response.HasField("continuationToken") or \
                    not response.continuationToken.value:
                break
            selection.continuationToken.value = response.continuationToken.value
        return Answer(HTTPStatus.OK, states)

    def purge(self, instance_id: str) -> Answer:
        if self._state(instance_id, with_io=False) is None:
            return Answer(HTTPStatus.NOT_FOUND, None)
        response = self._stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId=instance_id),
                                             metadata=self._metadata, timeout=CALL_TIMEOUT)
        return Answer(HTTPStatus.OK, {"instancesDeleted": response.deletedInstanceCount})

    def purge_by_filter(self, query: dict[str, list[str]]) -> Answer:
        start = _parse_time((query.get("createdTimeFrom") or [""])[0])
        if start is None:
            return Answer(HTTPStatus.BAD_REQUEST, "Please provide value for 'createdTimeFrom' parameter.")
        end = _parse_time((query.get("createdTimeTo") or [""])[0]) or datetime.now(timezone.utc)
        selection = pb.PurgeInstanceFilter(createdTimeFrom=_timestamp(start), createdTimeTo=_timestamp(end))
        for name in ",".join(query.get("runtimeStatus", [])).split(","):
            status = STATUS_BY_NAME.get(name.strip().lower())
            if status is not None:
                selection.runtimeStatus.append(status)
        response = self._stub.PurgeInstances(pb.PurgeInstancesRequest(purgeInstanceFilter=selection),
                                             metadata=self._metadata, timeout=CALL_TIMEOUT)
        if response.deletedInstanceCount == 0:
            return Answer(HTTPStatus.NOT_FOUND, None)
        return Answer(HTTPStatus.OK, {"instancesDeleted": response.deletedInstanceCount})

    def operate(self, instance_id: str, operation: str, query: dict[str, list[str]], origin: str | None) -> Answer:
        state = self._state(instance_id, with_io=False)
        if state is None:
            return Answer(HTTPStatus.NOT_FOUND, None)
        reasons = query.get("reason")
        reason = reasons[0] if reasons else None
        reason_value = wrappers_pb2.StringValue(value=reason) if reason is not None else None
        ended = state.orchestrationStatus in TERMINAL
        if operation == "terminate":
            if ended:
                return Answer(HTTPStatus.GONE, None)
            self._stub.TerminateInstance(pb.TerminateRequest(instanceId=instance_id, output=(
                wrappers_pb2.StringValue(value=json.dumps(reason)) if reason is not None else None)),
                metadata=self._metadata, timeout=CALL_TIMEOUT)
        elif operation == "suspend":
            if ended:
                return Answer(HTTPStatus.GONE, None)
            self._stub.SuspendInstance(pb.SuspendRequest(instanceId=instance_id, reason=reason_value),
                                       metadata=self._metadata, timeout=CALL_TIMEOUT)
        elif operation == "resume":
            if ended:
                return Answer(HTTPStatus.GONE, None)
            self._stub.ResumeInstance(pb.ResumeRequest(instanceId=instance_id, reason=reason_value),
                                      metadata=self._metadata, timeout=CALL_TIMEOUT)
        elif operation == "rewind":
            if state.orchestrationStatus in TERMINAL - {pb.ORCHESTRATION_STATUS_FAILED}:
                return Answer(HTTPStatus.GONE, None)
            self._stub.RewindInstance(pb.RewindInstanceRequest(instanceId=instance_id, reason=reason_value),
                                      metadata=self._metadata, timeout=CALL_TIMEOUT)
        elif operation == "restart":
            new_id = _flag(query, "restartWithNewInstanceId", True)
            restarted = self._stub.RestartInstance(pb.RestartInstanceRequest(
                instanceId=instance_id, restartWithNewInstanceId=new_id), metadata=self._metadata,
                timeout=CALL_TIMEOUT)
            return self.check_status(restarted.instanceId, origin)
        else:
            return _error(HTTPStatus.NOT_FOUND, f"no instance operation {operation!r}")
        return Answer(HTTPStatus.ACCEPTED, None)

    def raise_event(self, instance_id: str, event_name: str, headers: dict[str, str], body: bytes) -> Answer:
        state = self._state(instance_id, with_io=False)
        if state is None:
            return Answer(HTTPStatus.NOT_FOUND, None)
        if state.orchestrationStatus in TERMINAL:
            return Answer(HTTPStatus.GONE, None)
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return _error(HTTPStatus.BAD_REQUEST, "Only application/json request content is supported")
        try:
            held = json.loads(body) if body.strip() else None
        except ValueError:
            return _error(HTTPStatus.BAD_REQUEST, "Invalid JSON content")
        request = pb.RaiseEventRequest(instanceId=instance_id, name=event_name)
        request.input.value = json.dumps(held)
        self._stub.RaiseEvent(request, metadata=self._metadata, timeout=CALL_TIMEOUT)
        return Answer(HTTPStatus.ACCEPTED, None)

    # -- entities ----------------------------------------------------------------------------------

    @staticmethod
    def entity_instance_id(name: str, key: str) -> str:
        return f"@{name.lower()}@{'' if key == '$' else key}"

    def read_entity(self, name: str, key: str) -> Answer:
        response = self._stub.GetEntity(pb.GetEntityRequest(instanceId=self.entity_instance_id(name, key),
                                                            includeState=True), metadata=self._metadata,
                                        timeout=CALL_TIMEOUT)
        if not response.exists or not response.entity.HasField("serializedState"):
            return Answer(HTTPStatus.NOT_FOUND, None)
        return Answer(HTTPStatus.OK, _json_or_text(response.entity.serializedState.value))

    def list_entities(self, name: str) -> Answer:
        response = self._stub.QueryEntities(pb.QueryEntitiesRequest(query=pb.EntityQuery(
            instanceIdStartsWith=wrappers_pb2.StringValue(value=f"@{name.lower()}@"), includeState=True)),
            metadata=self._metadata, timeout=CALL_TIMEOUT)
        entities = []
        for entity in response.entities:
            _, entity_name, key = (entity.instanceId.split("@", 2) + ["", ""])[:3]
            entities.append({"entityId": {"name": entity_name, "key": key},
                             "lastOperationTime": _stamp_text(entity.lastModifiedTime),
                             "state": _json_or_text(entity.serializedState.value)
                             if entity.HasField("serializedState") else None})
        return Answer(HTTPStatus.OK, entities)

    def signal_entity(self, name: str, key: str, operation: str, headers: dict[str, str], body: bytes) -> Answer:
        request = pb.SignalEntityRequest(instanceId=self.entity_instance_id(name, key), name=operation,
                                         requestId=str(uuid.uuid4()))
        if body.strip():
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media == "application/json":
                try:
                    held = json.loads(body)
                except ValueError as error:
                    return _error(HTTPStatus.BAD_REQUEST, f"Could not parse JSON content: {error}")
                # The SDK's client sends its serialized input as a JSON string: the entity reads that text.
                request.input.value = held if isinstance(held, str) else json.dumps(held)
            else:
                request.input.value = json.dumps(body.decode("utf-8", "replace"))
        self._stub.SignalEntity(request, metadata=self._metadata, timeout=CALL_TIMEOUT)
        return Answer(HTTPStatus.ACCEPTED, None)


class ManagementServer:
    """Serves :class:`ManagementApi` over HTTP on loopback in background threads."""

    def __init__(self, api: ManagementApi, host: str = "127.0.0.1", port: int = 0) -> None:
        if api.api_token is None and not is_loopback(host):
            raise ValueError(f"the Durable Functions management API would serve {host or 'every interface'!r} "
                             "without an API token: anyone who reaches it could start and terminate instances; give "
                             "the sidecar a token or bind a loopback address")
        self.api = api
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._httpd.server_address[:2]
        self._guard = RequestGuard(str(bound_host), int(bound_port), None)  # the token is checked by the API
        api.base_url = f"http://{bound_host!s}:{bound_port}"

    @property
    def url(self) -> str:
        return self.api.base_url

    def start(self) -> ManagementServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), name="df-management-api",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.api.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self.api
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "durabletask-testing-functions/1"
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                declared = self.headers.get("Content-Length") or "0"
                try:  # the control API's rules for Host, Origin, Sec-Fetch-Site and chunked bodies
                    server._guard.admit(method, self.headers)
                    refused = None
                except ControlError as error:
                    refused = _error(error.status, str(error))
                if refused is not None:
                    answer, body = refused, b""
                    self.close_connection = True  # the body, if any, was not read
                elif not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
                    answer = _error(HTTPStatus.BAD_REQUEST, f"unusable Content-Length {declared[:40]!r}")
                    body = b""
                    self.close_connection = True
                else:
                    body = self.rfile.read(int(declared)) if int(declared) else b""
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    try:
                        answer = api.handle(method, self.path, headers, body)
                    except Exception as error:  # never kill the server thread; say what went wrong
                        answer = _error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(error).__name__}: {error}")
                if answer.raw is not None:
                    data = answer.raw
                else:
                    data = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                sent = {name.lower() for name in answer.headers}
                if "content-type" not in sent:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

        return Handler
