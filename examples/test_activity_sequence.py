"""Tests of the function-chaining example, written with the durabletask pytest plugin's fixtures."""

from __future__ import annotations

from activity_sequence import hello, main, register, sequence

from durabletask import client


def test_activity_greets_one_city() -> None:
    assert hello(None, "Oslo") == "Hello Oslo!"  # type: ignore[arg-type]  # activities are plain functions


def test_sequence_greets_each_city_in_order(durable_worker, durable_client) -> None:
    register(durable_worker)
    durable_worker.start()

    instance_id = durable_client.schedule_new_orchestration(sequence)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_each_activity_starts_after_the_previous_one_completed(durable_worker, durable_client, durable_sidecar) -> None:
    register(durable_worker)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration(sequence)
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    task_events = [
        kind for kind in (event.WhichOneof("eventType") for event in durable_sidecar.history(instance_id))
        if kind in ("taskScheduled", "taskCompleted")
    ]
    assert task_events == ["taskScheduled", "taskCompleted"] * 3


def test_example_script_runs_against_the_tests_sidecar(durable_sidecar, capsys) -> None:
    assert main(["--host", durable_sidecar.address]) == 0
    assert "Hello London!" in capsys.readouterr().out


def test_example_script_runs_on_its_embedded_fake(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "Status: COMPLETED" in out
    assert "Hello Tokyo!" in out and "Hello Seattle!" in out
