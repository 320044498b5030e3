"""The one place that knows which Durable Task SDK is installed and how to replay work items with it.

Three cases, each a :class:`ReplaySdk`:

* ours (``durabletask`` with ``durabletask.internal.replay``): replays in-process through its pure replay engine
  (``OrchestrationExecutor``), or through a worker of it on the replay-only sidecar;
* the published ``durabletask`` (or any other SDK under that name): in-process through its worker's own work-item
  method (``TaskHubGrpcWorker._execute_orchestrator``, which runs its ``_OrchestrationExecutor`` and turns
  exceptions, abandons and versioning refusals into the answer it would send), when :func:`published_in_process`
  finds a version and shape it was checked on; else through a worker of it on the replay-only sidecar;
* none: every way of replaying raises an ``ImportError`` that says what to install.

What a replay registers (orchestrators by name, versioning options, the maximum timer interval) is a
:class:`Registration`, the same for every SDK. :func:`runner` picks the way and returns a :data:`Runner`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..protocol import orchestrator_service_pb2 as pb
from .episodes import ACTION_RECORDS, RECORD_KINDS
from .sidecar import Answer, ReplayServer
from .workers import DEFAULT_ANSWER_TIMEOUT, StartWorker, WorkerRunner

Runner = Callable[[Sequence[pb.OrchestratorRequest]], list[Answer]]
"""Answers each orchestrator request (one work item) in order."""
Orchestrators = Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]]
"""Orchestrator functions: a name -> function mapping, or functions registered under the names the SDK derives."""
PUBLISHED_IN_PROCESS_FROM = (1, 12)
"""The first published version whose in-process path was checked (older ones replay through a worker)."""
ServerSource = ReplayServer | Callable[[], ReplayServer] | None
"""Where a protocol-path replay runs: a replay-only sidecar, a function returning one (called only when the protocol
path is taken), or None (a sidecar of its own)."""
NO_SDK_MESSAGE = ("no Durable Task SDK is installed: install the published `durabletask` or ours "
                  "(`durabletask-testkit-sdk`) to replay histories")


@dataclass(frozen=True)
class Registration:
    """What a replay registers, for any SDK: orchestrators (name None: the SDK derives it) and worker options."""

    orchestrators: tuple[tuple[str | None, Callable[..., Any]], ...] = ()
    versioning: Any = None
    maximum_timer_interval: Any = None
    """None: the SDK's default."""

    @classmethod
    def of(cls, orchestrators: Orchestrators = (), versioning: Any = None,
           maximum_timer_interval: Any = None) -> Registration:
        """From functions or a name -> function mapping."""
        if isinstance(orchestrators, Mapping):
            pairs: tuple[tuple[str | None, Callable[..., Any]], ...] = tuple(orchestrators.items())
        else:
            pairs = tuple((None, function) for function in orchestrators)
        return cls(pairs, versioning, maximum_timer_interval)


class ReplaySdk(Protocol):
    """How one installed SDK replays work items."""

    name: str

    def engine(self, registration: Registration) -> Runner | None:
        """An in-process runner (no server, no worker), or None when this SDK has none to call (then it replays
        through a worker)."""
        ...

    def start_worker(self, registration: Registration) -> StartWorker:
        """``start_worker(host_address, metadata)``: a started worker of this SDK with ``registration``."""
        ...


class _OurSdk:
    name = "ours"

    def engine(self, registration: Registration) -> Runner:
        from durabletask.internal.registry import Registry

        registry = Registry()
        for name, function in registration.orchestrators:
            registry.add_orchestrator(function, name=name)
        if registration.versioning is not None:
            registry.versioning = registration.versioning
        options = {} if registration.maximum_timer_interval is None else {
            "maximum_timer_interval": registration.maximum_timer_interval}
        return self.engine_of_registry(registry, **options)

    def engine_of_registry(self, registry: Any, **executor_options: Any) -> Runner:
        """A runner over a ready ``Registry`` of our SDK; ``executor_options`` as our worker passes them."""
        from durabletask.internal.replay import OrchestrationExecutor

        return _OurEngine(OrchestrationExecutor(registry, **executor_options))

    def start_worker(self, registration: Registration) -> StartWorker:
        def start(address: str, metadata: list[tuple[str, str]]) -> Any:
            from durabletask import worker as dt_worker

            options = {} if registration.maximum_timer_interval is None else {
                "maximum_timer_interval": registration.maximum_timer_interval}
            worker = dt_worker.TaskHubGrpcWorker(host_address=address, metadata=metadata, **options)
            for name, function in registration.orchestrators:
                worker.add_orchestrator(function, name=name)  # our worker takes the name
            if registration.versioning is not None:
                worker.use_versioning(registration.versioning)
            worker.start()
            return worker

        return start


