"""Compare one program's observations on durabletask-go and on the fake, up to a table of known differences.

``differences`` flattens two observations (``fidelity_driver``) into field-level differences: per
instance its existence, status, output, failure, custom status, normalized history and failure details;
per instance the driver's action results; each post action's result; each instance's existence after a
purge. ``account`` then gives every difference to the first ``KNOWN`` entry whose predicate recognises it,
and returns the rest as unexplained: the suite fails on those, loudly, with the program to reproduce them.

Every ``KNOWN`` entry is one behaviour class, in one of two small tables: ``OPEN_DIFFERENCES`` are bugs of
the fake (issue 27's items, by number, or classes this suite found) and stay only until the fake is fixed;
deleting an entry makes the comparison strict for that class again. ``DELIBERATE_DIFFERENCES`` are listed
in docs/fidelity.md under the heading each names. A predicate must recognise its class from the program
and both observations, never by ignoring a field wholesale. An observation with a harness error is not
compared field by field: the error is the verdict.

Pure: no SDK, no gRPC.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

if __package__:
    from . import fidelity_programs as fp
else:
    import fidelity_programs as fp  # type: ignore[no-redef]

Observation = dict[str, Any]
Path = tuple[Any, ...]

INSTANCE_FIELDS = ("exists", "status", "output", "failure", "custom_status", "history", "failures")
OUTCOME_INSTANCE_FIELDS = ("exists", "status", "output", "failure", "custom_status")
TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED"})


@dataclass(frozen=True)
class Difference:
    """One field that differs: where, its value on the reference (durabletask-go) and on the fake."""

    path: Path
    reference: Any
    fake: Any

    def describe(self) -> str:
        where = ".".join(str(p) for p in self.path)
        return f"{where}\n      durabletask-go: {_short(self.reference)}\n      fake:           {_short(self.fake)}"


def _short(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def differences(reference: Observation, fake: Observation, *, outcome_only: bool = False) -> list[Difference]:
    """Field-level differences between two observations of one program (histories skipped if outcome_only)."""
    found: list[Difference] = []
    fields = OUTCOME_INSTANCE_FIELDS if outcome_only else INSTANCE_FIELDS
    ref_instances, fake_instances = reference.get("instances") or {}, fake.get("instances") or {}
    missing = {"exists": False}
    for label in sorted(set(ref_instances) | set(fake_instances)):
        a, b = ref_instances.get(label, missing), fake_instances.get(label, missing)
        for name in fields:
            if a.get(name) != b.get(name):
                found.append(Difference(("instances", label, name), a.get(name), b.get(name)))
    ref_actions, fake_actions = _actions_by_label(reference), _actions_by_label(fake)
    for label in sorted(set(ref_actions) | set(fake_actions)):
        if ref_actions.get(label) != fake_actions.get(label):
            found.append(Difference(("actions", label), ref_actions.get(label), fake_actions.get(label)))
    ref_post, fake_post = reference.get("post") or [], fake.get("post") or []
    for i in range(max(len(ref_post), len(fake_post))):
        a = ref_post[i] if i < len(ref_post) else None
        b = fake_post[i] if i < len(fake_post) else None
        if a != b:
            found.append(Difference(("post", i), a, b))
    ref_purge, fake_purge = reference.get("after_purge") or {}, fake.get("after_purge") or {}
    for label in sorted(set(ref_purge) | set(fake_purge)):
        if ref_purge.get(label) != fake_purge.get(label):
            found.append(Difference(("after_purge", label), ref_purge.get(label), fake_purge.get(label)))
    return found


def _actions_by_label(observation: Observation) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for label, beacon, action, result in observation.get("actions") or []:
        out.setdefault(label, []).append([beacon, action, result])
    return out


# ----------------------------------------------------------------------------------------------
# Instance labels: children's ids extend their parent's id with "-..." (explicit) or ":NNNN" (generated)
# ----------------------------------------------------------------------------------------------

def ancestors(label: str) -> list[str]:
    """Proper ancestors of an instance label, nearest last ("R-s0:0001" -> ["R", "R-s0"])."""
    return [label[:i] for i in range(1, len(label)) if label[i] in "-:" and label[i - 1] != "-"]


def is_within(label: str, top: str) -> bool:
    """Whether ``label`` is ``top`` or one of its descendants."""
    return label == top or label.startswith((top + "-", top + ":"))


def parent_of(label: str) -> str | None:
    chain = ancestors(label)
    return chain[-1] if chain else None


# ----------------------------------------------------------------------------------------------
# Known differences
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """What a predicate sees: the program and both observations."""

    program: fp.Program
    reference: Observation
    fake: Observation

    def instance(self, side: str, label: str) -> dict[str, Any]:
        observation = self.reference if side == "reference" else self.fake
        return (observation.get("instances") or {}).get(label) or {"exists": False}

    def labels(self) -> set[str]:
        return set(self.reference.get("instances") or {}) | set(self.fake.get("instances") or {})


@dataclass(frozen=True)
class KnownDifference:
    """One behaviour class where the fake differs from durabletask-go, and how to recognise it.

    ``ref`` says where the class is written down: ``"issue 27 item N"`` for an open difference (a bug of
    the fake being fixed; the entry goes when the fix lands), or the docs/fidelity.md heading that lists a
    deliberate difference.
    """

    name: str
    kind: str  # "open" or "deliberate"
    ref: str
    reason: str
    recognises: Callable[[Case, Difference], bool]


def _stuck(instance: dict[str, Any]) -> bool:
    return bool(instance.get("exists")) and instance.get("status") not in TERMINAL \
        and instance.get("custom_status") != "parked"


def _reused_child_creators(case: Case) -> list[str]:
    """Instances whose work items durabletask-go failed because a sub-orchestration id already exists.

    durabletask-go logs the reason (``fidelity_driver.GoLogWatcher``); the instance must also be left
    unfinished there (the work item is retried for ever) for the class to apply.
    """
    failures = case.reference.get("work_item_failures") or {}
    return sorted(label for label, reasons in failures.items()
                  if any("orchestration instance already exists" in r for r in reasons)
                  and _stuck(case.instance("reference", label)))


def _sub_id_reused(case: Case, diff: Difference) -> bool:
    creators = _reused_child_creators(case)  # keyed on durabletask-go's logged failure and its hang
    if not creators:
        return False
    if diff.path[0] in ("post", "after_purge"):
        return True  # the stuck instance changes every later purge, suspend and resume
    label = diff.path[1]  # the creator, what it would have created, and the ancestors waiting for it
    if any(is_within(label, c) or label in ancestors(c) for c in creators):
        return True
    # what an ancestor of a creator would have created only after the hanging child returned
    return not case.instance("reference", label).get("exists") \
        and any(is_within(label, a) for c in creators for a in ancestors(c))


def _purges(case: Case, recursive: bool) -> list[int]:
    return [i for i, a in enumerate(case.program["after"]) if a["do"] == "purge" and a["recursive"] == recursive]


def _live_on_fake(case: Case) -> bool:
    return any(case.instance("fake", label).get("exists") and case.instance("fake", label).get("status") not in TERMINAL
               for label in case.labels())


def _recursive_purge_refused(case: Case, diff: Difference) -> bool:
    """A recursive purge of a tree holding a live instance: UNKNOWN on durabletask-go (which may already have
    deleted the children it visited first), FAILED_PRECONDITION on the fake (nothing deleted)."""
    if not _live_on_fake(case):
        return False
    ref_post, fake_post = case.reference.get("post") or [], case.fake.get("post") or []
    refused = [i for i in _purges(case, recursive=True) if i < len(ref_post) and i < len(fake_post)
               and ref_post[i] == "UNKNOWN" and fake_post[i] == "FAILED_PRECONDITION"]
    if not refused:
        return False
    if diff.path[0] == "post":
        return bool(diff.path[1] >= refused[0])  # the refused purge and what its partial work changes later
    if diff.path[0] == "after_purge":
        return bool(diff.reference is False and diff.fake is True)  # visited first, deleted on durabletask-go
    return False


def _unknown_instance_after_purge(case: Case, diff: Difference) -> bool:
    """A post action on the root after an earlier purge removed it on both sides."""
    if diff.path[0] != "post":
        return False
    index = diff.path[1]
    action = case.program["after"][index]
    if action["do"] in ("suspend", "resume"):
        expected: tuple[Any, Any] = ("OK", "NOT_FOUND")
    elif action["do"] == "purge":
        expected = ("UNKNOWN", {"deleted": 0})
    else:
        return False
    if (diff.reference, diff.fake) != expected:
        return False
    ref_post, fake_post = case.reference.get("post") or [], case.fake.get("post") or []
    return any(isinstance(ref_post[i], dict) and ref_post[i].get("deleted", 0) > 0
               and isinstance(fake_post[i], dict) and fake_post[i].get("deleted", 0) > 0
               for i in range(index) if case.program["after"][i]["do"] == "purge")


# Open differences: bugs of the fake that this suite found, keyed by class ("found by fid-gen" until they
# get an issue item). Each entry goes when its fix lands; the comparison is then strict for that class again.
# None is open: issue 27's items 3 and 6, the recursive-terminate classes and the two continue-as-new classes
# (a custom status, or sub-orchestrations, sent in the same response as a continue-as-new) were fixed in the
# engine; items 1 and 4 are deliberate differences, below; items 2 and 5 were fixed first.
OPEN_DIFFERENCES: dict[str, KnownDifference] = {}

# Deliberate differences: each listed in docs/fidelity.md under the heading that ``ref`` names.
DELIBERATE_DIFFERENCES: dict[str, KnownDifference] = {k.name: k for k in (
    KnownDifference(
        "sub_orchestration_id_in_use", "deliberate", "Deliberate differences",
        "issue 27 item 1: a sub-orchestration id held by an instance that is not FAILED (a generated "
        "'parent:000N' id met again by a later generation, an explicit id repeated by a retry): durabletask-go "
        "fails the creating work item ('orchestration instance already exists') and retries it for ever, so "
        "the parent hangs; the fake fails the parent's task at once with SubOrchestrationIdInUseError",
        _sub_id_reused),
    KnownDifference(
        "recursive_purge_refused", "deliberate", "Deliberate differences",
        "issue 27 item 4: recursive purge of a tree holding an instance that has not ended: durabletask-go "
        "answers UNKNOWN (having perhaps deleted the children it visited first); the fake FAILED_PRECONDITION, "
        "nothing deleted",
        _recursive_purge_refused),
    KnownDifference(
        "operation_on_unknown_instance", "deliberate", "Deliberate differences",
        "suspend, resume or purge of an instance that a purge removed: durabletask-go answers OK and orphans "
        "the event (purge: UNKNOWN); the fake answers NOT_FOUND (purge: OK, 0 deleted): the rows for unknown ids",
        _unknown_instance_after_purge),
)}

KNOWN: tuple[KnownDifference, ...] = (*OPEN_DIFFERENCES.values(), *DELIBERATE_DIFFERENCES.values())


@dataclass
class Verdict:
    """How one program's differences were accounted for."""

    program: fp.Program
    accounted: dict[str, list[Difference]] = field(default_factory=dict)
    unexplained: list[Difference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unexplained and not self.errors

    def classes(self) -> list[str]:
        return sorted(self.accounted)

    def describe(self) -> str:
        lines = [f"program {self.program['name']}: {fp.describe(self.program)}"]
        for error in self.errors:
            lines.append(f"  harness error: {error}")
        for diff in self.unexplained:
            lines.append(f"  UNEXPLAINED {diff.describe()}")
        for name, diffs in sorted(self.accounted.items()):
            known = next((k for k in KNOWN if k.name == name), None)
            where = f", {known.kind}: {known.ref}" if known else ""
            lines.append(f"  known ({name}{where}): {len(diffs)} field(s)")
        return "\n".join(lines)


def account(program: fp.Program, reference: Observation, fake: Observation, *,
            known: tuple[KnownDifference, ...] = KNOWN, outcome_only: bool = False) -> Verdict:
    """Give each difference to the first known class that recognises it; the rest are unexplained."""
    verdict = Verdict(program)
    for side, observation in (("durabletask-go", reference), ("fake", fake)):
        if observation.get("error"):
            verdict.errors.append(f"{side}: {observation['error'].strip().splitlines()[0]}")
    if verdict.errors:  # a side that could not be observed whole: its fields would only add noise
        return verdict
    case = Case(program, reference, fake)
    for diff in differences(reference, fake, outcome_only=outcome_only):
        for entry in known:
            if entry.recognises(case, diff):
                verdict.accounted.setdefault(entry.name, []).append(diff)
                break
        else:
            verdict.unexplained.append(diff)
    return verdict


def iter_known(kind: str | None = None) -> Iterator[KnownDifference]:
    """The known classes, all or those of one kind ("open" or "deliberate")."""
    return (k for k in KNOWN if kind is None or k.kind == kind)
