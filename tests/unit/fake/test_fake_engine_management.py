"""Engine unit tests: query, list, purge, restart, history streaming, inspection, reset, clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fake_engine_helpers import START, Harness, complete, create_timer, sub_orchestration, ts
from google.protobuf import wrappers_pb2

from durabletask_testing.clock import Clock
from durabletask_testing.protocol import orchestrator_service_pb2 as pb


def _finished(h: Harness, instance_id: str, status: int = pb.ORCHESTRATION_STATUS_COMPLETED) -> None:
    h.start(instance_id=instance_id, input=f'"{instance_id}"')
    h.finish(h.next_orchestrator(), complete(result='"out"', status=status))


def test_query_filters_pages_and_hides_payloads_unless_asked():
    h = Harness()
    for name in ("a1", "a2", "a3"):
        _finished(h, name)
    h.start(instance_id="b1")
    query = pb.InstanceQuery(runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED], maxInstanceCount=2)
    page, token = h.query(query)
    assert [s.instanceId for s in page] == ["a1", "a2"] and token == "a2"
    assert not page[0].HasField("input")
    query.continuationToken.CopyFrom(wrappers_pb2.StringValue(value=token))
    query.fetchInputsAndOutputs = True
    page, token = h.query(query)
    assert [s.instanceId for s in page] == ["a3"] and token is None
    assert page[0].input.value == '"a3"' and page[0].output.value == '"out"'
    prefixed, _ = h.query(pb.InstanceQuery(instanceIdPrefix=wrappers_pb2.StringValue(value="b")))
    assert [s.instanceId for s in prefixed] == ["b1"]
    later, _ = h.query(pb.InstanceQuery(createdTimeFrom=ts(START + timedelta(seconds=1))))
    assert later == []


def test_list_instance_ids_pages_ended_instances_by_completion_time():
    h = Harness()
    for name in ("x", "y", "z"):
        _finished(h, name)
        h.advance(seconds=1)
    h.start(instance_id="running")
    ids, key = h.list_instance_ids(pb.ListInstanceIdsRequest(pageSize=2))
    assert ids == ["x", "y"] and key is not None
    ids, key = h.list_instance_ids(
        pb.ListInstanceIdsRequest(pageSize=2, lastInstanceKey=wrappers_pb2.StringValue(value=key))
    )
    assert ids == ["z"] and key is None


def test_purge_single_batch_filter_and_recursive():
    h = Harness()
    _finished(h, "one")
    _finished(h, "two", pb.ORCHESTRATION_STATUS_FAILED)
    _finished(h, "three")
    assert h.purge(pb.PurgeInstancesRequest(instanceId="one")) == 1
    assert h.purge(pb.PurgeInstancesRequest(instanceId="one")) == 0
    by_status = pb.PurgeInstancesRequest(
        purgeInstanceFilter=pb.PurgeInstanceFilter(runtimeStatus=[pb.ORCHESTRATION_STATUS_FAILED])
    )
    assert h.purge(by_status) == 1
    batch = pb.PurgeInstancesRequest(instanceBatch=pb.InstanceBatch(instanceIds=["three", "ghost"]))
    assert h.purge(batch) == 1
    assert h.engine.snapshots() == []
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(0, "child", instance_id="kid"))
    h.finish(h.next_orchestrator(), complete())
    h.finish(h.next_orchestrator(), complete())
    assert h.purge(pb.PurgeInstancesRequest(instanceId="parent", recursive=True)) == 2


def test_restart_same_and_new_id():
    h = Harness()
    _finished(h, "r")
    assert h.restart("r", False) == "r"
    item = h.next_orchestrator()
    assert item.new_events[1].executionStarted.input.value == '"r"'
    h.finish(item, complete())
    new_id = h.restart("r", True)
    assert new_id != "r" and h.get_instance(new_id, True).input.value == '"r"'


def test_history_chunks_and_snapshots_are_copies():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), create_timer(0, START + timedelta(hours=1)))
    history = h.engine.history("i1")
    history[0].eventId = 12345
    assert h.engine.history("i1")[0].eventId != 12345
    chunks = h.history_chunks("i1")
    assert sum(len(c.events) for c in chunks) == 3
    [snap] = h.engine.snapshots()
    assert snap.instance_id == "i1" and snap.status_name == "RUNNING" and snap.created_at == START


def test_reset_drops_everything_and_rewinds_the_clock():
    h = Harness()
    h.start()
    h.advance(hours=5)
    h.engine.reset()
    assert h.engine.snapshots() == [] and h.next() is None and h.clock.now() == START
    h.start()
    assert h.next_orchestrator().instance_id == "i1"


def test_clock_modes_and_default_start():
    manual = Clock("manual", datetime(2030, 5, 1, 12, 0))
    assert manual.now() == datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert manual.advance(90) == datetime(2030, 5, 1, 12, 1, 30, tzinfo=timezone.utc)
    default = Clock("auto")
    assert default.now().microsecond == 0 and default.now().tzinfo is not None
    real = Clock("real")
    assert abs((real.now() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_timers_of_a_previous_execution_do_not_fire():
    h = Harness()
    h.start()
    h.finish(
        h.next_orchestrator(),
        create_timer(0, START + timedelta(minutes=1)),
        complete(1, result="again", status=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW),
    )
    h.finish(h.next_orchestrator())
    h.advance(minutes=2)
    assert h.next() is None


def test_real_clock_timer_pump_fires_due_timers():
    import threading

    h = Harness("real")
    h.start()
    due = h.clock.now() + timedelta(milliseconds=50)
    h.finish(h.next_orchestrator(), create_timer(0, due))
    stop = threading.Event()
    pump = threading.Thread(target=h.engine.run_real_time_timers, args=(stop,))
    pump.start()
    try:
        item = h.next_work_item(h.connection, timeout=5)
        assert item is not None and item.new_events[1].timerFired.timerId == 0
        assert h.clock.now() >= due
    finally:
        stop.set()
        h.engine.wake_timer_pump()
        pump.join(5)
    assert not pump.is_alive()


def test_removal_listeners_hear_of_purged_and_replaced_instances_with_their_histories():
    h = Harness()
    heard: list[tuple[str, str, list[str]]] = []
    stop = h.engine.add_removal_listener(
        lambda snap, history: heard.append((snap.instance_id, snap.status_name, [e.WhichOneof("eventType")
                                                                               for e in history])))
    _finished(h, "gone")
    assert h.purge(pb.PurgeInstancesRequest(instanceId="gone")) == 1
    assert heard == [("gone", "COMPLETED", ["orchestratorStarted", "executionStarted", "executionCompleted"])]
    _finished(h, "again")
    h.restart("again", False)  # a new instance takes the id: the ended one is removed
    assert [entry[0] for entry in heard] == ["gone", "again"] and heard[1][2][-1] == "executionCompleted"
    stop()
    h.finish(h.next_orchestrator(), complete())
    h.purge(pb.PurgeInstancesRequest(instanceId="again"))
    h.engine.reset()
    assert len(heard) == 2  # removed listeners, and a reset, tell no one
