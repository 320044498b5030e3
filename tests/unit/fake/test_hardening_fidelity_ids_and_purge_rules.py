"""Issue 27, the engine's rules for sub-orchestration ids in use, recursion over the current execution's children,
recursive purge with a live descendant and suspend/resume of an ended instance, alone (durabletask-go v0.6.0 is
the reference; the differential tests over gRPC are tests/e2e/fake/test_hardening_fidelity_ids_and_purge.py)."""

from __future__ import annotations

import pytest
from fake_engine_helpers import START, Harness, OrchestratorItem, complete, kinds, sub_orchestration

from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.timeline import FIDELITY_NOTES, SUB_ORCHESTRATION_ID_IN_USE, format_history


def _continue_as_new(action_id: int = 9) -> pb.OrchestratorAction:
    return complete(action_id, result='"next"', status=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW)


@pytest.mark.parametrize("holder_status", ["COMPLETED", "TERMINATED", "RUNNING", "PENDING"])
def test_a_child_id_held_by_an_instance_that_has_not_failed_fails_the_parents_task_and_keeps_the_holder(
    holder_status: str,
) -> None:
    h = Harness()
    h.start(instance_id="holder")
    item = h.next_orchestrator()  # PENDING: left in flight, uncommitted
    if holder_status != "PENDING":
        if holder_status == "COMPLETED":
            h.finish(item, complete(result='"kept"'))
        elif holder_status == "TERMINATED":
            h.finish(item, complete(status=pb.ORCHESTRATION_STATUS_TERMINATED))
        else:
            h.finish(item)
    before = h.get_instance("holder", True)
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(3, "child", instance_id="holder"))
    notice = h.next_orchestrator().new_events[-1]
    assert notice.subOrchestrationInstanceFailed.taskScheduledId == 3
    details = notice.subOrchestrationInstanceFailed.failureDetails
    assert details.errorType == SUB_ORCHESTRATION_ID_IN_USE and details.isNonRetriable
    message = details.errorMessage
    assert "'holder'" in message and holder_status in message and "'parent'" in message, message
    assert "orchestration instance already exists" in message and "distinct instance id" in message, message
    assert h.get_instance("holder", True) == before  # neither replaced nor run again


def test_a_child_id_held_by_a_failed_instance_replaces_it_as_on_durabletask_go() -> None:
    h = Harness()
    h.start(instance_id="holder", name="old")
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="bad")
    h.finish(h.next_orchestrator(), complete(status=pb.ORCHESTRATION_STATUS_FAILED, failure=failure))
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="holder"))
    item = h.next_orchestrator()
    assert item.instance_id == "holder" and item.new_events[1].executionStarted.name == "child"
    assert h.get_instance("holder", True).name == "child"


def test_a_later_generation_reusing_its_generated_child_id_is_told_it_created_that_child_before() -> None:
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child"))  # generated id 'parent:0001'
    h.finish(h.next_orchestrator(), complete(result='"first"'))
    h.finish(h.next_orchestrator(), _continue_as_new())
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child"))  # the new generation: the same generated id
    details = h.next_orchestrator().new_events[-1].subOrchestrationInstanceFailed.failureDetails
    assert "'parent:0001'" in details.errorMessage and "created before" in details.errorMessage
    assert h.get_instance("parent:0001", True).output.value == '"first"'


def test_the_timeline_prints_a_fidelity_note_under_the_refusal() -> None:
    h = Harness()
    h.start(instance_id="holder")
    h.finish(h.next_orchestrator(), complete())
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="holder"))
    h.finish(h.next_orchestrator())  # commits the failure notice
    lines = format_history(h.engine.history("parent"), START)
    at = next(i for i, line in enumerate(lines) if "SubOrchestrationInstanceFailed" in line)
    assert lines[at + 1].strip() == FIDELITY_NOTES[SUB_ORCHESTRATION_ID_IN_USE]
    assert sum("FIDELITY" in line for line in lines) == 1


