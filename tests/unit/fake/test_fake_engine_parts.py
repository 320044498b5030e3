"""The engine's parts on their own: instance store, dispatcher, timer queue, waiters, clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from fake_engine_helpers import START

from durabletask_testing.clock import Clock
from durabletask_testing.engine import events
from durabletask_testing.engine.dispatcher import Dispatcher
from durabletask_testing.engine.entities import EntityStore
from durabletask_testing.engine.rooms import Rooms
from durabletask_testing.engine.router import Router
from durabletask_testing.engine.state import Instance
from durabletask_testing.engine.store import InstanceStore
from durabletask_testing.engine.timekeeper import Timekeeper
from durabletask_testing.engine.timers import TimerEntry, TimerQueue, is_forever, later
from durabletask_testing.engine.waiters import Waiters
from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.vocabulary import clock_mode, default_child_instance_id, parse_iso


def _instance(instance_id: str = "i1") -> Instance:
    instance = Instance(instance_id, "orch", None, "e1", None, START, START)
    instance.inbox.append(events.event_raised(START, "go", None))
    return instance


def test_store_keys_instances_by_name_and_creation_order_and_checks_page_tokens():
    store = InstanceStore()
    assert [store.next_fault_key("a"), store.next_fault_key("b"), store.next_fault_key("a")] == ["a#0", "b#0", "a#1"]
    first = _instance()
    assert store.put(first) is None and store.put(_instance()) is first
    with pytest.raises(EngineError) as refused:
        store.check_page_token("lastInstanceKey", "k")
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT
    store.remember_page_token("lastInstanceKey", "k")
    store.check_page_token("lastInstanceKey", "k")
    store.clear()
    assert len(store) == 0 and store.next_fault_key("a") == "a#0"


def _dispatcher(lease: float | None = None) -> tuple[InstanceStore, Dispatcher]:
    store = InstanceStore()
    return store, Dispatcher(store, lease)


def test_dispatcher_hands_an_instance_out_once_and_takes_it_back_on_disconnect():
    store, dispatcher = _dispatcher()
    instance = _instance()
    store.put(instance)
    connection = dispatcher.connect(pb.GetWorkItemsRequest())
    dispatcher.make_ready(instance, 0.0)
    dispatcher.make_ready(instance, 0.0)  # queued once only
    ready = dispatcher.next_orchestrator(connection)
    assert ready is instance and dispatcher.next_orchestrator(connection) is None
    item = dispatcher.start_orchestrator(instance, connection, events.orchestrator_started(START), 0.0)
    assert instance.in_flight is item and connection.orchestrators_in_flight == 1 and not dispatcher.is_idle()
    dispatcher.disconnect(connection, 1.0)
    assert instance.in_flight is None and [e.eventRaised.name for e in instance.inbox] == ["go"]
    assert dispatcher.next_orchestrator(dispatcher.connect(pb.GetWorkItemsRequest())) is instance


def test_dispatcher_leases_expire_once_and_held_items_wait_for_their_back_off():
    store, dispatcher = _dispatcher(lease=10.0)
    instance = _instance()
    store.put(instance)
    connection = dispatcher.connect(pb.GetWorkItemsRequest())
    dispatcher.make_ready(instance, 0.0)
    item = dispatcher.start_orchestrator(
        dispatcher.next_orchestrator(connection), connection, events.orchestrator_started(START), 0.0
    )
    assert dispatcher.next_deadline() == 10.0
    assert dispatcher.expired(9.9) == [] and dispatcher.expired(10.0) == [item] and dispatcher.expired(20.0) == []
    dispatcher.return_to_queue(item, 10.0, backoff=0.5)
    assert dispatcher.next_orchestrator(connection) is None and dispatcher.next_deadline() == 10.5
    dispatcher.release_held(10.5)
    assert dispatcher.next_orchestrator(connection) is instance
    with pytest.raises(EngineError) as stale:
        dispatcher.find_orchestrator(item.token, "")
    assert stale.value.code is ErrorCode.FAILED_PRECONDITION and "lease" in stale.value.message


def test_dispatcher_refuses_a_non_positive_lease():
    with pytest.raises(ValueError, match="work_item_lease"):
        _dispatcher(lease=0)


def test_timer_queue_orders_by_time_then_creation():
    queue = TimerQueue()
    assert queue.push(TimerEntry("timer", START + timedelta(2), "a", "e", 1))
    assert queue.push(TimerEntry("timer", START + timedelta(1), "b", "e", 2))
    assert not queue.push(TimerEntry("start", START + timedelta(1), "c", "e"))
    assert [queue.pop().instance_id for _ in range(3)] == ["b", "c", "a"]


def test_wait_forever_sentinels_and_arithmetic_at_the_end_of_time():
    year_9999 = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert is_forever(year_9999, START) and not is_forever(START + timedelta(days=3650), START)
    assert later(year_9999 - timedelta(seconds=1), timedelta(days=1)) == year_9999
    clock = Clock("manual", year_9999 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="9999"):
        clock.advance(timedelta(days=1))


def test_waiters_count_registrations_per_instance():
    waiters = Waiters(threading.Lock())
    first = waiters.register("i1")
    assert waiters.register("i1") is first
    waiters.unregister("i1")
    waiters.unregister("i1")
    assert waiters.register("i1") is not first


def test_progress_wakes_completion_waiters_only_when_the_instance_ended():
    waiters = Waiters(threading.Lock())
    condition = waiters.register("i1", "completion")
    calls: list[str] = []
    condition.notify_all = lambda: calls.append("woken")  # type: ignore[method-assign]
    waiters.notify_progress("i1", ended=False)
    assert calls == []  # a completion waiter would find nothing to answer
    waiters.notify_progress("i1", ended=True)
    assert calls == ["woken"]
    waiters.register("i1", "start")
    waiters.notify_progress("i1", ended=False)
    assert calls == ["woken", "woken"]  # a start waiter is woken at every step
    waiters.unregister("i1", "start")
    waiters.notify_progress("i1", ended=False)
    assert calls == ["woken", "woken"]
    waiters.unregister("i1", "completion")
    waiters.notify_progress("i1", ended=True)  # nobody waits any more
    assert calls == ["woken", "woken"]


def test_clock_reads_monotonic_time_from_its_source_and_checks_its_mode():
    ticks = iter([1.0, 2.5])
    clock = Clock("manual", START, monotonic=lambda: next(ticks))
    assert (clock.monotonic(), clock.monotonic()) == (1.0, 2.5)
    with pytest.raises(ValueError, match="clock mode"):
        clock_mode("sometimes")


def test_vocabulary_parses_iso_as_utc_and_derives_child_ids():
    assert parse_iso("2024-01-01T00:00:00Z") == START and parse_iso("2024-01-01T01:00:00+01:00") == START
    assert parse_iso("2024-01-01T00:00:00") == START
    assert default_child_instance_id("p", 26) == "p:001a"


def _rooms(mode: str = "manual") -> SimpleNamespace:
    """The engine's parts wired as the engine wires them (callers hold ``lock``)."""
    rooms = SimpleNamespace(clock=Clock(mode, START, monotonic=lambda: 0.0), lock=threading.Lock())
    rooms.store = InstanceStore()
    rooms.entities = EntityStore()
    rooms.dispatcher = Dispatcher(rooms.store, entities=rooms.entities)
    rooms.timers = TimerQueue()
    rooms.waiters = Waiters(rooms.lock)
    parts = Rooms(rooms.clock, rooms.store, rooms.dispatcher, rooms.timers, rooms.waiters, rooms.entities)
    rooms.router = Router(parts)
    rooms.timekeeper = Timekeeper(parts, rooms.router)
    return rooms


