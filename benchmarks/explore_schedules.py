"""Exploration speed: N schedules of the seeds' purchase-order workflow, each on a fresh fake sidecar.

Each schedule runs the scenario of ``examples/human_interaction.py``: a $2,500 order, a manager's approval
raised while the workflow waits (racing its 24-hour timeout), the order placed. Schedules are those
``durable_explore`` runs: the default order, systematic reorders and splits, every crash point, then random
ones. Prints the wall time of all runs and per schedule; every run must end "Approved by 'Alice'".

    python benchmarks/explore_schedules.py            # 100 schedules
    python benchmarks/explore_schedules.py -n 300 --seed 7
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from durabletask_pytest.explore import Explorer, ExploreRun  # noqa: E402
from durabletask_pytest.fixtures.settings import DurableSettings  # noqa: E402
from human_interaction import Approval, Order, purchase_order_workflow, register  # noqa: E402

BIG_ORDER = Order(Cost=2500, Product="monitor", Quantity=10)


def purchase_order(run: ExploreRun) -> None:
    """The approval case of the seeds' human-interaction sample."""
    register(run.worker)
    run.worker.start()
    instance_id = run.client.schedule_new_orchestration(purchase_order_workflow, input=BIG_ORDER)
    run.client.raise_orchestration_event(instance_id, "approval_received", data=Approval("Alice"))
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None and state.get_output() == "Approved by 'Alice'", state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--schedules", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("durabletask").setLevel(logging.CRITICAL)  # crash points make the SDK log refused completions
    explorer = Explorer(DurableSettings())
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the sample's activities print
        result = explorer(purchase_order, schedules=args.schedules, seed=args.seed)
    elapsed = time.perf_counter() - started
    slowest = max(outcome.seconds for outcome in result.outcomes)
    print(f"{result.schedules_run} schedules of the purchase-order workflow in {elapsed:.2f} s "
          f"({elapsed / result.schedules_run * 1000:.1f} ms per schedule, slowest {slowest * 1000:.0f} ms); "
          f"crashes injected in {sum(1 for o in result.outcomes if o.schedule.crash is not None)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