def test_recursive_purge_and_terminate_reach_only_the_current_executions_children() -> None:
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="old-kid"))
    h.next_orchestrator()  # old-kid runs (left in flight)
    h.raise_event("parent", "go", None)
    h.finish(h.next_orchestrator(), _continue_as_new())
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="new-kid"))
    h.terminate("parent", None, recursive=True)
    delivered = {h.next_orchestrator().instance_id for _ in range(2)}
    assert delivered == {"parent", "new-kid"} and h.next() is None  # old-kid got nothing
    assert h.status("old-kid") == pb.ORCHESTRATION_STATUS_PENDING


def test_recursive_purge_after_continue_as_new_leaves_the_earlier_generations_children() -> None:
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="old-kid"))
    h.finish(h.next_orchestrator(), complete())  # old-kid
    h.finish(h.next_orchestrator(), _continue_as_new())
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="new-kid"))
    h.finish(h.next_orchestrator(), complete())  # new-kid
    h.finish(h.next_orchestrator(), complete())  # parent
    assert h.purge(pb.PurgeInstancesRequest(instanceId="parent", recursive=True)) == 2
    assert [s.instance_id for s in h.engine.snapshots()] == ["old-kid"]


def _ended_parent_with_a_live_grandchild(h: Harness) -> None:
    """parent (TERMINATED) -> kid (COMPLETED) -> grandkid (RUNNING); parent -> sibling (COMPLETED)."""
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="kid"),
             sub_orchestration(2, "child", instance_id="sibling"))
    while (item := h.next()) is not None:
        assert isinstance(item, OrchestratorItem)
        if item.instance_id == "kid":
            h.finish(item, sub_orchestration(1, "child", instance_id="grandkid"), complete())
        elif item.instance_id == "sibling":
            h.finish(item, complete())
        else:  # the parent (told of its children's ends) and the grandchild go on running
            h.finish(item)
    h.terminate("parent", None, recursive=False)
    h.finish(h.next_orchestrator(), complete(status=pb.ORCHESTRATION_STATUS_TERMINATED))


def test_a_recursive_purge_whose_tree_holds_a_live_instance_is_refused_whole() -> None:
    h = Harness()
    _ended_parent_with_a_live_grandchild(h)
    statuses = {s.instance_id: s.status_name for s in h.engine.snapshots()}
    assert statuses == {"parent": "TERMINATED", "kid": "COMPLETED", "sibling": "COMPLETED", "grandkid": "RUNNING"}
    with pytest.raises(EngineError) as refused:
        h.purge(pb.PurgeInstancesRequest(instanceId="parent", recursive=True))
    assert refused.value.code == ErrorCode.FAILED_PRECONDITION
    assert "'grandkid'" in refused.value.message and "nothing was purged" in refused.value.message
    assert {s.instance_id for s in h.engine.snapshots()} == set(statuses)  # nothing deleted
    batch = pb.PurgeInstancesRequest(instanceBatch=pb.InstanceBatch(instanceIds=["parent", "sibling"]),
                                     recursive=True)
    assert h.purge(batch) == 1  # a batch skips the tree with a live instance, as it skips a live root
    assert h.purge(pb.PurgeInstancesRequest(instanceId="parent")) == 1  # not recursive: the root alone


def test_a_recursive_terminate_of_an_ended_instance_still_reaches_its_live_descendants() -> None:
    h = Harness()
    _ended_parent_with_a_live_grandchild(h)
    h.terminate("parent", "stop", recursive=True)
    item = h.next_orchestrator()
    assert item.instance_id == "grandkid" and kinds(item.new_events)[-1] == "executionTerminated"
    assert h.next() is None  # the ended ones are not changed
    h.finish(item, complete(status=pb.ORCHESTRATION_STATUS_TERMINATED))
    assert h.purge(pb.PurgeInstancesRequest(instanceId="parent", recursive=True)) == 4


@pytest.mark.parametrize("verb", ["suspend", "resume"])
def test_suspend_or_resume_of_an_ended_instance_is_accepted_and_changes_nothing(verb: str) -> None:
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), complete(result='"out"'))
    before = h.get_instance("i1", True)
    getattr(h, verb)("i1", "late")
    assert h.get_instance("i1", True) == before and h.next() is None
    with pytest.raises(EngineError) as unknown:
        getattr(h, verb)("ghost", None)
    assert unknown.value.code == ErrorCode.NOT_FOUND


