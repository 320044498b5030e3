"""Run generated programs through Dapr Workflow's Python SDK (``dapr.ext.workflow``); print observations.

Run with a Dapr venv's python (``scripts/dapr_venvs.py``, dapr >= 1.19 for ``get_workflow_history``) against
a real daprd or the fake's Dapr dialect; prints one JSON observation per program, in the order given, in the
shape ``fidelity_driver`` documents:

    python tests/interop/dapr_fidelity_harness.py --host 127.0.0.1:50001 --programs FILE

The Dapr flavour of the generated-program machinery: the same interpreter (``fidelity_interpreter``) and the
same driver (``fidelity_driver.Driver``) run unchanged, with three adapters:

- the interpreter orchestrator is registered with a ``WorkflowRuntime``; the ``DaprWorkflowContext`` it gets
  is wrapped so the interpreter's calls (``call_activity``, ``call_sub_orchestrator``, timers, events,
  ``continue_as_new``) go through Dapr's API (``call_child_workflow``, Dapr's ``RetryPolicy``);
- the activities are Dapr activities handing their inner context to the interpreter's ones;
- the driver's client is an adapter over ``DaprWorkflowClient`` (``schedule_new_workflow``,
  ``get_workflow_state``, ``pause_workflow``, ``terminate_workflow``, ``purge_workflow`` ...); instances are
  listed with ``list_workflow_instance_ids`` and histories read with ``GetInstanceHistory``.

Those modules import ``durabletask``; here that name is bound to the copy Dapr vendors
(``dapr.ext.workflow._durabletask``), whose protocol bindings are Dapr's fork, so the task types, failures
and history events are the ones Dapr's SDK itself uses. Nothing of our SDK is loaded.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Generator
from datetime import timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

# Every unary call gets a deadline (Dapr's SDK sets none by default): a real daprd can leave a call
# unanswered for good, e.g. TerminateInstance of a child whose parent a post action purged.
os.environ.setdefault("DAPR_API_TIMEOUT_SECONDS", "5")

import dapr.ext.workflow as wf  # noqa: E402

_VENDORED = "dapr.ext.workflow._durabletask"
for _name in ("client", "worker", "task", "internal.orchestrator_service_pb2",
              "internal.orchestrator_service_pb2_grpc"):
    importlib.import_module(f"{_VENDORED}.{_name}")
for _name, _module in list(sys.modules.items()):  # every loaded vendored module also under "durabletask"
    if _name == _VENDORED or _name.startswith(_VENDORED + "."):
        sys.modules["durabletask" + _name[len(_VENDORED):]] = _module
# Dapr splits the protocol's messages over several modules; our modules read them all from one.
_messages = ModuleType("durabletask.internal.orchestrator_service_pb2")
for _name in ("history_events_pb2", "orchestration_pb2", "orchestrator_actions_pb2", "orchestrator_service_pb2"):
    _part = importlib.import_module(f"{_VENDORED}.internal.{_name}")
    _messages.__dict__.update({k: v for k, v in vars(_part).items() if not k.startswith("__")})
_internal = ModuleType("durabletask.internal")
_internal.__dict__.update({k: v for k, v in vars(sys.modules[f"{_VENDORED}.internal"]).items()
                           if not k.startswith("__")})
_internal.orchestrator_service_pb2 = _messages  # type: ignore[attr-defined]
sys.modules[_messages.__name__], sys.modules[_internal.__name__] = _messages, _internal

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, outside pytest

import fidelity_driver as fd  # noqa: E402
import fidelity_interpreter as interp  # noqa: E402

from durabletask import client as dt_client  # noqa: E402  (Dapr's vendored copy, bound above)
from durabletask import task  # noqa: E402

_LOGGERS = ("durabletask-worker", "durabletask-client", "durabletask", "dapr", "WorkflowRuntime",
            "DaprWorkflowClient", "DaprWorkflowContext")


# ----------------------------------------------------------------------------------------------
# The interpreter on Dapr's API
# ----------------------------------------------------------------------------------------------

def _dapr_policy(policy: task.RetryPolicy | None) -> wf.RetryPolicy | None:
    if policy is None:
        return None
    return wf.RetryPolicy(first_retry_interval=policy.first_retry_interval,
                          max_number_of_attempts=policy.max_number_of_attempts,
                          backoff_coefficient=policy.backoff_coefficient)


def fid_act(ctx: wf.WorkflowActivityContext, spec: dict[str, Any]) -> str:
    return interp.fid_act(ctx.get_inner_context(), spec)


def fid_count(ctx: wf.WorkflowActivityContext, key: str) -> int:
    return interp.fid_count(ctx.get_inner_context(), key)


def fid_beacon(ctx: wf.WorkflowActivityContext, spec: dict[str, Any]) -> None:
    interp.fid_beacon(ctx.get_inner_context(), spec)


ACTIVITIES = {fn.__name__: fn for fn in (fid_act, fid_count, fid_beacon)}


class _OnDapr:
    """The orchestration context the interpreter expects, as calls on a ``DaprWorkflowContext``."""

    def __init__(self, ctx: wf.DaprWorkflowContext) -> None:
        self._ctx = ctx

    @property
    def instance_id(self) -> str:
        return self._ctx.instance_id

    def call_activity(self, activity: Any, *, input: Any = None, retry_policy: Any = None) -> Any:
        return self._ctx.call_activity(ACTIVITIES[activity.__name__], input=input,
                                       retry_policy=_dapr_policy(retry_policy))

    def call_sub_orchestrator(self, orchestrator: Any, *, input: Any = None, instance_id: str | None = None,
                              retry_policy: Any = None) -> Any:
        if orchestrator is not interp.fid_interpreter:
            raise ValueError(f"only the interpreter runs as a child workflow, not {orchestrator!r}")
        return self._ctx.call_child_workflow(fid_interpreter, input=input, instance_id=instance_id,
                                             retry_policy=_dapr_policy(retry_policy))

    def create_timer(self, fire_at: timedelta) -> Any:
        return self._ctx.create_timer(fire_at)

    def wait_for_external_event(self, name: str) -> Any:
        return self._ctx.wait_for_external_event(name)

    def set_custom_status(self, value: Any) -> None:
        self._ctx.set_custom_status(value)

    def continue_as_new(self, new_input: Any, *, save_events: bool = False) -> None:
        self._ctx.continue_as_new(new_input, save_events=save_events)


def fid_interpreter(ctx: wf.DaprWorkflowContext, state: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Workflow: the interpreter orchestrator of ``fidelity_interpreter``, on Dapr's context."""
    return (yield from interp._Interpreter(_OnDapr(ctx), state).run())  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# The driver's client on DaprWorkflowClient
