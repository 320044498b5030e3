"""Retry policies: a flaky payment activity retried with exponential back-off on durable timers.

``charge_card`` fails transiently a given number of times before it succeeds. The orchestration calls it
with a ``RetryPolicy``; the waits between attempts are durable timers (on the fake's auto clock they cost
no wall time). When every attempt fails, the orchestration gets a ``TaskFailedError`` it can handle.

Run it:  python examples/retry_policies.py                      (embedded fake sidecar)
         python examples/retry_policies.py --host localhost:4001 (a real sidecar: about 7 s of back-off)
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from _runner import ExampleRun, describe_elapsed, run_example

from durabletask import task, worker

PAYMENT_RETRY = task.RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    max_number_of_attempts=4,
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=30),
)


class PaymentGatewayUnavailable(Exception):
    """A transient error of the (simulated) payment gateway."""


class _FlakyGateway:
    """The demo's payment gateway: each payment id fails a chosen number of times, then succeeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures_left: dict[str, int] = {}

    def plan_failures(self, payment_id: str, times: int) -> None:
        with self._lock:
            self._failures_left[payment_id] = times

    def charge(self, payment_id: str) -> None:
        with self._lock:
            left = self._failures_left.get(payment_id, 0)
            self._failures_left[payment_id] = max(0, left - 1)
        if left > 0:
            raise PaymentGatewayUnavailable(f"gateway timed out charging {payment_id}")


GATEWAY = _FlakyGateway()


def charge_card(ctx: task.ActivityContext, payment: dict[str, Any]) -> str:
    """Activity: charge the card; may raise a transient error."""
    print(f"    [activity] charging {payment['id']} (${payment['amount']:.2f})")
    GATEWAY.charge(payment["id"])
    return f"receipt-{payment['id']}"


def checkout(ctx: task.OrchestrationContext, payment: dict[str, Any]):
    """Orchestrator: charge with retries; report the receipt or a clean failure."""
    try:
        receipt = yield ctx.call_activity(charge_card, input=payment, retry_policy=PAYMENT_RETRY)
    except task.TaskFailedError as error:
        return {"paid": False, "reason": error.details.message}
    return {"paid": True, "receipt": receipt}


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's orchestrator and activity to a worker."""
    w.add_orchestrator(checkout)
    w.add_activity(charge_card)


def _run_checkout(run: ExampleRun, payment_id: str, failures: int) -> None:
    GATEWAY.plan_failures(payment_id, failures)
    start = run.now()
    instance_id = run.client.schedule_new_orchestration(checkout, input={"id": payment_id, "amount": 42.0})
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None
    state.raise_if_failed()
    print(f"    -> {state.get_output()} after {describe_elapsed(start, run.now())} of sidecar time")


def scenario(run: ExampleRun) -> None:
    """One payment that recovers after two failures, one that never does."""
    print(f"Retry policy: {PAYMENT_RETRY.max_number_of_attempts} attempts, first retry after "
          f"{PAYMENT_RETRY.first_retry_interval}, back-off x{PAYMENT_RETRY.backoff_coefficient}.")
    print("\n1. The gateway fails twice, then recovers:")
    _run_checkout(run, "pay-1", failures=2)
    print("\n2. The gateway is down for good:")
    _run_checkout(run, "pay-2", failures=100)


def main(argv: list[str] | None = None) -> int:
    return run_example("Retry policies: transient failures retried on durable timers.", register, scenario,
                       clock="auto", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
