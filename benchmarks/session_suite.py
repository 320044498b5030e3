"""A realistic test session both ways: the same 18 workflow tests on our plugin's fake and on the published backend.

    python benchmarks/session_suite.py              # 3 rounds
    python benchmarks/session_suite.py --rounds 5 --sdk published

The suite (``benchmarks/suite_files/``): activity chains, fan-outs, timers, external events, sub-orchestrations,
an entity, retries, a caught failure, continue-as-new. Each round runs three pytest processes:
- the published SDK with our plugin (function-scoped ``durable_worker``/``durable_client`` on a fresh fake per
  test, replay audit on);
- the published SDK with a session-scoped fixture over its own ``InMemoryOrchestrationBackend`` (one worker with
  every function registered, one client; our plugin not loaded): the peer;
- our SDK with our plugin (audit on).
"session" is pytest's session span (start of collection to the end of the last tear-down, session fixtures
included); "process" adds interpreter and pytest start-up. Medians over the rounds.

Target (issue 26): the session on our fake, audit on, at least 2x faster than on the published backend.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pytest_runs  # noqa: E402
from sdk_envs import median, ms  # noqa: E402

SUITE = HERE / "suite_files"
TARGET_SPEED_UP = 2.0
VARIANTS = {
    "published+plugin": ("published", pytest_runs.PLUGIN_CONFTEST, True),
    "published+backend": ("published", pytest_runs.PEER_CONFTEST, False),
    "ours+plugin": ("ours", pytest_runs.PLUGIN_CONFTEST, True),
}
LABELS = {"published+plugin": "published SDK, our plugin (audit on)",
          "published+backend": "published SDK, session fixture over its backend (peer)",
          "ours+plugin": "our SDK, our plugin (audit on)"}


def prepare(folder: Path, conftest: str) -> None:
    pytest_runs.write_folder(folder, {}, conftest)
    for name in ("suite_functions.py", "test_suite.py"):
        shutil.copy(SUITE / name, folder / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sdk", choices=("both", "published"), default="both")
    parser.add_argument("-k", default="", help="pytest -k expression (a smaller suite, for smoke tests)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    variants = [v for v in VARIANTS if args.sdk == "both" or VARIANTS[v][0] == "published"]
    extra = ["-k", args.k] if args.k else []
    sessions: dict[str, list[float]] = {v: [] for v in variants}
    walls: dict[str, list[float]] = {v: [] for v in variants}
    tests = 0
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            sdk, conftest, plugin = VARIANTS[variant]
            prepare(Path(tmp) / variant, conftest)
        for _ in range(args.rounds):
            for variant in variants:
                sdk, _, plugin = VARIANTS[variant]
                audit = ["-o", "durabletask_replay_audit=true"] if plugin else []
                run = pytest_runs.run_pytest(sdk, Path(tmp) / variant, [*audit, *extra], plugin=plugin)
                sessions[variant].append(run.session)
                walls[variant].append(run.wall)
                tests = len(run.tests)
    print(f"session of {tests} workflow tests ({args.rounds} rounds; medians):")
    for variant in variants:
        print(f"  {LABELS[variant]:<56} session {ms(median(sessions[variant])):>10}   "
              f"process {ms(median(walls[variant])):>10}")
    peer = median(sessions["published+backend"])
    for variant in (v for v in variants if v != "published+backend"):
        speed_up = peer / median(sessions[variant])
        print(f"{LABELS[variant]}: {speed_up:.2f}x faster than the peer (target >= {TARGET_SPEED_UP}x): "
              f"{'PASS' if speed_up >= TARGET_SPEED_UP else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