class _PublishedSdk:
    name = "published"

    def engine(self, registration: Registration) -> Runner | None:
        """In process through the worker's own work-item method, when this version has the shape driven here."""
        if published_in_process() is not None:
            return None
        from durabletask.internal import orchestrator_service_pb2 as sdk_pb

        accepted = _worker_parameters()
        options: dict[str, Any] = {"emit_trace_spans": False} if "emit_trace_spans" in accepted else {}
        if "logger" in accepted:  # a replay's debug and info lines are no news; building each costs a third
            options["logger"] = _replay_logger()
        worker = self._worker(registration, **options)  # never started: no channel, no threads
        return _PublishedEngine(getattr(worker, "_execute_orchestrator"), sdk_pb.OrchestratorRequest)  # noqa: B009

    def start_worker(self, registration: Registration) -> StartWorker:
        def start(address: str, metadata: list[tuple[str, str]]) -> Any:
            worker = self._worker(registration, host_address=address, metadata=metadata)
            worker.start()
            return worker

        return start

    @staticmethod
    def _worker(registration: Registration, **options: Any) -> Any:
        from durabletask import worker as dt_worker

        if registration.maximum_timer_interval is not None:
            options["maximum_timer_interval"] = registration.maximum_timer_interval
        worker = dt_worker.TaskHubGrpcWorker(**options)
        for name, function in registration.orchestrators:
            if name is None:
                worker.add_orchestrator(function)
            else:  # its add_orchestrator takes no name; its registry's add_named_orchestrator does
                registry: Any = worker._registry  # typed as ours when our SDK is the one mypy sees
                registry.add_named_orchestrator(name, function)
        if registration.versioning is not None:
            worker.use_versioning(registration.versioning)
        return worker


class _PerHistory:
    """What an engine derives from the history of the plan whose rounds it runs (one pass per round, the same
    ``history`` request each time): derived once, kept until another history comes."""

    def __init__(self) -> None:
        self._history: Any = None
        self._derived: Any = None

    def of(self, history: pb.OrchestratorRequest, derive: Callable[[], Any]) -> Any:
        if self._history is not history:
            self._history, self._derived = history, derive()
        return self._derived


