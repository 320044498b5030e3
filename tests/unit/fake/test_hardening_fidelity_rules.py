"""Issue 27, the engine's first fidelity classes alone (durabletask-go v0.6.0 is the reference; the differential
tests over gRPC are tests/e2e/fake/test_hardening_fidelity.py)."""

from __future__ import annotations

from fake_engine_helpers import Harness, kinds, sub_orchestration

from durabletask_testing.protocol import orchestrator_service_pb2 as pb


def test_a_terminated_child_fails_its_parent_with_no_failure_details() -> None:
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(0, "orch", instance_id="child"))
    h.engine.terminate(pb.TerminateRequest(instanceId="child"))
    child = h.next_orchestrator()
    assert kinds(child.new_events)[-1] == "executionTerminated"
    terminated = pb.CompleteOrchestrationAction(orchestrationStatus=pb.ORCHESTRATION_STATUS_TERMINATED)
    h.finish(child, pb.OrchestratorAction(id=1, completeOrchestration=terminated))
    notice = h.next_orchestrator().new_events[-1]
    assert notice.HasField("subOrchestrationInstanceFailed")
    assert notice.subOrchestrationInstanceFailed.taskScheduledId == 0
    assert not notice.subOrchestrationInstanceFailed.HasField("failureDetails")


def test_a_failed_child_still_passes_its_failure_details_on() -> None:
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(0, "orch", instance_id="child"))
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="bad")
    failed = pb.CompleteOrchestrationAction(orchestrationStatus=pb.ORCHESTRATION_STATUS_FAILED, failureDetails=failure)
    h.finish(h.next_orchestrator(), pb.OrchestratorAction(id=1, completeOrchestration=failed))
    details = h.next_orchestrator().new_events[-1].subOrchestrationInstanceFailed.failureDetails
    assert (details.errorType, details.errorMessage) == ("ValueError", "bad")


def test_a_response_without_custom_status_keeps_the_last_one_and_an_empty_one_replaces_it() -> None:
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), custom_status='"first"')
    h.raise_event("i1", "go", None)
    h.finish(h.next_orchestrator())  # no custom status in the response
    state = h.get_instance("i1", True)
    assert state is not None and state.customStatus.value == '"first"'
    h.raise_event("i1", "go", None)
    h.finish(h.next_orchestrator(), custom_status="")
    state = h.get_instance("i1", True)
    assert state is not None and state.customStatus.value == ""
