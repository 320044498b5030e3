"""Issue 25, leases of long activities in the engine alone: an activity whose lease ran out is handed out again,
and the first result of any of its dispatches is accepted (durabletask-go's rule); every later one is refused."""

from __future__ import annotations

from fake_engine_helpers import Harness, kinds, schedule_task

from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb


def _scheduled(h: Harness) -> None:
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "slow"))


def test_the_late_result_of_an_outlived_dispatch_is_accepted_and_the_new_dispatch_is_dropped() -> None:
    h = Harness(lease=5, frozen=True)
    _scheduled(h)
    first = h.next_activity()
    hung = h.connect()
    h.tick(5)
    again = h.next_activity(hung)  # handed out again, here to another stream
    assert again.token != first.token and hung.activities_in_flight == 1
    h.answer(first, result='"slow but first"')  # the first dispatch was alive after all
    assert hung.activities_in_flight == 0  # the copy no longer holds a slot
    delivered = h.next_orchestrator()
    assert kinds(delivered.new_events)[-1] == "taskCompleted"
    assert delivered.new_events[-1].taskCompleted.result.value == '"slow but first"'
    try:
        h.answer(again, result='"second"')
    except EngineError as refused:
        assert refused.code == ErrorCode.FAILED_PRECONDITION and "already used" in str(refused)
    else:
        raise AssertionError("the second result of the same activity was accepted")


def test_a_late_result_after_several_leases_is_accepted_and_the_queued_copy_is_not_handed_out() -> None:
    h = Harness(lease=5, frozen=True)
    _scheduled(h)
    first = h.next_activity()
    for _ in range(3):  # outlives three leases; each time it is handed out again (here: to the same stream)
        h.tick(5)
        h.next_activity()
    assert [r.kind for r in h.engine.faults.log] == ["lease_expired"] * 3
    h.answer(first, result='"done"')
    h.finish(
        h.next_orchestrator(),
        pb.OrchestratorAction(
            id=1,
            completeOrchestration=pb.CompleteOrchestrationAction(orchestrationStatus=pb.ORCHESTRATION_STATUS_COMPLETED),
        ),
    )
    assert h.status() == pb.ORCHESTRATION_STATUS_COMPLETED
    assert h.next() is None and h.engine.wait_until_idle(timeout=0)


def test_a_result_lost_by_a_fault_on_a_late_dispatch_does_not_queue_the_activity_twice() -> None:
    h = Harness(lease=5, frozen=True)
    _scheduled(h)
    first = h.next_activity()
    h.tick(5)
    again = h.next_activity()
    h.engine.faults.lose_activity_result("slow")
    h.answer(first, result='"lost"')  # lost: the copy in flight is still the activity's dispatch
    assert h.next() is None
    h.answer(again, result='"kept"')
    assert h.next_orchestrator().new_events[-1].taskCompleted.result.value == '"kept"'
