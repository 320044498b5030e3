"""Exploration through pytest: ``durable_explore`` on the purchase-order workflow, with either SDK, against a peer.

    python benchmarks/explore_pytest.py                 # 100 schedules, 1 round
    python benchmarks/explore_pytest.py -n 100 --rounds 3 --sdk published

One test asks for the plugin's ``durable_explore`` fixture and explores the seeds' purchase-order scenario (a
$2,500 order, a manager's approval raised while the workflow waits on its 24-hour timeout, the order placed) for
N schedules: the default order, reorders and splits, every crash point, then random ones; each on a fresh fake
with its own worker and client. The time is the test's whole protocol (set-up, N schedules, tear-down); the
schedules' own timings, grouped by crash kind, come from the fixture's result (``outcomes``).

The peer has no schedule exploration: it is the same scenario run N times (plain runs) through a session fixture
over the published ``InMemoryOrchestrationBackend``, i.e. what N runs cost a user without our plugin.

Target (issue 26): 100 schedules with the published SDK <= 5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pytest_runs  # noqa: E402
from sdk_envs import median, ms  # noqa: E402

TARGET_S = 5.0
SCENARIO = '''
import json, os
from datetime import timedelta

from durabletask import task

N = int(os.environ["DT_BENCH_SCHEDULES"])


def send_approval_request(ctx, order):
    return None


def place_order(ctx, order):
    return None


def purchase_order_workflow(ctx, order):
    if order["Cost"] < 1000:
        return "Auto-approved"
    yield ctx.call_activity(send_approval_request, input=order)
    approval_event = ctx.wait_for_external_event("approval_received")
    timeout_event = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"
    yield ctx.call_activity(place_order, input=order)
    return f"Approved by '{approval_event.get_result()['approver']}'"


def register(worker):
    worker.add_orchestrator(purchase_order_workflow)
    worker.add_activity(send_approval_request)
    worker.add_activity(place_order)


def purchase_order(client):
    order = {"Cost": 2500, "Product": "monitor", "Quantity": 10}
    instance_id = client.schedule_new_orchestration(purchase_order_workflow, input=order)
    client.raise_orchestration_event(instance_id, "approval_received", data={"approver": "Alice"})
    state = client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None and json.loads(state.serialized_output) == "Approved by 'Alice'", state
'''
EXPLORE_TEST = SCENARIO + '''

def scenario(run):
    register(run.worker)
    run.worker.start()
    purchase_order(run.client)


def test_explore(durable_explore):
    result = durable_explore(scenario, schedules=N, seed=0)
    rows = []
    for outcome in getattr(result, "outcomes", []):
        crash = getattr(outcome.schedule, "crash", None)
        rows.append({"crash": getattr(crash, "kind", None) if crash is not None else None,
                     "seconds": getattr(outcome, "seconds", 0.0)})
    with open(os.environ["DT_BENCH_EXPLORE"], "w") as out:
        json.dump(rows, out)
'''
PEER_TEST = SCENARIO + '''
import pytest


@pytest.mark.parametrize("run", range(N))
def test_plain_run(client, run):
    purchase_order(client)
'''
PEER_CONFTEST = pytest_runs.PEER_CONFTEST.replace("from suite_functions import register",
                                                  "from test_peer import register")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--schedules", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sdk", choices=("both", "published"), default="both")
    args = parser.parse_args(argv)
    if args.schedules < 1 or args.rounds < 1:
        parser.error("--schedules and --rounds must be at least 1")
    sdks = ("published", "ours") if args.sdk == "both" else ("published",)
    totals: dict[str, list[float]] = {}
    by_crash: dict[str, dict[str, list[float]]] = {sdk: {} for sdk in sdks}
    with tempfile.TemporaryDirectory() as tmp:
        explore_folder, peer_folder = Path(tmp) / "explore", Path(tmp) / "peer"
        pytest_runs.write_folder(explore_folder, {"test_explore.py": EXPLORE_TEST})
        pytest_runs.write_folder(peer_folder, {"test_peer.py": PEER_TEST}, PEER_CONFTEST)
        rows_file = Path(tmp) / "outcomes.json"
        env = {"DT_BENCH_SCHEDULES": str(args.schedules), "DT_BENCH_EXPLORE": str(rows_file)}
        for _ in range(args.rounds):
            for sdk in sdks:
                run = pytest_runs.run_pytest(sdk, explore_folder, ["-o", "durabletask_replay_audit=false"],
                                             extra_env=env)
                totals.setdefault(sdk, []).append(sum(run.tests.values()))
                for row in json.loads(rows_file.read_text()):
                    by_crash[sdk].setdefault(str(row["crash"] or "none"), []).append(row["seconds"])
            peer = pytest_runs.run_pytest("published", peer_folder, [], plugin=False, extra_env=env)
            totals.setdefault("peer", []).append(peer.session)
    print(f"{args.schedules} schedules of the purchase-order workflow ({args.rounds} round(s); medians):")
    for sdk in sdks:
        name = "published SDK" if sdk == "published" else "our SDK"
        total = median(totals[sdk])
        groups = ", ".join(f"{kind} {len(values) // args.rounds} x {ms(statistics.median(values))}"
                           for kind, values in sorted(by_crash[sdk].items()))
        verdict = (f" (target <= {TARGET_S:.0f} s): {'PASS' if total <= TARGET_S else 'FAIL'}"
                   if sdk == "published" else "")
        print(f"  {name}, durable_explore: {total:.2f} s{verdict}; per schedule by crash kind: {groups}")
    peer = median(totals["peer"])
    print(f"  peer: {args.schedules} plain runs on the published backend (session fixture): {peer:.2f} s")
    for sdk in sdks:
        print(f"  {'published SDK' if sdk == 'published' else 'our SDK'} exploration / peer: "
              f"{median(totals[sdk]) / peer:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
