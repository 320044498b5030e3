"""Orchestration programs as data: the vocabulary, a seeded generator and the shrinker (issue 27).

A *program* is a JSON-able dict run by one interpreter orchestrator (``fidelity_interpreter.py``) on
every SDK and sidecar, so both sides of a comparison run identical code:

    {"name": str, "root": BODY, "after": [POST, ...]}
    BODY  = {"gens": [[STEP, ...], ...], "carry": bool}   one list per generation; continue-as-new between
                                                          them, carrying unconsumed events when "carry"
    STEP  = {"op": "act", "fail": n, "retry": m, "catch": bool}    activity failing its first n attempts
                                                                    (n >= ALWAYS: every attempt), m attempts
          | {"op": "timer", "ms": n}
          | {"op": "wait", "name": e}                  external event raised by an earlier beacon
          | {"op": "race", "name": e, "ms": n}         when_any(event e, timer n ms)
          | {"op": "all", "tasks": [TASK, ...], "catch": bool}
          | {"op": "any", "tasks": [TASK, ...]}        exactly one task can finish first (the winner)
          | {"op": "sub", "id": ID, "body": BODY, "retry": m, "catch": bool}
          | {"op": "flaky", "fail": n}                 the orchestrator itself raises on its first n attempts
          | {"op": "status", "value": v}               set_custom_status(v) (v may be None)
          | {"op": "beacon", "actions": [ACTION, ...]} handshake: the driver acts, then releases the body
          | {"op": "park"}                             custom status "parked", then wait for ever
          | {"op": "raise", "message": s}              the orchestrator raises
    TASK  = an act (no catch), timer, wait, sub (no catch) or park-bodied sub as a loser of "any"
    ID    = "generated" | "explicit" (same id in every generation) | "explicit_gen" (one id per generation)
    ACTION = {"do": "raise", "name": e} | {"do": "suspend_resume"}
           | {"do": "terminate", "to": "self" | "root", "recursive": bool}
    POST  = {"do": "suspend" | "resume"} | {"do": "purge", "recursive": bool}   on the root, after it settled

Determinism rules the generator keeps (so one program has one correct outcome whatever the timing): an
event is waited for only after a beacon of the same body raised it (or, in a later generation, as a race
with a short timer, which the event wins only if it was carried over); a when_any has one possible winner
(an activity, a short timer or a raised event) and losers that never finish (hour-long timers, events
nobody raises, parked children); a when_all holds at most one failing task; a body run as a when_all
branch never terminates the root (its siblings would race the termination). Nothing here imports an SDK.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

Program = dict[str, Any]
Body = dict[str, Any]
Step = dict[str, Any]

ALWAYS = 99  # "fail" >= ALWAYS: the activity or orchestrator fails on every attempt
HOUR_MS = 3_600_000
NEVER = "never"  # an event name nobody raises


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------

class _Gen:
    """State of one generation run: the random source, a counter for fresh event names, and how many
    when_all branches enclose the body being generated (a body in one must not terminate the root)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events = 0
        self.concurrent = 0

    def fresh_event(self) -> str:
        self.events += 1
        return f"e{self.events}"

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


def generate(seed: int, index: int = 0) -> Program:
    """The program number ``index`` of ``seed`` (the same pair always gives the same program)."""
    rng = random.Random(f"fidelity/{seed}/{index}")
    g = _Gen(rng)
    root = _body(g, depth=0, is_root=True)
    after: list[Step] = []
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        kind = rng.choice(("purge", "purge", "purge", "suspend", "resume"))
        after.append({"do": "purge", "recursive": g.chance(0.75)} if kind == "purge" else {"do": kind})
    return {"name": f"p{seed}x{index}", "root": root, "after": after}


def _body(g: _Gen, depth: int, is_root: bool = False) -> Body:
    rng = g.rng
    n_gens = rng.choice((1, 1, 1, 2, 2, 3)) if depth < 2 else 1
    carry = g.chance(0.5)
    gens: list[list[Step]] = []
    unconsumed: list[str] = []  # raised in an earlier generation, never waited for
    for gen in range(n_gens):
        steps, left = _steps(g, depth, is_root, unconsumed if gen > 0 else [], last_gen=gen == n_gens - 1)
        unconsumed = left
        gens.append(steps)
    return {"gens": gens, "carry": carry}


