"""The worker's engine room: the GetWorkItems stream loop, reconnects, and dispatch to a thread pool.

One background thread reads the work-item stream; orchestrator and activity work items run on a shared
thread pool and are answered with their completion token; so are entity work items (both the batch form,
``entityRequest``, and ``entityRequestV2``). ``stop()`` cancels the stream call, so an idle
worker stops at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import grpc

from durabletask.internal import helpers
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.internal.activity_executor import AsyncRunner, execute_activity
from durabletask.internal.backoff import Backoff
from durabletask.internal.entity_executor import execute_entity_batch
from durabletask.internal.registry import Registry
from durabletask.internal.replay import OrchestrationExecutor

_RETRYABLE_CODES = frozenset((grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL,
                              grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED))
_REJECTED_CODES = frozenset((grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED))
_COMPLETION_TIMEOUT_SECONDS = 30.0
COMPLETION_BACKOFF = Backoff(initial=0.05, factor=2.0, cap=2.0, budget=20.0)
_REJECTED_ERROR_TYPE = "OrchestratorResponseRejected"


class WorkerRuntime:
    """Connects to the sidecar, streams work items and dispatches them until stopped."""

    def __init__(self, registry: Registry, channel_factory: Callable[[], grpc.Channel], logger: logging.Logger,
                 max_orchestrations: int, max_activities: int, max_threads: int,
                 maximum_timer_interval: timedelta | None,
                 reconnect_backoff: tuple[float, float] = (0.05, 2.0),
                 work_item_filters: pb.WorkItemFilters | None = None,
                 capabilities: list[int] | None = None) -> None:
        self._registry = registry
        self._channel_factory = channel_factory
        self._logger = logger
        self._max_orchestrations = max_orchestrations
        self._max_activities = max_activities
        self._work_item_filters = work_item_filters
        self._capabilities = list(capabilities or [])
        self._max_threads = max_threads
        self._maximum_timer_interval = maximum_timer_interval
        self._backoff_initial, self._backoff_cap = reconnect_backoff
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._channel: grpc.Channel | None = None
        self._stub: stubs.TaskHubSidecarServiceStub | None = None
        self._async_runner = AsyncRunner()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self._retry_timers: set[threading.Timer] = set()
        self.connected = threading.Event()

    # --------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the stream thread (returns at once; connecting happens in the background)."""
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(max_workers=self._max_threads, thread_name_prefix="durabletask-work")
        self._channel = self._channel_factory()
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._run, name="durabletask-worker-stream", daemon=True)
        self._thread.start()

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Cancel the stream, let in-flight work finish (up to ``grace_seconds``), then close the channel."""
        deadline = time.monotonic() + grace_seconds
        self._stopping.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.cancel()
        if self._thread is not None:
            self._thread.join(timeout=grace_seconds)
        if self._pool is not None:  # queued items are dropped (the sidecar dispatches them again)
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._cancel_retries()
        with self._idle:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._logger.warning("Stopping with %d work item(s) still running.", self._in_flight)
                    break
                self._idle.wait(remaining)
        self._async_runner.close()
        if self._channel is not None:
            self._channel.close()
        self.connected.clear()

    # ------------------------------------------------------------------------------- stream loop

    def _run(self) -> None:
        delay = self._backoff_initial
        request = pb.GetWorkItemsRequest(maxConcurrentOrchestrationWorkItems=self._max_orchestrations,
                                         maxConcurrentActivityWorkItems=self._max_activities,
                                         capabilities=list[Any](self._capabilities))
        if self._work_item_filters is not None:
            request.workItemFilters.CopyFrom(self._work_item_filters)
        while not self._stopping.is_set():
            assert self._stub is not None
            received_any = False
            try:
                stream = self._stub.GetWorkItems(request)
                with self._lock:
                    self._stream = stream
                if self._stopping.is_set():
                    stream.cancel()
                    break
                for work_item in stream:
                    if not received_any:
                        received_any = True
                        self.connected.set()
                        delay = self._backoff_initial
                    self._dispatch(work_item)
                self._logger.info("The work item stream was closed by the sidecar; reconnecting.")
            except grpc.RpcError as err:
                code = err.code() if hasattr(err, "code") else None
                if self._stopping.is_set():
                    break
                self._logger.log(logging.DEBUG if code == grpc.StatusCode.UNAVAILABLE else logging.WARNING,
                                 "Work item stream error (%s); reconnecting in %.2fs.", code, delay)
            except Exception:  # keep the worker alive whatever the cause
                if self._stopping.is_set():
                    break
                self._logger.exception("Unexpected error in the work item stream; reconnecting in %.2fs.", delay)
            finally:
                with self._lock:
                    self._stream = None
            self.connected.clear()
            if received_any:
                delay = self._backoff_initial
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, self._backoff_cap)

    def _dispatch(self, work_item: pb.WorkItem) -> None:
        kind = work_item.WhichOneof("request")
        if kind == "orchestratorRequest":
            self._submit(self._run_orchestrator, work_item.orchestratorRequest, work_item.completionToken)
        elif kind == "activityRequest":
            self._submit(self._run_activity, work_item.activityRequest, work_item.completionToken)
        elif kind in ("entityRequest", "entityRequestV2"):
            self._submit(self._run_entity_batch, getattr(work_item, kind), work_item.completionToken)
        elif kind == "healthPing":
            return
        else:
            self._logger.warning("Ignoring unsupported work item type '%s'.", kind)

    def _submit(self, fn: Callable[[Any, str], None], request: Any, token: str) -> None:
        assert self._pool is not None
        with self._lock:
            self._in_flight += 1
        try:
            future = self._pool.submit(self._guarded, fn, request, token)
        except RuntimeError:  # pool already shut down: the sidecar will dispatch the item again
            self._done()
            return
        future.add_done_callback(self._on_work_item_finished)

    def _on_work_item_finished(self, future: Future[None]) -> None:
        """A work item cancelled before it ran (stop() drops queued items) is no longer in flight."""
        if future.cancelled():
            self._done()

    def _guarded(self, fn: Callable[[Any, str], None], request: Any, token: str) -> None:
        try:
            fn(request, token)
        except Exception:
            self._logger.exception("Unexpected error while processing a work item.")
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    # ---------------------------------------------------------------------------- work item kinds

    def _run_orchestrator(self, req: pb.OrchestratorRequest, token: str) -> None:
        executor = OrchestrationExecutor(self._registry, self._maximum_timer_interval)
        try:
            result = executor.execute(req.instanceId, req.pastEvents, req.newEvents)
        except Exception as ex:  # engine failure: fail the orchestration rather than leave it hanging
            self._logger.exception("Error executing orchestration '%s'.", req.instanceId)
            action = helpers.new_complete_orchestration_action(-1, pb.ORCHESTRATION_STATUS_FAILED, None,
                                                               helpers.new_failure_details(ex))
            response = pb.OrchestratorResponse(instanceId=req.instanceId, actions=[action], completionToken=token)
            self._call(lambda stub: stub.CompleteOrchestratorTask, response, "CompleteOrchestratorTask")
            return
        if result.abandon:
            self._logger.debug("Abandoning orchestration work item for '%s' (version rejected).", req.instanceId)
            self._call(lambda stub: stub.AbandonTaskOrchestratorWorkItem,
                       pb.AbandonOrchestrationTaskRequest(completionToken=token), "AbandonTaskOrchestratorWorkItem")
            return
        response = pb.OrchestratorResponse(instanceId=req.instanceId, actions=result.actions, completionToken=token,
                                           customStatus=helpers.get_string_value(result.encoded_custom_status))
        self._call(lambda stub: stub.CompleteOrchestratorTask, response, "CompleteOrchestratorTask")

    def _run_activity(self, req: pb.ActivityRequest, token: str) -> None:
        instance_id = req.orchestrationInstance.instanceId
        try:
            output = execute_activity(self._registry, self._async_runner, instance_id, req.name, req.taskId,
                                      req.input.value if req.HasField("input") else None)
            response = pb.ActivityResponse(instanceId=instance_id, taskId=req.taskId, completionToken=token,
                                           result=helpers.get_string_value(output))
        except Exception as ex:
            details = helpers.new_failure_details(
                ex, properties_provider=self._registry.exception_properties_provider)
            response = pb.ActivityResponse(instanceId=instance_id, taskId=req.taskId, completionToken=token,
                                           failureDetails=details)
        self._call(lambda stub: stub.CompleteActivityTask, response, "CompleteActivityTask")

    def _run_entity_batch(self, req: pb.EntityBatchRequest | pb.EntityRequest, token: str) -> None:
        try:
            result = execute_entity_batch(self._registry, req, token)
        except Exception:  # engine failure: hand the work item back rather than lose the operations
            self._logger.exception("Error executing entity batch for '%s'.", req.instanceId)
            self._call(lambda stub: stub.AbandonTaskEntityWorkItem,
                       pb.AbandonEntityTaskRequest(completionToken=token), "AbandonTaskEntityWorkItem")
            return
        self._call(lambda stub: stub.CompleteEntityTask, result, "CompleteEntityTask")

    def _call(self, method: Callable[[stubs.TaskHubSidecarServiceStub], Any], request: Any, name: str,
              attempt: int = 1, first_try_at: float | None = None) -> None:
        """Send a completion/abandon RPC without blocking the calling thread.

        The call counts as in-flight work until it finishes. Transient failures are retried with capped
        exponential back-off for up to ``COMPLETION_BACKOFF.budget`` seconds, or until the worker stops. Work
        the sidecar never hears about is dispatched again by the sidecar.
        """
        stub = self._stub
        if stub is None or (self._stopping.is_set() and attempt > 1):
            return
        if first_try_at is None:
            first_try_at = time.monotonic()
        try:
            future = method(stub).future(request, timeout=_COMPLETION_TIMEOUT_SECONDS)
        except ValueError:  # channel closed during shutdown
            return
        with self._lock:
            self._in_flight += 1
        future.add_done_callback(lambda f: self._on_call_done(f, method, request, name, attempt, first_try_at))

    def _fail_rejected_orchestration(self, rejected: pb.OrchestratorResponse, details: str) -> None:
        """The sidecar refused our actions (bad input): fail the orchestration with its message, don't hang."""
        if any(a.HasField("completeOrchestration") and a.completeOrchestration.failureDetails.errorType ==
               _REJECTED_ERROR_TYPE for a in rejected.actions):
            return  # the fallback itself was refused; nothing more to try
        failure = pb.TaskFailureDetails(errorType=_REJECTED_ERROR_TYPE,
                                        errorMessage=f"The sidecar rejected the orchestrator's actions: {details}")
        action = helpers.new_complete_orchestration_action(1, pb.ORCHESTRATION_STATUS_FAILED, None, failure)
        response = pb.OrchestratorResponse(instanceId=rejected.instanceId, actions=[action],
                                           completionToken=rejected.completionToken)
        self._call(lambda stub: stub.CompleteOrchestratorTask, response, "CompleteOrchestratorTask")

    def _on_call_done(self, future: Any, method: Callable[[stubs.TaskHubSidecarServiceStub], Any], request: Any,
                      name: str, attempt: int, first_try_at: float) -> None:
        try:
            error = future.exception()
            if error is None or future.cancelled():
                return
            code = error.code() if hasattr(error, "code") else None
            if code in _RETRYABLE_CODES and not self._stopping.is_set():
                delay = COMPLETION_BACKOFF.delay(attempt, time.monotonic() - first_try_at)
                if delay is not None:
                    self._logger.debug("%s failed (%s); retrying in %.2fs.", name, code, delay)
                    self._retry_later(delay, method, request, name, attempt + 1, first_try_at)
                    return
            details = error.details() if hasattr(error, "details") else str(error)
            self._logger.warning("%s failed (%s) after %d attempt(s): %s", name, code, attempt, details)
            if code in _REJECTED_CODES and isinstance(request, pb.OrchestratorResponse):
                self._fail_rejected_orchestration(request, details)
        except Exception:
            self._logger.exception("Unexpected error completing %s.", name)
        finally:
            self._done()

    def _retry_later(self, delay: float, method: Callable[[stubs.TaskHubSidecarServiceStub], Any], request: Any,
                     name: str, attempt: int, first_try_at: float) -> None:
        """Schedule the next try; the wait counts as in-flight work until it ends or stop() cancels it."""

        def fire() -> None:
            with self._lock:
                if timer not in self._retry_timers:
                    return  # cancelled by stop()
                self._retry_timers.discard(timer)
            try:
                self._call(method, request, name, attempt, first_try_at)
            finally:
                self._done()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            self._retry_timers.add(timer)
            self._in_flight += 1
        timer.start()

    def _cancel_retries(self) -> None:
        """Drop every scheduled retry (the sidecar dispatches unanswered work again)."""
        with self._lock:
            timers, self._retry_timers = self._retry_timers, set()
        for timer in timers:
            timer.cancel()
            self._done()
