"""Issue 27, the engine's fidelity classes of sub-orchestration ids, recursive terminate and purge, and suspend or
resume of an ended instance, as differential tests: our SDK's worker and client over real gRPC, against the fake
and against durabletask-go v0.6.0 (the reference, skipped when its binary is not built:
``bash scripts/interop/install_durabletask_go.sh``). Where the two deliberately differ (docs/fidelity.md,
"Deliberate differences"), each peer's own behaviour is asserted.

- A sub-orchestration id held by an instance that has not FAILED (a completed child of an earlier continue-as-new
  generation, a grandchild of an earlier retry attempt, a running instance): durabletask-go fails the parent's
  work item and retries it forever (the parent hangs, the log says "orchestration instance already exists"); the
  fake fails the parent's task at once with SubOrchestrationIdInUseError details naming the id. A FAILED holder is
  replaced on both.
- Recursive terminate and purge reach the children named in the current execution's history only.
- A recursive purge whose tree still holds a live instance is refused whole and deletes nothing; a recursive
  terminate of an ended instance still reaches its live children; a child purged before is skipped by the fake
  (durabletask-go refuses the purge).
- Suspend or resume of a completed instance succeeds and changes nothing (durabletask-go moves its last-updated
  time when it drops the events).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar

pytestmark = pytest.mark.timeout(90)

WAIT = 15.0
ID_IN_USE_ON_GO = "orchestration instance already exists"


@dataclass
class Peer:
    """One sidecar under test: its name, address and (durabletask-go) the text of its log so far."""

    name: str
    address: str
    log: Callable[[], str]

    @property
    def is_go(self) -> bool:
        return self.name == "durabletask-go"


def _go_peer(workdir: Path) -> Iterator[Peer]:
    try:
        from tests.interop.sidecars import go_binary_path, start_durabletask_go
    except ImportError:  # pragma: no cover - run from the repository root, as the Makefile does
        pytest.skip("tests.interop is not importable from here")
    binary = go_binary_path()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.skip(f"durabletask-go not found at {binary}; run: bash scripts/interop/install_durabletask_go.sh")
    sidecar = start_durabletask_go(workdir, binary)
    try:
        yield Peer("durabletask-go", sidecar.address, lambda: sidecar.log_path.read_text(errors="replace"))
    finally:
        sidecar.stop()


@pytest.fixture(params=["fake", "durabletask-go"])
def peer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Peer]:
    if request.param == "fake":
        with FakeSidecar(clock="real") as fake:
            yield Peer("fake", fake.address, lambda: "")
    else:
        yield from _go_peer(tmp_path)


def _until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait until ``condition()`` holds (checked every 20 ms, bounded by ``timeout``)."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _retried_forever_on_go(peer: Peer) -> None:
    """durabletask-go failed a work item because a sub-orchestration id was in use, and failed it again on retry."""
    _until(lambda: peer.log().count(ID_IN_USE_ON_GO) >= 2, f"'{ID_IN_USE_ON_GO}' twice in the durabletask-go log")


# -- orchestrations ----------------------------------------------------------------------------------------


def echo(ctx: task.OrchestrationContext, value: Any) -> Any:
    return value


def waiter(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    yield ctx.wait_for_external_event("never")


def failing(ctx: task.OrchestrationContext, _: Any) -> None:
    raise ValueError("this instance fails")


def generations(ctx: task.OrchestrationContext, generation: int):  # type: ignore[no-untyped-def]
    """Each generation calls a child with the SDK's generated id (``<id>:0001`` every time)."""
    result = yield ctx.call_sub_orchestrator(echo, input=generation)
    if generation == 0:
        ctx.continue_as_new(1)
        return None
    return result


attempts: list[int] = []
attempts_lock = threading.Lock()


def count_attempt(ctx: task.ActivityContext, _: Any) -> int:
    with attempts_lock:
        attempts.append(1)
        return len(attempts)


