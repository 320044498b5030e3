"""The one orchestrator that runs every generated program (``fidelity_programs.py``), and its activities.

Written only against the public ``durabletask`` API, so the same code runs on our SDK and on the published
PyPI package. The orchestrator's input is ``{"body": BODY, "gen": n, "key": str, "acc": [...]}``: the body
to interpret, the generation being run, a key that names this body for the attempt counters, and the
results of the earlier generations. Its output is the list of every generation's step results.

Attempt counters live in this process (the driver and the worker share it), keyed by the body's key and
the step's path, so "fail the first n attempts" holds across retries whatever instance id a retry gets.
A beacon is an activity that hands its actions to the driver (``set_beacon_sink``) followed by a wait for
the driver's ``release.<beacon id>`` event: the driver acts once the activity's completion is committed,
while the orchestrator provably waits for the release. A race whose short timer loses waits for that timer
too, so whether it fired before the orchestration ended never depends on timing.

Importable by the published SDK's venv: stdlib and ``durabletask`` only, no relative imports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from durabletask import task

ALWAYS = 99
HOUR_MS = 3_600_000
PARKED = "parked"

BeaconSink = Callable[[str, int, str, list[dict[str, Any]]], None]

_counters: dict[str, int] = {}
_counters_lock = threading.Lock()
_sink: BeaconSink | None = None


def set_beacon_sink(sink: BeaconSink | None) -> None:
    """Route beacon arrivals (instance id, the beacon activity's task id, beacon id, actions) to ``sink``."""
    global _sink
    _sink = sink


def _count(key: str) -> int:
    with _counters_lock:
        _counters[key] = _counters.get(key, 0) + 1
        return _counters[key]


class ActivityFailure(ValueError):
    """Raised by ``fid_act`` on a failing attempt."""


class OrchestratorFailure(RuntimeError):
    """Raised by the interpreter for ``flaky`` and ``raise`` steps."""


def fid_act(ctx: task.ActivityContext, spec: dict[str, Any]) -> str:
    """Activity: fail the first ``spec["fail"]`` attempts of this step, then return a value naming it."""
    attempt = _count(spec["key"])
    if attempt <= spec["fail"]:
        raise ActivityFailure(f"activity {spec['label']} failed attempt {min(attempt, ALWAYS)}")
    return f"v:{spec['label']}"


def fid_count(ctx: task.ActivityContext, key: str) -> int:
    """Activity: how many times this key has been counted, this call included (capped at ALWAYS)."""
    return min(_count(key), ALWAYS)


def fid_beacon(ctx: task.ActivityContext, spec: dict[str, Any]) -> None:
    """Activity: hand the beacon's actions to the driver; the orchestrator then waits for its release."""
    sink = _sink
    if sink is None:
        raise RuntimeError("no driver is listening for beacons")
    sink(ctx.orchestration_id, ctx.task_id, spec["beacon"], spec["actions"])


def _policy(attempts: int) -> task.RetryPolicy | None:
    if not attempts:
        return None
    return task.RetryPolicy(first_retry_interval=timedelta(milliseconds=50), max_number_of_attempts=attempts,
                            backoff_coefficient=1.0)


def _caught(error: Exception) -> dict[str, Any]:
    details = getattr(error, "details", None)
    error_type = getattr(details, "error_type", None) if details is not None else None
    return {"caught": type(error).__name__,
            "type": error_type.rsplit(".", 1)[-1] if error_type else error_type,
            "msg": getattr(details, "message", None) if details is not None else None}


class _Interpreter:
    def __init__(self, ctx: task.OrchestrationContext, state: dict[str, Any]) -> None:
        self.ctx = ctx
        self.body = state["body"]
        self.gen = state["gen"]
        self.key = state["key"]
        self.acc = state["acc"]

    def child_input(self, step: dict[str, Any], path: str) -> dict[str, Any]:
        return {"body": step["body"], "gen": 0, "key": f"{self.key}/g{self.gen}{path}", "acc": []}

    def child_id(self, step: dict[str, Any], path: str) -> str | None:
        if step["id"] == "explicit":
            return f"{self.ctx.instance_id}-{path}"
        if step["id"] == "explicit_gen":
            return f"{self.ctx.instance_id}-g{self.gen}{path}"
        return None

    def task_of(self, step: dict[str, Any], path: str) -> task.Task[Any]:
        op = step["op"]
        ctx = self.ctx
        if op == "act":
            spec = {"key": f"{self.key}/g{self.gen}{path}", "label": f"g{self.gen}{path}", "fail": step["fail"]}
            return ctx.call_activity(fid_act, input=spec, retry_policy=_policy(step["retry"]))
        if op == "timer":
            return ctx.create_timer(timedelta(milliseconds=step["ms"]))
        if op == "wait":
            return ctx.wait_for_external_event(step["name"])
        if op == "sub":
            return ctx.call_sub_orchestrator(fid_interpreter, input=self.child_input(step, path),
                                             instance_id=self.child_id(step, path),
                                             retry_policy=_policy(step["retry"]))
        raise ValueError(f"step {op!r} cannot be a task")

    def run(self) -> Any:
        ctx = self.ctx
        results: list[Any] = []
        for index, step in enumerate(self.body["gens"][self.gen]):
            path = f"s{index}"
            op = step["op"]
            if op in ("act", "sub"):
                try:
                    results.append((yield self.task_of(step, path)))
                except task.TaskFailedError as error:
                    if not step["catch"]:
                        raise
                    results.append(_caught(error))
            elif op in ("timer", "wait"):
                value = yield self.task_of(step, path)
                results.append("t" if op == "timer" else value)
            elif op == "race":
                event = ctx.wait_for_external_event(step["name"])
                timer = ctx.create_timer(timedelta(milliseconds=step["ms"]))
                winner = yield task.when_any([event, timer])
                if winner is event and step["ms"] < HOUR_MS:
                    yield timer  # a short timer that lost still fires: let it, so histories do not race it
                results.append({"won": "event", "value": event.get_result()} if winner is event
                               else {"won": "timer"})
            elif op == "all":
                tasks = [self.task_of(t, f"{path}t{i}") for i, t in enumerate(step["tasks"])]
                try:
                    results.append((yield task.when_all(tasks)))
                except task.TaskFailedError as error:
                    if not step["catch"]:
                        raise
                    results.append(_caught(error))
            elif op == "any":
                tasks = [self.task_of(t, f"{path}t{i}") for i, t in enumerate(step["tasks"])]
                winner = yield task.when_any(tasks)
                won = next(i for i, t in enumerate(tasks) if t is winner)
                results.append({"won": won, "value": winner.get_result()})
            elif op == "flaky":
                attempt = yield ctx.call_activity(fid_count, input=f"{self.key}/g{self.gen}{path}/flaky")
                if attempt <= step["fail"]:
                    raise OrchestratorFailure(f"flaky step g{self.gen}{path} failed attempt {attempt}")
                results.append(f"flaky ok on {attempt}")
            elif op == "status":
                ctx.set_custom_status(step["value"])
            elif op == "beacon":
                beacon = f"g{self.gen}{path}"
                yield ctx.call_activity(fid_beacon, input={"beacon": beacon, "actions": step["actions"]})
                yield ctx.wait_for_external_event(f"release.{beacon}")
            elif op == "park":
                ctx.set_custom_status(PARKED)
                yield ctx.wait_for_external_event("never")
            elif op == "raise":
                raise OrchestratorFailure(step["message"])
            else:
                raise ValueError(f"unknown step {op!r}")
        acc = self.acc + [results]
        if self.gen + 1 < len(self.body["gens"]):
            ctx.continue_as_new({"body": self.body, "gen": self.gen + 1, "key": self.key, "acc": acc},
                                save_events=bool(self.body["carry"]))
            return None
        return acc


def fid_interpreter(ctx: task.OrchestrationContext, state: dict[str, Any]) -> Any:
    """Orchestrator: interpret one generation of a program body (see the module docstring)."""
    return (yield from _Interpreter(ctx, state).run())


ORCHESTRATORS = (fid_interpreter,)
ACTIVITIES = (fid_act, fid_count, fid_beacon)
