"""End-to-end: failure details (qualified type names, causes, inner failures, custom properties), the
DataConverter hook, concurrency options and work-item filters, with the published SDK's option names."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from durabletask import client, task, worker
from durabletask.serialization import JsonDataConverter


class PaymentDeclined(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"declined ({code})")
        self.code = code


def charge(ctx: task.ActivityContext, _) -> None:
    try:
        raise KeyError("card")
    except KeyError as cause:
        raise PaymentDeclined("insufficient-funds") from cause


def checkout(ctx: task.OrchestrationContext, _):
    try:
        yield ctx.call_activity(charge)
    except task.TaskFailedError as failure:
        details = failure.details
        return {"type": details.error_type, "by_type": details.is_caused_by(PaymentDeclined),
                "by_base": details.is_caused_by(Exception), "by_name": details.is_caused_by("PaymentDeclined"),
                "not_value_error": not details.is_caused_by(ValueError),
                "inner": details.inner_failure.error_type if details.inner_failure else None,
                "properties": details.properties}


class CodeProvider:
    def get_exception_properties(self, exception: Exception) -> Mapping[str, Any] | None:
        return {"code": exception.code, "retryable": False} if isinstance(exception, PaymentDeclined) else None


def test_failure_details_of_an_activity_failure(durable_sidecar, durable_client):
    w = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address, exception_properties_provider=CodeProvider())
    w.add_orchestrator(checkout)
    w.add_activity(charge)
    with w:
        w.start()
        iid = durable_client.schedule_new_orchestration(checkout)
        out = durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output()
    assert out == {"type": f"{__name__}.PaymentDeclined", "by_type": True, "by_base": True, "by_name": True,
                   "not_value_error": True, "inner": "builtins.KeyError",
                   "properties": {"code": "insufficient-funds", "retryable": False}}


def failing(ctx: task.OrchestrationContext, _):
    yield ctx.call_activity(charge)


def test_an_orchestration_failing_on_a_task_failure_keeps_it_as_inner_failure(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[failing], activities=[charge])
    iid = durable_client.schedule_new_orchestration(failing)
    details = durable_client.wait_for_orchestration_completion(iid, timeout=10).failure_details
    assert details.is_caused_by(task.TaskFailedError) and details.error_type == "durabletask.task.TaskFailedError"
    assert details.inner_failure is not None and details.inner_failure.is_caused_by(PaymentDeclined)


class EnvelopeConverter(JsonDataConverter):
    """Wraps every payload in an envelope, to show both sides use the converter."""

    def serialize(self, value: Any) -> str | None:
        return None if value is None else json.dumps({"v": json.loads(super().serialize(value) or "null")})

    def deserialize(self, data: str | None, target_type: type | None = None) -> Any:
        if not data:
            return None
        return self.coerce(json.loads(data)["v"], target_type)


def double(ctx: task.ActivityContext, n: int) -> int:
    return n * 2


def doubling(ctx: task.OrchestrationContext, n: int):
    ctx.set_custom_status({"n": n})
    return (yield ctx.call_activity(double, input=n))


def test_a_data_converter_is_used_by_worker_and_client(durable_sidecar):
    converter = EnvelopeConverter()
    w = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address, data_converter=converter)
    w.add_orchestrator(doubling)
    w.add_activity(double)
    with w, client.TaskHubGrpcClient(host_address=durable_sidecar.address, data_converter=converter) as c:
        w.start()
        iid = c.schedule_new_orchestration(doubling, input=21)
        state = c.wait_for_orchestration_completion(iid, timeout=10)
    assert state.serialized_input == '{"v": 21}' and state.serialized_output == '{"v": 42}'
    assert state.get_output() == 42 and state.get_custom_status() == {"n": 21}


_running = 0
_peak = 0
_gate = threading.Lock()


def busy(ctx: task.ActivityContext, i: int) -> int:
    global _running, _peak
    with _gate:
        _running += 1
        _peak = max(_peak, _running)
    threading.Event().wait(0.02)  # hold the slot briefly so overlapping work items would be seen
    with _gate:
        _running -= 1
    return i


def fan_out(ctx: task.OrchestrationContext, n: int):
    return sum((yield task.when_all([ctx.call_activity(busy, input=i) for i in range(n)])))


def test_concurrency_options_bound_parallel_activities(durable_sidecar, durable_client):
    global _peak
    _peak = 0
    options = worker.ConcurrencyOptions(maximum_concurrent_activity_work_items=1, maximum_thread_pool_workers=4)
    w = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address, concurrency_options=options)
    w.add_orchestrator(fan_out)
    w.add_activity(busy)
    with w:
        w.start()
        iid = durable_client.schedule_new_orchestration(fan_out, input=5)
        assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == 10
    assert _peak == 1


def test_work_item_filters_are_built_from_the_registry_or_given():
    w = worker.TaskHubGrpcWorker(host_address="localhost:1")
    w.add_orchestrator(fan_out)
    w.add_activity(busy)
    w.use_versioning(worker.VersioningOptions(version="2.0", match_strategy=worker.VersionMatchStrategy.STRICT))
    assert w._effective_filters() is None  # no filtering unless asked for
    w.use_work_item_filters()
    assert w._effective_filters() == worker.WorkItemFilters(
        orchestrations=[worker.OrchestrationWorkItemFilter("fan_out", ["2.0"])],
        activities=[worker.ActivityWorkItemFilter("busy", ["2.0"])])
    explicit = worker.WorkItemFilters(activities=[worker.ActivityWorkItemFilter("busy")])
    w.use_work_item_filters(explicit)
    assert w._effective_filters() is explicit
    w.use_work_item_filters(None)
    assert w._effective_filters() is None
    assert worker.EntityWorkItemFilter("Counter").name == "counter"
