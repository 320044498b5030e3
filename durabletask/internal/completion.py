"""How one execution ends: completed with an output, failed, terminated, or continued as new.

The first outcome recorded wins (a non-determinism failure may override it); :meth:`Completion.to_action`
turns it into the ``CompleteOrchestration`` action sent to the sidecar.
"""

from __future__ import annotations

from typing import Any

from durabletask import task
from durabletask.internal import helpers as pbh
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.serialization import DataConverter


def failure_details_proto(details: task.FailureDetails) -> pb.TaskFailureDetails:
    """Protobuf TaskFailureDetails carrying a task failure's public details (with its inner failures)."""
    proto = pb.TaskFailureDetails(errorType=details.error_type, errorMessage=details.message,
                                  stackTrace=pbh.get_string_value(details.stack_trace))
    if details.inner_failure is not None:
        proto.innerFailure.CopyFrom(failure_details_proto(details.inner_failure))
    for key, value in (details.properties or {}).items():
        proto.properties[key].CopyFrom(pbh.protobuf_value(value))
    return proto


def orchestration_failure_details(ex: BaseException, properties_provider: Any = None) -> pb.TaskFailureDetails:
    """Failure details of an orchestrator that raised ``ex``; a task failure it let through is the inner one."""
    details = pbh.new_failure_details(ex, properties_provider=properties_provider)
    if isinstance(ex, task.TaskFailedError):
        details.innerFailure.CopyFrom(failure_details_proto(ex.details))
    return details


class Completion:
    """The outcome of one execution, if it has one yet."""

    def __init__(self, converter: DataConverter, properties_provider: Any = None) -> None:
        self._converter = converter
        self._properties_provider = properties_provider
        self.is_complete = False
        self.status: pb.OrchestrationStatus | None = None
        self.encoded_result: str | None = None
        self.failure_details: pb.TaskFailureDetails | None = None
        self.new_version: str | None = None
        self.save_events = False

    def complete(self, result: Any, status: pb.OrchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED) -> None:
        """Complete with ``result`` (fails instead when it cannot be serialized)."""
        if self.is_complete:
            return
        if isinstance(result, task.Task):
            self.fail(TypeError(
                f"The orchestrator returned a durable task ({type(result).__name__}) instead of its result; did "
                f"you forget 'yield'? Write 'result = yield ctx.call_activity(...)' and return the result."))
            return
        try:
            encoded = self._converter.serialize(result)
        except TypeError:
            # Built, not raised: the failure must not carry the engine's StopIteration as its inner failure.
            self.fail(TypeError(
                f"The orchestrator returned a value of type '{type(result).__name__}', which cannot be serialized "
                f"to JSON. Return JSON-serializable data (dicts, lists, strings, numbers, dataclasses ...)."))
            return
        self.complete_encoded(encoded, status)

    def complete_encoded(self, encoded: str | None, status: pb.OrchestrationStatus) -> None:
        """Complete with an already serialized result (e.g. a termination's output)."""
        if self.is_complete:
            return
        self.is_complete = True
        self.status = status
        self.encoded_result = encoded

    def fail(self, ex: BaseException | pb.TaskFailureDetails, force: bool = False) -> None:
        """Complete as FAILED. ``force`` overrides an outcome recorded earlier."""
        if self.is_complete and not force:
            return
        self.is_complete = True
        self.status = pb.ORCHESTRATION_STATUS_FAILED
        self.encoded_result = None
        self.failure_details = ex if isinstance(ex, pb.TaskFailureDetails) else orchestration_failure_details(
            ex, self._properties_provider)

    def continue_as_new(self, new_input: Any, save_events: bool, new_version: str | None) -> None:
        """Record a continue-as-new outcome."""
        if self.is_complete:
            return
        self.encoded_result = self._converter.serialize(new_input)
        self.is_complete = True
        self.status = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
        self.new_version = new_version
        self.save_events = save_events

    def to_action(self, action_id: int, carryover: list[tuple[str, str | None]]) -> pb.OrchestratorAction:
        """The CompleteOrchestration action; ``carryover`` are the buffered events (kept if ``save_events``)."""
        assert self.status is not None
        if self.status == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
            events = [pbh.new_event_raised_event(name, payload) for name, payload in carryover] \
                if self.save_events else None
            return pbh.new_complete_orchestration_action(action_id, self.status, self.encoded_result, None, events,
                                                         self.new_version)
        return pbh.new_complete_orchestration_action(action_id, self.status, self.encoded_result,
                                                     self.failure_details)
