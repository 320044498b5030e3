"""Suspend, resume and terminate: managing a running orchestration from the client.

A contract waits for a number of ``signed`` events. While it is suspended, signatures still arrive and
are buffered, none is lost: they are processed when it is resumed. A terminated contract stops for good
with the output given by the operator.

Run it:  python examples/suspend_resume_terminate.py                      (embedded fake sidecar)
         python examples/suspend_resume_terminate.py --host localhost:4001 (a real sidecar)
"""

from __future__ import annotations

from _runner import ExampleRun, run_example

from durabletask import client, task, worker


def collect_signatures(ctx: task.OrchestrationContext, required: int):
    """Orchestrator: wait for ``required`` signatures, publishing progress as custom status."""
    signers: list[str] = []
    while len(signers) < required:
        signer = yield ctx.wait_for_external_event("signed")
        signers.append(signer)
        ctx.set_custom_status({"signed_by": signers})
    return signers


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's orchestrator to a worker."""
    w.add_orchestrator(collect_signatures)


def _status(run: ExampleRun, instance_id: str) -> str:
    state = run.client.get_orchestration_state(instance_id)
    return state.runtime_status.name if state else "unknown"


def scenario(run: ExampleRun) -> None:
    """Suspend a contract, sign it while suspended, resume it; then terminate another one."""
    print("\n1. Suspend and resume")
    contract = run.client.schedule_new_orchestration(collect_signatures, input=2)
    run.client.wait_for_orchestration_start(contract, timeout=30)
    run.client.suspend_orchestration(contract, reason="legal review")
    run.wait_for_status(contract, client.OrchestrationStatus.SUSPENDED)
    print(f"    suspended for legal review: {_status(run, contract)}")
    run.client.raise_orchestration_event(contract, "signed", data="Alice")
    run.client.raise_orchestration_event(contract, "signed", data="Bob")
    if run.fake is not None:
        run.fake.wait_until_idle()  # the worker has seen both events
    state = run.client.get_orchestration_state(contract)
    assert state is not None
    print(f"    Alice and Bob sign meanwhile; the contract stays {state.runtime_status.name}, "
          f"signatures processed so far: {state.get_custom_status() or 'none'}")
    run.client.resume_orchestration(contract, reason="review passed")
    state = run.client.wait_for_orchestration_completion(contract, timeout=30)
    assert state is not None
    print(f"    resumed: {state.runtime_status.name}, signed by {state.get_output()}")

    print("\n2. Terminate")
    withdrawn = run.client.schedule_new_orchestration(collect_signatures, input=3)
    run.client.raise_orchestration_event(withdrawn, "signed", data="Carol")
    run.client.terminate_orchestration(withdrawn, output="withdrawn by the author")
    state = run.client.wait_for_orchestration_completion(withdrawn, timeout=30)
    assert state is not None
    assert state.runtime_status == client.OrchestrationStatus.TERMINATED
    print(f"    {state.runtime_status.name}: {state.get_output()!r}")


def main(argv: list[str] | None = None) -> int:
    return run_example("Suspend, resume and terminate running orchestrations.", register, scenario, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