def test_the_failure_report_shows_the_fidelity_note_under_the_refused_child() -> None:
    from durabletask_pytest.report.failure import InstanceView, render_report

    h = Harness()
    h.start(instance_id="holder")
    h.finish(h.next_orchestrator(), complete())
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="holder"))
    h.finish(h.next_orchestrator())
    view = InstanceView(instance_id="parent", status="RUNNING", history=h.engine.history("parent"))
    report = render_report([view], origin=START)
    assert FIDELITY_NOTES[SUB_ORCHESTRATION_ID_IN_USE] in report


def test_with_dapr_s_rule_any_ended_holder_is_replaced_and_a_live_one_still_fails_the_task() -> None:
    from durabletask_testing.engine import Engine

    h = Harness()
    h.engine = Engine(h.clock, child_id_reuse="ended")  # what FakeSidecar(dialect="dapr") builds
    h.connection = h.connect()
    h.start(instance_id="done")
    h.finish(h.next_orchestrator(), complete(result='"old"'))
    h.start(instance_id="live")
    h.finish(h.next_orchestrator())
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="done"),
             sub_orchestration(2, "child", instance_id="live"))
    seen = {}
    while (item := h.next()) is not None:
        assert isinstance(item, OrchestratorItem)
        seen[item.instance_id] = item
        if item.instance_id != "parent":
            h.finish(item)
    assert seen["done"].new_events[1].executionStarted.name == "child"  # recreated
    failed = [e for e in seen["parent"].new_events if e.HasField("subOrchestrationInstanceFailed")]
    assert [e.subOrchestrationInstanceFailed.taskScheduledId for e in failed] == [2]
    message = failed[0].subOrchestrationInstanceFailed.failureDetails.errorMessage
    assert "'live'" in message and "RUNNING" in message and "Dapr" in message, message
    with pytest.raises(ValueError, match="child_id_reuse"):
        Engine(h.clock, child_id_reuse="never")  # type: ignore[arg-type]


def test_with_dapr_s_rule_a_live_child_asked_for_again_by_the_same_parent_and_task_is_kept_and_awaited() -> None:
    """Dapr's workflow engine ignores a creation of a live child by the same parent id from the same task id
    (found by tests/interop/test_dapr_fidelity.py against a real daprd 1.18.1): here a later generation asks for
    the child its first generation started and left running, and receives that child's end."""
    from durabletask_testing.engine import Engine

    h = Harness()
    h.engine = Engine(h.clock, child_id_reuse="ended")  # what FakeSidecar(dialect="dapr") builds
    h.connection = h.connect()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="kid"))
    kid = h.next_orchestrator()
    assert kid.instance_id == "kid"
    h.finish(kid)  # running, waiting
    h.raise_event("parent", "next", None)
    h.finish(h.next_orchestrator(), _continue_as_new())
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="kid"))  # the same task id again
    assert h.next() is None  # no refusal, no new child: the parent waits for the live one
    h.raise_event("kid", "go", None)
    h.finish(h.next_orchestrator(), complete(result='"done"'))
    notice = h.next_orchestrator()
    assert notice.instance_id == "parent"
    completed = notice.new_events[-1].subOrchestrationInstanceCompleted
    assert completed.taskScheduledId == 1 and completed.result.value == '"done"'


def test_with_dapr_s_rule_a_live_child_asked_for_from_another_task_still_fails_the_task() -> None:
    from durabletask_testing.engine import Engine

    h = Harness()
    h.engine = Engine(h.clock, child_id_reuse="ended")
    h.connection = h.connect()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "child", instance_id="kid"))
    h.finish(h.next_orchestrator())  # the kid runs
    h.raise_event("parent", "next", None)
    h.finish(h.next_orchestrator(), _continue_as_new())
    h.finish(h.next_orchestrator(), sub_orchestration(2, "child", instance_id="kid"))
    failed = h.next_orchestrator().new_events[-1].subOrchestrationInstanceFailed
    assert failed.taskScheduledId == 2 and failed.failureDetails.errorType == SUB_ORCHESTRATION_ID_IN_USE
