"""Run in the published SDK's venv by test_replayer_published.py: records histories with the published SDK's
worker on a FakeSidecar, replays them in process and through a worker (the fallback, forced two ways), and prints
one JSON line: the path each replayer took and its verdicts."""

from __future__ import annotations

import json
from typing import Any

import replay_flows  # beside this script, which Python puts first on the import path

from durabletask import client, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.replay import Registration, Replayer, StoredHistory, export_history, parse_history, sdks
from durabletask_testing.replay.workers import WorkerRunner


def failing(ctx: Any, amount: int) -> Any:
    yield ctx.call_activity(replay_flows.charge, input=amount)
    raise ValueError(f"declined {amount}")


def record() -> list[StoredHistory]:
    histories = []
    with FakeSidecar() as sidecar:
        running = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        running._registry.add_named_orchestrator("order", replay_flows.order_v1)
        running.add_orchestrator(failing)
        for activity in (replay_flows.charge, replay_flows.review, replay_flows.ship):
            running.add_activity(activity)
        running.start()
        try:
            hub = client.TaskHubGrpcClient(host_address=sidecar.address)
            for instance_id, name, amount, version in (("small", "order", 10, "1.0"), ("big", "order", 500, "1.0"),
                                                       ("declined", "failing", 7, None)):
                hub.schedule_new_orchestration(name, input=amount, instance_id=instance_id, version=version)
                hub.wait_for_orchestration_completion(instance_id, timeout=10)
                histories.append(parse_history(export_history(sidecar, instance_id)))
        finally:
            running.stop()
    return histories


def verdicts(registration: Registration, histories: list[StoredHistory], through_worker: bool) -> dict[str, Any]:
    runner, close = sdks.runner(registration, through_worker)
    close()
    with Replayer.for_registration(registration, through_worker=through_worker) as replayer:
        outcomes = replayer.replay_all(histories, repeat=3)
    return {"path": "worker" if isinstance(runner, WorkerRunner) else "in process",
            "verdicts": {o.instance_id: [o.describe(), o.refused] for o in outcomes}}


def main() -> None:
    histories = record()
    strict = worker.VersioningOptions(version="2.0", match_strategy=worker.VersionMatchStrategy.STRICT,
                                      failure_strategy=worker.VersionFailureStrategy.REJECT)
    registrations = {
        "v1": Registration.of({"order": replay_flows.order_v1, "failing": failing}),
        "v2": Registration.of({"order": replay_flows.order_v2, "failing": failing}),
        "strict": Registration.of({"order": replay_flows.order_v1}, versioning=strict),
    }
    report: dict[str, Any] = {"in_process_refusal": sdks.published_in_process()}
    for name, registration in registrations.items():
        report[name] = {"default": verdicts(registration, histories, False),
                        "forced": verdicts(registration, histories, True)}
    sdks.PUBLISHED_IN_PROCESS_FROM = (99, 0)  # a version the guard does not know: the protocol path
    sdks.published_in_process.cache_clear()
    report["old_version_refusal"] = sdks.published_in_process()
    report["old_version"] = verdicts(registrations["v2"], histories, False)
    sdks.PUBLISHED_IN_PROCESS_FROM = (1, 12)
    sdks.published_in_process.cache_clear()
    executor: Any = worker._OrchestrationExecutor
    original = executor.execute
    executor.execute = lambda self, instance_id, events: None  # another shape: the guard says so
    report["other_shape_refusal"] = sdks.published_in_process()
    executor.execute = original
    print(json.dumps(report))


if __name__ == "__main__":
    main()
