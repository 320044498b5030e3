"""Issue 25 (low): a rewind rewinds only the instance's own children. A forged sub-orchestration event in the
history the worker rewrites must not adopt, reparent or rewind an unrelated FAILED instance."""

from __future__ import annotations

from fake_engine_helpers import Harness, complete, sub_orchestration

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

FAILED = pb.ORCHESTRATION_STATUS_FAILED


def _fail(h: Harness, instance_id: str) -> None:
    item = h.next_orchestrator()
    assert item.instance_id == instance_id
    h.finish(item, complete(status=FAILED, failure=pb.TaskFailureDetails(errorType="E", errorMessage="boom")))


def _rewound_history(h: Harness, item, *forged: pb.HistoryEvent) -> None:  # type: ignore[no-untyped-def]
    history = [e for e in item.past_events if not e.HasField("executionCompleted")] + list(forged) + item.new_events
    h.finish(item, pb.OrchestratorAction(id=-1, rewindOrchestration=pb.RewindOrchestrationAction(newHistory=history)))


def test_a_forged_child_in_a_rewound_history_leaves_an_unrelated_failed_instance_alone() -> None:
    h = Harness()
    h.start(instance_id="victim")
    _fail(h, "victim")
    h.start(instance_id="parent")
    _fail(h, "parent")
    h.engine.rewind_instance(pb.RewindInstanceRequest(instanceId="parent"))
    forged = pb.HistoryEvent(eventId=7)
    forged.subOrchestrationInstanceCreated.instanceId = "victim"
    forged.subOrchestrationInstanceCreated.name = "orch"
    _rewound_history(h, h.next_orchestrator(), forged)
    assert h.status("victim") == FAILED
    assert h.engine.snapshot("victim").parent_instance_id is None
    replay = h.next_orchestrator()
    assert replay.instance_id == "parent" and h.next() is None  # the victim was not rewound


def test_a_rewind_still_rewinds_the_failed_child_the_instance_started() -> None:
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(0, "orch", instance_id="child"))
    _fail(h, "child")
    _fail(h, "parent")  # the parent fails on its child's failure
    h.engine.rewind_instance(pb.RewindInstanceRequest(instanceId="parent"))
    item = h.next_orchestrator()
    kept = [e for e in item.past_events if not e.HasField("subOrchestrationInstanceFailed")]
    history = [e for e in kept if not e.HasField("executionCompleted")] + item.new_events
    h.finish(item, pb.OrchestratorAction(id=-1, rewindOrchestration=pb.RewindOrchestrationAction(newHistory=history)))
    assert h.status("child") == pb.ORCHESTRATION_STATUS_RUNNING
