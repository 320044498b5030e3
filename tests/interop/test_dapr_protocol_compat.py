"""The fake's Dapr dialect declares what Dapr 1.18 and 1.19 put on the wire (scripts/check_dapr_protocol.py)."""

from __future__ import annotations

import sys

import pytest

from .conftest import require
from .sidecars import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import check_dapr_protocol as check  # noqa: E402
from dapr_venvs import DAPR_VERSIONS, python_path  # noqa: E402

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module", params=sorted(DAPR_VERSIONS))
def dapr_files(request: pytest.FixtureRequest) -> object:
    require(python_path(request.param).is_file(),
            f"{request.param} venv not found; run: python scripts/dapr_venvs.py")
    return check.dapr_descriptors(request.param)


def test_the_dialect_matches_dapr_field_by_field(dapr_files: object) -> None:
    assert check.compare(dapr_files, check.served_rpcs()) == []  # type: ignore[arg-type]


def test_the_comparison_finds_what_made_dapr_apps_hang_on_the_default_dialect(dapr_files: object) -> None:
    from durabletask_testing.protocol import orchestrator_service_pb2 as pb

    ours = pb.DESCRIPTOR.services_by_name["TaskHubSidecarService"]
    problems = check.compare(dapr_files, check.served_rpcs(), ours)  # type: ignore[arg-type]
    assert ("ScheduleTaskAction.taskExecutionId (#5): Dapr scalar type 9, dialect "
            "ScheduleTaskAction.parentTraceContext message") in problems
    assert "TaskRouter.sourceAppID (#1): Dapr scalar type 9, dialect RewindOrchestrationAction.newHistory " \
           "repeated message" in problems  # OrchestratorAction #9: Dapr's router, ours rewindOrchestration
