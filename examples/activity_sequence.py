"""Function chaining: an orchestration that calls three activities one after the other.

Run it:  python examples/activity_sequence.py            (embedded fake sidecar)
         python examples/activity_sequence.py --host localhost:4001   (a real sidecar)
"""

from __future__ import annotations

from _runner import ExampleRun, run_example

from durabletask import task, worker


def hello(ctx: task.ActivityContext, name: str) -> str:
    """Activity: greet one city."""
    return f"Hello {name}!"


def sequence(ctx: task.OrchestrationContext, _: None):
    """Orchestrator: call ``hello`` for each city in turn; each call starts after the previous one ended."""
    result1 = yield ctx.call_activity(hello, input="Tokyo")
    result2 = yield ctx.call_activity(hello, input="Seattle")
    result3 = yield ctx.call_activity(hello, input="London")
    return [result1, result2, result3]


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's orchestrator and activity to a worker."""
    w.add_orchestrator(sequence)
    w.add_activity(hello)


def scenario(run: ExampleRun) -> None:
    """Start the chain, wait for it and print the greetings."""
    instance_id = run.client.schedule_new_orchestration(sequence)
    print(f"Started orchestration {instance_id}.")
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None
    state.raise_if_failed()
    print(f"Status: {state.runtime_status.name}")
    for greeting in state.get_output():
        print(f"  {greeting}")


def main(argv: list[str] | None = None) -> int:
    return run_example("Function chaining: three activities in sequence.", register, scenario, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
