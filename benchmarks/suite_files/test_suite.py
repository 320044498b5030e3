"""The benchmark suite (``session_suite.py``): 18 workflow tests, each starting orchestrations and checking them.

Every test gets ``client`` from the folder's ``conftest.py`` (a started worker with every function of
``suite_functions`` registered behind it), so the same file runs on our plugin's fake and on the published
in-memory backend.
"""

from __future__ import annotations

import json
from typing import Any

import suite_functions as f

TIMEOUT = 30


def finish(client: Any, instance_id: str) -> Any:
    state = client.wait_for_orchestration_completion(instance_id, timeout=TIMEOUT)
    assert state is not None
    return state


def output_of(client: Any, orchestrator: Any, value: Any = None) -> Any:
    state = finish(client, client.schedule_new_orchestration(orchestrator, input=value))
    assert state.runtime_status.name == "COMPLETED", state.failure_details
    return json.loads(state.serialized_output) if state.serialized_output else None


def test_chain_of_three(client: Any) -> None:
    assert output_of(client, f.chain, ["Tokyo", "Seattle", "London"]) == ["Hello Tokyo!", "Hello Seattle!",
                                                                         "Hello London!"]


def test_chain_of_ten(client: Any) -> None:
    names = [f"city {i}" for i in range(10)]
    assert output_of(client, f.chain, names) == [f"Hello {name}!" for name in names]


def test_fan_out_ten(client: Any) -> None:
    assert output_of(client, f.fan_out, 10) == sum(i * i for i in range(10))


def test_fan_out_fifty(client: Any) -> None:
    assert output_of(client, f.fan_out, 50) == sum(i * i for i in range(50))


def test_timer(client: Any) -> None:
    assert output_of(client, f.sleepy) == "woke"


def test_timer_then_activity(client: Any) -> None:
    assert output_of(client, f.timer_then_activity, "Oslo") == "Hello Oslo!"


def test_external_event_arrives(client: Any) -> None:
    instance_id = client.schedule_new_orchestration(f.approval)
    client.wait_for_orchestration_start(instance_id, timeout=TIMEOUT)
    client.raise_orchestration_event(instance_id, "approved", data="Alice")
    state = finish(client, instance_id)
    assert json.loads(state.serialized_output) == "approved by Alice"


def test_external_event_times_out(client: Any) -> None:
    assert output_of(client, f.approval_times_out) == "timed out"


def test_two_events_in_order(client: Any) -> None:
    instance_id = client.schedule_new_orchestration(f.two_events)
    client.raise_orchestration_event(instance_id, "first", data=1)
    client.raise_orchestration_event(instance_id, "second", data=2)
    assert json.loads(finish(client, instance_id).serialized_output) == [1, 2]


def test_sub_orchestration(client: Any) -> None:
    assert output_of(client, f.parent, ["Lima", "Quito"]) == ["Hello Lima!", "Hello Quito!"]


def test_sub_orchestrations_fan_out(client: Any) -> None:
    assert output_of(client, f.parent_fan_out, 3) == [0, 1, 5]


def test_entity_counter(client: Any) -> None:
    assert output_of(client, f.counting, "test_entity_counter") == 12


def test_retry_succeeds(client: Any) -> None:
    assert output_of(client, f.retried, "test_retry_succeeds:1") == "test_retry_succeeds:1 ok after 2"


def test_retry_succeeds_on_last_attempt(client: Any) -> None:
    assert output_of(client, f.retried, "test_retry_last:2") == "test_retry_last:2 ok after 3"


def test_retries_exhausted(client: Any) -> None:
    state = finish(client, client.schedule_new_orchestration(f.retried, input="test_retries_exhausted:5"))
    assert state.runtime_status.name == "FAILED"


def test_activity_failure_is_caught(client: Any) -> None:
    assert output_of(client, f.caught) == "recovered"


def test_continue_as_new(client: Any) -> None:
    assert output_of(client, f.looping, 0) == 3


def test_several_instances(client: Any) -> None:
    ids = [client.schedule_new_orchestration(f.echo, input=i) for i in range(5)]
    assert [json.loads(finish(client, i).serialized_output) for i in ids] == list(range(5))
