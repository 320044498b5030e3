"""Run inside the published-SDK venv: the published durabletask, our SDK's bindings and the fake in one process.

Prints one JSON line with what happened; the calling test checks it. Arguments: the path of our SDK's generated
bindings (durabletask/internal/orchestrator_service_pb2.py).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import timedelta

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar

spec = importlib.util.spec_from_file_location("our_sdk_bindings", sys.argv[1])
assert spec is not None and spec.loader is not None
our_bindings = importlib.util.module_from_spec(spec)
spec.loader.exec_module(our_bindings)


def charge(ctx: task.ActivityContext, amount: int) -> str:
    return f"charged {amount}"


def pay_after_a_day(ctx: task.OrchestrationContext, amount: int):  # type: ignore[no-untyped-def]
    yield ctx.create_timer(timedelta(hours=24))
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    return (yield ctx.call_activity(charge, input=amount, retry_policy=policy))


with FakeSidecar(clock="manual") as fake:
    fake.faults.fail_activity("charge", times=1)
    w = worker.TaskHubGrpcWorker(host_address=fake.address)
    w.add_orchestrator(pay_after_a_day)
    w.add_activity(charge)
    w.start()
    try:
        c = client.TaskHubGrpcClient(host_address=fake.address)
        instance_id = c.schedule_new_orchestration(pay_after_a_day, input=5)
        fake.wait_until_idle(timeout=10)
        fake.clock.advance(timedelta(hours=24))
        fake.wait_until_idle(timeout=10)
        fake.clock.advance(timedelta(seconds=1))  # the retry's back-off timer
        state = c.wait_for_orchestration_completion(instance_id, timeout=10)
    finally:
        w.stop()
    print(json.dumps({
        "sdk_module": worker.__file__,
        "our_bindings_message": our_bindings.OrchestrationInstance.DESCRIPTOR.full_name,
        "fake_message": type(fake.history(instance_id)[0]).DESCRIPTOR.full_name,
        "status": state.runtime_status.name if state else None,
        "output": state.serialized_output if state else None,
        "faults": [record.kind for record in fake.faults.log],
        "virtual_hours": (fake.clock.now() - fake.clock.start_time).total_seconds() / 3600,
    }))
