"""The published SDK's two replay paths (issue 26): in process through its worker's own work-item method, and the
protocol path (a worker of it on the replay-only sidecar), kept as the fallback. Both give the same verdicts on
histories its real worker recorded: replays, a divergence, a failed orchestration, a versioning refusal. Runs
``published_replay_script.py`` in the published-SDK venv (.interop/published-venv); skipped without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "regressions"))
from hardening_helpers import published_python  # noqa: E402

pytestmark = pytest.mark.timeout(120)

BIG_DIVERGES = ("diverges at step 1 (action 1): recorded TaskScheduled(id=1, name='charge', version=None, "
                "input='500'), code produced TaskScheduled(id=1, name='fraud_check', version=None, input='500')")
REFUSED = ("cannot replay: the worker's versioning options reject the instance (it abandoned step 1, which the "
           "recorded history shows another worker took)")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    python, env = published_python()
    result = subprocess.run([str(python), str(HERE / "published_replay_script.py")], cwd=HERE, env=env,
                            capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr[-3000:]
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def test_the_published_sdk_replays_in_process_by_default_and_through_a_worker_when_forced(
        report: dict[str, Any]) -> None:
    assert report["in_process_refusal"] is None
    for registration in ("v1", "v2", "strict"):
        assert report[registration]["default"]["path"] == "in process"
        assert report[registration]["forced"]["path"] == "worker"


def test_both_paths_give_the_same_true_verdicts(report: dict[str, Any]) -> None:
    for registration in ("v1", "v2", "strict"):
        assert report[registration]["default"]["verdicts"] == report[registration]["forced"]["verdicts"]
    assert report["v1"]["default"]["verdicts"] == {name: ["replays", False] for name in ("small", "big", "declined")}
    assert report["v2"]["default"]["verdicts"] == {"small": ["replays", False], "big": [BIG_DIVERGES, False],
                                                   "declined": ["replays", False]}  # a failure replays as a failure
    strict = report["strict"]["default"]["verdicts"]
    assert strict["small"] == strict["big"] == [REFUSED, True]  # its versioning options abandon v1.0 instances


def test_a_version_or_shape_the_guard_does_not_know_replays_through_a_worker(report: dict[str, Any]) -> None:
    assert report["old_version_refusal"].startswith("durabletask ")
    assert report["old_version_refusal"].endswith(" is older than 99.0, the first version checked in process")
    assert report["old_version"] == report["v2"]["forced"]
    assert report["other_shape_refusal"].endswith(
        "_OrchestrationExecutor.execute is missing or takes other arguments than the ones driven here")
