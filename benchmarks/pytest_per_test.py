"""Per-test cost through pytest: fixture set-up, one 3-activity orchestration, tear-down, with and without the audit.

    python benchmarks/pytest_per_test.py               # 40 tests per process, 3 rounds
    python benchmarks/pytest_per_test.py -n 100 --rounds 5 --sdk published

Each test asks for our plugin's ``durable_worker`` and ``durable_client`` (a fresh fake per test), registers the
suite's functions, starts the worker and runs one orchestration of three activities. A per-test time is the
whole ``pytest_runtest_protocol`` of the item (set-up, call, the replay audit, tear-down), from a timing hook
in the folder's ``conftest.py``. Per SDK, in one run, alternating:
- our plugin with the replay audit on, and off (``-o durabletask_replay_audit=false``);
- the peer (published SDK only): the same test over a session-scoped published ``InMemoryOrchestrationBackend``;
- an empty test (no fixture) with our plugin loaded and without it, and pytest's whole process on an empty file.
The first test of each process (imports, gRPC start-up) is left out of the medians.

Targets (issue 26): median per test, audit on, <= 15 ms with the published SDK and <= 10 ms with ours on a quiet
2-core machine; the audit adds <= 25% to the test's own time.
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
from sdk_envs import median, ms, verdict  # noqa: E402

TARGET_MS = {"published": 15.0, "ours": 10.0}
TARGET_AUDIT = 0.25
CYCLE_TEST = '''
def test_cycle_{i}(client):
    assert output_of(client, f.chain, ["Tokyo", "Seattle", "London"]) == ["Hello Tokyo!", "Hello Seattle!",
                                                                         "Hello London!"]
'''
PHASES = ("setup", "call", "teardown", "other")
HEADER = "import suite_functions as f\nfrom test_suite import output_of\n"


def prepare(folder: Path, conftest: str, n: int) -> None:
    pytest_runs.write_folder(folder, {
        "test_cycles.py": HEADER + "".join(CYCLE_TEST.format(i=i) for i in range(n)),
        "test_empty.py": "".join(f"def test_empty_{i}():\n    pass\n" for i in range(n)),
    }, conftest)
    for name in ("suite_functions.py", "test_suite.py"):
        shutil.copy(HERE / "suite_files" / name, folder / name)


def per_test(run: pytest_runs.PytestRun, phase: str = "") -> list[float]:
    samples: list[float] = run.per_phase(phase) if phase else run.per_test()
    return samples[1:] or samples


def measure(sdk: str, n: int, rounds: int, root: Path) -> dict[str, list[float]]:
    """Samples per variant for one SDK: per-test seconds, and process seconds for the empty-file runs."""
    plugin_folder, peer_folder = root / f"{sdk}-plugin", root / f"{sdk}-peer"
    prepare(plugin_folder, pytest_runs.PLUGIN_CONFTEST, n)
    if sdk == "published":
        prepare(peer_folder, pytest_runs.PEER_CONFTEST, n)
    no_plugin = {"plugin": False} if sdk == "published" else {}
    no_plugin_args = [] if sdk == "published" else ["-p", "no:durabletask"]
    samples: dict[str, list[float]] = {}

    def add(key: str, values: list[float]) -> None:
        samples.setdefault(key, []).extend(values)

    for _ in range(rounds):
        for audit in ("true", "false"):
            run = pytest_runs.run_pytest(sdk, plugin_folder, ["-o", f"durabletask_replay_audit={audit}",
                                                              "test_cycles.py"])
            key = f"audit {'on' if audit == 'true' else 'off'}"
            add(key, per_test(run))
            for phase in PHASES:
                add(f"{key} {phase}", per_test(run, phase))
        if sdk == "published":
            add("peer", per_test(pytest_runs.run_pytest(sdk, peer_folder, ["test_cycles.py"], plugin=False)))
        with_plugin = pytest_runs.run_pytest(sdk, plugin_folder, ["test_empty.py"])
        without = pytest_runs.run_pytest(sdk, plugin_folder, [*no_plugin_args, "test_empty.py"], **no_plugin)
        add("empty, plugin", per_test(with_plugin))
        add("empty, no plugin", per_test(without))
        add("process, plugin", [with_plugin.wall])
        add("process, no plugin", [without.wall])
    return samples


def report(sdk: str, samples: dict[str, list[float]], n: int) -> None:
    name = "published SDK" if sdk == "published" else "our SDK"
    on, off = median(samples["audit on"]), median(samples["audit off"])
    target = TARGET_MS[sdk]
    print(f"{name}, per test through pytest ({n} tests per process; medians):")
    for key, label in (("audit on", f"  (target <= {target:.0f} ms): {verdict(on * 1000, target)}"), ("audit off", "")):
        phases = ", ".join(f"{phase} {ms(median(samples[f'{key} {phase}']))}" for phase in PHASES)
        print(f"  our plugin, {key:<10} {ms(median(samples[key])):>9}{label}; {phases} (other: the audit, hooks)")
    audit = (on - off) / off
    print(f"  replay audit adds {audit:+.0%} (target <= +{TARGET_AUDIT:.0%}): {verdict(audit, TARGET_AUDIT)}")
    if "peer" in samples:
        peer = median(samples["peer"])
        print(f"  peer: session fixture over the published backend {ms(peer):>9}; "
              f"ours/peer {on / peer:.2f}x (audit on), "
              f"{off / peer:.2f}x (audit off)")
    print(f"  empty test: {ms(median(samples['empty, plugin']))} with our plugin loaded, "
          f"{ms(median(samples['empty, no plugin']))} without; pytest process on {n} empty tests: "
          f"{ms(median(samples['process, plugin']))} with, {ms(median(samples['process, no plugin']))} without")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="tests per pytest process (default 40)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sdk", choices=("both", "published", "ours"), default="both")
    args = parser.parse_args(argv)
    if args.n < 2 or args.rounds < 1:
        parser.error("-n must be at least 2 and --rounds at least 1")
    sdks = ("published", "ours") if args.sdk == "both" else (args.sdk,)
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, dict[str, list[float]]] = {sdk: {} for sdk in sdks}
        for _ in range(args.rounds):  # rounds alternate between the SDKs
            for sdk in sdks:
                for key, values in measure(sdk, args.n, 1, Path(tmp)).items():
                    results[sdk].setdefault(key, []).extend(values)
    for sdk in sdks:
        report(sdk, results[sdk], args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
