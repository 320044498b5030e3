"""Fan-out/fan-in: process a dynamic number of work items in parallel, then aggregate the results.

Run it:  python examples/fanout_fanin.py                      (embedded fake sidecar)
         python examples/fanout_fanin.py --host localhost:4001 (a real sidecar)
"""

from __future__ import annotations

from _runner import ExampleRun, run_example

from durabletask import task, worker


def get_work_items(ctx: task.ActivityContext, count: int) -> list[str]:
    """Activity: list the work to do (in real life: query a database, list a bucket, ...)."""
    return [f"item-{n}" for n in range(1, count + 1)]


def process_work_item(ctx: task.ActivityContext, item: str) -> int:
    """Activity: process one work item and return a number measuring the work done."""
    return int(item.rsplit("-", 1)[1]) * 10


def fan_out_fan_in(ctx: task.OrchestrationContext, count: int):
    """Orchestrator: fan out one activity per work item, wait for all of them, and sum their results."""
    # the number of work items is not known in advance
    work_items = yield ctx.call_activity(get_work_items, input=count)

    # fan-out: schedule every item at once; they run in parallel on the workers
    tasks = [ctx.call_activity(process_work_item, input=item) for item in work_items]
    results = yield task.when_all(tasks)

    # fan-in: summarize
    return {"work_items": work_items, "results": results, "total": sum(results)}


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's orchestrator and activities to a worker."""
    w.add_orchestrator(fan_out_fan_in)
    w.add_activity(get_work_items)
    w.add_activity(process_work_item)


def scenario(run: ExampleRun) -> None:
    """Fan out over ten items and print the aggregate."""
    instance_id = run.client.schedule_new_orchestration(fan_out_fan_in, input=10)
    print(f"Started orchestration {instance_id} over 10 work items.")
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None
    state.raise_if_failed()
    summary = state.get_output()
    print(f"Status: {state.runtime_status.name}")
    print(f"Processed {len(summary['work_items'])} items in parallel; results {summary['results']}")
    print(f"Total: {summary['total']}")


def main(argv: list[str] | None = None) -> int:
    return run_example("Fan-out/fan-in: parallel activities, aggregated.", register, scenario, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
