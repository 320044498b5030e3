"""The Durable extension's replay rules (durabletask_testing.functions.shim), pure: history + SDK answer -> actions.

The SDK answers are written here as the Durable Functions Python SDK writes them (its OrchestratorState JSON with
schema V2/V3 actions, and V1 action groups); no SDK is needed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from google.protobuf import timestamp_pb2, wrappers_pb2

from durabletask_testing.functions.history import df_event, orchestration_context_json
from durabletask_testing.functions.shim import RetryOptions, replay_episode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
V3 = 2


def stamp(at: datetime) -> timestamp_pb2.Timestamp:
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(at.replace(tzinfo=None))
    return value


def event(at: datetime = T0, event_id: int = -1, **kind: object) -> pb.HistoryEvent:
    return pb.HistoryEvent(eventId=event_id, timestamp=stamp(at), **kind)  # type: ignore[arg-type]


def started(at: datetime = T0) -> list[pb.HistoryEvent]:
    return [event(at, orchestratorStarted=pb.OrchestratorStartedEvent()),
            event(at, executionStarted=pb.ExecutionStartedEvent(
                name="orch", input=wrappers_pb2.StringValue(value=json.dumps("null")),
                orchestrationInstance=pb.OrchestrationInstance(
                    instanceId="i1", executionId=wrappers_pb2.StringValue(value="e1"))))]


def scheduled(task_id: int, name: str) -> pb.HistoryEvent:
    return event(event_id=task_id, taskScheduled=pb.TaskScheduledEvent(name=name))


def completed(task_id: int, result: str, at: datetime = T0) -> list[pb.HistoryEvent]:
    return [event(at, orchestratorStarted=pb.OrchestratorStartedEvent()),
            event(at, taskCompleted=pb.TaskCompletedEvent(taskScheduledId=task_id,
                                                          result=wrappers_pb2.StringValue(value=result)))]


def failed(task_id: int, at: datetime = T0) -> list[pb.HistoryEvent]:
    return [event(at, orchestratorStarted=pb.OrchestratorStartedEvent()),
            event(at, taskFailed=pb.TaskFailedEvent(taskScheduledId=task_id, failureDetails=pb.TaskFailureDetails(
                errorType="ValueError", errorMessage="boom")))]


def activity(name: str, value: object = None) -> dict[str, object]:
    return {"actionType": 0, "functionName": name, "input": json.dumps(value)}


def state(*actions: dict[str, object], done: bool = False, output: object = None, **extra: object) -> dict[str, object]:
    return {"isDone": done, "schemaVersion": V3, "actions": [list(actions)], "output": output, **extra}


def kinds(actions: list[pb.OrchestratorAction]) -> list[tuple[str, int]]:
    return [(a.WhichOneof("orchestratorActionType") or "", a.id) for a in actions]


def test_first_episode_schedules_the_first_activity_with_id_zero() -> None:
    episode = replay_episode("i1", "e1", None, started(), state(activity("greet", "Tokyo")))

    assert kinds(episode.actions) == [("scheduleTask", 0)]
    assert episode.actions[0].scheduleTask.name == "greet"
    # the extension stores the SDK's serialized input as a JSON value: the activity reads back the SDK's text
    assert json.loads(episode.actions[0].scheduleTask.input.value) == json.dumps("Tokyo")
    assert not episode.completed


def test_confirmed_actions_are_not_sent_again_and_the_next_one_is() -> None:
    history = [*started(), scheduled(0, "greet"), *completed(0, '"hi"')]

    episode = replay_episode("i1", "e1", None, history, state(activity("greet"), activity("greet")))

    assert kinds(episode.actions) == [("scheduleTask", 1)]


def test_a_finished_orchestrator_completes_with_its_output_as_json() -> None:
    history = [*started(), scheduled(0, "greet"), *completed(0, '"hi"')]

    episode = replay_episode("i1", "e1", None, history, state(activity("greet"), done=True, output=["hi"],
                                                               customStatus={"step": 1}))

    assert kinds(episode.actions) == [("completeOrchestration", 1)]
    complete = episode.actions[0].completeOrchestration
    assert complete.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert json.loads(complete.result.value) == ["hi"]
    assert episode.custom_status == json.dumps({"step": 1})


def test_a_different_activity_at_a_recorded_id_fails_as_non_deterministic() -> None:
    history = [*started(), scheduled(0, "greet")]

    episode = replay_episode("i1", "e1", None, history, state(activity("charge")))

    failure = episode.actions[-1].completeOrchestration
    assert failure.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert failure.failureDetails.errorType == "NonDeterministicOrchestrationException"
    assert "'greet'" in failure.failureDetails.errorMessage and "'charge'" in failure.failureDetails.errorMessage


def test_retry_schedules_a_backoff_timer_after_a_failure_then_the_next_attempt() -> None:
    retry = {"actionType": 1, "functionName": "charge", "input": "null",
             "retryOptions": {"firstRetryIntervalInMilliseconds": 5000, "maxNumberOfAttempts": 3}}
    failed_at = T0 + timedelta(seconds=1)
    history = [*started(), scheduled(0, "charge"), *failed(0, failed_at)]

    episode = replay_episode("i1", "e1", None, history, state(retry))

    assert kinds(episode.actions) == [("createTimer", 1)]
    fire_at = episode.actions[0].createTimer.fireAt.ToDatetime(tzinfo=timezone.utc)
    assert fire_at == failed_at + timedelta(seconds=5)

    history += [event(event_id=1, timerCreated=pb.TimerCreatedEvent(fireAt=stamp(fire_at))),
                event(fire_at, orchestratorStarted=pb.OrchestratorStartedEvent()),
                event(fire_at, timerFired=pb.TimerFiredEvent(timerId=1, fireAt=stamp(fire_at)))]
    episode = replay_episode("i1", "e1", None, history, state(retry))
    assert kinds(episode.actions) == [("scheduleTask", 2)]


def test_retry_waits_one_more_timer_after_the_last_attempt_then_gives_up() -> None:
    retry = {"actionType": 1, "functionName": "charge", "input": "null",
             "retryOptions": {"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": 1}}
    history = [*started(), scheduled(0, "charge"), *failed(0)]

    episode = replay_episode("i1", "e1", None, history, state(retry))

    assert kinds(episode.actions) == [("createTimer", 1)]  # as the framework's retry loop does


def test_backoff_grows_by_the_coefficient_and_stops_at_the_maximum() -> None:
    options = RetryOptions.from_json({"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": 5,
                                      "backoffCoefficient": 2, "maxRetryIntervalInMilliseconds": 3000})

    delays = [options.next_delay(attempt, T0, T0) for attempt in range(4)]

    assert delays == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=3), timedelta(seconds=3)]
    timed_out = RetryOptions.from_json({"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": 5,
                                        "retryTimeoutInMilliseconds": 10_000})
    assert timed_out.next_delay(0, T0, T0 + timedelta(seconds=10)) == timedelta(0)


def test_an_event_raised_before_the_wait_is_buffered_for_it() -> None:
    wait = {"actionType": 6, "externalEventName": "Approval"}
    history = [*started(), event(eventRaised=pb.EventRaisedEvent(name="Approval"))]

    episode = replay_episode("i1", "e1", None, history, state(wait, activity("next")))

    assert kinds(episode.actions) == [("scheduleTask", 0)]  # the wait was satisfied by the buffered event


def test_when_all_schedules_every_child_and_waits_for_all() -> None:
    fan = {"actionType": 12, "compoundActions": [activity("a"), activity("b"), activity("c")]}
    history = [*started(), scheduled(0, "a"), scheduled(1, "b"), scheduled(2, "c"), *completed(1, "1")]

    first = replay_episode("i1", "e1", None, started(), state(fan, activity("after")))
    later = replay_episode("i1", "e1", None, history, state(fan, activity("after")))

    assert kinds(first.actions) == [("scheduleTask", 0), ("scheduleTask", 1), ("scheduleTask", 2)]
    assert later.actions == []


def test_cancelled_timer_is_still_created_and_the_replay_goes_on() -> None:
    race = {"actionType": 11, "compoundActions": [
        {"actionType": 6, "externalEventName": "Approval"},
        {"actionType": 5, "fireAt": "2030-01-04T00:00:00.000000Z", "isCanceled": True}]}
    history = [*started(), event(eventRaised=pb.EventRaisedEvent(name="Approval"))]

    episode = replay_episode("i1", "e1", None, history, state(race, activity("record")))

    assert kinds(episode.actions) == [("createTimer", 0), ("scheduleTask", 1)]


def test_v1_schema_awaits_each_group_with_when_any() -> None:
    v1 = {"isDone": False, "schemaVersion": 0, "actions": [[activity("a")], [activity("b")]]}
    history = [*started(), scheduled(0, "a"), *completed(0, "1")]

    episode = replay_episode("i1", "e1", None, history, v1)

    assert kinds(episode.actions) == [("scheduleTask", 1)]


def test_sub_orchestrator_without_id_gets_the_frameworks_default_id() -> None:
    child = {"actionType": 2, "functionName": "child", "input": "null", "instanceId": None}

    episode = replay_episode("i1", "e1", None, started(), state(child))

    assert episode.actions[0].createSubOrchestration.instanceId == "e1:0"


def test_sub_orchestrator_may_not_reuse_the_parents_id() -> None:
    child = {"actionType": 2, "functionName": "child", "input": "null", "instanceId": "i1"}

    episode = replay_episode("i1", "e1", None, started(), state(child))

    assert episode.actions[-1].completeOrchestration.failureDetails.errorType == "ArgumentException"


def test_continue_as_new_completes_with_the_new_input() -> None:
    episode = replay_episode("i1", "e1", None, started(),
                             state({"actionType": 4, "input": json.dumps({"n": 2})}, done=True))

    complete = episode.actions[-1].completeOrchestration
    assert complete.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    assert json.loads(json.loads(complete.result.value)) == {"n": 2}


def test_user_error_fails_after_the_actions_are_replayed() -> None:
    history = [*started(), scheduled(0, "a"), *failed(0)]

    episode = replay_episode("i1", "e1", None, history, state(activity("a"), error="ValueError: boom"))

    failure = episode.actions[-1].completeOrchestration
    assert failure.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert failure.failureDetails.errorMessage == "ValueError: boom"


def test_events_while_suspended_wait_for_the_resume() -> None:
    wait = {"actionType": 6, "externalEventName": "go"}
    suspended = [*started(), event(executionSuspended=pb.ExecutionSuspendedEvent()),
                 event(eventRaised=pb.EventRaisedEvent(name="go"))]

    held = replay_episode("i1", "e1", None, suspended, state(wait, activity("after")))
    resumed = replay_episode("i1", "e1", None, [*suspended, event(executionResumed=pb.ExecutionResumedEvent())],
                             state(wait, activity("after")))

    assert held.actions == []
    assert kinds(resumed.actions) == [("scheduleTask", 0)]


def test_entity_call_is_sent_as_an_entity_message_with_a_deterministic_request_id() -> None:
    call = {"actionType": 7, "instanceId": "@counter@k", "operation": "get", "input": "null"}

    first = replay_episode("i1", "e1", None, started(), state(call))
    again = replay_episode("i1", "e1", None, started(), state(call))

    message = first.actions[0].sendEntityMessage.entityOperationCalled
    assert (message.operation, message.targetInstanceId.value) == ("get", "@counter@k")
    assert message.requestId == again.actions[0].sendEntityMessage.entityOperationCalled.requestId


def test_unknown_action_type_fails_with_a_message_naming_it() -> None:
    episode = replay_episode("i1", "e1", None, started(), state({"actionType": 99}))

    assert "99" in episode.actions[-1].completeOrchestration.failureDetails.errorMessage


def test_history_json_uses_the_frameworks_event_types_and_fields() -> None:
    failure = event(taskFailed=pb.TaskFailedEvent(taskScheduledId=3, failureDetails=pb.TaskFailureDetails(
        errorType="ValueError", errorMessage="boom")))

    converted = df_event(failure, played=True)

    assert converted is not None
    assert (converted["EventType"], converted["TaskScheduledId"], converted["Reason"]) == (6, 3, "boom")
    assert converted["IsPlayed"] is True and converted["Timestamp"].endswith("Z")


def test_context_json_carries_the_input_value_and_the_schema_versions() -> None:
    body = json.loads(orchestration_context_json("i1", started(), [], 1, 2))

    assert body["input"] == "null" and body["instanceId"] == "i1" and body["isReplaying"] is True
    assert (body["upperSchemaVersion"], body["upperSchemaVersionNew"]) == (1, 2)
    assert [e["EventType"] for e in body["history"]] == [12, 0]