def _steps(g: _Gen, depth: int, is_root: bool, carried: list[str], last_gen: bool) -> tuple[list[Step], list[str]]:
    rng = g.rng
    steps: list[Step] = []
    raised: list[str] = []  # raised by a beacon of this generation, not yet consumed
    carried = list(carried)
    for _ in range(rng.randint(1, 5)):
        kind = rng.choices(
            ("act", "timer", "beacon", "wait", "race", "all", "any", "sub", "status", "flaky", "raise", "carried"),
            weights=(6, 2, 4, 3 if raised else 0, 2, 3, 3, 4 if depth < 2 else 0, 3, 1, 1, 3 if carried else 0))[0]
        if kind == "act":
            steps.append(_act(g, catch=g.chance(0.5)))
        elif kind == "timer":
            steps.append({"op": "timer", "ms": rng.choice((50, 100, 200))})
        elif kind == "beacon":
            step, terminal = _beacon(g, depth, is_root, raised)
            steps.append(step)
            if terminal:
                return steps, []
        elif kind == "wait":
            steps.append({"op": "wait", "name": raised.pop(rng.randrange(len(raised)))})
        elif kind == "race":
            if raised and g.chance(0.6):
                steps.append({"op": "race", "name": raised.pop(rng.randrange(len(raised))), "ms": HOUR_MS})
            else:
                steps.append({"op": "race", "name": NEVER, "ms": rng.choice((50, 100))})
        elif kind == "carried":
            steps.append({"op": "race", "name": carried.pop(rng.randrange(len(carried))), "ms": 150})
        elif kind == "all":
            steps.append(_all(g, depth, raised))
        elif kind == "any":
            steps.append(_any(g, depth, raised))
        elif kind == "sub":
            steps.append(_sub(g, depth, catch=g.chance(0.6)))
        elif kind == "status":
            steps.append({"op": "status", "value": rng.choice((None, "s1", {"n": 2}, "s3"))})
        elif kind == "flaky":
            steps.append({"op": "flaky", "fail": rng.choice((1, 2, ALWAYS))})
        elif kind == "raise":
            steps.append({"op": "raise", "message": "orchestrator gave up"})
            return steps, []
    return steps, raised + carried


def _act(g: _Gen, catch: bool) -> Step:
    rng = g.rng
    fail = rng.choices((0, 1, 2, ALWAYS), weights=(6, 2, 1, 2))[0]
    retry = rng.choice((0, 0, 2, 3)) if fail else rng.choice((0, 0, 0, 2))
    return {"op": "act", "fail": fail, "retry": retry, "catch": catch}


def _beacon(g: _Gen, depth: int, is_root: bool, raised: list[str]) -> tuple[Step, bool]:
    """A beacon and whether it ends its body (it terminates its own instance)."""
    rng = g.rng
    actions: list[Step] = []
    terminal = False
    for _ in range(rng.choice((1, 1, 2))):
        kind = rng.choices(("raise", "suspend_resume", "terminate"), weights=(5, 2, 1 if depth or is_root else 0))[0]
        if kind == "raise":
            name = g.fresh_event()
            raised.append(name)
            actions.append({"do": "raise", "name": name})
        elif kind == "suspend_resume":
            actions.append({"do": "suspend_resume"})
        else:
            to = "self" if is_root or g.concurrent or g.chance(0.7) else "root"
            actions.append({"do": "terminate", "to": to, "recursive": g.chance(0.5)})
            terminal = to == "self"
            break
    return {"op": "beacon", "actions": actions}, terminal


def _sub(g: _Gen, depth: int, catch: bool) -> Step:
    rng = g.rng
    return {"op": "sub", "id": rng.choice(("generated", "generated", "explicit", "explicit_gen")),
            "body": _body(g, depth + 1), "retry": rng.choice((0, 0, 0, 2, 3)), "catch": catch}


