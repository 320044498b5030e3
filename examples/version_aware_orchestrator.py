"""Orchestration versioning: one orchestrator that serves both its 1.0.0 and its 2.0.0 instances.

Version 2.0.0 of ``my_orchestrator`` calls ``activity_three`` between ``activity_one`` and
``activity_two``. Instances started as 1.0.0 (before the deployment) must keep the old sequence, or their
replay would no longer match their history; the orchestrator branches on ``ctx.version``. The worker runs
version 2.0.0 with ``VersionMatchStrategy.CURRENT_OR_OLDER`` and ``VersionFailureStrategy.FAIL``
(deployment scenario 3): it accepts 1.0.0 and 2.0.0 instances and fails instances from the future.

Run it:  python examples/version_aware_orchestrator.py                      (embedded fake sidecar)
         python examples/version_aware_orchestrator.py --host localhost:4001 (a real sidecar)
"""

from __future__ import annotations

from _runner import ExampleRun, run_example

from durabletask import task, worker

WORKER_VERSIONING = worker.VersioningOptions(
    version="2.0.0",
    default_version="2.0.0",
    match_strategy=worker.VersionMatchStrategy.CURRENT_OR_OLDER,
    failure_strategy=worker.VersionFailureStrategy.FAIL,
)


def activity_one(ctx: task.ActivityContext, _: None) -> str:
    return "one"


def activity_two(ctx: task.ActivityContext, _: None) -> str:
    return "two"


def activity_three(ctx: task.ActivityContext, _: None) -> str:
    return "three"


def my_orchestrator(ctx: task.OrchestrationContext, _: None):
    """Version-aware orchestrator: 1.0.0 instances keep the old path, newer ones call activity_three too."""
    steps = [(yield ctx.call_activity(activity_one))]
    if (ctx.version or "") > "1.0.0":  # instances started before versioning have no version: old path
        steps.append((yield ctx.call_activity(activity_three)))
    steps.append((yield ctx.call_activity(activity_two)))
    return steps


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's functions to a worker running version 2.0.0 of the code."""
    w.add_orchestrator(my_orchestrator)
    w.add_activity(activity_one)
    w.add_activity(activity_two)
    w.add_activity(activity_three)
    w.use_versioning(WORKER_VERSIONING)


def _describe(run: ExampleRun, instance_id: str, started_as: str) -> None:
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None
    if state.failure_details is not None:
        outcome = f"{state.runtime_status.name}: {state.failure_details.message}"
    else:
        outcome = f"{state.runtime_status.name}, steps {state.get_output()}"
    print(f"  instance started as {started_as:<30} -> {outcome}")


def scenario(run: ExampleRun) -> None:
    """Start instances of three versions and show which path each one took."""
    print("Worker: version 2.0.0, match CURRENT_OR_OLDER, on mismatch FAIL. Client default version: 2.0.0.")
    old = run.client.schedule_new_orchestration(my_orchestrator, version="1.0.0")
    _describe(run, old, "1.0.0 (before the deployment)")
    new = run.client.schedule_new_orchestration(my_orchestrator)
    _describe(run, new, "2.0.0 (the client's default)")
    future = run.client.schedule_new_orchestration(my_orchestrator, version="3.0.0")
    _describe(run, future, "3.0.0 (newer than the worker)")


def main(argv: list[str] | None = None) -> int:
    return run_example("Version-aware orchestrator (deployment scenario 3).", register, scenario, argv=argv,
                       client_options={"default_version": "2.0.0"})


if __name__ == "__main__":
    raise SystemExit(main())
