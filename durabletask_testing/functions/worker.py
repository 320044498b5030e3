"""The worker side of the Durable Functions bridge: runs an app's functions for the work items of a sidecar.

:class:`FunctionsWorker` connects to a sidecar (the fake, or any sidecar speaking the protocol) as a worker over
gRPC, opens ``GetWorkItems`` and, for each work item, calls the app's real function the way the Functions host
does for the Durable extension:

- an orchestrator work item becomes the host's JSON context (:mod:`.history`); the app's orchestrator function
  (the SDK's own ``Orchestrator`` handle, so its own replay) answers with its JSON state, which the extension's
  replay rules (:mod:`.shim`) turn into the protocol actions of ``CompleteOrchestratorTask``;
- an activity work item calls the activity function with its input decoded by the Functions library's own
  activity converter, and its result encoded by the same converter;
- an entity work item becomes the host's JSON batch for the SDK's ``Entity`` handle, whose answer becomes an
  ``EntityBatchResult``.

Test doubles for activities (``stubs``) and a responder for durable HTTP calls (``http_responder``) are looked up
before the app's own functions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
import traceback
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import grpc
from google.protobuf import empty_pb2, timestamp_pb2, wrappers_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

from .app import AppError, AppFunctions
from .history import ENTITY_REQUEST_EVENT, orchestration_context_json
from .shim import HTTP_ACTIVITY, SCHEMA_V2, SCHEMA_V3, Episode, replay_episode, terminated_episode

LOG = logging.getLogger("durabletask_testing.functions")
OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
# The schema versions offered to the SDK, as the extension offers them: an SDK that knows V3 reads the second.
OFFERED_SCHEMA = SCHEMA_V2
OFFERED_SCHEMA_NEW = SCHEMA_V3
RECONNECT_SECONDS = 0.2

HttpResponder = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class ActivityCall:
    """One call of a stubbed activity: its name, its input as the function would receive it, who called it."""

    name: str
    input: Any
    orchestration_id: str
    task_id: int


ActivityStub = Callable[[ActivityCall], Any]


class ActivityFailure(Exception):
    """What an activity stub raises to fail the call with a given error type and message."""

    def __init__(self, message: str, error_type: str = "Exception") -> None:
        super().__init__(message)
        self.error_type = error_type


def failure_details(error: BaseException) -> pb.TaskFailureDetails:
    error_type = getattr(error, "error_type", None) or type(error).__name__
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return pb.TaskFailureDetails(errorType=error_type, errorMessage=str(error),
                                 stackTrace=wrappers_pb2.StringValue(value=stack))


def run_maybe_async(result: Any) -> Any:
    """The value of a function's result, running it to its end if the function was ``async``."""
    if inspect.isawaitable(result):
        async def wait() -> Any:
            return await result
        return asyncio.run(wait())
    return result


def _functions_library() -> Any:
    try:
        import azure.functions as func
    except ImportError as error:  # pragma: no cover - the bridge is used with an app, which needs the library
        raise AppError("the Durable Functions bridge needs the 'azure-functions' package installed") from error
    return func


def decode_activity_input(stored: str | None) -> Any:
    """An activity's input as the Functions library's activity converter hands it to the function."""
    from azure.functions import meta
    from azure.functions.durable_functions import ActivityTriggerConverter

    if stored is None:
        return None
    try:
        held = json.loads(stored)  # the extension hands the worker the stored value, not its JSON text
    except ValueError:
        held = stored
    text = held if isinstance(held, str) else json.dumps(held)
    return ActivityTriggerConverter.decode(meta.Datum(type="json", value=text), trigger_metadata=None)


def encode_activity_output(value: Any) -> str:
    """An activity's return value as the Functions library's activity converter encodes it (JSON text)."""
    from azure.functions.durable_functions import ActivityTriggerConverter

    return str(ActivityTriggerConverter.encode(value, expected_type=None).value)


