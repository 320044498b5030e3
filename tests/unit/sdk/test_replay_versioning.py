"""Replay engine and version comparison: worker-side orchestration versioning."""

from __future__ import annotations

import pytest
from sdk_replay_helpers import completion, confirm, kinds, output, registry, run, started, tick

from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.versioning import (
    VersionFailureStrategy,
    VersioningOptions,
    VersionMatchStrategy,
    compare_versions,
)


def orch(ctx, _):
    return ctx.version


def child_caller(ctx, _):
    yield ctx.call_sub_orchestrator("orch")
    yield ctx.call_sub_orchestrator("orch", version="9.9")


@pytest.mark.parametrize("a,b,expected", [
    ("1.10.0", "1.9.0", 1), ("1.9.0", "1.10.0", -1), ("1.0", "1.0.0", 0), ("2", "10", -1),
    ("1.0.0", "1.0.0", 0), ("beta", "alpha", 1), ("", "1.0", -1), (None, None, 0), ("1.0", None, 1),
    ("1.0.0-rc", "1.0.0-rb", 1),
])
def test_compare_versions(a, b, expected):
    assert compare_versions(a, b) == expected


def _opts(match, failure=VersionFailureStrategy.FAIL, version="1.0.0", default=None):
    return VersioningOptions(version=version, default_version=default, match_strategy=match, failure_strategy=failure)


@pytest.mark.parametrize("match,instance_version,runs", [
    (VersionMatchStrategy.NONE, "7.0", True),
    (VersionMatchStrategy.STRICT, "1.0.0", True),
    (VersionMatchStrategy.STRICT, "0.9.0", False),
    (VersionMatchStrategy.STRICT, None, False),
    (VersionMatchStrategy.CURRENT_OR_OLDER, "0.9.0", True),
    (VersionMatchStrategy.CURRENT_OR_OLDER, "1.0.0", True),
    (VersionMatchStrategy.CURRENT_OR_OLDER, "1.10.0", False),
])
def test_match_strategies_with_fail(match, instance_version, runs):
    res = run(registry(orch, versioning=_opts(match)), [], started("orch", version=instance_version))
    done = completion(res)
    if runs:
        assert output(res) == instance_version
    else:
        assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
        assert done.failureDetails.errorType == "VersionMismatch"
        assert "1.0.0" in done.failureDetails.errorMessage
        assert f"'{instance_version or ''}'" in done.failureDetails.errorMessage


def test_reject_abandons_the_work_item():
    res = run(registry(orch, versioning=_opts(VersionMatchStrategy.STRICT, VersionFailureStrategy.REJECT)), [],
              started("orch", version="2.0.0"))
    assert res.abandon and res.actions == []


def test_sub_orchestrations_use_worker_default_version_not_parents():
    reg = registry(child_caller, orch, versioning=_opts(VersionMatchStrategy.NONE, default="3.0"))
    res = run(reg, [], started("child_caller", version="1.0.0"))
    assert res.actions[0].createSubOrchestration.version.value == "3.0"


def test_sub_orchestration_without_any_version_has_none():
    res = run(registry(child_caller, orch), [], started("child_caller", version="1.0.0"))
    assert not res.actions[0].createSubOrchestration.HasField("version")


def test_a_version_mismatch_found_while_replaying_a_started_instance_fails_with_the_mismatch():
    # A 1.0.0 instance that already scheduled work reaches a strict 2.0.0 worker (a deployment mid-flight):
    # the failure is the version mismatch, not a replay error about the events that follow.
    past = [*started("child_caller", version="1.0.0"),
            *confirm(run(registry(child_caller), [], started("child_caller", version="1.0.0")))]
    res = run(registry(child_caller, versioning=_opts(VersionMatchStrategy.STRICT, version="2.0.0")), past, [tick()])
    done = completion(res)
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert done.failureDetails.errorType == "VersionMismatch", done.failureDetails
    assert kinds(res) == ["completeOrchestration"]
