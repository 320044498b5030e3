"""A catalogue of orchestration scenarios for differential (parity) and interop testing.

Every scenario is a set of orchestrators and activities written only against the public ``durabletask``
API (so the same code runs on our SDK and on the published PyPI package) plus a *driver*: a function that
uses the client to start and steer instances and returns an ``Outcome`` (runtime status, output, failure
type and the normalized sequence of history event types). The catalogue covers every seed pattern:
function chaining, fan-out/fan-in, human interaction (approval, timeout, auto-approval), external events,
durable timers, sub-orchestrations, continue-as-new, suspend/resume/terminate, retries and custom objects.

``run_scenarios`` registers the whole catalogue on one worker, runs the selected scenarios concurrently
against one sidecar, and returns one ``Outcome`` per scenario. The real clock is assumed: timers are
short (fractions of a second) where a test waits for them, and 24 hours where it must never fire.

This module must stay importable by the published SDK's venv: stdlib, grpc and ``durabletask`` only, and
no relative imports.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from durabletask import client as dt_client
from durabletask import task
from durabletask import worker as dt_worker
from durabletask.internal import orchestrator_service_pb2 as pb

HistoryFetcher = Callable[[str], list[pb.HistoryEvent]]

#: Event types a sidecar delivers into an orchestration's inbox (their relative order within one
#: batch depends on timing, so "batched" normalization sorts them).
INBOUND_EVENT_TYPES = frozenset({
    "TaskCompleted", "TaskFailed", "TimerFired", "EventRaised", "SubOrchestrationInstanceCompleted",
    "SubOrchestrationInstanceFailed", "ExecutionSuspended", "ExecutionResumed", "ExecutionTerminated",
})


# ----------------------------------------------------------------------------------------------
# Results and normalization
# ----------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What a scenario observed; everything in it is comparable across sidecars."""

    scenario: str
    status: str | None = None
    output: Any = None
    failure_type: str | None = None
    history: list[str] = field(default_factory=list)
    history_detail: list[str] = field(default_factory=list)
    related: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0

    def to_json(self) -> str:
        """One JSON line (the harness output format)."""
        return json.dumps(asdict(self), sort_keys=True, default=str)


def event_type(event: pb.HistoryEvent) -> str:
    """'OrchestratorStarted' for a HistoryEvent whose oneof field is 'orchestratorStarted'."""
    kind = event.WhichOneof("eventType") or "unknown"
    return kind[0].upper() + kind[1:]


def event_detail(event: pb.HistoryEvent, instance_ids: dict[str, str]) -> str:
    """An event type plus its identifying references, with generated ids replaced by labels."""
    kind = event_type(event)
    if kind in ("TaskScheduled",):
        return f"{kind}#{event.eventId}({event.taskScheduled.name})"
    if kind == "TimerCreated":
        return f"{kind}#{event.eventId}"
    if kind == "SubOrchestrationInstanceCreated":
        created = event.subOrchestrationInstanceCreated
        child = instance_ids.get(created.instanceId, "?")
        return f"{kind}#{event.eventId}({created.name},{child})"
    if kind == "EventSent":
        return f"{kind}#{event.eventId}({event.eventSent.name})"
    if kind == "ExecutionCompleted":
        status = pb.OrchestrationStatus.Name(event.executionCompleted.orchestrationStatus)
        return f"{kind}#{event.eventId}({status.removeprefix('ORCHESTRATION_STATUS_')})"
    if kind == "TaskCompleted":
        return f"{kind}->{event.taskCompleted.taskScheduledId}"
    if kind == "TaskFailed":
        return f"{kind}->{event.taskFailed.taskScheduledId}"
    if kind == "TimerFired":
        return f"{kind}->{event.timerFired.timerId}"
    if kind == "SubOrchestrationInstanceCompleted":
        return f"{kind}->{event.subOrchestrationInstanceCompleted.taskScheduledId}"
    if kind == "SubOrchestrationInstanceFailed":
        return f"{kind}->{event.subOrchestrationInstanceFailed.taskScheduledId}"
    if kind == "EventRaised":
        return f"{kind}({event.eventRaised.name})"
    if kind == "ExecutionStarted":
        started = event.executionStarted
        parent = ",parent" if started.HasField("parentInstance") else ""
        return f"{kind}({started.name}{parent})"
    return kind


