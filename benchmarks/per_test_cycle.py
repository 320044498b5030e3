"""The per-test cycle of the pytest plugin: what one workflow test pays on top of its own work.

One cycle = start a fake sidecar, connect a worker and a client (exactly as the ``durable_*`` fixtures do),
run one three-activity orchestration, tear everything down. Prints the median, min and max over N cycles.

    python benchmarks/per_test_cycle.py             # 50 cycles, auto clock
    python benchmarks/per_test_cycle.py -n 200 --freeze-time
    python benchmarks/per_test_cycle.py --via-pytest   # also time N generated tests through pytest itself
    python benchmarks/per_test_cycle.py --published    # the same with the published durabletask SDK (1.12.0)

``--published`` runs this script again in the published-SDK venv (``scripts/published_venv.py``) with only the
testkit on its path, so the plugin drives the published SDK's worker and client.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from durabletask_pytest.fixtures.environment import open_client, open_sidecar, open_worker
from durabletask_pytest.fixtures.settings import DurableSettings

CITIES = ("Tokyo", "Seattle", "London")


def hello(ctx: Any, name: str) -> str:
    """The activity: a greeting."""
    return f"Hello {name}!"


def sequence(ctx: Any, _: Any) -> Any:
    """The orchestration: three activities in a row."""
    results = []
    for city in CITIES:
        results.append((yield ctx.call_activity(hello, input=city)))
    return results


def one_cycle(settings: DurableSettings) -> float:
    """Seconds for one full per-test cycle; raises if the orchestration's output is wrong."""
    started = time.perf_counter()
    with ExitStack() as stack:
        sidecar = stack.enter_context(open_sidecar(settings))
        worker = stack.enter_context(open_worker(sidecar.address))
        client = stack.enter_context(open_client(sidecar.address))
        worker.start_with(orchestrators=[sequence], activities=[hello])
        instance_id = client.schedule_new_orchestration(sequence)
        state = client.wait_for_orchestration_completion(instance_id, timeout=30)
        output = state.get_output() if state is not None else None
        if output != [f"Hello {city}!" for city in CITIES]:
            raise RuntimeError(f"unexpected orchestration result: {state}")
    return time.perf_counter() - started


PYTEST_FILE = '''
def hello(ctx, name):
    return f"Hello {name}!"


def sequence(ctx, _):
    results = []
    for city in ("Tokyo", "Seattle", "London"):
        results.append((yield ctx.call_activity(hello, input=city)))
    return results


def _cycle(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[sequence], activities=[hello])
    instance_id = durable_client.schedule_new_orchestration(sequence)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state.get_output() == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]

'''


def via_pytest(n: int) -> tuple[float, float]:
    """(seconds for n generated workflow tests, seconds for the same run with no test) through pytest."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        test = "\ndef test_cycle_{}(durable_worker, durable_client):\n    _cycle(durable_worker, durable_client)\n"
        tests = "".join(test.format(i) for i in range(n))
        (root / "test_cycles.py").write_text(PYTEST_FILE + tests)
        (root / "test_empty.py").write_text("def test_nothing():\n    pass\n")
        timings = []
        for target in ("test_cycles.py", "test_empty.py"):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
                cwd=root, check=True, capture_output=True,
            )
            timings.append(time.perf_counter() - started)
        return timings[0], timings[1]


def rerun_with_published_sdk(argv: list[str]) -> int:
    """Run this script in the published-SDK venv with only the testkit importable; returns its exit code."""
    import os

    scripts = Path(__file__).resolve().parents[1] / "scripts"
    sys.path.insert(0, str(scripts))
    from published_venv import ensure_published_venv, import_root_of_testkit

    python = ensure_published_venv()
    env = {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}
    arguments = [a for a in argv if a != "--published"]
    with tempfile.TemporaryDirectory() as outside_the_repository:  # so our SDK's folder is not importable
        return subprocess.run([str(python), str(Path(__file__).resolve()), *arguments],
                              cwd=outside_the_repository, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--published" in argv:
        return rerun_with_published_sdk(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=50, help="number of measured cycles (default 50)")
    parser.add_argument("--clock", default="auto", choices=("auto", "manual", "real"))
    parser.add_argument("--freeze-time", action="store_true", help="also freeze wall-clock time (freezegun)")
    parser.add_argument("--via-pytest", action="store_true", help="also time the cycle through a pytest run")
    parser.add_argument("--published", action="store_true", help="use the published durabletask SDK (see above)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    settings = DurableSettings(clock=args.clock, freeze_time=args.freeze_time)
    one_cycle(settings)  # warm-up: first imports and gRPC initialisation are paid once per session, not per test
    samples = [one_cycle(settings) for _ in range(args.runs)]
    import durabletask

    sdk = "published durabletask" if "site-packages" in (durabletask.__file__ or "") else "our SDK"
    label = f"{sdk}, clock={args.clock}" + (", freeze_time" if args.freeze_time else "")
    print(
        f"per-test cycle ({label}, {args.runs} runs): median {statistics.median(samples) * 1000:.1f} ms, "
        f"min {min(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"
    )
    if args.via_pytest:
        with_tests, empty = via_pytest(args.runs)
        print(
            f"through pytest: {args.runs} workflow tests in {with_tests:.2f} s, an empty run in {empty:.2f} s: "
            f"{(with_tests - empty) / args.runs * 1000:.1f} ms per test"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
