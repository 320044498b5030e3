"""Scenarios run by the PUBLISHED durabletask SDK against a sidecar at a given address.

Run with the interpreter of a venv holding the published package, e.g.::

    /tmp/pubvenv/bin/python tests/e2e/fake/published_sdk_scenarios.py 127.0.0.1:4001

It exercises the common patterns and prints one line per scenario (``ok NAME`` or ``FAIL NAME: why``);
the exit code is the number of failed scenarios. The sidecar must use the ``auto`` or ``real`` clock
(the timer scenario waits for a short timer).
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from datetime import timedelta

from durabletask import client, task, worker


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def double(ctx: task.ActivityContext, value: int) -> int:
    return value * 2


def fails(ctx: task.ActivityContext, _: object) -> None:
    raise ValueError("boom")


def sequence(ctx: task.OrchestrationContext, _: object):
    results = []
    for city in ("Tokyo", "Seattle", "London"):
        results.append((yield ctx.call_activity(hello, input=city)))
    return results


def fan_out(ctx: task.OrchestrationContext, count: int):
    values = yield task.when_all([ctx.call_activity(double, input=i) for i in range(count)])
    return sum(values)


def approval(ctx: task.OrchestrationContext, _: object):
    event = ctx.wait_for_external_event("approval")
    timeout = ctx.create_timer(timedelta(seconds=1))
    winner = yield task.when_any([event, timeout])
    return "timeout" if winner == timeout else f"approved by {event.get_result()}"


def child(ctx: task.OrchestrationContext, value: int):
    return (yield ctx.call_activity(double, input=value))


def parent(ctx: task.OrchestrationContext, value: int):
    return (yield ctx.call_sub_orchestrator(child, input=value)) + 1


def counter(ctx: task.OrchestrationContext, value: int):
    if value < 3:
        ctx.continue_as_new(value + 1)
        return None
    return value


def failing(ctx: task.OrchestrationContext, _: object):
    yield ctx.call_activity(fails)


def waits_forever(ctx: task.OrchestrationContext, _: object):
    yield ctx.wait_for_external_event("never")


def gated(ctx: task.OrchestrationContext, _: object):
    value = yield ctx.wait_for_external_event("go")
    return value


def run(address: str) -> int:
    failures = 0
    with worker.TaskHubGrpcWorker(host_address=address) as w:
        for fn in (sequence, fan_out, approval, child, parent, counter, failing, waits_forever, gated):
            w.add_orchestrator(fn)
        for fn in (hello, double, fails):
            w.add_activity(fn)
        w.start()
        c = client.TaskHubGrpcClient(host_address=address)

        def check(name: str, scenario: Callable[[], None]) -> None:
            nonlocal failures
            started = time.perf_counter()
            try:
                scenario()
            except Exception as error:
                failures += 1
                print(f"FAIL {name}: {error!r}", flush=True)
                traceback.print_exc()
            else:
                print(f"ok {name} ({(time.perf_counter() - started) * 1000:.0f} ms)", flush=True)

        def expect(orchestrator: Callable, given: object, expected: object, status: str = "COMPLETED") -> str:
            instance_id = c.schedule_new_orchestration(orchestrator, input=given)
            state = c.wait_for_orchestration_completion(instance_id, timeout=30)
            assert state is not None, "no state"
            assert state.runtime_status.name == status, f"{state.runtime_status.name}: {state.failure_details}"
            if status == "COMPLETED":
                assert state.serialized_output is not None
                import json

                assert json.loads(state.serialized_output) == expected, state.serialized_output
            return instance_id

        check("chain", lambda: expect(sequence, None, ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]))
        check("fan_out", lambda: expect(fan_out, 20, sum(2 * i for i in range(20))))
        check("timer_timeout", lambda: expect(approval, None, "timeout"))

        def approved() -> None:
            instance_id = c.schedule_new_orchestration(approval)
            c.wait_for_orchestration_start(instance_id, timeout=30)
            c.raise_orchestration_event(instance_id, "approval", data="alice")
            state = c.wait_for_orchestration_completion(instance_id, timeout=30)
            assert state is not None and state.serialized_output == '"approved by alice"', state

        check("event_beats_timer", approved)
        check("sub_orchestration", lambda: expect(parent, 20, 41))
        check("continue_as_new", lambda: expect(counter, 0, 3))
        check("activity_failure", lambda: expect(failing, None, None, status="FAILED"))

        def terminate() -> None:
            instance_id = c.schedule_new_orchestration(waits_forever)
            c.wait_for_orchestration_start(instance_id, timeout=30)
            c.terminate_orchestration(instance_id, output="stopped")
            state = c.wait_for_orchestration_completion(instance_id, timeout=30)
            assert state is not None and state.runtime_status.name == "TERMINATED", state

        check("terminate", terminate)

        def suspend_resume() -> None:
            instance_id = c.schedule_new_orchestration(gated)
            c.wait_for_orchestration_start(instance_id, timeout=30)
            c.suspend_orchestration(instance_id)
            deadline = time.monotonic() + 10
            while c.get_orchestration_state(instance_id).runtime_status.name != "SUSPENDED":  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "never became SUSPENDED"
                time.sleep(0.01)
            c.raise_orchestration_event(instance_id, "go", data=7)
            c.resume_orchestration(instance_id)
            state = c.wait_for_orchestration_completion(instance_id, timeout=30)
            assert state is not None and state.serialized_output == "7", state

        check("suspend_resume", suspend_resume)

        def purge() -> None:
            instance_id = expect(sequence, None, ["Hello Tokyo!", "Hello Seattle!", "Hello London!"])
            result = c.purge_orchestration(instance_id)
            assert result.deleted_instance_count == 1, result
            assert c.get_orchestration_state(instance_id) is None

        check("purge", purge)
        c.close()
        w.stop()
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: published_sdk_scenarios.py HOST:PORT", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1]))