def normalize_history(events: Sequence[pb.HistoryEvent], instance_ids: dict[str, str],
                      batched: bool) -> tuple[list[str], list[str]]:
    """(types, details) of a history. ``batched`` drops OrchestratorStarted markers and sorts each run of
    consecutive inbound events, for scenarios whose delivery batching depends on timing."""
    types = [event_type(e) for e in events]
    details = [event_detail(e, instance_ids) for e in events]
    if not batched:
        return types, details
    return _batch_canonical(types), _batch_canonical(details)


def _batch_canonical(items: list[str]) -> list[str]:
    result: list[str] = []
    run: list[str] = []
    for item in items:
        kind = item.split("#")[0].split("->")[0].split("(")[0]
        if kind == "OrchestratorStarted":
            continue
        if kind in INBOUND_EVENT_TYPES:
            run.append(item)
            continue
        result.extend(sorted(run))
        run = []
        result.append(item)
    result.extend(sorted(run))
    return result


def short_type_name(failure_type: str | None) -> str | None:
    """'ValueError' for 'builtins.ValueError' (SDKs differ in how they qualify error types)."""
    return failure_type.rsplit(".", 1)[-1] if failure_type else failure_type


# ----------------------------------------------------------------------------------------------
# Driver helpers
# ----------------------------------------------------------------------------------------------

class ScenarioRun:
    """What a driver gets: the client, history access, unique instance ids and polling helpers."""

    def __init__(self, scenario: Scenario, client: dt_client.TaskHubGrpcClient, history: HistoryFetcher,
                 timeout: float) -> None:
        self.scenario = scenario
        self.client = client
        self.fetch_history = history
        self.timeout = timeout
        self.run_id = uuid.uuid4().hex[:10]
        self._labels: dict[str, str] = {}

    def instance_id(self, label: str = "main") -> str:
        """A unique instance id for this run, remembered under ``label`` for history normalization."""
        iid = f"{self.scenario.name}-{label}-{self.run_id}"
        self._labels[iid] = label
        return iid

    def label(self, instance_id: str, label: str) -> None:
        """Remember an instance id created by the system (e.g. a derived child id) under ``label``."""
        self._labels[instance_id] = label

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._labels)

    def wait_until(self, condition: Callable[[], Any], what: str, timeout: float | None = None) -> Any:
        """Poll ``condition`` until it returns a truthy value; raise TimeoutError naming ``what``."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        delay = 0.005
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(delay)  # bounded poll of a condition
            delay = min(delay * 2, 0.05)

    def wait_for_custom_status(self, instance_id: str, expected: Any) -> None:
        """Wait until the instance reports custom status ``expected`` (set just before it blocks)."""
        def reached() -> bool:
            state = self.client.get_orchestration_state(instance_id)
            return state is not None and state.serialized_custom_status is not None \
                and _loads(state.serialized_custom_status) == expected
        self.wait_until(reached, f"custom status {expected!r} on {instance_id}")

    def wait_for_status(self, instance_id: str, status: dt_client.OrchestrationStatus) -> None:
        """Wait until the instance's runtime status is ``status``."""
        def reached() -> bool:
            state = self.client.get_orchestration_state(instance_id)
            return state is not None and state.runtime_status == status
        self.wait_until(reached, f"status {status.name} on {instance_id}")

    def wait_for_history_event(self, instance_id: str, kind: str) -> None:
        """Wait until the committed history of ``instance_id`` holds an event of type ``kind``."""
        self.wait_until(lambda: kind in [event_type(e) for e in self.fetch_history(instance_id)],
                        f"a {kind} event in the history of {instance_id}")

    def complete(self, instance_id: str) -> dt_client.OrchestrationState:
        """Wait for completion (any terminal status) and return the state."""
        state = self.client.wait_for_orchestration_completion(instance_id, timeout=self.timeout)
        if state is None:
            raise AssertionError(f"instance {instance_id} does not exist")
        return state

    def outcome(self, state: dt_client.OrchestrationState, **notes: Any) -> Outcome:
        """Build the Outcome of the main instance from its final state and committed history."""
        result = Outcome(scenario=self.scenario.name, notes=dict(notes))
        result.status = state.runtime_status.name
        result.output = _loads(state.serialized_output)
        result.failure_type = state.failure_details.error_type if state.failure_details else None
        result.history, result.history_detail = self.history_of(state.instance_id)
        return result

    def history_of(self, instance_id: str) -> tuple[list[str], list[str]]:
        """Normalized (types, details) history of any instance of this run."""
        return normalize_history(self.fetch_history(instance_id), self.labels, self.scenario.batched_history)

    def related(self, outcome: Outcome, label: str, instance_id: str) -> None:
        """Add the state and history of a second instance (a child, say) to ``outcome``."""
        state = self.client.get_orchestration_state(instance_id)
        entry: dict[str, Any] = {"exists": state is not None}
        if state is not None:
            entry["status"] = state.runtime_status.name
            entry["output"] = _loads(state.serialized_output)
            entry["failure_type"] = state.failure_details.error_type if state.failure_details else None
            entry["history"], entry["history_detail"] = self.history_of(instance_id)
        outcome.related[label] = entry


