"""Issue 27's sub-orchestration id, recursive purge/terminate and suspend-of-ended scenarios, run with whatever
``durabletask`` SDK this interpreter imports (meant for the published 1.12.0 in ``.interop/published-venv``).

It starts that SDK's worker and client against the sidecar at ``--host``, runs every scenario and prints one
JSON object per scenario (``{"scenario": name, ...observations}``) on its own line. It asserts nothing itself:
``test_id_and_purge_parity.py`` compares the observations of durabletask-go and of the fake. A scenario that
hangs on a peer is observed as ``"hung": true`` after ``--hang-wait`` seconds without completion.

    python tests/interop/published_id_and_purge_scenarios.py --host 127.0.0.1:4001
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc

from durabletask import client, task, worker

WAIT = 15.0


def echo(ctx: task.OrchestrationContext, value: Any) -> Any:
    return value


def waiter(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    yield ctx.wait_for_external_event("never")


def failing(ctx: task.OrchestrationContext, _: Any) -> None:
    raise ValueError("this instance fails")


def generations(ctx: task.OrchestrationContext, generation: int):  # type: ignore[no-untyped-def]
    result = yield ctx.call_sub_orchestrator(echo, input=generation)  # '<id>:0001' in every generation
    if generation == 0:
        ctx.continue_as_new(1)
        return None
    return result


_attempts: list[int] = []
_attempts_lock = threading.Lock()


def count_attempt(ctx: task.ActivityContext, _: Any) -> int:
    with _attempts_lock:
        _attempts.append(1)
        return len(_attempts)


def flaky_child(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    yield ctx.call_sub_orchestrator(echo, input="grandchild")  # '<child id>:0001' in every attempt
    attempt = yield ctx.call_activity(count_attempt)
    if attempt == 1:
        raise ValueError("first attempt fails")
    return attempt


def retrying_parent(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    policy = task.RetryPolicy(first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=2)
    result = yield ctx.call_sub_orchestrator(flaky_child, retry_policy=policy)
    return result


def call_with_id(ctx: task.OrchestrationContext, child_id: str):  # type: ignore[no-untyped-def]
    try:
        result = yield ctx.call_sub_orchestrator(echo, input="from the parent", instance_id=child_id)
    except task.TaskFailedError as error:
        return ["failed", error.details.error_type]
    return result


def child_per_generation(ctx: task.OrchestrationContext, generation: int):  # type: ignore[no-untyped-def]
    yield ctx.call_sub_orchestrator(echo, input=generation, instance_id=f"gen-child-{generation}")
    if generation == 0:
        ctx.continue_as_new(1)
        return None
    return "done"


def root_of_a_waiter(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    yield ctx.call_sub_orchestrator(waiter, instance_id="waiting-child")


ORCHESTRATORS = (echo, waiter, failing, generations, flaky_child, retrying_parent, call_with_id,
                 child_per_generation, root_of_a_waiter)


def _until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        pause.wait(0.02)
    return False


class Observer:
    """Reads instances through the published client, as plain JSON values."""

    def __init__(self, c: client.TaskHubGrpcClient, hang_wait: float) -> None:
        self.c = c
        self.hang_wait = hang_wait

    def status(self, instance_id: str) -> str | None:
        state = self.c.get_orchestration_state(instance_id)
        return None if state is None else state.runtime_status.name

    def brief(self, instance_id: str) -> dict[str, Any] | None:
        state = self.c.get_orchestration_state(instance_id)
        if state is None:
            return None
        return {"name": state.name, "status": state.runtime_status.name, "output": state.serialized_output}

    def outcome(self, instance_id: str, timeout: float | None = None) -> dict[str, Any]:
        """How the instance ended, or ``hung`` with its status when it did not end within ``timeout`` s (default
        ``hang_wait``)."""
        try:
            state = self.c.wait_for_orchestration_completion(instance_id, timeout=timeout or self.hang_wait)
        except TimeoutError:
            return {"hung": True, "status": self.status(instance_id)}
        except grpc.RpcError as error:  # durabletask-go's own copy of the deadline can win (CANCELLED)
            if error.code() != grpc.StatusCode.CANCELLED:
                raise
            return {"hung": True, "status": self.status(instance_id)}
        assert state is not None
        failure = state.failure_details
        return {"hung": False, "status": state.runtime_status.name, "output": state.serialized_output,
                "failure_mentions_go": failure is not None and "durabletask-go" in failure.message}

    def rpc(self, call: Callable[[], Any]) -> dict[str, Any]:
        try:
            result = call()
        except grpc.RpcError as error:
            return {"code": error.code().name, "details": error.details()}
        deleted = getattr(result, "deleted_instance_count", None)
        return {"code": "OK", "deleted": deleted}


def run(host: str, hang_wait: float) -> dict[str, dict[str, Any]]:
    w = worker.TaskHubGrpcWorker(host_address=host)
    for orchestrator in ORCHESTRATORS:
        w.add_orchestrator(orchestrator)
    w.add_activity(count_attempt)
    w.start()
    c = client.TaskHubGrpcClient(host_address=host)
    seen = Observer(c, hang_wait)
    records: dict[str, dict[str, Any]] = {}
    try:
        c.schedule_new_orchestration(waiter, instance_id="busy")
        c.schedule_new_orchestration(failing, instance_id="broken")
        c.wait_for_orchestration_start("busy", timeout=WAIT)
        seen.outcome("broken")
        # the id scenarios run side by side, so the ones that hang on durabletask-go wait out one hang_wait
        c.schedule_new_orchestration(generations, input=0, instance_id="gens")
        c.schedule_new_orchestration(retrying_parent, instance_id="retries")
        c.schedule_new_orchestration(call_with_id, input="busy", instance_id="caller")
        c.schedule_new_orchestration(call_with_id, input="broken", instance_id="replacer")
        records["child_id_held_by_a_failed_instance"] = {
            "parent": seen.outcome("replacer", WAIT), "holder": seen.brief("broken")}
        records["reused_generated_id_after_continue_as_new"] = {
            "parent": seen.outcome("gens"), "child": seen.brief("gens:0001")}
        records["retried_child_reusing_its_grandchild_id"] = {
            "parent": seen.outcome("retries", 0.1), "child_status": seen.status("retries:0001"),
            "grandchild": seen.brief("retries:0001:0001"), "attempts": len(_attempts)}
        records["child_id_held_by_a_running_instance"] = {
            "parent": seen.outcome("caller", 0.1), "holder": seen.brief("busy")}
        c.terminate_orchestration("busy")

        c.schedule_new_orchestration(child_per_generation, input=0, instance_id="gen-parent")
        records["recursive_purge_after_continue_as_new"] = {
            "parent": seen.outcome("gen-parent"),
            "purge": seen.rpc(lambda: c.purge_orchestration("gen-parent", recursive=True)),
            "left": {i: seen.status(i) for i in ("gen-parent", "gen-child-0", "gen-child-1")}}

        c.schedule_new_orchestration(root_of_a_waiter, instance_id="purge-root")
        _until(lambda: seen.status("waiting-child") == "RUNNING")
        c.terminate_orchestration("purge-root", recursive=False)
        seen.outcome("purge-root")
        refused = seen.rpc(lambda: c.purge_orchestration("purge-root", recursive=True))
        left = {i: seen.status(i) for i in ("purge-root", "waiting-child")}
        c.terminate_orchestration("purge-root", recursive=True)
        records["recursive_purge_with_a_running_child"] = {
            "refused": refused, "left": left, "child_after_recursive_terminate": seen.outcome("waiting-child"),
            "purge_after": seen.rpc(lambda: c.purge_orchestration("purge-root", recursive=True))}

        c.schedule_new_orchestration(echo, input="out", instance_id="ended")
        seen.outcome("ended")
        records["suspend_and_resume_of_a_completed_instance"] = {
            "suspend": seen.rpc(lambda: c.suspend_orchestration("ended", reason="late")),
            "resume": seen.rpc(lambda: c.resume_orchestration("ended", reason="late")),
            "after": seen.brief("ended")}
    finally:
        c.close()
        w.stop()
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="sidecar address HOST:PORT")
    parser.add_argument("--hang-wait", type=float, default=4.0, help="seconds before a parent counts as hung")
    args = parser.parse_args(argv)
    logging.getLogger("durabletask-worker").setLevel(logging.CRITICAL)
    logging.getLogger("durabletask-client").setLevel(logging.WARNING)
    for name, record in run(args.host, args.hang_wait).items():
        print(json.dumps({"scenario": name, **record}, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
