"""Exploration schedules: spec strings, the schedule list, shrinking, and the engine's schedule hook."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from fake_engine_helpers import Harness, schedule_task
from google.protobuf import wrappers_pb2

from durabletask_testing.engine import Engine
from durabletask_testing.engine.scheduling import Quiet
from durabletask_testing.engine.state import Instance
from durabletask_testing.exploration import (
    Crash,
    Schedule,
    ScheduleError,
    ScheduleRunner,
    StepBounds,
    schedules,
    shrink_candidates,
)
from durabletask_testing.protocol import orchestrator_service_pb2 as pb


@pytest.mark.parametrize("spec", [
    "default", "order=reverse", "batch=single", "order=reverse,batch=single", "order=reverse,at=1+3",
    "crash=activity@0", "crash=disconnect@4", "order=random,batch=random,crash=orchestrator@2,seed=99",
])
def test_a_spec_reads_back_as_itself(spec: str) -> None:
    assert str(Schedule.parse(spec)) == spec


@pytest.mark.parametrize("spec, message", [
    ("order=sideways", "order must be one of default, reverse, random"),
    ("batch=2", "batch must be one of whole, single, random"),
    ("crash=fire@1", "crash kind must be one of activity, orchestrator, disconnect"),
    ("speed=9", "unknown key(s) speed"),
    ("order", "expected key=value parts"),
    ("at=-1,order=reverse", "must not be negative"),
    ("crash=activity@x", "invalid literal"),
])
def test_a_bad_spec_is_refused_with_its_reason(spec: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Schedule.parse(spec)


def test_the_list_starts_with_the_default_then_systematic_orders_then_each_crash_point() -> None:
    listed = [str(s) for s in schedules(11, bounds=StepBounds(activity=2, orchestrator=1, disconnect=3))]
    assert listed == [
        "default", "order=reverse", "batch=single", "order=reverse,batch=single",
        "crash=activity@0", "crash=orchestrator@0", "crash=disconnect@0",
        "crash=activity@1", "crash=disconnect@1", "crash=disconnect@2",
    ] + listed[10:]
    assert listed[10].startswith("order=random")


def test_random_schedules_are_a_function_of_the_seed() -> None:
    assert [str(s) for s in schedules(40, seed=3)] == [str(s) for s in schedules(40, seed=3)]
    assert [str(s) for s in schedules(40, seed=3)] != [str(s) for s in schedules(40, seed=4)]


def test_shrinking_drops_the_crash_or_the_reorder_then_narrows_the_reorder_to_one_work_item() -> None:
    failing = Schedule(order="random", batch="random", crash=Crash("activity", 1), seed=5)
    candidates = [str(s) for s in shrink_candidates(failing, deviated_steps=[1, 3])]
    assert candidates[:2] == ["crash=activity@1", "order=random,batch=random,seed=5"]
    assert "order=random,batch=random,at=3,crash=activity@1,seed=5" in candidates


def scheduled_harness(schedule: Schedule) -> tuple[Harness, ScheduleRunner]:
    harness = Harness(frozen=True)
    runner = ScheduleRunner(schedule, client_hold_limit=0.0)
    harness.engine = Engine(harness.clock, schedule=runner, work_item_lease=None)
    harness.connection = harness.connect()
    return harness, runner


def fan_out_two(harness: Harness) -> None:
    harness.start()
    first = harness.next_orchestrator()
    harness.finish(first, schedule_task(1, "price"), schedule_task(2, "price"))
    one, two = harness.next_activity(), harness.next_activity()
    harness.answer(two, '"b"')  # arrival order: #2 first
    assert harness.next() is None  # held: activity #1 is still running
    harness.answer(one, '"a"')


def result_ids(events) -> list[int]:
    return [e.taskCompleted.taskScheduledId for e in events if e.WhichOneof("eventType") == "taskCompleted"]


@pytest.mark.parametrize("spec, delivered", [("default", [1, 2]), ("order=reverse", [2, 1])])
def test_results_are_delivered_in_the_schedules_order_whatever_order_they_arrived_in(spec, delivered) -> None:
    harness, runner = scheduled_harness(Schedule.parse(spec))
    fan_out_two(harness)
    assert result_ids(harness.next_orchestrator().new_events) == delivered
    assert [d.deviated for d in runner.decisions] == [False, spec != "default"]


def test_one_result_per_work_item_leaves_the_rest_for_the_next() -> None:
    harness, runner = scheduled_harness(Schedule.parse("batch=single"))
    fan_out_two(harness)
    item = harness.next_orchestrator()
    assert result_ids(item.new_events) == [1]
    harness.finish(item)
    assert result_ids(harness.next_orchestrator().new_events) == [2]
    assert "held back for a later work item: [result of price #2]" in str(runner.decisions[1])


def test_a_crash_point_loses_that_result_and_the_activity_runs_again() -> None:
    harness, _ = scheduled_harness(Schedule.parse("crash=activity@0"))
    Schedule.parse("crash=activity@0").apply_faults(harness.engine.faults)
    harness.start()
    harness.finish(harness.next_orchestrator(), schedule_task(1, "charge"))
    harness.answer(harness.next_activity(), '"done"')
    again = harness.next_activity()
    assert (again.task_id, again.name) == (1, "charge")
    assert [r.kind for r in harness.engine.faults.log] == ["lose_activity_result"]


def test_under_a_schedule_work_items_still_go_only_to_streams_whose_filters_take_them() -> None:
    harness, _ = scheduled_harness(Schedule.parse("default"))
    harness.engine.close(harness.connection)
    harness.engine.disconnect(harness.connection)
    v2_only = harness.engine.connect(pb.GetWorkItemsRequest(workItemFilters=pb.WorkItemFilters(
        orchestrations=[pb.OrchestrationFilter(name="orch", versions=["2.0"])])))
    harness.start(instance_id="v1", version=wrappers_pb2.StringValue(value="1.0"))
    harness.start(instance_id="v2", version=wrappers_pb2.StringValue(value="2.0"))
    item = harness.next_orchestrator(v2_only)
    assert item.instance_id == "v2"  # matched by name and version
    harness.finish(item)
    assert harness.next(v2_only) is None  # the 1.0 instance waits for a worker that asked for it
    any_version = harness.engine.connect(pb.GetWorkItemsRequest())
    assert harness.next_orchestrator(any_version).instance_id == "v1"


def entity_race_instance() -> Instance:
    """An instance that called two entities (calls #1 and #2) whose answers arrived in the order #2, #1."""
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    instance = Instance("i1", "orch", None, "e1", None, now, now)
    for event_id, key in ((1, "a"), (2, "b")):
        instance.history.append(pb.HistoryEvent(eventId=event_id, entityOperationCalled=pb.EntityOperationCalledEvent(
            requestId=f"r{key}", operation="get", targetInstanceId=wrappers_pb2.StringValue(value=f"@echo@{key}"))))
    instance.inbox = [
        pb.HistoryEvent(eventId=-1, entityOperationFailed=pb.EntityOperationFailedEvent(requestId="rb")),
        pb.HistoryEvent(eventId=-1, entityOperationCompleted=pb.EntityOperationCompletedEvent(requestId="ra")),
    ]
    return instance


def answered(events: list[pb.HistoryEvent]) -> list[str]:
    return [getattr(e, e.WhichOneof("eventType") or "").requestId for e in events]


@pytest.mark.parametrize("spec, delivered", [("default", ["ra", "rb"]), ("order=reverse", ["rb", "ra"])])
def test_entity_results_are_ordered_by_the_id_of_the_call_they_answer(spec: str, delivered: list[str]) -> None:
    runner = ScheduleRunner(Schedule.parse(spec))
    now, later = runner.batch(entity_race_instance())
    assert (answered(now), later) == (delivered, [])
    assert runner.decisions[0].default_delivered == (
        "result of entity call get on @echo@a #1", "failure of entity call get on @echo@b #2")


def test_one_entity_result_per_work_item_holds_the_other_back() -> None:
    runner = ScheduleRunner(Schedule.parse("batch=single"))
    now, later = runner.batch(entity_race_instance())
    assert (answered(now), answered(later)) == (["ra"], ["rb"])


def test_a_work_item_waits_while_an_entity_operation_has_not_reported() -> None:
    runner = ScheduleRunner(Schedule())
    busy = Quiet(activities_pending=0, orchestrators_in_flight=0, client_waiting=True, entities_pending=1)
    assert not runner.may_hand_out(busy, now=0.0)
    assert runner.release_deadline() == runner.activity_hold_limit  # bounded: handed out at the limit anyway
    assert runner.may_hand_out(dataclasses.replace(busy, entities_pending=0), now=0.1)