def _loads(payload: str | None) -> Any:
    if payload is None or payload == "":
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


# ----------------------------------------------------------------------------------------------
# The catalogue
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """What a correct SDK on a correct sidecar must report (failure type compared without module)."""

    status: str
    output: Any = None
    failure_type: str | None = None


@dataclass(frozen=True)
class Scenario:
    """Orchestrators and activities to register, plus the driver that exercises them."""

    name: str
    pattern: str
    orchestrators: tuple[Callable[..., Any], ...]
    activities: tuple[Callable[..., Any], ...]
    driver: Callable[[ScenarioRun], Outcome]
    expected: Expected
    batched_history: bool = False
    #: Known, documented deviations of a peer (see docs/fidelity.md), by peer name.
    peer_expected: tuple[tuple[str, Expected], ...] = ()

    def expected_for(self, peer: str | None) -> Expected:
        """The expectation on ``peer`` ("durabletask-go", "fake", ...): its documented deviation or the norm."""
        return dict(self.peer_expected).get(peer or "", self.expected)

    def check(self, outcome: Outcome, peer: str | None = None) -> list[str]:
        """Problems with ``outcome`` against the expectation for ``peer`` (empty when it matches)."""
        expected = self.expected_for(peer)
        problems = []
        if outcome.error:
            problems.append(f"driver error: {outcome.error.strip().splitlines()[-1]}")
        if outcome.status != expected.status:
            problems.append(f"status {outcome.status} != expected {expected.status}")
        if outcome.output != expected.output:
            problems.append(f"output {outcome.output!r} != expected {expected.output!r}")
        if short_type_name(outcome.failure_type) != expected.failure_type:
            problems.append(f"failure type {outcome.failure_type!r} != expected {expected.failure_type!r}")
        return problems


# --- function chaining ------------------------------------------------------------------------

def chain_hello(ctx: task.ActivityContext, name: str) -> str:
    """Activity: greet a city."""
    return f"Hello {name}!"


