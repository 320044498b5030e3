"""Tests of the fan-out/fan-in example."""

from __future__ import annotations

from fanout_fanin import fan_out_fan_in, main, process_work_item, register

from durabletask import client


def run(durable_worker, durable_client, count: int):
    register(durable_worker)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration(fan_out_fan_in, input=count)
    return instance_id, durable_client.wait_for_orchestration_completion(instance_id, timeout=10)


def test_results_of_every_item_are_aggregated(durable_worker, durable_client) -> None:
    _, state = run(durable_worker, durable_client, 10)

    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    summary = state.get_output()
    assert summary["work_items"] == [f"item-{n}" for n in range(1, 11)]
    assert summary["results"] == [n * 10 for n in range(1, 11)]
    assert summary["total"] == 550


def test_no_work_items_gives_an_empty_summary(durable_worker, durable_client) -> None:
    _, state = run(durable_worker, durable_client, 0)
    assert state.get_output() == {"work_items": [], "results": [], "total": 0}


def test_all_items_are_scheduled_at_once(durable_worker, durable_client, durable_sidecar) -> None:
    instance_id, _ = run(durable_worker, durable_client, 5)

    kinds = [event.WhichOneof("eventType") for event in durable_sidecar.history(instance_id)]
    first_completion = kinds.index("taskCompleted")  # get_work_items answered
    next_scheduled = kinds.index("taskScheduled", first_completion)
    # the five process_work_item calls were scheduled in one orchestrator step, before any of them completed
    assert kinds[next_scheduled:next_scheduled + 5] == ["taskScheduled"] * 5


def test_one_failed_item_fails_the_fan_in(durable_worker, durable_client, durable_faults) -> None:
    durable_faults.fail_activity(process_work_item, times=1, message="disk full")

    _, state = run(durable_worker, durable_client, 3)

    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert "disk full" in state.failure_details.message


def test_example_script_runs_on_its_embedded_fake(capsys) -> None:
    assert main([]) == 0
    assert "Total: 550" in capsys.readouterr().out
