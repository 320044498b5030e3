"""Run generated programs on one sidecar with whatever ``durabletask`` SDK this interpreter imports.

``run_programs`` starts one worker (the interpreter orchestrator and its activities) and one client, runs
the programs concurrently and returns one *observation* per program: a JSON-able dict that is the same on
two sidecars that behave the same, whatever the timing:

    {"program": name, "error": traceback | None,
     "instances": {label: {"status", "output", "failure", "custom_status", "history", "failures"}},
     "actions": sorted [[instance label, beacon, action, result], ...],
     "post": [result of each POST action], "after_purge": {label: exists}}

Labels are instance ids with the program's root id replaced by ``R`` (also inside outputs and messages).
Histories are normalized as in the scenario catalogue with batching removed (``OrchestratorStarted``
markers dropped, each run of inbound events sorted), plus the failure details of every failure event. An
instance whose generation runs a when_all of several tasks has its history compared as a sorted list: its
branches' events interleave by timing on any sidecar.

The driver never sleeps to let things happen: it acts when a beacon says the orchestrator waits for it,
waits for completion with the SDK's long poll, and waits for conditions (a status, every instance either
ended or parked) with deadlines. An instance whose work items the sidecar fails for good (durabletask-go
retrying "orchestration instance already exists" for ever, seen by ``GoLogWatcher``), and every ancestor
waiting for it, counts as settled at once; anything else that never settles is observed as it is when the
program's deadline passes. Whatever still runs is then terminated to clean up.

Importable by the published SDK's venv: stdlib, grpc and ``durabletask``, plus sibling modules.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing
from pathlib import Path
from typing import Any

import grpc

from durabletask import client as dt_client
from durabletask import worker as dt_worker
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs

if __package__:
    from . import fidelity_interpreter as interp
    from .scenarios import event_type, normalize_history
else:  # run as a script from the published SDK's venv
    import fidelity_interpreter as interp  # type: ignore[no-redef]
    from scenarios import event_type, normalize_history  # type: ignore[no-redef]

Status = dt_client.OrchestrationStatus
TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.TERMINATED})
HistoryFetcher = Callable[[str], list[pb.HistoryEvent]]
Lister = Callable[[str], list[str]]
TERMINATE_GRACE = 2.0  # seconds a recursive terminate waits for the target's descendants to end
_FAILURE_EVENTS = {"taskFailed", "subOrchestrationInstanceFailed", "executionCompleted"}


# ----------------------------------------------------------------------------------------------
# Listing a program's instances
# ----------------------------------------------------------------------------------------------

def belongs(instance_id: str, root: str) -> bool:
    """Whether ``instance_id`` is the root or a descendant (children ids extend the parent's id)."""
    return instance_id == root or instance_id.startswith((root + "-", root + ":"))


class GoSqliteLister:
    """Instance ids from durabletask-go's sqlite ``Instances`` table (it does not implement QueryInstances)."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = Path(db_path)

    def __call__(self, root: str) -> list[str]:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                with closing(sqlite3.connect(f"file:{self._db_path}?mode=ro", uri=True, timeout=5.0)) as db:
                    rows = db.execute("SELECT InstanceID FROM Instances WHERE InstanceID LIKE ?",
                                      (root + "%",)).fetchall()
                return sorted(r[0] for r in rows if belongs(r[0], root))
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # the sidecar holds a write lock; retry within the deadline


class GrpcLister:
    """Instance ids through ``QueryInstances`` with an id prefix (the fake implements it)."""

    def __init__(self, address: str) -> None:
        self._channel = grpc.insecure_channel(address)
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]

    def __call__(self, root: str) -> list[str]:
        ids: list[str] = []
        token = None
        while True:
            query = pb.InstanceQuery(instanceIdPrefix=pb_string(root), maxInstanceCount=1000)
            if token is not None:
                query.continuationToken.CopyFrom(token)
            response = self._stub.QueryInstances(pb.QueryInstancesRequest(query=query), timeout=10)
            ids.extend(s.instanceId for s in response.orchestrationState)
            if not response.HasField("continuationToken") or not response.continuationToken.value:
                break
            token = response.continuationToken
        return sorted(i for i in ids if belongs(i, root))

    def close(self) -> None:
        self._channel.close()


def pb_string(value: str) -> Any:
    from google.protobuf import wrappers_pb2
    return wrappers_pb2.StringValue(value=value)


# ----------------------------------------------------------------------------------------------
# durabletask-go's work-item failures, from its log
# ----------------------------------------------------------------------------------------------

_RETURNED = re.compile(r"^\w+: \S+ \S+ (\S+): orchestrator returned ")
_FAILED = re.compile(r"^ERROR: \S+ \S+ orchestration-processor: failed to complete work item: (.*)$")
ALREADY_EXISTS = "orchestration instance already exists"


class GoLogWatcher:
    """Instance id -> reasons durabletask-go gave for failing to complete its orchestration work items.

    durabletask-go's orchestration processor handles one work item at a time and logs
    ``<id>: orchestrator returned N action(s)`` just before committing them, so a ``failed to complete
    work item: <reason>`` line belongs to the instance named by the last such line before it. The log is
    read incrementally (only complete lines), so the watcher can be asked often while the sidecar runs.
    """

    def __init__(self, log_path: Path) -> None:
        self._log_path = Path(log_path)
        self._offset = 0
        self._last: str | None = None
        self._failures: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def failures(self) -> dict[str, list[str]]:
        """Every failure logged so far, by instance id."""
        with self._lock:
            self._read()
            return {iid: list(reasons) for iid, reasons in self._failures.items()}

    def hung(self, instance_id: str) -> bool:
        """Whether the instance's work items fail because a sub-orchestration id exists (retried for ever)."""
        return ALREADY_EXISTS in self.failures().get(instance_id, ())

    def _read(self) -> None:
        try:
            with open(self._log_path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for line in chunk[:end].decode(errors="replace").splitlines():
            returned = _RETURNED.match(line)
            if returned:
                self._last = returned.group(1)
                continue
            failed = _FAILED.match(line)
            if failed and self._last is not None:
                reasons = self._failures.setdefault(self._last, [])
                if failed.group(1) not in reasons:
                    reasons.append(failed.group(1))
                self._last = None


# ----------------------------------------------------------------------------------------------
# Normalization
# ----------------------------------------------------------------------------------------------

class Relabel:
    """Replace one program's root id by ``R`` in ids and in any string (outputs, messages)."""

    def __init__(self, root: str) -> None:
        self._pattern = re.compile(re.escape(root) + r"(?![0-9A-Za-z])")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._pattern.sub("R", value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        return value


def _loads(payload: str | None) -> Any:
    if payload is None or payload == "":
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def failure_list(events: Sequence[pb.HistoryEvent]) -> list[Any]:
    """(event type, error type, message) of each failure-carrying event, None details kept as None."""
    out: list[Any] = []
    for event in events:
        kind = event.WhichOneof("eventType")
        if kind not in _FAILURE_EVENTS:
            continue
        body = getattr(event, kind)
        if kind == "executionCompleted" and not body.HasField("failureDetails"):
            continue
        if body.HasField("failureDetails"):
            details = body.failureDetails
            out.append([event_type(event), details.errorType.rsplit(".", 1)[-1], details.errorMessage])
        else:
            out.append([event_type(event), None, None])
    return sorted(out, key=json.dumps)


def _runs_branches_at_once(state: Any) -> bool:
    """Whether the generation an interpreter instance runs holds a when_all of two or more tasks."""
    try:
        steps = state["body"]["gens"][state["gen"]]
    except (TypeError, KeyError, IndexError):
        return False
    return any(step.get("op") == "all" and len(step.get("tasks", ())) > 1 for step in steps)


def quiet_logger(name: str) -> logging.Logger:
    """A logger for the SDK's worker or client that drops everything below CRITICAL: the programs make the
    SDKs warn on purpose (refused completions of terminated instances, events for ended tasks)."""
    logger = logging.Logger(name, level=logging.CRITICAL)
    logger.addHandler(logging.NullHandler())
    return logger


def error_summary(error: BaseException) -> str:
    """One line naming an exception: its type and message, or a gRPC error's code and details."""
    if isinstance(error, grpc.RpcError):
        return f"grpc.RpcError {_code(error)}: {error.details()}"
    return f"{type(error).__name__}: {error}".splitlines()[0]


def _code(error: Exception) -> str:
    if isinstance(error, grpc.RpcError):
        name: str = error.code().name
        return name
    return type(error).__name__


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------

class _ProgramRun:
    def __init__(self, program: dict[str, Any], root: str) -> None:
        self.program = program
        self.root = root
        self.actions: list[list[Any]] = []
        self.errors: list[str] = []
        self.pending: list[Future[None]] = []
        self.lock = threading.Lock()


class Driver:
    """One worker and one client on ``host``, running programs and observing them."""

    def __init__(self, host: str, history: HistoryFetcher, lister: Lister, *, token: str,
                 timeout: float = 8.0, parallelism: int = 8, hung: Callable[[str], bool] | None = None,
                 client: Any = None) -> None:
        self.host = host
        self.hung = hung or (lambda instance_id: False)
        self.history = history
        self.lister = lister
        self.token = token
        self.timeout = timeout
        self.parallelism = parallelism
        # ``client``: anything with the durabletask client's methods used here (the Dapr harness passes an
        # adapter over DaprWorkflowClient); by default this SDK's TaskHubGrpcClient
        self.client = client if client is not None else dt_client.TaskHubGrpcClient(
            host_address=host, logger=quiet_logger("fidelity-client"))
        self._runs: dict[str, _ProgramRun] = {}
        self._runs_lock = threading.Lock()
        self._actions = ThreadPoolExecutor(max_workers=32, thread_name_prefix="fidelity-beacon")

    # --- beacons ------------------------------------------------------------------------------

    def _run_of(self, instance_id: str) -> _ProgramRun | None:
        with self._runs_lock:
            for root, run in self._runs.items():
                if belongs(instance_id, root):
                    return run
        return None

    def on_beacon(self, instance_id: str, task_id: int, beacon: str, actions: list[dict[str, Any]]) -> None:
        """Called by the beacon activity: act in the background, so the activity completes at once."""
        run = self._run_of(instance_id)
        if run is None:
            raise RuntimeError(f"beacon from {instance_id}, which belongs to no running program")
        future = self._actions.submit(self._act, run, instance_id, task_id, beacon, actions)
        with run.lock:
            run.pending.append(future)

    def _act(self, run: _ProgramRun, instance_id: str, task_id: int, beacon: str,
             actions: list[dict[str, Any]]) -> None:
        release = True
        if not self.wait_completed_task(instance_id, task_id):
            with run.lock:
                run.errors.append(f"the completion of beacon {beacon} of {instance_id} was never committed")
            return
        for action in actions:
            result = "OK"
            try:
                if action["do"] == "raise":
                    self.client.raise_orchestration_event(instance_id, action["name"], data=f"{action['name']}!")
                elif action["do"] == "suspend_resume":
                    self.client.suspend_orchestration(instance_id, reason="driver")
                    self.wait_status(instance_id, {Status.SUSPENDED})
                    self.client.resume_orchestration(instance_id, reason="driver")
                elif action["do"] == "terminate":
                    target = instance_id if action["to"] == "self" else run.root
                    self.client.terminate_orchestration(target, output="terminated by driver",
                                                        recursive=action["recursive"])
                    self.wait_status(target, TERMINAL)
                    if action["recursive"]:  # children end asynchronously; a child a sidecar spares never does
                        self.wait_descendants_ended(target, grace=TERMINATE_GRACE)
                    if target == instance_id or action["recursive"]:
                        release = False
            except Exception as error:  # recorded and compared, not raised into the worker
                result = _code(error)
            with run.lock:
                run.actions.append([instance_id, beacon, action["do"], result])
        if release:
            try:
                self.client.raise_orchestration_event(instance_id, f"release.{beacon}")
            except Exception as error:
                with run.lock:
                    run.errors.append(f"release of {instance_id} {beacon} failed: {error_summary(error)}")

    # --- waiting ------------------------------------------------------------------------------

    def wait_status(self, instance_id: str, statuses: set[Status] | frozenset[Status],
                    timeout: float | None = None) -> bool:
        """Poll until the instance's status is in ``statuses``; False when the deadline passes."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        delay = 0.005
        while True:
            state = self.client.get_orchestration_state(instance_id, fetch_payloads=False)
            if state is not None and state.runtime_status in statuses:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)  # bounded poll of a condition
            delay = min(delay * 2, 0.05)

    def wait_descendants_ended(self, instance_id: str, grace: float) -> bool:
        """Poll until every descendant of the instance has ended (or hangs for good); False after ``grace``."""
        deadline = time.monotonic() + grace
        delay = 0.005
        while True:
            ids = [i for i in self.lister(instance_id) if i != instance_id]
            if all(self._ended(i) or self._hung_or_waiting_for_hung(i, ids) for i in ids):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)  # bounded poll of a condition
            delay = min(delay * 2, 0.05)

    def _ended(self, instance_id: str) -> bool:
        state = self.client.get_orchestration_state(instance_id, fetch_payloads=False)
        return state is None or state.runtime_status in TERMINAL

    def wait_completed_task(self, instance_id: str, task_id: int) -> bool:
        """Poll the committed history until it holds the completion of activity ``task_id``."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            for event in self.history(instance_id):
                if event.HasField("taskCompleted") and event.taskCompleted.taskScheduledId == task_id:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)  # bounded poll of a condition
            delay = min(delay * 2, 0.05)

    def _hung_or_waiting_for_hung(self, iid: str, ids: Sequence[str]) -> bool:
        """Whether ``iid`` or one of its descendants among ``ids`` can never make progress (``hung``)."""
        return any(self.hung(other) for other in ids if other == iid or other.startswith((iid + "-", iid + ":")))

    def _settled(self, root: str) -> bool:
        ids = self.lister(root)
        for iid in ids:
            state = self.client.get_orchestration_state(iid)
            if state is None:
                continue
            if state.runtime_status in TERMINAL:
                continue
            if state.runtime_status == Status.RUNNING and _loads(state.serialized_custom_status) == interp.PARKED:
                continue
            if self._hung_or_waiting_for_hung(iid, ids):
                continue
            return False
        return True

    def wait_root(self, root: str, deadline: float) -> None:
        """Wait (long poll, one second at a time) until the root ends, hangs for good, or the deadline passes."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._hung_or_waiting_for_hung(root, self.lister(root)):
                return
            try:
                self.client.wait_for_orchestration_completion(root, timeout=max(0.2, min(1.0, remaining)))
                return
            except TimeoutError:
                pass
            except grpc.RpcError as error:  # durabletask-go may answer CANCELLED: its own copy of the deadline
                if error.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
                    raise

    def wait_settled(self, root: str, deadline: float) -> bool:
        delay = 0.005
        while True:
            if self._settled(root):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)  # bounded poll of a condition
            delay = min(delay * 2, 0.1)

    # --- one program --------------------------------------------------------------------------

    def run_one(self, program: dict[str, Any], root: str) -> dict[str, Any]:
        run = _ProgramRun(program, root)
        with self._runs_lock:
            self._runs[root] = run
        relabel = Relabel(root)
        observation: dict[str, Any] = {"program": program["name"], "error": None}
        deadline = time.monotonic() + self.timeout
        try:
            self.client.schedule_new_orchestration(
                interp.fid_interpreter, instance_id=root,
                input={"body": program["root"], "gen": 0, "key": f"{self.token}/{root}", "acc": []})
            self.wait_root(root, deadline)
            self.wait_settled(root, deadline)
            with run.lock:
                pending = list(run.pending)
            wait(pending, timeout=max(0.5, deadline - time.monotonic()))  # actions still waiting for a status
            ids = self.lister(root)
            labels = {iid: relabel(iid) for iid in ids}
            observation["instances"] = {labels[iid]: self.observe(iid, labels, relabel) for iid in ids}
            with run.lock:
                observation["actions"] = sorted(relabel(run.actions), key=json.dumps)
                if run.errors:
                    observation["error"] = "\n".join(run.errors)
            observation["post"] = [self.post(action, root) for action in program["after"]]
            if any(a["do"] == "purge" for a in program["after"]):
                observation["after_purge"] = {
                    labels[iid]: self.client.get_orchestration_state(iid, fetch_payloads=False) is not None
                    for iid in ids}
            self.cleanup(root)
        except Exception as error:
            observation["error"] = f"{error_summary(error)}\n{traceback.format_exc()}"
        finally:
            with self._runs_lock:
                self._runs.pop(root, None)
        return observation

    def observe(self, iid: str, labels: dict[str, str], relabel: Relabel) -> dict[str, Any]:
        state = self.client.get_orchestration_state(iid)
        if state is None:
            return {"exists": False}
        events = self.history(iid)
        history = normalize_history(events, labels, batched=True)[1]
        if _runs_branches_at_once(_loads(state.serialized_input)):
            history = sorted(history)  # concurrent branches interleave by timing: compare the events as a set
        failure = None
        if state.failure_details is not None:
            failure = [(state.failure_details.error_type or "").rsplit(".", 1)[-1], state.failure_details.message]
        observed: dict[str, Any] = relabel({
            "exists": True,
            "status": state.runtime_status.name,
            "output": _loads(state.serialized_output),
            "failure": failure,
            "custom_status": _loads(state.serialized_custom_status),
            "history": history,
            "failures": failure_list(events),
        })
        return observed

    def post(self, action: dict[str, Any], root: str) -> Any:
        try:
            if action["do"] == "suspend":
                self.client.suspend_orchestration(root, reason="post")
                return "OK"
            if action["do"] == "resume":
                self.client.resume_orchestration(root, reason="post")
                return "OK"
            if action["do"] == "purge":
                result = self.client.purge_orchestration(root, recursive=action["recursive"])
                return {"deleted": result.deleted_instance_count}
        except Exception as error:
            return _code(error)
        raise ValueError(f"unknown post action {action!r}")

    def cleanup(self, root: str) -> None:
        """Terminate whatever still runs, so a stuck program stops costing the sidecar work."""
        for iid in self.lister(root):
            state = self.client.get_orchestration_state(iid, fetch_payloads=False)
            if state is not None and state.runtime_status not in TERMINAL:
                try:
                    self.client.terminate_orchestration(iid, output="cleanup", recursive=True)
                except Exception:
                    pass

    # --- many programs ------------------------------------------------------------------------

    def run_programs(self, programs: Sequence[dict[str, Any]], prefix: str = "") -> list[dict[str, Any]]:
        """Observations of ``programs`` (root id = ``prefix + name``), in the order given."""
        worker = dt_worker.TaskHubGrpcWorker(host_address=self.host, logger=quiet_logger("fidelity-worker"))
        for fn in interp.ORCHESTRATORS:
            worker.add_orchestrator(fn)
        for activity in interp.ACTIVITIES:
            worker.add_activity(activity)
        interp.set_beacon_sink(self.on_beacon)
        worker.start()
        try:
            return self.run_all(programs, prefix)
        finally:
            worker.stop()
            interp.set_beacon_sink(None)

    def run_all(self, programs: Sequence[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
        """Observations of ``programs`` on the worker already running, ``parallelism`` at a time, in order."""
        with ThreadPoolExecutor(max_workers=max(1, self.parallelism)) as pool:
            futures = [pool.submit(self.run_one, p, prefix + p["name"]) for p in programs]
            return [f.result() for f in futures]

    def close(self) -> None:
        self._actions.shutdown(wait=False, cancel_futures=True)
        self.client.close()