def test_router_terminates_a_deep_tree_iteratively_and_deletes_it():
    rooms = _rooms()
    store, router = rooms.store, rooms.router
    previous = None
    with rooms.lock:
        for level in range(1500):
            instance = router.new_instance(f"n{level}", "orch", None, None, {})
            router.add_instance(instance, None, None)
            if previous is not None:
                previous.children.add(instance.instance_id)
            previous = instance
        router.terminate("n0", "stop", recurse=True)
        assert all(i.inbox[-1].HasField("executionTerminated") for i in store)
        for instance in store:
            instance.finish(events.execution_completed(START, pb.ORCHESTRATION_STATUS_TERMINATED, None), START)
        assert router.delete(router.tree(store.require("n0"))) == 1500 and len(store) == 0


def test_timekeeper_fires_due_timers_in_order_and_skips_wait_forever_ones():
    rooms = _rooms("auto")
    router, timekeeper, clock = rooms.router, rooms.timekeeper, rooms.clock
    far = later(START, timedelta(days=365 * 200))
    with rooms.lock:
        instance = router.new_instance("i1", "orch", None, None, {})
        router.add_instance(instance, None, None)
        rooms.dispatcher.clear()
        before = len(instance.inbox)  # ExecutionStarted
        for timer_id, fire_at in ((1, START + timedelta(hours=2)), (2, START + timedelta(hours=1)), (3, far)):
            router.push_timer(TimerEntry("timer", fire_at, "i1", instance.execution_id, timer_id))
        timekeeper.fire_due_timers(START + timedelta(hours=2))
        fired = [e.timerFired.timerId for e in instance.inbox[before:]]
        assert fired == [2, 1] and clock.now() == START + timedelta(hours=2)
        rooms.dispatcher.clear()
        rooms.waiters.completion_waiters = 1
        timekeeper.maybe_auto_advance()
        assert len(instance.inbox) == before + 2 and clock.now() == START + timedelta(hours=2)