def _task(g: _Gen, depth: int, raised: list[str], may_fail: bool, concurrent: bool = False) -> Step:
    rng = g.rng
    kinds = ["act", "act", "timer"] + (["wait"] if raised else []) + (["sub"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "act":
        step = _act(g, catch=False)
        if not may_fail:
            step["fail"] = min(step["fail"], max(0, step["retry"] - 1))
        return step
    if kind == "timer":
        return {"op": "timer", "ms": rng.choice((50, 100))}
    if kind == "wait":
        return {"op": "wait", "name": raised.pop(rng.randrange(len(raised)))}
    g.concurrent += int(concurrent)
    child = _sub(g, depth, catch=False)
    g.concurrent -= int(concurrent)
    if not may_fail:  # a child that cannot fail: only activities that succeed within their retries
        child["body"] = {"gens": [[{"op": "act", "fail": 0, "retry": 0, "catch": False}]], "carry": False}
    return child


def _all(g: _Gen, depth: int, raised: list[str]) -> Step:
    tasks: list[Step] = []
    failing_allowed = True
    for _ in range(g.rng.randint(1, 3)):
        task = _task(g, depth, raised, may_fail=failing_allowed, concurrent=True)
        if may_fail(task):
            failing_allowed = False
        tasks.append(task)
    return {"op": "all", "tasks": tasks, "catch": g.chance(0.5)}


def _any(g: _Gen, depth: int, raised: list[str]) -> Step:
    rng = g.rng
    winner = _task(g, depth, raised, may_fail=False)
    if winner["op"] == "sub":
        winner = {"op": "act", "fail": 0, "retry": 0, "catch": False}
    losers: list[Step] = []
    for _ in range(rng.randint(1, 2)):
        kind = rng.choice(("timer", "wait", "sub") if depth < 2 else ("timer", "wait"))
        if kind == "timer":
            losers.append({"op": "timer", "ms": HOUR_MS})
        elif kind == "wait":
            losers.append({"op": "wait", "name": NEVER})
        else:
            losers.append({"op": "sub", "id": rng.choice(("generated", "explicit")),
                           "body": {"gens": [[{"op": "park"}]], "carry": False}, "retry": 0, "catch": False})
    tasks = losers[:]
    tasks.insert(rng.randint(0, len(losers)), winner)
    return {"op": "any", "tasks": tasks}


def may_fail(step: Step) -> bool:
    """Whether a task step can end in failure (used to keep one failing task per when_all)."""
    if step["op"] == "act":
        return bool(step["fail"]) and step["fail"] >= max(1, step["retry"])
    if step["op"] == "sub":
        return True
    return False


# ----------------------------------------------------------------------------------------------
# Queries over a program (used by the comparison's predicates)
# ----------------------------------------------------------------------------------------------

def bodies(program: Program) -> Iterator[Body]:
    """Every body of the program (the root's and every sub-orchestration's), depth first."""
    stack = [program["root"]]
    while stack:
        body = stack.pop()
        yield body
        for steps in body["gens"]:
            for step in steps:
                stack.extend(_child_bodies(step))


def _child_bodies(step: Step) -> list[Body]:
    if step["op"] == "sub":
        return [step["body"]]
    if step["op"] in ("all", "any"):
        return [b for task in step["tasks"] for b in _child_bodies(task)]
    return []


def steps_of(program: Program) -> Iterator[Step]:
    """Every step of every body, tasks of all/any included."""
    for body in bodies(program):
        for steps in body["gens"]:
            for step in steps:
                yield step
                if step["op"] in ("all", "any"):
                    yield from step["tasks"]


def actions_of(program: Program) -> Iterator[Step]:
    """Every driver action of every beacon."""
    for step in steps_of(program):
        if step["op"] == "beacon":
            yield from step["actions"]


def continues_as_new(program: Program) -> bool:
    """Whether some body has more than one generation."""
    return any(len(body["gens"]) > 1 for body in bodies(program))


def has_sub_orchestrations(program: Program) -> bool:
    return any(step["op"] == "sub" for step in steps_of(program))


def size(program: Program) -> int:
    """What the shrinker makes smaller: 100 per step, task, action, post action and generation, plus one
    per retry attempt, failing attempt (capped at 3), explicit id, carried-events flag and unusual status value."""
    total = 100 * len(program["after"])
    for body in bodies(program):
        total += 100 * len(body["gens"]) + int(bool(body["carry"]))
    for step in steps_of(program):
        total += 100 + step.get("retry", 0) + min(step.get("fail", 0), 3)
        total += int(step.get("id", "generated") != "generated")
        total += 100 * len(step.get("actions", ()))
        if step["op"] == "status" and step["value"] not in (None, "s1"):
            total += 1
    return total


# ----------------------------------------------------------------------------------------------
# Shrinking
# ----------------------------------------------------------------------------------------------

def shrink_candidates(program: Program) -> Iterator[Program]:
    """Smaller variants of ``program``, most aggressive first; each is still a well-formed program.

    A variant may break a determinism rule (drop the beacon that raised an awaited event, say); the
    minimiser only keeps variants that still show the same difference on a rerun, and a broken variant
    shows a different one (a wait that times out on both sides shows none).
    """
    for i in range(len(program["after"])):
        variant = copy.deepcopy(program)
        del variant["after"][i]
        yield variant
    paths = list(_step_paths(program["root"], ()))
    for path in reversed(paths):  # deepest and last first
        for replacement in _step_replacements(_get(program["root"], path)):
            variant = copy.deepcopy(program)
            _set(variant["root"], path, replacement)
            yield variant
    for body_path in _body_paths(program["root"]):
        body = _get_body(program["root"], body_path)
        for gi in range(len(body["gens"])):
            if len(body["gens"]) > 1:
                variant = copy.deepcopy(program)
                del _get_body(variant["root"], body_path)["gens"][gi]
                yield variant
        if body["carry"]:
            variant = copy.deepcopy(program)
            _get_body(variant["root"], body_path)["carry"] = False
            yield variant


def _step_replacements(step: Step) -> Iterator[Step | None]:
    """None (delete the step) first, then simpler forms of it."""
    yield None
    op = step["op"]
    if op in ("all", "any"):
        for i in range(len(step["tasks"])):
            if len(step["tasks"]) > 1:
                simpler = copy.deepcopy(step)
                del simpler["tasks"][i]
                yield simpler
    if op == "sub":
        if step["retry"]:
            yield {**step, "retry": 0}
        if step["id"] != "generated":
            yield {**step, "id": "generated"}
    if op == "act":
        if step["retry"]:
            yield {**step, "retry": 0}
        if step["fail"]:
            yield {**step, "fail": 0, "retry": 0}
    if op == "beacon" and len(step["actions"]) > 1:
        for i in range(len(step["actions"])):
            simpler = copy.deepcopy(step)
            del simpler["actions"][i]
            yield simpler
    if op == "status" and step["value"] not in (None, "s1"):
        yield {**step, "value": "s1"}


# A step path: (gen index, step index, [task index], then again for the child body: "body", gen, step, ...)
_Path = tuple[Any, ...]


def _step_paths(body: Body, prefix: _Path) -> Iterator[_Path]:
    for gi, steps in enumerate(body["gens"]):
        for si, step in enumerate(steps):
            here = prefix + (gi, si)
            yield here
            if step["op"] == "sub":
                yield from _step_paths(step["body"], here + ("body",))
            if step["op"] in ("all", "any"):
                for ti, task in enumerate(step["tasks"]):
                    yield here + ("task", ti)
                    if task["op"] == "sub":
                        yield from _step_paths(task["body"], here + ("task", ti, "body"))


def _body_paths(body: Body) -> Iterator[_Path]:
    yield ()
    for path in _step_paths(body, ()):
        if _get(body, path)["op"] == "sub":
            yield path + ("body",)


def _get(body: Body, path: _Path) -> Any:
    node: Any = body
    i = 0
    while i < len(path):
        if path[i] == "body":
            node = node["body"]
            i += 1
        elif path[i] == "task":
            node = node["tasks"][path[i + 1]]
            i += 2
        else:
            node = node["gens"][path[i]][path[i + 1]]
            i += 2
    return node


def _get_body(body: Body, path: _Path) -> Body:
    if not path:
        return body
    found: Body = _get(body, path)
    return found


def _set(body: Body, path: _Path, replacement: Step | None) -> None:
    if path[-2] == "task":
        parent = _get(body, path[:-2])
        if replacement is None:
            del parent["tasks"][path[-1]]
            if not parent["tasks"]:
                _set(body, path[:-2], None)
        else:
            parent["tasks"][path[-1]] = replacement
        return
    holder = _get_body(body, path[:-2])
    steps = holder["gens"][path[-2]]
    if replacement is None:
        del steps[path[-1]]
    else:
        steps[path[-1]] = replacement


def minimise(program: Program, still_fails: Any, budget: int = 200) -> Program:
    """Greedy minimisation: keep the first smaller candidate for which ``still_fails(candidate)`` is true.

    ``still_fails`` is called at most ``budget`` times (each call usually reruns the program on both
    sides, so it is the expensive part).
    """
    current = program
    calls = 0
    improved = True
    while improved and calls < budget:
        improved = False
        for candidate in shrink_candidates(current):
            if size(candidate) >= size(current):
                continue
            calls += 1
            if still_fails(candidate):
                current = candidate
                improved = True
                break
            if calls >= budget:
                break
    return current


def describe(program: Program) -> str:
    """A compact one-line JSON rendering (for reports and reproduction)."""
    return json.dumps(program, sort_keys=True, separators=(",", ":"))