def flaky_child(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    """Calls a grandchild (generated id), then fails on its first attempt."""
    yield ctx.call_sub_orchestrator(echo, input="grandchild")
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
        return [error.details.error_type, error.details.message]
    return result


def child_per_generation(ctx: task.OrchestrationContext, generation: int):  # type: ignore[no-untyped-def]
    """Generation 0 calls echo as 'gen-child-0' and continues as new; generation 1 calls 'gen-child-1'."""
    yield ctx.call_sub_orchestrator(echo, input=generation, instance_id=f"gen-child-{generation}")
    if generation == 0:
        ctx.continue_as_new(1)
        return None
    return "done"


def live_child_per_generation(ctx: task.OrchestrationContext, generation: int):  # type: ignore[no-untyped-def]
    """Each generation starts a waiter 'live-child-N' (not awaited), waits for 'next'; generation 0 then
    continues as new."""
    ctx.call_sub_orchestrator(waiter, instance_id=f"live-child-{generation}")
    yield ctx.wait_for_external_event("next")
    if generation == 0:
        ctx.continue_as_new(1)
    return None


def root_of_a_waiter(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    yield ctx.call_sub_orchestrator(waiter, instance_id="waiting-child")


ORCHESTRATORS = (echo, waiter, failing, generations, flaky_child, retrying_parent, call_with_id,
                 child_per_generation, live_child_per_generation, root_of_a_waiter)


@pytest.fixture
def sdk(peer: Peer) -> Iterator[client.TaskHubGrpcClient]:
    attempts.clear()
    w = worker.TaskHubGrpcWorker(host_address=peer.address)
    for orchestrator in ORCHESTRATORS:
        w.add_orchestrator(orchestrator)
    w.add_activity(count_attempt)
    w.start()
    c = client.TaskHubGrpcClient(host_address=peer.address)
    try:
        yield c
    finally:
        c.close()
        w.stop()


def _state(sdk: client.TaskHubGrpcClient, instance_id: str) -> client.OrchestrationState:
    state = sdk.get_orchestration_state(instance_id)
    assert state is not None, f"instance '{instance_id}' does not exist"
    return state


def _status(sdk: client.TaskHubGrpcClient, instance_id: str) -> client.OrchestrationStatus | None:
    state = sdk.get_orchestration_state(instance_id)
    return None if state is None else state.runtime_status


def _done(sdk: client.TaskHubGrpcClient, instance_id: str) -> client.OrchestrationState:
    state = sdk.wait_for_orchestration_completion(instance_id, timeout=WAIT)
    assert state is not None, f"instance '{instance_id}' does not exist"
    return state


def _explains_the_reused_id(message: str, child_id: str, holder_status: str) -> None:
    assert f"'{child_id}'" in message and holder_status in message, message
    assert "durabletask-go" in message and "forever" in message and "distinct instance id" in message, message


# -- 1. sub-orchestration ids in use -------------------------------------------------------------------------


def test_a_later_generation_reusing_its_childs_generated_id_fails_on_the_fake_and_hangs_on_go(
    peer: Peer, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(generations, input=0, instance_id="gens")
    if peer.is_go:
        _retried_forever_on_go(peer)
        assert _status(sdk, "gens") == client.OrchestrationStatus.RUNNING
    else:
        state = _done(sdk, "gens")
        assert state.runtime_status == client.OrchestrationStatus.FAILED
        assert state.failure_details is not None
        _explains_the_reused_id(state.failure_details.message, "gens:0001", "COMPLETED")
    child = _state(sdk, "gens:0001")  # the first generation's child: neither replaced nor run again
    assert (child.runtime_status, child.serialized_output) == (client.OrchestrationStatus.COMPLETED, "0")


def test_a_retried_child_reusing_its_grandchilds_generated_id_fails_on_the_fake_and_hangs_on_go(
    peer: Peer, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(retrying_parent, instance_id="retries")
    # the first attempt failed, so the retry replaced 'retries:0001' (as both do for a FAILED instance) ...
    _until(lambda: len(attempts) >= 1, "the first attempt of the child")
    if peer.is_go:
        _retried_forever_on_go(peer)  # ... whose grandchild id is in use: the retried child's work item fails
        assert _status(sdk, "retries") == client.OrchestrationStatus.RUNNING
    else:
        state = _done(sdk, "retries")
        assert state.runtime_status == client.OrchestrationStatus.FAILED
        child = _state(sdk, "retries:0001")
        assert child.runtime_status == client.OrchestrationStatus.FAILED and child.failure_details is not None
        _explains_the_reused_id(child.failure_details.message, "retries:0001:0001", "COMPLETED")
    assert attempts == [1]  # the second attempt never got past its grandchild
    grandchild = _state(sdk, "retries:0001:0001")
    assert (grandchild.runtime_status, grandchild.serialized_output) == (
        client.OrchestrationStatus.COMPLETED, '"grandchild"')


def test_a_sub_orchestration_id_held_by_a_running_instance_fails_on_the_fake_and_hangs_on_go(
    peer: Peer, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(waiter, instance_id="busy")
    sdk.wait_for_orchestration_start("busy", timeout=WAIT)
    sdk.schedule_new_orchestration(call_with_id, input="busy", instance_id="caller")
    if peer.is_go:
        _retried_forever_on_go(peer)
        assert _status(sdk, "caller") == client.OrchestrationStatus.PENDING  # its first work item never commits
    else:
        state = _done(sdk, "caller")
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED
        error_type, message = state.get_output()
        assert error_type == "SubOrchestrationIdInUseError"
        _explains_the_reused_id(message, "busy", "RUNNING")
    busy = _state(sdk, "busy")
    assert (busy.name, busy.runtime_status) == ("waiter", client.OrchestrationStatus.RUNNING)
    sdk.terminate_orchestration("busy")


def test_a_sub_orchestration_id_held_by_a_failed_instance_replaces_it_on_both(sdk: client.TaskHubGrpcClient) -> None:
    sdk.schedule_new_orchestration(failing, instance_id="broken")
    assert _done(sdk, "broken").runtime_status == client.OrchestrationStatus.FAILED
    sdk.schedule_new_orchestration(call_with_id, input="broken", instance_id="replacer")
    assert _done(sdk, "replacer").serialized_output == '"from the parent"'
    broken = _state(sdk, "broken")
    assert (broken.name, broken.runtime_status) == ("echo", client.OrchestrationStatus.COMPLETED)


# -- 3. recursion follows the current history -----------------------------------------------------------------


def test_a_recursive_purge_after_continue_as_new_purges_only_the_current_generations_children(
    sdk: client.TaskHubGrpcClient,
) -> None:
    sdk.schedule_new_orchestration(child_per_generation, input=0, instance_id="gen-parent")
    assert _done(sdk, "gen-parent").serialized_output == '"done"'
    assert sdk.purge_orchestration("gen-parent", recursive=True).deleted_instance_count == 2
    assert _status(sdk, "gen-parent") is None and _status(sdk, "gen-child-1") is None
    assert _status(sdk, "gen-child-0") == client.OrchestrationStatus.COMPLETED


def test_a_recursive_terminate_after_continue_as_new_reaches_only_the_current_generations_children(
    sdk: client.TaskHubGrpcClient,
) -> None:
    sdk.schedule_new_orchestration(live_child_per_generation, input=0, instance_id="live-parent")
    _until(lambda: _status(sdk, "live-child-0") == client.OrchestrationStatus.RUNNING, "the first child to run")
    sdk.raise_orchestration_event("live-parent", "next")
    _until(lambda: _status(sdk, "live-child-1") == client.OrchestrationStatus.RUNNING, "the second child to run")
    sdk.terminate_orchestration("live-parent", recursive=True)
    assert _done(sdk, "live-parent").runtime_status == client.OrchestrationStatus.TERMINATED
    assert _done(sdk, "live-child-1").runtime_status == client.OrchestrationStatus.TERMINATED
    assert _status(sdk, "live-child-0") == client.OrchestrationStatus.RUNNING
    sdk.terminate_orchestration("live-child-0")


# -- 4. a recursive purge with a live descendant --------------------------------------------------------------


def test_a_recursive_purge_with_a_running_child_is_refused_whole_until_a_recursive_terminate_ends_it(
    peer: Peer, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(root_of_a_waiter, instance_id="purge-root")
    _until(lambda: _status(sdk, "waiting-child") == client.OrchestrationStatus.RUNNING, "the child to run")
    sdk.terminate_orchestration("purge-root", recursive=False)
    assert _done(sdk, "purge-root").runtime_status == client.OrchestrationStatus.TERMINATED
    with pytest.raises(grpc.RpcError) as refused:
        sdk.purge_orchestration("purge-root", recursive=True)
    if peer.is_go:
        assert refused.value.code() == grpc.StatusCode.UNKNOWN
        assert refused.value.details() == ("failed to purge orchestration state: failed to purge sub-orchestration: "
                                           "orchestration has not yet completed")
    else:
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "'waiting-child'" in (refused.value.details() or "")
        assert "nothing was purged" in (refused.value.details() or "")
    assert _status(sdk, "purge-root") == client.OrchestrationStatus.TERMINATED
    assert _status(sdk, "waiting-child") == client.OrchestrationStatus.RUNNING
    sdk.terminate_orchestration("purge-root", recursive=True)  # the root has ended; its child is reached all the same
    assert _done(sdk, "waiting-child").runtime_status == client.OrchestrationStatus.TERMINATED
    assert sdk.purge_orchestration("purge-root", recursive=True).deleted_instance_count == 2


def test_a_recursive_purge_with_a_child_purged_before_fails_on_go_and_skips_it_on_the_fake(
    peer: Peer, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(call_with_id, input="purged-kid", instance_id="purged-parent")
    assert _done(sdk, "purged-parent").serialized_output == '"from the parent"'
    assert sdk.purge_orchestration("purged-kid", recursive=False).deleted_instance_count == 1
    if peer.is_go:
        with pytest.raises(grpc.RpcError) as refused:
            sdk.purge_orchestration("purged-parent", recursive=True)
        assert refused.value.code() == grpc.StatusCode.UNKNOWN
        assert refused.value.details() == ("failed to purge orchestration state: failed to purge sub-orchestration: "
                                           "no such instance exists")
        assert _status(sdk, "purged-parent") == client.OrchestrationStatus.COMPLETED
    else:  # idempotent purge: what is already gone is skipped
        assert sdk.purge_orchestration("purged-parent", recursive=True).deleted_instance_count == 1
        assert _status(sdk, "purged-parent") is None


# -- 6. suspend and resume of an ended instance ---------------------------------------------------------------


def test_suspend_and_resume_of_a_completed_instance_succeed_and_change_nothing(
    peer: Peer, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(echo, input="out", instance_id="ended")
    before = _done(sdk, "ended")
    sdk.suspend_orchestration("ended", reason="too late")
    sdk.resume_orchestration("ended", reason="too late")
    if peer.is_go:  # the events are stored and dropped when the sidecar processes them
        _until(lambda: peer.log().count("orchestration already completed") >= 1, "durabletask-go to drop the events")
    after = _state(sdk, "ended")
    assert (after.runtime_status, after.serialized_output) == (client.OrchestrationStatus.COMPLETED, '"out"')
    if peer.is_go:  # completing the dropped work item stamps the instance's last-updated time
        assert after.last_updated_at >= before.last_updated_at
    else:  # an ended instance's state is final, its last-updated time too
        assert after.last_updated_at == before.last_updated_at
