"""The one place that knows which Durable Task SDK is installed and how to replay work items with it.

Three cases, each a :class:`ReplaySdk`:

* ours (``durabletask`` with ``durabletask.internal.replay``): replays in-process through its pure replay engine
  (``OrchestrationExecutor``), or through a worker of it on the replay-only sidecar;
* the published ``durabletask`` (or any other SDK under that name): through a worker of it on the replay-only
  sidecar only;
* none: every way of replaying raises an ``ImportError`` that says what to install.

What a replay registers (orchestrators by name, versioning options, the maximum timer interval) is a
:class:`Registration`, the same for every SDK. :func:`runner` picks the way and returns a :data:`Runner`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..protocol import orchestrator_service_pb2 as pb
from .sidecar import Answer, ReplayServer
from .workers import DEFAULT_ANSWER_TIMEOUT, StartWorker, WorkerRunner

Runner = Callable[[Sequence[pb.OrchestratorRequest]], list[Answer]]
"""Answers each orchestrator request (one work item) in order."""
Orchestrators = Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]]
"""Orchestrator functions: a name -> function mapping, or functions registered under the names the SDK derives."""
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
        """An in-process runner (no server, no worker), or None when this SDK has no replay engine to call."""
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
        from durabletask.internal import orchestrator_service_pb2 as sdk_pb
        from durabletask.internal.replay import OrchestrationExecutor

        executor = OrchestrationExecutor(registry, **executor_options)

        def run(requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
            answers = []
            for request in requests:  # the SDK has its own protobuf binding: cross by bytes
                ours = sdk_pb.OrchestratorRequest.FromString(request.SerializeToString())
                result = executor.execute(ours.instanceId, ours.pastEvents, ours.newEvents)
                actions = [pb.OrchestratorAction.FromString(a.SerializeToString()) for a in result.actions]
                answers.append(Answer(actions=actions, answered=True, abandoned=result.abandon))
            return answers

        return run

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

    def engine(self, registration: Registration) -> None:
        return None  # its executor is internal and changes between releases: replay through its worker

    def start_worker(self, registration: Registration) -> StartWorker:
        def start(address: str, metadata: list[tuple[str, str]]) -> Any:
            from durabletask import worker as dt_worker

            options = {} if registration.maximum_timer_interval is None else {
                "maximum_timer_interval": registration.maximum_timer_interval}
            worker = dt_worker.TaskHubGrpcWorker(host_address=address, metadata=metadata, **options)
            for name, function in registration.orchestrators:
                if name is None:
                    worker.add_orchestrator(function)
                else:  # its add_orchestrator takes no name; its registry's add_named_orchestrator does
                    registry: Any = worker._registry  # typed as ours when our SDK is the one mypy sees
                    registry.add_named_orchestrator(name, function)
            if registration.versioning is not None:
                worker.use_versioning(registration.versioning)
            worker.start()
            return worker

        return start


class _NoSdk:
    name = "none"

    def engine(self, registration: Registration) -> Runner:
        raise ImportError(NO_SDK_MESSAGE)

    def start_worker(self, registration: Registration) -> StartWorker:
        raise ImportError(NO_SDK_MESSAGE)


OURS = _OurSdk()
PUBLISHED = _PublishedSdk()
NONE = _NoSdk()


def installed() -> ReplaySdk:
    """The SDK importable as ``durabletask``: ours (it has the pure replay engine), another, or none."""
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
        raise ImportError(f"in-process replay needs our SDK's replay engine (`durabletask-testkit-sdk`); the "
                          f"installed SDK is {sdk.name}: replay through a worker instead")
    return OURS


def runner(registration: Registration, through_worker: bool = False, server: ReplayServer | None = None,
           timeout: float = DEFAULT_ANSWER_TIMEOUT, per_item_timeout: float = 0.0) -> tuple[Runner, Callable[[], None]]:
    """The installed SDK's way to replay ``registration``, and how to release it.

    In-process when the SDK has a replay engine and ``through_worker`` is False; else a worker of the installed SDK
    on the replay-only sidecar (``server``, or its own), see :class:`~.workers.WorkerRunner`.
    """
    sdk = installed()
    engine = None if through_worker else sdk.engine(registration)
    if engine is not None:
        return engine, _nothing
    worker = WorkerRunner(sdk.start_worker(registration), server=server, timeout=timeout,
                          per_item_timeout=per_item_timeout)
    return worker, worker.close


def _nothing() -> None:
    return None