class _OurEngine:
    """Our SDK's replay engine as a :data:`Runner`, with :meth:`one_pass` (see :class:`OnePass`)."""

    def __init__(self, executor: Any) -> None:
        from durabletask.internal import orchestrator_service_pb2 as sdk_pb

        self._executor = executor
        self._type = sdk_pb.OrchestratorRequest
        self._converted_history = _PerHistory()

    def __call__(self, requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
        answers = []
        converted = _Converted(self._type)
        for request in requests:
            ours = converted.of(request)
            result = self._executor.execute(ours.instanceId, ours.pastEvents, ours.newEvents)
            answers.append(Answer(actions=_our_actions(result.actions), answered=True, abandoned=result.abandon))
        return answers

    def one_pass(self, history: pb.OrchestratorRequest, steps: Sequence[StepRange]) -> tuple[list[Answer], bool]:
        ours = self._converted_history.of(history, lambda: self._type.FromString(history.SerializeToString()))
        events = ours.pastEvents
        result = self._executor.execute_steps(ours.instanceId, [
            (events[start:new_from], events[new_from:new_to]) for start, new_from, new_to in steps])
        return [Answer(actions=_our_actions(actions), answered=True) for actions in result.actions], result.complete


class _PublishedEngine:
    """The published worker's own work-item method as a :data:`Runner`, with a one-pass detector.

    Its executor returns only the actions still unconfirmed at the end, so :meth:`one_pass` hands it the whole
    history without its action records: nothing is confirmed, and the answer holds the actions of every step in
    the order the code produced them, split by the task ids the history recorded. The split is not the SDK's own
    (``one_pass_exact`` is False): a divergence it shows is only a reason to replay that history one work item
    at a time, whose verdict counts. Histories whose records the split cannot rely on (continue-as-new, which
    answers with its completion alone; entities; a task id recorded twice, as retries do) are left to that way
    from the start."""

    one_pass_exact = False

    def __init__(self, run_work_item: Any, request_type: Any) -> None:
        self._run_work_item = run_work_item
        self._type = request_type
        self._prepared = _PerHistory()  # (the SDK's request without action records, step by task id) or None

    def __call__(self, requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
        answers = []
        converted = _Converted(self._type)
        for request in requests:
            stub = _AnswerStub()
            self._run_work_item(converted.of(request), stub, "replay")
            answers.append(stub.answer())
        return answers

    def one_pass(self, history: pb.OrchestratorRequest, steps: Sequence[StepRange]) -> tuple[list[Answer], bool]:
        prepared = self._prepared.of(history, lambda: self._prepare(history, steps))
        if prepared is None:
            return [], False
        request, step_of = prepared
        stub = _AnswerStub()
        self._run_work_item(request, stub, "replay")
        answer = stub.answer()
        if not answer.answered or answer.abandoned:
            return [], False
        per_step: list[list[pb.OrchestratorAction]] = [[] for _ in steps]
        for action in answer.actions:
            number = len(steps) - 1
            if action.WhichOneof("orchestratorActionType") != "completeOrchestration":
                number = step_of.get(int(action.id), number)
            per_step[number].append(action)
        return [Answer(actions=actions, answered=True) for actions in per_step], True

    def _prepare(self, history: pb.OrchestratorRequest,
                 steps: Sequence[StepRange]) -> tuple[Any, dict[int, int]] | None:
        """The SDK's request of one pass (every event before the last step's new events but the action records, as
        past; that step's new events as new) and the step of each recorded task id; None when the split cannot
        rely on them."""
        events = history.pastEvents
        recorded_ids = _recorded_ids_by_step(events, steps) if steps else None
        if recorded_ids is None:
            return None
        _, new_from, new_to = steps[-1]
        request = pb.OrchestratorRequest(
            instanceId=history.instanceId, newEvents=events[new_from:new_to],
            pastEvents=[e for e in events[:new_from] if e.WhichOneof("eventType") not in RECORD_KINDS])
        if history.HasField("executionId"):
            request.executionId.CopyFrom(history.executionId)
        step_of = {task_id: number for number, ids in enumerate(recorded_ids) for task_id in ids}
        return self._type.FromString(request.SerializeToString()), step_of


_ID_RECORDS = frozenset(ACTION_RECORDS) - {"executionCompleted"}
_ENTITY_EVENTS = frozenset({
    "entityOperationSignaled", "entityOperationCalled", "entityLockRequested", "entityUnlockSent",
    "entityOperationCompleted", "entityOperationFailed", "entityLockGranted"})


def _recorded_ids_by_step(events: Sequence[Any], steps: Sequence[StepRange]) -> list[set[int]] | None:
    """The task ids each step recorded (its TaskScheduled, TimerCreated, ... events); None when the history
    continues as new, involves entities, or records one task id twice."""
    bounds = [new_to for _, _, new_to in steps]
    ends = [new_from for _, new_from, _ in steps[1:]] + [len(events)]
    found: list[set[int]] = []
    seen: set[int] = set()
    for new_to, end in zip(bounds, ends):
        ids: set[int] = set()
        for event in events[new_to:end]:
            kind = event.WhichOneof("eventType")
            if kind in _ID_RECORDS:
                if event.eventId in seen:
                    return None
                seen.add(event.eventId)
                ids.add(event.eventId)
            elif kind == "executionCompleted" and \
                    event.executionCompleted.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
                return None
        found.append(ids)
    if any(event.WhichOneof("eventType") in _ENTITY_EVENTS for event in events):
        return None
    return found


StepRange = tuple[int, int, int]
"""One work item of a history in one pass: the events ``[start, new_from)`` come before it (applied as replay),
``[new_from, new_to)`` are its new events."""


class OnePass(Protocol):
    """A runner that can replay every work item of one history in one pass of the code (both in-process engines).

    ``one_pass(history, steps)``: ``history`` carries the whole history as ``pastEvents``; one answer per step, as
    far as the pass got, and whether it got through all of them. With our SDK each step's actions equal those of
    its work item replayed alone (every step but the last is a replay), so one pass per round stands in for one
    execution per work item; a runner whose split is not that exact says ``one_pass_exact = False``."""

    def one_pass(self, history: pb.OrchestratorRequest, steps: Sequence[StepRange]) -> tuple[list[Answer], bool]: ...


def _our_actions(actions: Sequence[Any]) -> list[pb.OrchestratorAction]:
    return [pb.OrchestratorAction.FromString(a.SerializeToString()) for a in actions]


class _Converted:
    """Work items in the SDK's own protobuf binding (crossed by bytes), each converted once however often a run
    repeats it. The SDK only reads them."""

    def __init__(self, message_type: Any) -> None:
        self._type = message_type
        self._done: dict[int, tuple[Any, Any]] = {}  # id of our request -> (our request, the SDK's copy)

    def of(self, request: pb.OrchestratorRequest) -> Any:
        found = self._done.get(id(request))
        if found is None or found[0] is not request:
            found = (request, self._type.FromString(request.SerializeToString()))
            self._done[id(request)] = found
        return found[1]


class _AnswerStub:
    """Stands in for the sidecar stub the published worker answers a work item through; keeps the answer."""

    def __init__(self) -> None:
        self._response: Any = None
        self._abandoned = False

    def CompleteOrchestratorTask(self, response: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        self._response = response

    def AbandonTaskOrchestratorWorkItem(self, request: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        self._abandoned = True

    def answer(self) -> Answer:
        if self._abandoned:
            return Answer(answered=True, abandoned=True)
        if self._response is None:
            return Answer()
        response = pb.OrchestratorResponse.FromString(self._response.SerializeToString())
        return Answer(actions=list(response.actions), answered=True)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


@functools.cache
def _replay_logger() -> logging.Logger:
    """The in-process replay worker's logger: warnings and errors to standard error, as the SDK's default does."""
    logger = logging.Logger("durabletask-replay", logging.WARNING)  # not registered: no one else's configuration
    logger.addHandler(logging.StreamHandler())
    return logger


@functools.cache
def _worker_parameters() -> frozenset[str]:
    from durabletask import worker as dt_worker

    return frozenset(inspect.signature(dt_worker.TaskHubGrpcWorker.__init__).parameters)


@functools.cache
def published_in_process() -> str | None:
    """None when the installed published SDK can replay in process; else why not (it replays through a worker).

    Checked: its version (at least :data:`PUBLISHED_IN_PROCESS_FROM`) and the shape of what is driven: the worker's
    ``_execute_orchestrator(request, stub, completion_token)``, its ``_OrchestrationExecutor.execute(instance_id,
    old_events, new_events)``, the registry's ``add_named_orchestrator`` and the protocol binding's
    ``OrchestratorRequest``/``OrchestratorResponse``.
    """
    try:
        version = importlib.metadata.version("durabletask")
    except importlib.metadata.PackageNotFoundError:
        return "the installed durabletask has no distribution metadata (its version is unknown)"
    if _version(version) < PUBLISHED_IN_PROCESS_FROM:
        wanted = ".".join(map(str, PUBLISHED_IN_PROCESS_FROM))
        return f"durabletask {version} is older than {wanted}, the first version checked in process"
    try:
        from durabletask import worker as dt_worker
        from durabletask.internal import orchestrator_service_pb2 as sdk_pb
    except ImportError as error:
        return f"durabletask {version}: {error}"
    expected = {
        "TaskHubGrpcWorker._execute_orchestrator": (getattr(dt_worker.TaskHubGrpcWorker, "_execute_orchestrator",
                                                            None), 3),
        "_OrchestrationExecutor.execute": (getattr(getattr(dt_worker, "_OrchestrationExecutor", None), "execute",
                                                   None), 3),
        "_Registry.add_named_orchestrator": (getattr(getattr(dt_worker, "_Registry", None), "add_named_orchestrator",
                                                     None), 2),
    }
    for where, (function, arguments) in expected.items():
        if not callable(function) or _positional(function) != arguments:
            return f"durabletask {version}: {where} is missing or takes other arguments than the ones driven here"
    if not (hasattr(sdk_pb, "OrchestratorRequest") and hasattr(sdk_pb, "OrchestratorResponse")):
        return f"durabletask {version}: its protocol binding has no OrchestratorRequest/OrchestratorResponse"
    return None


def _positional(function: Callable[..., Any]) -> int:
    """How many positional parameters ``function`` takes after ``self``."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return -1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters[1:] if p.kind in kinds)


class _NoSdk:
    name = "none"

    def engine(self, registration: Registration) -> Runner:
        raise ImportError(NO_SDK_MESSAGE)

    def start_worker(self, registration: Registration) -> StartWorker:
        raise ImportError(NO_SDK_MESSAGE)


OURS = _OurSdk()
PUBLISHED = _PublishedSdk()
NONE = _NoSdk()


_FOUND: list[tuple[Any, ReplaySdk]] = []
"""The answer of :func:`installed` for the ``durabletask`` module already imported (looking it up again searches
the file system for ``durabletask.internal.replay`` on every test with the published SDK)."""


def installed() -> ReplaySdk:
    """The SDK importable as ``durabletask``: ours (it has the pure replay engine), another, or none."""
    module = sys.modules.get("durabletask")
    if module is not None and _FOUND and _FOUND[0][0] is module:
        return _FOUND[0][1]
    sdk = _look_up()
    if module is not None:
        _FOUND[:] = [(module, sdk)]
    return sdk


def _look_up() -> ReplaySdk:
    try:
        if importlib.util.find_spec("durabletask") is None:
            return NONE
        return OURS if importlib.util.find_spec("durabletask.internal.replay") is not None else PUBLISHED
    except ModuleNotFoundError:  # durabletask without durabletask.internal
        return PUBLISHED


def ours() -> _OurSdk:
    """Our SDK, or an ImportError saying it is not the installed one."""
    sdk = installed()
    if sdk is not OURS:
        raise ImportError(f"Replayer.in_process needs our SDK's replay engine (`durabletask-testkit-sdk`); the "
                          f"installed SDK is {sdk.name}: use Replayer.for_functions, which replays in process where "
                          "that SDK allows and through a worker of it otherwise")
    return OURS


def runner(registration: Registration, through_worker: bool = False, server: ServerSource = None,
           timeout: float = DEFAULT_ANSWER_TIMEOUT, per_item_timeout: float = 0.0) -> tuple[Runner, Callable[[], None]]:
    """The installed SDK's way to replay ``registration``, and how to release it.

    In-process when the SDK can (ours always; the published SDK where :func:`published_in_process` allows) and
    ``through_worker`` is False; else a worker of the installed SDK on the replay-only sidecar (``server``, a function
    returning one, or its own), see :class:`~.workers.WorkerRunner`.
    """
    sdk = installed()
    engine = None if through_worker else sdk.engine(registration)
    if engine is not None:
        return engine, _nothing
    if callable(server) and not isinstance(server, ReplayServer):
        server = server()
    worker = WorkerRunner(sdk.start_worker(registration), server=server, timeout=timeout,
                          per_item_timeout=per_item_timeout)
    return worker, worker.close


def _nothing() -> None:
    return None
