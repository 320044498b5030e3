"""End-to-end over real gRPC: retry policies, custom objects, custom status, client queries."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

import pytest

from durabletask import client, task

_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def flaky(ctx: task.ActivityContext, key: str) -> str:
    with _attempts_lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        attempt = _attempts[key]
    if attempt < 3:
        raise ConnectionError(f"attempt {attempt} failed")
    return f"ok after {attempt}"


RETRY = task.RetryPolicy(first_retry_interval=timedelta(minutes=1), max_number_of_attempts=3,
                         backoff_coefficient=2.0)


def retrying(ctx: task.OrchestrationContext, key: str):
    start = ctx.current_utc_datetime
    result = yield ctx.call_activity(flaky, input=key, retry_policy=RETRY)
    return [result, (ctx.current_utc_datetime - start).total_seconds()]


def test_activity_retries_wait_on_durable_timers(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[retrying], activities=[flaky])
    iid = durable_client.schedule_new_orchestration(retrying, input="activity-retry")
    result, waited = durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output()
    assert result == "ok after 3"
    assert waited >= 180  # 1 min + 2 min of virtual back-off


def retrying_parent(ctx, key):
    return (yield ctx.call_sub_orchestrator(retrying_child, input=key, retry_policy=RETRY))


def retrying_child(ctx, key):
    return (yield ctx.call_activity(flaky, input=key))


def test_sub_orchestration_retries(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[retrying_parent, retrying_child], activities=[flaky])
    iid = durable_client.schedule_new_orchestration(retrying_parent, input="sub-retry")
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == "ok after 3"


def always_fails(ctx, _):
    raise ConnectionError("permanently down")


def gives_up(ctx, _):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=2)
    yield ctx.call_activity(always_fails, retry_policy=policy)


def test_retries_exhausted_fail_the_orchestration(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[gives_up], activities=[always_fails])
    iid = durable_client.schedule_new_orchestration(gives_up)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert "permanently down" in state.failure_details.message
    with pytest.raises(client.OrchestrationFailedError):
        state.raise_if_failed()


@dataclass
class Address:
    city: str
    zip: str


@dataclass
class Customer:
    name: str
    address: Address
    tags: list[str]


class Point(NamedTuple):
    x: int
    y: int


class Plain:
    def __init__(self, label: str, points: list[Point]):
        self.label = label
        self.points = points


def describe(ctx, customer: Customer) -> dict:
    assert isinstance(customer, Customer) and isinstance(customer.address, Address)
    return {"who": customer.name, "where": customer.address, "shape": Plain("tri", [Point(0, 0), Point(1, 2)])}


def objects(ctx: task.OrchestrationContext, customer: Customer):
    ctx.set_custom_status({"stage": "describing", "point": Point(3, 4)})
    described = yield ctx.call_activity(describe, input=customer)
    extra = yield ctx.wait_for_external_event("extra", data_type=Point)  # typed: rebuilt as a Point
    # untyped values arrive as plain JSON objects (dicts that also allow attribute access); named tuples are
    # written as objects of their fields
    return {"city": described["where"]["city"], "label": described.shape.label,
            "y": described["shape"]["points"][1].y, "extra": [extra.x, extra.y], "customer": customer}


def test_custom_objects_round_trip_everywhere(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[objects], activities=[describe])
    customer = Customer("Ada", Address("Paris", "75001"), ["vip"])
    iid = durable_client.schedule_new_orchestration(objects, input=customer)
    durable_client.wait_for_orchestration_start(iid, timeout=10)
    durable_client.raise_orchestration_event(iid, "extra", data=Point(7, 8))
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    out = state.get_output()
    assert (out["city"], out["label"], out["y"], out["extra"]) == ("Paris", "tri", 2, [7, 8])
    assert out["customer"] == {"name": "Ada", "address": {"city": "Paris", "zip": "75001"}, "tags": ["vip"]}
    assert state.get_input(Customer) == customer
    assert state.serialized_custom_status == '{"stage": "describing", "point": {"x": 3, "y": 4}}'


def test_client_state_queries_and_errors(durable_client, durable_worker):
    assert durable_client.get_orchestration_state("does-not-exist") is None
    iid = durable_client.schedule_new_orchestration(objects, input=Customer("B", Address("X", "1"), []),
                                               tags={"team": "a"}, version="3.1")
    with pytest.raises(TimeoutError):
        durable_client.wait_for_orchestration_completion(iid, timeout=0.2)
    state = durable_client.get_orchestration_state(iid)
    assert state.runtime_status == client.OrchestrationStatus.PENDING
    assert state.version == "3.1"
    assert str(state.runtime_status) == "PENDING"
    durable_worker.start_with(orchestrators=[objects], activities=[describe])
    durable_client.terminate_orchestration(iid)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.TERMINATED
    ids = {s.instance_id for s in durable_client.get_all_orchestration_states()}
    assert iid in ids
    assert durable_client.purge_orchestration(iid).deleted_instance_count == 1
    assert durable_client.get_orchestration_state(iid) is None