def chain_sequence(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: three activities in sequence."""
    result1 = yield ctx.call_activity(chain_hello, input="Tokyo")
    result2 = yield ctx.call_activity(chain_hello, input="Seattle")
    result3 = yield ctx.call_activity(chain_hello, input="London")
    return [result1, result2, result3]


def drive_chaining(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(chain_sequence, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


# --- fan-out/fan-in ---------------------------------------------------------------------------

def fan_get_work_items(ctx: task.ActivityContext, _: Any) -> list[str]:
    """Activity: the work to fan out over."""
    return ["a", "bb", "ccc", "dddd"]


def fan_process_item(ctx: task.ActivityContext, item: str) -> int:
    """Activity: process one work item."""
    return len(item)


def fan_out_fan_in(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: fan out over a dynamic list, fan in with when_all."""
    work_items = yield ctx.call_activity(fan_get_work_items)
    tasks = [ctx.call_activity(fan_process_item, input=item) for item in work_items]
    results = yield task.when_all(tasks)
    return {"work_items": work_items, "results": results, "total": sum(results)}


def drive_fan_out(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(fan_out_fan_in, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


# --- human interaction with a durable timer and custom objects ------------------------------

@dataclass
class Order:
    """A custom business object passed as orchestration input."""

    Cost: float
    Product: str
    Quantity: int
    TimeoutSeconds: float = 24 * 3600


@dataclass
class Approval:
    """A custom business object carried by the approval event."""

    approver: str


def hi_send_approval_request(ctx: task.ActivityContext, order: Order) -> None:
    """Activity: ask a manager for approval (no-op here)."""


def hi_place_order(ctx: task.ActivityContext, order: Order) -> str:
    """Activity: place the order."""
    return f"placed {order.Quantity} x {order.Product}"


def hi_purchase_order(ctx: task.OrchestrationContext, order: Order):
    """Orchestrator: orders of 1000 or more wait for approval or time out."""
    if order.Cost < 1000:
        return "Auto-approved"
    yield ctx.call_activity(hi_send_approval_request, input=order)
    approval_event = ctx.wait_for_external_event("approval_received", data_type=Approval)
    timeout_event = ctx.create_timer(timedelta(seconds=order.TimeoutSeconds))
    ctx.set_custom_status("waiting for approval")
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"
    yield ctx.call_activity(hi_place_order, input=order)
    approval_details = approval_event.get_result()
    return f"Approved by '{approval_details.approver}'"


def drive_human_approved(run: ScenarioRun) -> Outcome:
    order = Order(Cost=2500.0, Product="laptop", Quantity=2)
    iid = run.client.schedule_new_orchestration(hi_purchase_order, input=order, instance_id=run.instance_id())
    run.wait_for_custom_status(iid, "waiting for approval")
    run.client.raise_orchestration_event(iid, "approval_received", data=Approval(approver="Alice"))
    return run.outcome(run.complete(iid))


def drive_human_timeout(run: ScenarioRun) -> Outcome:
    order = Order(Cost=2500.0, Product="laptop", Quantity=2, TimeoutSeconds=0.3)
    iid = run.client.schedule_new_orchestration(hi_purchase_order, input=order, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


def drive_human_auto_approved(run: ScenarioRun) -> Outcome:
    order = Order(Cost=99.5, Product="mouse", Quantity=1)
    iid = run.client.schedule_new_orchestration(hi_purchase_order, input=order, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


# --- custom objects round trip ----------------------------------------------------------------

@dataclass
class Receipt:
    """A custom object returned by an activity."""

    product: str
    total: float
    lines: list[str]


def co_make_receipt(ctx: task.ActivityContext, order: Order) -> Receipt:
    """Activity: turn an order into a receipt."""
    return Receipt(product=order.Product, total=order.Cost * order.Quantity,
                   lines=[f"{order.Product} x{order.Quantity}"])


def co_orchestrator(ctx: task.OrchestrationContext, order: Order):
    """Orchestrator: dataclass in, dataclass through an activity, dataclass out."""
    receipt = yield ctx.call_activity(co_make_receipt, input=order, return_type=Receipt)
    if not isinstance(receipt, Receipt):
        raise TypeError(f"activity result was not reconstructed as Receipt: {type(receipt).__name__}")
    return Receipt(product=receipt.product.upper(), total=receipt.total, lines=receipt.lines + ["paid"])


def drive_custom_objects(run: ScenarioRun) -> Outcome:
    order = Order(Cost=12.5, Product="pen", Quantity=4)
    iid = run.client.schedule_new_orchestration(co_orchestrator, input=order, instance_id=run.instance_id())
    state = run.complete(iid)
    outcome = run.outcome(state)
    outcome.notes["input_roundtrip"] = _loads(state.serialized_input)
    return outcome


# --- durable timer ----------------------------------------------------------------------------

def timer_orchestrator(ctx: task.OrchestrationContext, seconds: float):
    """Orchestrator: sleep on a durable timer, then report whether time moved forward."""
    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    waited = (ctx.current_utc_datetime - start).total_seconds()
    return {"waited_at_least": waited >= seconds}


def drive_timer(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(timer_orchestrator, input=0.2, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


# --- external events --------------------------------------------------------------------------

def ev_orchestrator(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: one event, then two more in parallel; events may arrive in any order."""
    ctx.set_custom_status("waiting")
    first = yield ctx.wait_for_external_event("first")
    rest = yield task.when_all([ctx.wait_for_external_event("second"), ctx.wait_for_external_event("third")])
    return [first, *rest]


def drive_external_events(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(ev_orchestrator, instance_id=run.instance_id())
    run.wait_for_custom_status(iid, "waiting")
    for name in ("third", "second", "first"):
        run.client.raise_orchestration_event(iid, name, data={"event": name})
    return run.outcome(run.complete(iid))


def drive_event_before_start(run: ScenarioRun) -> Outcome:
    """Events raised right after scheduling, before the orchestrator waits, are buffered."""
    iid = run.client.schedule_new_orchestration(ev_orchestrator, instance_id=run.instance_id())
    for name in ("first", "second", "third"):
        run.client.raise_orchestration_event(iid, name, data=name)
    return run.outcome(run.complete(iid))


# --- sub-orchestrations -----------------------------------------------------------------------

def sub_child(ctx: task.OrchestrationContext, value: int):
    """Child orchestrator: double the input through an activity."""
    doubled = yield ctx.call_activity(sub_double, input=value)
    return {"value": doubled}


def sub_double(ctx: task.ActivityContext, value: int) -> int:
    """Activity: double a number."""
    return value * 2


def sub_parent(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: one child with an explicit id, one with a sidecar/SDK-derived id."""
    explicit = yield ctx.call_sub_orchestrator(sub_child, input=5, instance_id=f"{ctx.instance_id}-explicit")
    derived = yield ctx.call_sub_orchestrator(sub_child, input=7)
    return [explicit["value"], derived["value"]]


def drive_sub_orchestrations(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(sub_parent, instance_id=run.instance_id())
    explicit_id = f"{iid}-explicit"
    run.label(explicit_id, "explicit-child")
    state = run.complete(iid)
    created = [e.subOrchestrationInstanceCreated.instanceId for e in run.fetch_history(iid)
               if event_type(e) == "SubOrchestrationInstanceCreated"]
    derived = [c for c in created if c != explicit_id]
    derived_id = derived[0] if derived else ""
    run.label(derived_id, "derived-child")
    outcome = run.outcome(state, derived_child_id=derived_id.replace(iid, "<parent>"))
    run.related(outcome, "explicit-child", explicit_id)
    run.related(outcome, "derived-child", derived_id)
    return outcome


def sub_failing_child(ctx: task.OrchestrationContext, _: Any):
    """Child orchestrator that fails."""
    raise ValueError("child failed")


def sub_failing_parent(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: a failing child; the parent catches the failure and reports its type."""
    try:
        yield ctx.call_sub_orchestrator(sub_failing_child, instance_id=f"{ctx.instance_id}-child")
    except task.TaskFailedError as error:
        return {"caught": task.TaskFailedError.__name__, "child_error_type": error.details.error_type.rsplit(".")[-1]}
    return "no failure"


def drive_sub_orchestration_failure(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(sub_failing_parent, instance_id=run.instance_id())
    run.label(f"{iid}-child", "child")
    outcome = run.outcome(run.complete(iid))
    run.related(outcome, "child", f"{iid}-child")
    return outcome


# --- continue-as-new --------------------------------------------------------------------------

def can_counter(ctx: task.OrchestrationContext, count: int):
    """Orchestrator: restart itself with count + 1 until count reaches 3."""
    if count < 3:
        ctx.continue_as_new(count + 1)
        return None
    return count


def drive_continue_as_new(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(can_counter, input=0, instance_id=run.instance_id())
    state = run.complete(iid)
    return run.outcome(state, final_input=_loads(state.serialized_input))


def can_with_activity(ctx: task.OrchestrationContext, count: int):
    """Orchestrator: one activity per generation, three generations."""
    value = yield ctx.call_activity(sub_double, input=count)
    if count < 2:
        ctx.continue_as_new(count + 1)
        return None
    return value


def drive_continue_as_new_activity(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(can_with_activity, input=0, instance_id=run.instance_id())
    state = run.complete(iid)
    return run.outcome(state, final_input=_loads(state.serialized_input))


# --- suspend / resume / terminate -------------------------------------------------------------

def sr_wait_for_go(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: announce that it waits, then wait for the 'go' event."""
    ctx.set_custom_status("waiting")
    value = yield ctx.wait_for_external_event("go")
    return value


def drive_suspend_resume(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(sr_wait_for_go, instance_id=run.instance_id())
    run.wait_for_custom_status(iid, "waiting")
    run.client.suspend_orchestration(iid, reason="pause")
    run.wait_for_status(iid, dt_client.OrchestrationStatus.SUSPENDED)
    run.client.raise_orchestration_event(iid, "go", data="went")
    run.wait_for_history_event(iid, "EventRaised")
    state = run.client.get_orchestration_state(iid)
    status_after_event = state.runtime_status.name if state else None
    run.client.resume_orchestration(iid, reason="continue")
    return run.outcome(run.complete(iid), status_after_event_while_suspended=status_after_event)


def drive_terminate(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(sr_wait_for_go, instance_id=run.instance_id())
    run.wait_for_custom_status(iid, "waiting")
    run.client.terminate_orchestration(iid, output="stopped by test")
    return run.outcome(run.complete(iid))


def drive_terminate_suspended(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(sr_wait_for_go, instance_id=run.instance_id())
    run.wait_for_custom_status(iid, "waiting")
    run.client.suspend_orchestration(iid)
    run.wait_for_status(iid, dt_client.OrchestrationStatus.SUSPENDED)
    run.client.terminate_orchestration(iid, output="terminated while suspended")
    # Not wait_for_orchestration_completion: durabletask-go never reports this instance as complete.
    run.wait_for_history_event(iid, "ExecutionCompleted")
    state = run.client.get_orchestration_state(iid)
    if state is None:
        raise AssertionError(f"instance {iid} vanished")
    return run.outcome(state)


def term_parent(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: start a child that waits forever and wait for it."""
    result = yield ctx.call_sub_orchestrator(sr_wait_for_go, instance_id=f"{ctx.instance_id}-child")
    return result


def drive_terminate_recursive(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(term_parent, instance_id=run.instance_id())
    child = f"{iid}-child"
    run.label(child, "child")
    run.wait_for_custom_status(child, "waiting")
    run.client.terminate_orchestration(iid, output="stop all", recursive=True)
    state = run.complete(iid)
    child_state = run.complete(child)
    outcome = run.outcome(state)
    outcome.notes["child_output"] = _loads(child_state.serialized_output)
    run.related(outcome, "child", child)
    return outcome


# --- retries ----------------------------------------------------------------------------------

_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def _count_attempt(ctx: task.ActivityContext) -> int:
    key = f"{ctx.orchestration_id}/{ctx.task_id}"
    with _attempts_lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        return sum(v for k, v in _attempts.items() if k.startswith(f"{ctx.orchestration_id}/"))


class FlakyError(RuntimeError):
    """Raised by the flaky activity on its first attempts."""


def retry_flaky(ctx: task.ActivityContext, fail_times: int) -> str:
    """Activity: fail ``fail_times`` times for this orchestration, then succeed."""
    attempt = _count_attempt(ctx)
    if attempt <= fail_times:
        raise FlakyError(f"attempt {attempt} failed")
    return f"succeeded on attempt {attempt}"


def retry_orchestrator(ctx: task.OrchestrationContext, fail_times: int):
    """Orchestrator: call the flaky activity with a retry policy of three attempts."""
    policy = task.RetryPolicy(first_retry_interval=timedelta(milliseconds=50), max_number_of_attempts=3,
                              backoff_coefficient=1.0)
    result = yield ctx.call_activity(retry_flaky, input=fail_times, retry_policy=policy)
    return result


def drive_retry_success(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(retry_orchestrator, input=2, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


def drive_retry_exhausted(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(retry_orchestrator, input=10, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


# --- failures ---------------------------------------------------------------------------------

def fail_activity(ctx: task.ActivityContext, _: Any) -> None:
    """Activity that always raises."""
    raise ValueError("activity exploded")


def fail_uncaught(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: does not catch an activity failure."""
    yield ctx.call_activity(fail_activity)
    return "unreachable"


def fail_caught(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: catches an activity failure and reports it."""
    try:
        yield ctx.call_activity(fail_activity)
    except task.TaskFailedError as error:
        return {"message": error.details.message, "type": error.details.error_type.rsplit(".")[-1]}
    return "no failure"


def fail_orchestrator_raises(ctx: task.OrchestrationContext, _: Any):
    """Orchestrator: raises from its own code."""
    raise KeyError("orchestrator bug")


def drive_activity_failure_uncaught(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(fail_uncaught, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


def drive_activity_failure_caught(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(fail_caught, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


def drive_orchestrator_raises(run: ScenarioRun) -> Outcome:
    iid = run.client.schedule_new_orchestration(fail_orchestrator_raises, instance_id=run.instance_id())
    return run.outcome(run.complete(iid))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("chaining", "function chaining", (chain_sequence,), (chain_hello,), drive_chaining,
             Expected("COMPLETED", ["Hello Tokyo!", "Hello Seattle!", "Hello London!"])),
    Scenario("fan_out_fan_in", "fan-out/fan-in", (fan_out_fan_in,), (fan_get_work_items, fan_process_item),
             drive_fan_out,
             Expected("COMPLETED", {"work_items": ["a", "bb", "ccc", "dddd"], "results": [1, 2, 3, 4], "total": 10}),
             batched_history=True),
    Scenario("human_approved", "human interaction", (hi_purchase_order,),
             (hi_send_approval_request, hi_place_order), drive_human_approved,
             Expected("COMPLETED", "Approved by 'Alice'")),
    Scenario("human_timeout", "human interaction (timer wins)", (hi_purchase_order,),
             (hi_send_approval_request, hi_place_order), drive_human_timeout, Expected("COMPLETED", "Canceled")),
    Scenario("human_auto_approved", "human interaction (no approval needed)", (hi_purchase_order,),
             (hi_send_approval_request, hi_place_order), drive_human_auto_approved,
             Expected("COMPLETED", "Auto-approved")),
    Scenario("custom_objects", "custom objects", (co_orchestrator,), (co_make_receipt,), drive_custom_objects,
             Expected("COMPLETED", {"product": "PEN", "total": 50.0, "lines": ["pen x4", "paid"]})),
    Scenario("durable_timer", "durable timers", (timer_orchestrator,), (), drive_timer,
             Expected("COMPLETED", {"waited_at_least": True})),
    Scenario("external_events", "external events", (ev_orchestrator,), (), drive_external_events,
             Expected("COMPLETED", [{"event": "first"}, {"event": "second"}, {"event": "third"}]),
             batched_history=True),
    Scenario("events_before_wait", "external events (buffered)", (ev_orchestrator,), (), drive_event_before_start,
             Expected("COMPLETED", ["first", "second", "third"]), batched_history=True),
    Scenario("sub_orchestrations", "sub-orchestrations", (sub_parent, sub_child), (sub_double,),
             drive_sub_orchestrations, Expected("COMPLETED", [10, 14])),
    Scenario("sub_orchestration_failure", "sub-orchestrations (failure)", (sub_failing_parent, sub_failing_child),
             (), drive_sub_orchestration_failure,
             Expected("COMPLETED", {"caught": "TaskFailedError", "child_error_type": "ValueError"})),
    Scenario("continue_as_new", "continue-as-new", (can_counter,), (), drive_continue_as_new,
             Expected("COMPLETED", 3)),
    Scenario("continue_as_new_activity", "continue-as-new (with work per generation)", (can_with_activity,),
             (sub_double,), drive_continue_as_new_activity, Expected("COMPLETED", 4)),
    Scenario("suspend_resume", "suspend/resume", (sr_wait_for_go,), (), drive_suspend_resume,
             Expected("COMPLETED", "went")),
    Scenario("terminate", "terminate", (sr_wait_for_go,), (), drive_terminate,
             Expected("TERMINATED", "stopped by test")),
    Scenario("terminate_suspended", "terminate (while suspended)", (sr_wait_for_go,), (),
             drive_terminate_suspended, Expected("TERMINATED", "terminated while suspended"),
             peer_expected=(("durabletask-go", Expected("SUSPENDED", "terminated while suspended")),)),
    Scenario("terminate_recursive", "terminate (recursive)", (term_parent, sr_wait_for_go), (),
             drive_terminate_recursive, Expected("TERMINATED", "stop all")),
    Scenario("retry_success", "retries (flaky activity)", (retry_orchestrator,), (retry_flaky,),
             drive_retry_success, Expected("COMPLETED", "succeeded on attempt 3")),
    Scenario("retry_exhausted", "retries (attempts exhausted)", (retry_orchestrator,), (retry_flaky,),
             drive_retry_exhausted, Expected("FAILED", None, "TaskFailedError")),
    Scenario("activity_failure_uncaught", "activity failure", (fail_uncaught,), (fail_activity,),
             drive_activity_failure_uncaught, Expected("FAILED", None, "TaskFailedError")),
    Scenario("activity_failure_caught", "activity failure (handled)", (fail_caught,), (fail_activity,),
             drive_activity_failure_caught,
             Expected("COMPLETED", {"message": "activity exploded", "type": "ValueError"})),
    Scenario("orchestrator_raises", "orchestrator failure", (fail_orchestrator_raises,), (),
             drive_orchestrator_raises, Expected("FAILED", None, "KeyError")),
)

SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------

def select(names: Iterable[str] | None) -> list[Scenario]:
    """Scenarios by name (all when ``names`` is empty); unknown names raise KeyError naming them."""
    if not names:
        return list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS_BY_NAME]
    if unknown:
        raise KeyError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS_BY_NAME)}")
    return [SCENARIOS_BY_NAME[n] for n in names]


def build_worker(host: str, scenarios: Sequence[Scenario]) -> dt_worker.TaskHubGrpcWorker:
    """A worker with every orchestrator and activity of ``scenarios`` registered (not started)."""
    worker = dt_worker.TaskHubGrpcWorker(host_address=host)
    seen: set[int] = set()
    for scenario in scenarios:
        for fn in scenario.orchestrators:
            if id(fn) not in seen:
                seen.add(id(fn))
                worker.add_orchestrator(fn)
        for fn in scenario.activities:
            if id(fn) not in seen:
                seen.add(id(fn))
                worker.add_activity(fn)
    return worker


def run_one(scenario: Scenario, client: dt_client.TaskHubGrpcClient, history: HistoryFetcher,
            timeout: float) -> Outcome:
    """Run one scenario's driver; driver exceptions become ``Outcome.error``."""
    started = time.monotonic()
    run = ScenarioRun(scenario, client, history, timeout)
    try:
        outcome = scenario.driver(run)
    except Exception:
        outcome = Outcome(scenario=scenario.name, error=traceback.format_exc())
        _attach_histories_after_error(run, outcome)
    outcome.duration_s = round(time.monotonic() - started, 3)
    return outcome


def _attach_histories_after_error(run: ScenarioRun, outcome: Outcome) -> None:
    """Record whatever history the instances of a failed driver reached, to help diagnose it."""
    for instance_id, label in run.labels.items():
        try:
            types, details = run.history_of(instance_id)
        except Exception as error:  # the history itself may be what failed
            details = [f"history unavailable: {error!r}"]
            types = []
        if label == "main":
            outcome.history, outcome.history_detail = types, details
        else:
            outcome.related[label] = {"history": types, "history_detail": details}


def run_scenarios(host: str, history: HistoryFetcher, scenarios: Sequence[Scenario] | None = None,
                  timeout: float = 10.0, parallelism: int = 8) -> list[Outcome]:
    """Start one worker and one client on ``host`` and run ``scenarios`` (all by default) concurrently.

    Outcomes come back in catalogue order.
    """
    chosen = list(scenarios) if scenarios is not None else list(SCENARIOS)
    worker = build_worker(host, chosen)
    client = dt_client.TaskHubGrpcClient(host_address=host)
    worker.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            futures = [pool.submit(run_one, s, client, history, timeout) for s in chosen]
            return [f.result() for f in futures]
    finally:
        worker.stop()
        client.close()
