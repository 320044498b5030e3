"""Sub-orchestrations with fan-out: a parent orchestration runs one child orchestration per region.

Each child fans out one activity per warehouse of its region and reports its stock count; the parent
waits for every child and totals the counts. Children are ordinary orchestrations with their own
instance ids and histories.

Run it:  python examples/sub_orchestration_fanout.py                      (embedded fake sidecar)
         python examples/sub_orchestration_fanout.py --host localhost:4001 (a real sidecar)
"""

from __future__ import annotations

from _runner import ExampleRun, run_example

from durabletask import task, worker

WAREHOUSES = {
    "north": ["oslo", "helsinki"],
    "south": ["lisbon", "rome", "athens"],
    "west": ["dublin"],
}


def count_stock(ctx: task.ActivityContext, warehouse: str) -> int:
    """Activity: count the items in one warehouse (here: a number derived from its name)."""
    return len(warehouse) * 100


def region_inventory(ctx: task.OrchestrationContext, region: str):
    """Child orchestrator: count every warehouse of one region in parallel."""
    counts = yield task.when_all([ctx.call_activity(count_stock, input=w) for w in WAREHOUSES[region]])
    return {"region": region, "warehouses": len(counts), "items": sum(counts)}


def global_inventory(ctx: task.OrchestrationContext, regions: list[str]):
    """Parent orchestrator: one child orchestration per region, then a grand total."""
    children = [
        ctx.call_sub_orchestrator(region_inventory, input=region, instance_id=f"{ctx.instance_id}-{region}")
        for region in regions
    ]
    reports = yield task.when_all(children)
    return {"regions": reports, "total_items": sum(r["items"] for r in reports)}


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's orchestrators and activity to a worker."""
    w.add_orchestrator(global_inventory)
    w.add_orchestrator(region_inventory)
    w.add_activity(count_stock)


def scenario(run: ExampleRun) -> None:
    """Count every region and print each child's report."""
    instance_id = run.client.schedule_new_orchestration(global_inventory, input=sorted(WAREHOUSES))
    print(f"Started parent orchestration {instance_id} over {len(WAREHOUSES)} regions.")
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None
    state.raise_if_failed()
    result = state.get_output()
    for report in result["regions"]:
        child = run.client.get_orchestration_state(f"{instance_id}-{report['region']}")
        status = child.runtime_status.name if child else "unknown"
        print(f"  child {instance_id}-{report['region']}: {status}, "
              f"{report['warehouses']} warehouse{'s' if report['warehouses'] != 1 else ''}, {report['items']} items")
    print(f"Total items: {result['total_items']}")


def main(argv: list[str] | None = None) -> int:
    return run_example("Sub-orchestrations: a parent fans out to one child per region.", register, scenario,
                       argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