def orchestrator_state(answer: Any) -> dict[str, Any]:
    """The SDK's JSON state from what its orchestrator handle returned (or raised, with the state in its text)."""
    if isinstance(answer, BaseException):
        text = str(answer)
        if OUT_OF_PROC_LABEL in text:
            state = json.loads(text.split(OUT_OF_PROC_LABEL, 1)[1])
            state.setdefault("error", text.split(OUT_OF_PROC_LABEL, 1)[0])
            return dict(state)
        return {"isDone": False, "actions": [], "error": f"{type(answer).__name__}: {answer}" if text else
                type(answer).__name__, "schemaVersion": 0, "_raw_failure": True}
    body = getattr(answer, "value", answer)  # a Datum from an older SDK, or the JSON text
    state = json.loads(body) if isinstance(body, (str, bytes)) else body
    if not isinstance(state, dict):
        raise ValueError(f"the orchestrator answered {state!r}, not a JSON object")
    return state


class FunctionsWorker:
    """A worker that runs one app's orchestrators, activities and entities for a sidecar's work items."""

    def __init__(self, functions: AppFunctions, address: str, metadata: list[tuple[str, str]] | None = None,
                 *, stubs_for: dict[str, ActivityStub] | None = None, http_responder: HttpResponder | None = None,
                 max_threads: int = 8, on_episode: Callable[[str, str, str], None] | None = None) -> None:
        self.functions = functions
        self.address = address
        self.metadata = list(metadata or [])
        self.stubs: dict[str, ActivityStub] = dict(stubs_for or {})
        self.http_responder = http_responder
        self._on_episode = on_episode
        self._channel: grpc.Channel | None = None
        self._stub: stubs.TaskHubSidecarServiceStub | None = None
        self._pool = futures.ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="df-bridge")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._ready = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, ready_timeout: float = 10.0) -> FunctionsWorker:
        self._channel = grpc.insecure_channel(self.address)
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._serve, name="df-bridge-stream", daemon=True)
        self._thread.start()
        if not self._ready.wait(ready_timeout):
            raise RuntimeError(f"the Durable Functions bridge could not open a work-item stream to {self.address} "
                               f"within {ready_timeout} s")
        return self

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._channel is not None:
            self._channel.close()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def __enter__(self) -> FunctionsWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._stub is not None
        request = pb.GetWorkItemsRequest(maxConcurrentOrchestrationWorkItems=4, maxConcurrentActivityWorkItems=8,
                                         maxConcurrentEntityWorkItems=4)
        while not self._stop.is_set():
            try:
                self._stub.Hello(empty_pb2.Empty(), metadata=self.metadata, timeout=10)
                self._stream = self._stub.GetWorkItems(request, metadata=self.metadata)
                self._ready.set()
                for item in self._stream:
                    if self._stop.is_set():
                        break
                    kind = item.WhichOneof("request")
                    if kind == "healthPing":
                        continue
                    self._pool.submit(self._run_item, item)
            except grpc.RpcError as error:
                if self._stop.is_set() or error.code() == grpc.StatusCode.CANCELLED:
                    return
                LOG.debug("work-item stream to %s ended: %s; reconnecting", self.address, error)
                self._stop.wait(RECONNECT_SECONDS)
            except RuntimeError:  # the pool was shut down while a work item arrived
                return

    def _run_item(self, item: pb.WorkItem) -> None:
        kind = item.WhichOneof("request")
        try:
            if kind == "orchestratorRequest":
                self._complete_orchestrator(item.orchestratorRequest, item.completionToken)
            elif kind == "activityRequest":
                self._complete_activity(item.activityRequest, item.completionToken)
            elif kind in ("entityRequest", "entityRequestV2"):
                self._complete_entity(item, item.completionToken)
        except grpc.RpcError as error:
            if not self._stop.is_set():
                LOG.warning("could not complete a %s work item: %s", kind, error)
        except Exception:  # never lose the stream thread; the sidecar dispatches the item again on its lease
            LOG.exception("the Durable Functions bridge failed on a %s work item", kind)

    # -- orchestrators ------------------------------------------------------------------------------

    def run_orchestrator(self, name: str, instance_id: str, past: list[pb.HistoryEvent],
                         new: list[pb.HistoryEvent]) -> tuple[Episode, dict[str, Any] | None]:
        """One episode: the SDK's answer for the history, replayed by the extension's rules into actions."""
        ended = terminated_episode(new)
        if ended is not None:
            return ended, None
        function = self.functions.get("orchestrator", name)
        started = next(e.executionStarted for e in (*past, *new) if e.HasField("executionStarted"))
        execution_id = started.orchestrationInstance.executionId.value or instance_id
        parent = started.parentInstance.orchestrationInstance.instanceId if started.HasField("parentInstance") else None
        if function is None:
            known = ", ".join(sorted(self.functions.named("orchestrator"))) or "none"
            state: dict[str, Any] = {"isDone": False, "actions": [[]], "schemaVersion": SCHEMA_V2,
                                     "error": f"the app has no orchestrator function named {name!r} "
                                              f"(orchestrators: {known})"}
        else:
            body = orchestration_context_json(instance_id, past, new, OFFERED_SCHEMA, OFFERED_SCHEMA_NEW)
            func = _functions_library()
            try:
                answer: Any = function.call(func.OrchestrationContext(body))
            except Exception as error:  # the SDK reports user failures by raising, with its state in the text
                answer = error
            state = orchestrator_state(answer)
            if state.pop("_raw_failure", False):
                state["actions"] = [[]]
                state["schemaVersion"] = SCHEMA_V2
        episode = replay_episode(instance_id, execution_id, parent, [*past, *new], state)
        return episode, state

    def _complete_orchestrator(self, request: pb.OrchestratorRequest, token: str) -> None:
        assert self._stub is not None
        events = [*request.pastEvents, *request.newEvents]
        started = next((e.executionStarted for e in events if e.HasField("executionStarted")), None)
        name = started.name if started is not None else ""
        episode, _ = self.run_orchestrator(name, request.instanceId, list(request.pastEvents),
                                           list(request.newEvents))
        response = pb.OrchestratorResponse(instanceId=request.instanceId, actions=episode.actions,
                                           completionToken=token)
        if episode.custom_status is not None:
            response.customStatus.value = episode.custom_status
        self._stub.CompleteOrchestratorTask(response, metadata=self.metadata, timeout=30)

    # -- activities ---------------------------------------------------------------------------------

    def run_activity(self, name: str, stored_input: str | None, instance_id: str = "",
                     task_id: int = -1) -> tuple[str | None, pb.TaskFailureDetails | None]:
        """One activity call (of ``task_id`` in ``instance_id``): (result text, None) or (None, failure details)."""
        try:
            stub = self.stubs.get(name)
            if stub is not None:
                call = ActivityCall(name, decode_activity_input(stored_input), instance_id, task_id)
                return encode_activity_output(stub(call)), None
            if name == HTTP_ACTIVITY:
                return self._durable_http(stored_input), None
            function = self.functions.get("activity", name)
            if function is None:
                known = ", ".join(sorted(self.functions.named("activity"))) or "none"
                raise AppError(f"the app has no activity function named {name!r} (activities: {known})")
            value = decode_activity_input(stored_input)
            result = run_maybe_async(function.call(**{function.trigger_parameter: value}))
            return encode_activity_output(result), None
        except Exception as error:
            return None, failure_details(error)

    def _durable_http(self, stored_input: str | None) -> str:
        request = json.loads(stored_input) if stored_input else {}
        if self.http_responder is None:
            raise AppError(
                f"call_http({request.get('method', '?')} {request.get('uri', '?')}) needs a responder on the fake: "
                "durable HTTP calls leave the machine in Azure, and the testkit sends no request anywhere. Give "
                "the test one (durable_functions.respond_http(callable) or FunctionsHost(http_responder=...)) "
                "returning a status code, or a dict with statusCode, headers and content")
        answer = self.http_responder(request)
        if isinstance(answer, int):
            answer = {"statusCode": answer, "headers": {}, "content": None}
        if not isinstance(answer, dict) or "statusCode" not in answer:
            raise AppError(f"the durable HTTP responder must return a status code or a dict with statusCode; got "
                           f"{answer!r}")
        answer.setdefault("headers", {})
        answer.setdefault("content", None)
        return json.dumps(answer)

    def _complete_activity(self, request: pb.ActivityRequest, token: str) -> None:
        assert self._stub is not None
        stored = request.input.value if request.HasField("input") else None
        result, failure = self.run_activity(request.name, stored, request.orchestrationInstance.instanceId,
                                            request.taskId)
        response = pb.ActivityResponse(instanceId=request.orchestrationInstance.instanceId, taskId=request.taskId,
                                       completionToken=token)
        if failure is not None:
            response.failureDetails.CopyFrom(failure)
        elif result is not None:
            response.result.value = result
        self._stub.CompleteActivityTask(response, metadata=self.metadata, timeout=30)

    # -- entities -----------------------------------------------------------------------------------

    def run_entity(self, entity_id: str, state: str | None,
                   operations: list[tuple[str, str, str | None, bool]]) -> pb.EntityBatchResult:
        """One batch of operations (operation, request id, input text, is signal) on ``@name@key``."""
        _, name, key = (entity_id.split("@", 2) + ["", ""])[:3]
        function = self.functions.get("entity", name)
        if function is None:
            function = next((f for f in self.functions.named("entity").values() if f.name.lower() == name), None)
        result = pb.EntityBatchResult()
        if function is None:
            known = ", ".join(sorted(self.functions.named("entity"))) or "none"
            failure = pb.TaskFailureDetails(errorType="AppError", errorMessage=(
                f"the app has no entity function named {name!r} (entities: {known})"))
            for _ in operations:
                result.results.append(pb.OperationResult(failure=pb.OperationResultFailure(failureDetails=failure)))
            if state is not None:
                result.entityState.value = state
            return result
        # The extension hands each operation's input as JSON text of the stored text (the SDK decodes it twice).
        batch = [{"name": op, "input": json.dumps(input_text) if input_text is not None else None, "id": request_id,
                  "signal": signal} for op, request_id, input_text, signal in operations]
        body = json.dumps({"self": {"name": name, "key": key}, "state": state, "exists": state is not None,
                           "batch": batch})
        func = _functions_library()
        answer = function.call(func.EntityContext(body))
        text = getattr(answer, "value", answer)
        outcome = json.loads(text)
        now = timestamp_pb2.Timestamp()
        now.FromDatetime(datetime.now(timezone.utc).replace(tzinfo=None))
        for item in outcome.get("results", []):
            if item.get("isError"):
                message = item.get("result")
                try:
                    message = json.loads(message) if isinstance(message, str) else message
                except ValueError:
                    pass
                details = pb.TaskFailureDetails(errorType="Exception", errorMessage=str(message))
                result.results.append(pb.OperationResult(failure=pb.OperationResultFailure(failureDetails=details)))
            else:
                value = item.get("result")
                success = pb.OperationResultSuccess()
                if value is not None:
                    success.result.value = value if isinstance(value, str) else json.dumps(value)
                result.results.append(pb.OperationResult(success=success))
        if outcome.get("entityExists") and outcome.get("entityState") is not None:
            result.entityState.value = outcome["entityState"]
        return result

    def _complete_entity(self, item: pb.WorkItem, token: str) -> None:
        assert self._stub is not None
        operations: list[tuple[str, str, str | None, bool]] = []
        if item.HasField("entityRequestV2"):
            request = item.entityRequestV2
            entity_id = request.instanceId
            state = request.entityState.value if request.HasField("entityState") else None
            for event in request.operationRequests:
                signal = event.HasField("entityOperationSignaled")
                source = event.entityOperationSignaled if signal else event.entityOperationCalled
                operations.append((source.operation, source.requestId,
                                   source.input.value if source.HasField("input") else None, signal))
        else:
            batch = item.entityRequest
            entity_id = batch.instanceId
            state = batch.entityState.value if batch.HasField("entityState") else None
            for operation in batch.operations:
                operations.append((operation.operation, operation.requestId,
                                   operation.input.value if operation.HasField("input") else None, False))
        result = self.run_entity(entity_id, state, operations)
        result.completionToken = token
        self._stub.CompleteEntityTask(result, metadata=self.metadata, timeout=30)


__all__ = ["ENTITY_REQUEST_EVENT", "ActivityCall", "ActivityFailure", "ActivityStub", "FunctionsWorker"]
