"""End-to-end over real gRPC: stopping a worker waits for in-flight work, and no longer than that."""

from __future__ import annotations

import threading
import time

from sdk_e2e_helpers import wait_until

from durabletask import task, worker

release = threading.Event()
blocked = threading.Event()


def blocker(ctx: task.ActivityContext, _) -> str:
    blocked.set()
    release.wait(10)
    return "released"


def calls_blocker(ctx: task.OrchestrationContext, _):
    return (yield ctx.call_activity(blocker))


def quick(ctx: task.OrchestrationContext, value):
    return value


def test_stop_returns_as_soon_as_in_flight_work_is_done_even_with_queued_work(durable_sidecar, durable_client,
                                                                                start_worker):
    release.clear()
    blocked.clear()
    one_thread = worker.ConcurrencyOptions(maximum_thread_pool_workers=1)
    w = start_worker([calls_blocker, quick], [blocker], concurrency_options=one_thread)
    durable_client.schedule_new_orchestration(calls_blocker)
    assert blocked.wait(10)
    for i in range(5):  # dispatched to the worker, queued behind the blocked activity on its only thread
        durable_client.schedule_new_orchestration(quick, input=i)
    wait_until(lambda: sum(c.orchestrators_in_flight for c in durable_sidecar.engine.connections()) == 5)

    stopper = threading.Thread(target=w.stop)
    stopper.start()
    wait_until(lambda: not durable_sidecar.engine.connections())  # stop() has cancelled the stream
    started = time.monotonic()
    release.set()  # the running activity finishes in milliseconds; the queued items are handed back
    stopper.join(10)
    assert not stopper.is_alive()
    assert time.monotonic() - started < 3.0  # well under the 5 s grace
