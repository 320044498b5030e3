"""--durabletask-sidecar at a fake in another process: with its control API nothing is skipped.

The examples' tests (manual and auto clocks, faults, freeze_time, inspection) run against a fake driven through
its control API, as they would against a CLI fake (tests/e2e/fake/test_fake_control_cli.py starts a real one).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from durabletask_testing import FakeSidecar
from durabletask_testing.control import ControlServer

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TOKEN = "remote-s3cret"


def test_the_examples_run_against_a_remote_fake_with_no_skips() -> None:
    with FakeSidecar(clock="real") as fake, ControlServer(fake) as control:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "-p", "no:xdist", str(EXAMPLES),
             f"--durabletask-sidecar={fake.address}", f"--durabletask-control={control.url}"],
            capture_output=True, text=True, timeout=240,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]
        assert fake.instances() != []  # the work happened on that fake (the last test's instances are still there)


def test_a_failing_test_on_a_remote_fake_gets_the_full_report(tmp_path: Path) -> None:
    (tmp_path / "test_remote_report.py").write_text(
        "from datetime import timedelta\n"
        "def slow(ctx, _):\n"
        "    yield ctx.create_timer(timedelta(hours=5))\n"
        "    return 'late'\n"
        "def test_fails(durable_worker, durable_client, durable_faults, durable_clock):\n"
        "    durable_faults.chaos(77, rate=0.0)\n"
        "    durable_worker.start_with(orchestrators=[slow])\n"
        "    instance_id = durable_client.schedule_new_orchestration(slow, instance_id='remote-1')\n"
        "    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)\n"
        "    assert state.get_output() == 'early'\n"
    )
    with FakeSidecar(clock="real", api_token=TOKEN) as fake, ControlServer(fake, api_token=TOKEN) as control:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path),
             f"--durabletask-sidecar={fake.address}", f"--durabletask-control={control.url}",
             f"--durabletask-metadata=authorization=Bearer {TOKEN}"],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 1, result.stdout[-3000:]
    assert f"using the CLI fake at {fake.address}" in result.stdout
    assert "instance 'remote-1' (slow): COMPLETED" in result.stdout
    assert "TimerFired" in result.stdout and "+05:00:00.000" in result.stdout  # virtual time, auto clock
    assert "chaos seed: 77" in result.stdout
