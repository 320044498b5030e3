"""Entity work items: a batch of operations against one entity's state, without a sidecar."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from durabletask.entities import DurableEntity, EntityContext, EntityInstanceId
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.entity_executor import execute_entity_batch
from durabletask.internal.helpers import get_string_value
from durabletask.internal.registry import Registry

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def counter(ctx: EntityContext, amount: int | None) -> Any:
    value = ctx.get_state(int, 0)
    if ctx.operation == "add":
        if amount is not None and amount < 0:
            ctx.signal_entity(EntityInstanceId("audit", "x"), "negative", amount)
            raise ValueError("no negative amounts")
        ctx.set_state(value + (amount or 0))
        ctx.signal_entity(EntityInstanceId("audit", "x"), "added", amount)
        return value + (amount or 0)
    if ctx.operation == "get":
        return value
    if ctx.operation == "delete":
        ctx.set_state(None)
    return None


@dataclass
class Deposit:
    amount: int
    memo: str


class Account(DurableEntity):
    def deposit(self, deposit: Deposit) -> int:
        assert isinstance(deposit, Deposit)
        balance = self.get_state(int, 0) + deposit.amount
        self.set_state(balance)
        return balance

    def balance(self) -> int:
        return self.get_state(int, 0)

    def close(self, reason: str = "none") -> str:
        self.schedule_new_orchestration("archive", {"reason": reason}, instance_id="archive-1")
        self.delete()
        return reason


def _registry() -> Registry:
    reg = Registry()
    reg.add_entity(counter)
    reg.add_entity(Account)
    return reg


def _batch(instance_id: str, *operations: tuple[str, Any], state: Any = None) -> pb.EntityBatchRequest:
    return pb.EntityBatchRequest(
        instanceId=instance_id, entityState=get_string_value(None if state is None else json.dumps(state)),
        operations=[pb.OperationRequest(requestId=f"r{i}", operation=name,
                                        input=get_string_value(None if value is None else json.dumps(value)))
                    for i, (name, value) in enumerate(operations)])


def _outcomes(result: pb.EntityBatchResult) -> list[Any]:
    return [json.loads(r.success.result.value) if r.HasField("success") and r.success.result.value else
            (None if r.HasField("success") else r.failure.failureDetails.errorMessage) for r in result.results]


def test_function_entity_runs_each_operation_on_the_state_left_by_the_previous():
    result = execute_entity_batch(_registry(), _batch("@counter@k", ("add", 2), ("add", 3), ("get", None)),
                                  "token-1", now=lambda: NOW)
    assert _outcomes(result) == [2, 5, 5]
    assert result.entityState.value == "5" and result.completionToken == "token-1"
    assert all(r.success.startTimeUtc.ToDatetime(timezone.utc) == NOW for r in result.results)
    assert [(a.sendSignal.instanceId, a.sendSignal.name) for a in result.actions] == [("@audit@x", "added")] * 2


def test_a_failed_operation_is_rolled_back_alone_with_the_signals_it_sent():
    result = execute_entity_batch(_registry(), _batch("@counter@k", ("add", 2), ("add", -1), ("add", 1), state=10))
    assert _outcomes(result) == [12, "no negative amounts", 13]
    assert result.results[1].failure.failureDetails.errorType == "builtins.ValueError"
    assert result.entityState.value == "13"
    assert [a.sendSignal.name for a in result.actions] == ["added", "added"]


def test_class_entity_methods_are_operations_with_typed_input_and_optional_input():
    deposit = {"amount": 30, "memo": "salary"}
    result = execute_entity_batch(_registry(), _batch("@account@alice", ("deposit", deposit), ("balance", None),
                                                      ("close", None)))
    assert _outcomes(result) == [30, 30, "none"]
    assert not result.HasField("entityState"), "delete clears the state"
    [start] = [a.startNewOrchestration for a in result.actions]
    assert (start.instanceId, start.name, json.loads(start.input.value)) == ("archive-1", "archive",
                                                                             {"reason": "none"})


def test_unknown_entities_and_operations_fail_their_operation():
    unknown_op = execute_entity_batch(_registry(), _batch("@account@a", ("withdraw", 1), ("balance", None)))
    assert _outcomes(unknown_op) == ["Entity '@account@a' does not have operation 'withdraw'", 0]
    unknown_entity = execute_entity_batch(_registry(), _batch("@nobody@a", ("x", None)))
    assert unknown_entity.results[0].failure.failureDetails.errorType.endswith("EntityNotRegisteredError")


def test_an_id_that_is_not_an_entity_id_fails_the_whole_batch():
    result = execute_entity_batch(_registry(), _batch("not-an-entity", ("get", None), state=4))
    assert "not-an-entity" in result.failureDetails.errorMessage
    assert not result.results and result.entityState.value == "4"


def test_the_v2_request_form_is_run_and_tells_where_each_answer_goes():
    signaled = pb.HistoryEvent(entityOperationSignaled=pb.EntityOperationSignaledEvent(
        requestId="s1", operation="add", input=get_string_value("4")))
    called = pb.HistoryEvent(entityOperationCalled=pb.EntityOperationCalledEvent(
        requestId="c1", operation="get", parentInstanceId=get_string_value("orch-1"),
        parentExecutionId=get_string_value("exec-1")))
    request = pb.EntityRequest(instanceId="@counter@k", entityState=get_string_value("1"),
                               operationRequests=[signaled, called])
    result = execute_entity_batch(_registry(), request, "t")
    assert _outcomes(result) == [5, 5]
    assert [(i.requestId, i.HasField("responseDestination")) for i in result.operationInfos] == [("s1", False),
                                                                                               ("c1", True)]
    destination = result.operationInfos[1].responseDestination
    assert (destination.instanceId, destination.executionId.value) == ("orch-1", "exec-1")


def test_a_state_that_cannot_be_serialized_fails_the_operation_that_set_it():
    def bad(ctx: EntityContext, _: Any) -> None:
        ctx.set_state(object())

    reg = Registry()
    reg.add_entity(bad)
    result = execute_entity_batch(reg, _batch("@bad@k", ("set", None), state=1))
    assert result.results[0].HasField("failure") and result.entityState.value == "1"