# ----------------------------------------------------------------------------------------------

def _state(state: Any) -> Any:
    """A Dapr ``WorkflowState`` as the durabletask state the driver reads (None stays None)."""
    if state is None:
        return None
    return SimpleNamespace(runtime_status=dt_client.OrchestrationStatus[state.runtime_status.name],
                           serialized_input=state.serialized_input, serialized_output=state.serialized_output,
                           serialized_custom_status=state.serialized_custom_status,
                           failure_details=state.failure_details)


class DaprClientAdapter:
    """The durabletask client methods ``fidelity_driver.Driver`` calls, done with ``DaprWorkflowClient``."""

    def __init__(self, host: str) -> None:
        address, _, port = host.rpartition(":")
        self.dapr = wf.DaprWorkflowClient(host=address, port=port)

    def schedule_new_orchestration(self, orchestrator: Any, *, input: Any = None,
                                   instance_id: str | None = None) -> str:
        return str(self.dapr.schedule_new_workflow(fid_interpreter, input=input, instance_id=instance_id))

    def get_orchestration_state(self, instance_id: str, *, fetch_payloads: bool = True) -> Any:
        return _state(self.dapr.get_workflow_state(instance_id, fetch_payloads=fetch_payloads))

    def wait_for_orchestration_completion(self, instance_id: str, *, timeout: float) -> Any:
        return _state(self.dapr.wait_for_workflow_completion(instance_id, timeout_in_seconds=timeout))

    def raise_orchestration_event(self, instance_id: str, name: str, *, data: Any = None) -> None:
        self.dapr.raise_workflow_event(instance_id, name, data=data)

    def suspend_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        self.dapr.pause_workflow(instance_id)  # Dapr's pause takes no reason

    def resume_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        self.dapr.resume_workflow(instance_id)

    def terminate_orchestration(self, instance_id: str, *, output: Any = None, recursive: bool = True) -> None:
        self.dapr.terminate_workflow(instance_id, output=output, recursive=recursive)

    def purge_orchestration(self, instance_id: str, recursive: bool = True) -> Any:
        self.dapr.purge_workflow(instance_id, recursive=recursive)
        return SimpleNamespace(deleted_instance_count=None)  # Dapr's SDK does not show how many were deleted

    def list_instances(self, root: str) -> list[str]:
        """The program's instance ids (the root and its descendants), sorted."""
        return sorted(i for i in self.dapr.iter_workflow_instance_ids() if fd.belongs(i, root))

    def close(self) -> None:
        self.dapr.close()


