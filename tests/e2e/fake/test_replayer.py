"""Stored histories replayed against the current code: v1 histories on v2 code, the CLI, the hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from durabletask import client, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.cli import main
from durabletask_testing.control import ControlServer
from durabletask_testing.replay import Replayer, export_history, load_history, sdk_worker_starter, write_history

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import replay_flows  # noqa: E402

AMOUNTS = [10, 500, 50, 900]


def _record(tmp_path: Path, orchestrators: dict[str, Any], inputs: list[Any]) -> list[Path]:
    """Run one instance per input on a fake and store each history as a file."""
    paths = []
    with FakeSidecar() as sidecar:
        running = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        for name, function in orchestrators.items():
            running._registry.add_orchestrator(function, name=name)
        for activity in (replay_flows.charge, replay_flows.review, replay_flows.fraud_check, replay_flows.ship):
            running.add_activity(activity)
        running.start()
        try:
            hub = client.TaskHubGrpcClient(host_address=sidecar.address)
            for number, value in enumerate(inputs):
                instance_id = hub.schedule_new_orchestration(next(iter(orchestrators)), input=value,
                                                             instance_id=f"order-{number}")
                hub.wait_for_orchestration_completion(instance_id, timeout=10)
                path = tmp_path / f"{instance_id}.json"
                write_history(export_history(sidecar, instance_id), path)
                paths.append(path)
        finally:
            running.stop()
    return paths


def test_v1_histories_replayed_on_v2_code_flag_exactly_the_big_orders(tmp_path: Path) -> None:
    histories = [load_history(p) for p in _record(tmp_path, replay_flows.v1_orchestrators(), AMOUNTS)]
    with Replayer.in_process(replay_flows.v1_orchestrators()) as same_code:
        assert all(outcome.replays for outcome in same_code.replay_all(histories))
    with Replayer.in_process(replay_flows.v2_orchestrators()) as in_process, \
            Replayer.through_worker(sdk_worker_starter(replay_flows.v2_orchestrators())) as through_worker:
        for replayer in (in_process, through_worker):
            verdicts = {o.instance_id: o.describe() for o in replayer.replay_all(histories)}
            assert verdicts["order-0"] == verdicts["order-2"] == "replays"
            for big in ("order-1", "order-3"):
                assert verdicts[big] == (
                    "diverges at step 1 (action 1): recorded TaskScheduled(id=1, name='charge', version=None, "
                    f"input='{AMOUNTS[int(big[-1])]}'), code produced TaskScheduled(id=1, name='fraud_check', "
                    f"version=None, input='{AMOUNTS[int(big[-1])]}')")


def test_the_replay_command_reports_each_history_and_fails_on_a_divergence(tmp_path: Path) -> None:
    paths = [str(p) for p in _record(tmp_path, replay_flows.v1_orchestrators(), AMOUNTS)]
    for factory, extra in (("replay_flows:v2_orchestrators", []), ("replay_flows:v2_orchestrators",
                                                                   ["--through-worker"]),
                           ("replay_flows:v2_worker", [])):
        result = subprocess.run([sys.executable, "-m", "durabletask_testing", "replay", "--worker", factory, *extra,
                                 *paths], cwd=HERE, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stderr
        lines = result.stdout.splitlines()
        assert [line.split(": ", 1)[1].split(" (")[0] for line in lines] == [
            "replays", "diverges at step 1", "replays", "diverges at step 1"], lines
    same = subprocess.run([sys.executable, "-m", "durabletask_testing", "replay", "--worker",
                           "replay_flows:v1_orchestrators", *paths], cwd=HERE, capture_output=True, text=True,
                          timeout=120)
    assert same.returncode == 0 and same.stdout.count(": replays") == 4, same.stdout + same.stderr


def test_export_reads_a_cli_fake_through_its_control_api_or_any_sidecar_through_the_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeSidecar() as sidecar, ControlServer(sidecar) as control:
        running = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        running.add_orchestrator(replay_flows.order_v1)
        running.add_activity(replay_flows.charge)
        running.add_activity(replay_flows.ship)
        running.start()
        try:
            hub = client.TaskHubGrpcClient(host_address=sidecar.address)
            instance_id = hub.schedule_new_orchestration(replay_flows.order_v1, input=5, instance_id="small")
            hub.wait_for_orchestration_completion(instance_id, timeout=10)
        finally:
            running.stop()
        assert main(["export", "--control", control.url, "small", "-o", str(tmp_path / "a.json")]) == 0
        assert main(["export", "--address", sidecar.address, "small"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert main(["export", "--control", control.url, "missing"]) == 1
    stored = json.loads((tmp_path / "a.json").read_text())
    assert stored == printed
    assert (stored["format"], stored["version"], stored["instanceId"], stored["name"]) == (
        "durabletask-history", 1, "small", "order_v1")
    assert stored["events"][0]["orchestratorStarted"] == {} and "executionStarted" in stored["events"][1]


def _set_order(seed: str) -> str:
    code = "print(list({'alpha', 'bravo', 'charlie', 'delta'}))"
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                          capture_output=True, text=True, check=True).stdout


def test_set_iteration_is_caught_by_replaying_in_a_process_with_another_hash_seed(tmp_path: Path) -> None:
    seed = "1"
    other = next(str(s) for s in range(2, 50) if _set_order(str(s)) != _set_order(seed))
    record = (
        "import sys; sys.path.insert(0, sys.argv[1]); import replay_flows, test_replayer; from pathlib import Path; "
        "test_replayer._record(Path(sys.argv[2]), {'tags': replay_flows.tags}, [None])"
    )
    subprocess.run([sys.executable, "-c", record, str(HERE), str(tmp_path)], check=True, timeout=60,
                   env={**os.environ, "PYTHONHASHSEED": seed}, cwd=HERE)
    stored = str(tmp_path / "order-0.json")

    def replay(hash_seed: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "durabletask_testing", "replay", "--worker",
                               "replay_flows:tag_orchestrators", stored], cwd=HERE, capture_output=True, text=True,
                              timeout=60, env={**os.environ, "PYTHONHASHSEED": hash_seed})

    assert replay(seed).returncode == 0  # in the recording's process (same seed) the order is the same
    diverged = replay(other)
    assert diverged.returncode == 1 and "diverges at step 1" in diverged.stdout, diverged.stdout + diverged.stderr
