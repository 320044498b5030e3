"""Our protocol definition: bindings are fresh, and declarations equal the published protocol."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_protocol_compat as compat  # noqa: E402


def test_generated_bindings_match_the_proto() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_service_has_no_proto_package_so_paths_are_bare() -> None:
    from durabletask.internal import orchestrator_service_pb2 as pb

    assert pb.DESCRIPTOR.package == ""
    service = pb.DESCRIPTOR.services_by_name["TaskHubSidecarService"]
    assert service.full_name == "TaskHubSidecarService"
    assert {"GetWorkItems", "CompleteOrchestratorTask", "StartInstance"} <= {m.name for m in service.methods}


def test_fake_bindings_equal_the_sdk_bindings_under_their_own_package() -> None:
    from durabletask_testing.protocol import orchestrator_service_pb2 as fake_pb

    assert fake_pb.DESCRIPTOR.package == "durabletask_testing.protocol"
    assert compat.compare(compat.fake_sidecar(), compat.ours()) == []
    assert compat.compare(compat.ours(), compat.fake_sidecar()) == []


def test_fake_serves_the_bare_service_path() -> None:
    from durabletask_testing.protocol import orchestrator_service_pb2_grpc as fake_stubs

    source = Path(fake_stubs.__file__).read_text()
    assert "'/TaskHubSidecarService/GetWorkItems'" in source
    assert "durabletask_testing.protocol.TaskHubSidecarService" not in source


def test_fake_imports_nothing_from_any_durabletask_package() -> None:
    code = (
        "import sys, durabletask_testing, durabletask_testing.__main__, durabletask_pytest.plugin\n"
        "from durabletask_testing import FakeSidecar\n"
        "with FakeSidecar() as fake: fake.instances()\n"
        "loaded = sorted(m for m in sys.modules if m == 'durabletask' or m.startswith('durabletask.'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compare_reports_a_changed_field_number() -> None:
    mine = compat.ours()
    theirs = compat.ours()
    msg = next(m for m in theirs.message_type if m.name == "TaskScheduledEvent")
    msg.field[0].number = 99
    problems = compat.compare(mine, theirs)
    assert len(problems) == 1 and problems[0].startswith("TaskScheduledEvent.name"), problems


def test_compare_reports_a_missing_message_and_rpc() -> None:
    mine = compat.ours()
    theirs = compat.ours()
    del theirs.message_type[0]
    del theirs.service[0].method[0]
    problems = compat.compare(mine, theirs)
    assert any("message not in the published protocol" in p for p in problems)
    assert any(p.startswith("rpc TaskHubSidecarService.") for p in problems)


def test_our_protocol_equals_the_published_one() -> None:
    try:
        published = compat.published()
    except subprocess.CalledProcessError as exc:  # pragma: no cover - depends on PyPI reachability
        pytest.fail(f"could not install the published durabletask package: {exc}")
    problems = compat.compare(compat.ours(), published)
    assert problems == []