# Dapr's fork renames some history events and fields; the driver's normalization reads the published names.
_KINDS = {"workflowStarted": "orchestratorStarted", "workflowCompleted": "orchestratorCompleted",
          "childWorkflowInstanceCreated": "subOrchestrationInstanceCreated",
          "childWorkflowInstanceCompleted": "subOrchestrationInstanceCompleted",
          "childWorkflowInstanceFailed": "subOrchestrationInstanceFailed"}
_FIELDS = {"orchestrationStatus": "workflowStatus"}
_DAPR_NAMES = {**{v: k for k, v in _KINDS.items()}, **_FIELDS}


class PublishedNames:
    """A Dapr protocol message read under the published protocol's names (``WhichOneof``, fields, ``HasField``)."""

    def __init__(self, message: Any) -> None:
        self._message = message

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802 (protobuf's name)
        kind = self._message.WhichOneof(group)
        return _KINDS.get(kind, kind) if kind is not None else None

    def HasField(self, name: str) -> bool:  # noqa: N802 (protobuf's name)
        return bool(self._message.HasField(_DAPR_NAMES.get(name, name)))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._message, _DAPR_NAMES.get(name, name))
        return PublishedNames(value) if hasattr(value, "DESCRIPTOR") and hasattr(value, "WhichOneof") else value


class DaprHistory:
    """Committed history events (Dapr's protocol) through ``GetInstanceHistory``; [] for an unknown instance."""

    def __init__(self, host: str) -> None:
        self._client = dt_client.TaskHubGrpcClient(host_address=host)

    def __call__(self, instance_id: str) -> list[Any]:
        import grpc

        try:
            return [PublishedNames(e) for e in self._client.get_instance_history(instance_id)]
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return []
            raise

    def close(self) -> None:
        self._client.close()


class DaprDriver(fd.Driver):
    """``fidelity_driver.Driver`` with a ``WorkflowRuntime`` as its worker and ``DaprWorkflowClient`` as client."""

    def __init__(self, host: str, *, token: str, timeout: float, parallelism: int) -> None:
        client = DaprClientAdapter(host)
        self.dapr_history = DaprHistory(host)
        super().__init__(host, self.dapr_history, client.list_instances, token=token, timeout=timeout,
                         parallelism=parallelism, client=client)

    def run_programs(self, programs: Any, prefix: str = "") -> list[dict[str, Any]]:
        address, _, port = self.host.rpartition(":")
        runtime = wf.WorkflowRuntime(host=address, port=port)
        runtime.register_workflow(fid_interpreter)
        for activity in ACTIVITIES.values():
            runtime.register_activity(activity)
        interp.set_beacon_sink(self.on_beacon)
        runtime.start()
        try:
            if not runtime.wait_for_worker_ready(timeout=10):
                raise RuntimeError(f"the WorkflowRuntime on {self.host} was not ready within 10 s")
            return self.run_all(programs, prefix)
        finally:
            runtime.shutdown()
            interp.set_beacon_sink(None)

    def close(self) -> None:
        super().close()
        self.dapr_history.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", required=True, help="daprd (or the fake's Dapr dialect) gRPC address HOST:PORT")
    parser.add_argument("--programs", type=Path, required=True, help="JSON file holding a list of programs")
    parser.add_argument("--prefix", default="", help="prepended to every program's root instance id")
    parser.add_argument("--token", default="dapr", help="names this run in the attempt counters")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-program deadline in seconds")
    parser.add_argument("--parallelism", type=int, default=8, help="programs run at once")
    args = parser.parse_args(argv)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    programs = json.loads(args.programs.read_text())
    driver = DaprDriver(args.host, token=args.token, timeout=args.timeout, parallelism=args.parallelism)
    try:
        for observation in driver.run_programs(programs, prefix=args.prefix):
            print(json.dumps(observation, sort_keys=True), flush=True)
    finally:
        driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
