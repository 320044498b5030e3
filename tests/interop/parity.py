"""Compare scenario outcomes from durabletask-go and from our fake.

Compared: runtime status, output, failure type, the normalized history (types and details) of the main
instance and of every related instance, and the scenario's notes. A difference is acceptable only when
it is listed in ``DELIBERATE_DIFFERENCES`` (and in docs/fidelity.md), and then it is asserted to be
exactly the documented one.
"""

from __future__ import annotations

from typing import Any

#: scenario -> field -> (value on durabletask-go, value on the fake). Keep in sync with docs/fidelity.md.
DELIBERATE_DIFFERENCES: dict[str, dict[str, tuple[Any, Any]]] = {
    # durabletask-go lets SUSPENDED win over the completion it recorded; the fake reports TERMINATED.
    "terminate_suspended": {"status": ("SUSPENDED", "TERMINATED")},
}

COMPARED_FIELDS = ("status", "output", "failure_type", "history", "history_detail", "notes")
COMPARED_RELATED_FIELDS = ("exists", "status", "output", "failure_type", "history", "history_detail")


def _as_dict(outcome: Any) -> dict[str, Any]:
    return outcome if isinstance(outcome, dict) else vars(outcome)


def compare(go: Any, fake: Any) -> list[str]:
    """Differences between one scenario's outcome on durabletask-go and on the fake (records or Outcomes).

    Returns human-readable lines; empty when they agree up to the documented deliberate differences.
    """
    go_d, fake_d = _as_dict(go), _as_dict(fake)
    scenario = go_d["scenario"]
    allowed = DELIBERATE_DIFFERENCES.get(scenario, {})
    problems: list[str] = []
    for name in ("error",):
        for peer, record in (("durabletask-go", go_d), ("fake", fake_d)):
            if record.get(name):
                problems.append(f"{scenario}: driver error on {peer}: {record[name].strip().splitlines()[-1]}")
    for name in COMPARED_FIELDS:
        go_value, fake_value = go_d.get(name), fake_d.get(name)
        if name in allowed:
            if (go_value, fake_value) != allowed[name]:
                problems.append(f"{scenario}: deliberate difference in {name} expected {allowed[name]!r}, "
                                f"got durabletask-go={go_value!r} fake={fake_value!r}")
        elif go_value != fake_value:
            problems.append(f"{scenario}: {name} differs\n    durabletask-go: {go_value!r}\n    fake:           "
                            f"{fake_value!r}")
    go_related, fake_related = go_d.get("related") or {}, fake_d.get("related") or {}
    for label in sorted(set(go_related) | set(fake_related)):
        go_entry, fake_entry = go_related.get(label, {}), fake_related.get(label, {})
        for name in COMPARED_RELATED_FIELDS:
            if go_entry.get(name) != fake_entry.get(name):
                problems.append(f"{scenario}: related instance '{label}' {name} differs\n    durabletask-go: "
                                f"{go_entry.get(name)!r}\n    fake:           {fake_entry.get(name)!r}")
    return problems


def compare_all(go: dict[str, Any], fake: dict[str, Any]) -> list[str]:
    """Differences across every scenario present on either side (missing scenarios are differences)."""
    problems: list[str] = []
    for name in sorted(set(go) | set(fake)):
        if name not in go or name not in fake:
            problems.append(f"{name}: ran only on {'durabletask-go' if name in go else 'the fake'}")
            continue
        problems.extend(compare(go[name], fake[name]))
    return problems


#: API probe (api_probes.PROBES) -> (result on durabletask-go, result on the fake), for every probe where
#: the fake deliberately answers differently. Reasons are in docs/fidelity.md ("Deliberate differences").
_NOT_FOUND = {"code": "NOT_FOUND"}
DELIBERATE_API_DIFFERENCES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # Unknown instance ids: durabletask-go stores the event and answers OK; the fake names the problem.
    "raise_event_unknown": ({"code": "OK"}, _NOT_FOUND),
    "terminate_unknown": ({"code": "OK"}, _NOT_FOUND),
    "suspend_unknown": ({"code": "OK"}, _NOT_FOUND),
    "resume_unknown": ({"code": "OK"}, _NOT_FOUND),
    # durabletask-go fails the long poll with UNKNOWN; the fake answers exists=false like GetInstance.
    "wait_completion_unknown": ({"code": "UNKNOWN", "exists": False}, {"code": "OK", "exists": False}),
    "purge_unknown": ({"code": "UNKNOWN", "deleted": None}, {"code": "OK", "deleted": 0}),
    "duplicate_start": ({"code": "UNKNOWN"}, {"code": "ALREADY_EXISTS"}),
    # durabletask-go drops the version and sends empty strings for absent payloads.
    "pending_state": (
        {"code": "OK", "status": "ORCHESTRATION_STATUS_PENDING", "input": '"in"', "has_output_field": True,
         "has_custom_status_field": True, "has_failure_details": False, "version": None,
         "name": "probe_orchestrator"},
        {"code": "OK", "status": "ORCHESTRATION_STATUS_PENDING", "input": '"in"', "has_output_field": False,
         "has_custom_status_field": False, "has_failure_details": False, "version": "1.2.3",
         "name": "probe_orchestrator"},
    ),
    # durabletask-go creates an instance whose id is ""; the fake generates an id.
    "start_without_instance_id": ({"code": "OK", "returned_id_empty": True},
                                  {"code": "OK", "returned_id_empty": False}),
    # RPCs durabletask-go does not implement.
    "stream_history_unknown": ({"code": "UNIMPLEMENTED"}, _NOT_FOUND),
    "query_instances": ({"code": "UNKNOWN"}, {"code": "OK"}),
    "restart_unknown": ({"code": "UNIMPLEMENTED"}, _NOT_FOUND),
    # Stale or unknown completions: durabletask-go answers UNKNOWN with a message.
    "complete_unknown_orchestrator_task": ({"code": "UNKNOWN"}, _NOT_FOUND),
    "complete_unknown_activity_task": ({"code": "UNKNOWN"}, _NOT_FOUND),
}


def compare_probes(go: dict[str, dict[str, Any]], fake: dict[str, dict[str, Any]]) -> list[str]:
    """Differences between probe results, up to exactly the documented deliberate ones."""
    problems = []
    for name in sorted(set(go) | set(fake)):
        got = (go.get(name), fake.get(name))
        if name in DELIBERATE_API_DIFFERENCES:
            if got != DELIBERATE_API_DIFFERENCES[name]:
                problems.append(f"{name}: documented difference {DELIBERATE_API_DIFFERENCES[name]!r} "
                                f"no longer holds: durabletask-go={got[0]!r} fake={got[1]!r}")
        elif got[0] != got[1]:
            problems.append(f"{name}: durabletask-go={got[0]!r} fake={got[1]!r}")
    return problems
