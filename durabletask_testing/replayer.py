"""Replaying recorded histories against the current orchestrator code, episode by episode.

Every orchestrator work item a history records (:func:`~.replay_history.episodes`) is handed again to the current
code; the actions it produces must equal the recorded ones. Two ways to run the code:

* ``Replayer.in_process(orchestrators)``: our SDK's pure replay engine (``OrchestrationExecutor``), no server;
* ``Replayer.through_worker(start_worker)``: any SDK's real worker, fed by the replay-only sidecar
  (:mod:`~.replay_server`); ``start_worker(host_address, metadata)`` returns the started worker.

``export_history(sidecar, instance_id)`` writes the stored-history document (:mod:`~.history_file`) of an
instance of a FakeSidecar or RemoteFake.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .history_file import StoredHistory, history_document
from .protocol import orchestrator_service_pb2 as pb
from .replay_history import Divergence, Episode, compare, episodes, execution_id, produced_records
from .replay_server import Answer, ReplayServer, ReplaySession

DEFAULT_ANSWER_TIMEOUT = 30.0
Runner = Callable[[Sequence[pb.OrchestratorRequest]], list[Answer]]
StartWorker = Callable[[str, list[tuple[str, str]]], Any]


def export_history(sidecar: Any, instance_id: str) -> dict[str, Any]:
    """The stored-history document of an instance's current execution on a FakeSidecar or RemoteFake."""
    snapshot = sidecar.instance(instance_id)
    if snapshot is None:
        raise KeyError(f"no instance {instance_id!r} on {sidecar!r}")
    return history_document(instance_id, sidecar.history(instance_id), name=snapshot.name)


@dataclass(frozen=True)
class ReplayOutcome:
    """The verdict on one history: it replays, it diverges (where), or it could not be replayed (why)."""

    instance_id: str
    steps: int
    divergence: Divergence | None = None
    problem: str | None = None
    source: str = ""
    refused: bool = False
    """The worker abandoned a step (its versioning options reject the instance): another worker's instance."""

    @property
    def replays(self) -> bool:
        """True when every episode produced the recorded actions."""
        return self.divergence is None and self.problem is None

    def describe(self) -> str:
        """``replays``, ``diverges at step N: recorded X, code produced Y``, or ``cannot replay: ...``."""
        if self.problem is not None:
            return f"cannot replay: {self.problem}"
        if self.divergence is not None:
            return self.divergence.describe()
        return "replays"


def work_items(instance_id: str, history: Sequence[Any]) -> tuple[list[Episode], list[pb.OrchestratorRequest]]:
    """The episodes of a history and the orchestrator request that replays each."""
    found = episodes(history)
    execution = execution_id(history)
    requests = []
    for episode in found:
        request = pb.OrchestratorRequest(instanceId=instance_id, pastEvents=episode.past_events,
                                         newEvents=episode.new_events)
        if execution is not None:
            request.executionId.value = execution
        requests.append(request)
    return found, requests


def judge(instance_id: str, found: Sequence[Episode], answers: Sequence[Answer], source: str = "") -> ReplayOutcome:
    """Compare each episode's answer with its recorded actions; the first difference decides."""
    for episode, answer in zip(found, answers):
        if not answer.answered:
            return ReplayOutcome(instance_id, len(found), problem=f"the worker did not answer step {episode.step}",
                                 source=source)
        if answer.abandoned:
            return ReplayOutcome(instance_id, len(found), source=source, refused=True,
                                 problem=f"the worker's versioning options reject the instance (it abandoned step "
                                         f"{episode.step}, which the recorded history shows another worker took)")
        produced = produced_records(answer.actions, instance_id)
        divergence = compare(episode, produced)
        if divergence is not None:
            return ReplayOutcome(instance_id, len(found), divergence=divergence, source=source)
    return ReplayOutcome(instance_id, len(found), source=source)


def our_sdk_is_installed() -> bool:
    """True when the installed ``durabletask`` is ours (it has the pure replay engine)."""
    try:
        return importlib.util.find_spec("durabletask.internal.replay") is not None
    except ModuleNotFoundError:
        return False


def executor_runner(orchestrators: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]],
                    versioning: Any = None, registry: Any = None, **executor_options: Any) -> Runner:
    """Run work items in-process with our SDK's OrchestrationExecutor (functions, or a ready Registry).

    ``executor_options`` go to the executor (``maximum_timer_interval``), as our worker passes them.
    """
    from durabletask.internal import orchestrator_service_pb2 as sdk_pb
    from durabletask.internal.registry import Registry
    from durabletask.internal.replay import OrchestrationExecutor

    if registry is None:
        registry = Registry()
        items = orchestrators.items() if isinstance(orchestrators, Mapping) else ((None, f) for f in orchestrators)
        for name, function in items:
            registry.add_orchestrator(function, name=name)
        if versioning is not None:
            registry.versioning = versioning
    executor = OrchestrationExecutor(registry, **executor_options)

    def run(requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
        answers = []
        for request in requests:
            ours = sdk_pb.OrchestratorRequest.FromString(request.SerializeToString())
            result = executor.execute(ours.instanceId, ours.pastEvents, ours.newEvents)
            actions = [pb.OrchestratorAction.FromString(a.SerializeToString()) for a in result.actions]
            answers.append(Answer(actions=actions, answered=True, abandoned=result.abandon))
        return answers

    return run


class WorkerRunner:
    """Runs work items on a real SDK worker through the replay-only sidecar (one worker, started once)."""

    def __init__(self, start_worker: StartWorker, server: ReplayServer | None = None,
                 timeout: float = DEFAULT_ANSWER_TIMEOUT) -> None:
        self._own_server = server is None
        self._server = server if server is not None else ReplayServer().start()
        self._session: ReplaySession = self._server.open_session()
        self._timeout = timeout
        try:
            self._worker = start_worker(self._server.address, self._session.metadata)
        except BaseException:
            self._session.close()
            if self._own_server:
                self._server.stop()
            raise

    def __call__(self, requests: Sequence[pb.OrchestratorRequest]) -> list[Answer]:
        return self._session.run(requests, self._timeout)

    def close(self, stop_worker: Callable[[Any], None] | None = None) -> None:
        """End the session, stop the worker (``stop_worker(worker)``, default its ``stop()``) and own server."""
        self._session.close()
        if stop_worker is not None:
            stop_worker(self._worker)
        else:
            _stop_in_background(self._worker)
        if self._own_server:
            self._server.stop()


def _stop_in_background(worker: Any) -> None:
    """Stop an SDK worker without waiting (the published SDK's stop takes about a second)."""
    threading.Thread(target=worker.stop, name="replay-worker-stop", daemon=True).start()


def sdk_worker_starter(orchestrators: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]],
                       versioning: Any = None) -> StartWorker:
    """``start_worker`` for the installed SDK's TaskHubGrpcWorker registered with ``orchestrators``."""

    def start(address: str, metadata: list[tuple[str, str]]) -> Any:
        from durabletask import worker as dt_worker

        worker = dt_worker.TaskHubGrpcWorker(host_address=address, metadata=metadata)
        items = orchestrators.items() if isinstance(orchestrators, Mapping) else ((None, f) for f in orchestrators)
        for name, function in items:
            if name is None:
                worker.add_orchestrator(function)
            else:
                registry: Any = worker._registry  # neither SDK's worker takes a name for add_orchestrator
                if hasattr(registry, "add_named_orchestrator"):
                    registry.add_named_orchestrator(name, function)
                else:
                    registry.add_orchestrator(function, name=name)
        if versioning is not None:
            worker.use_versioning(versioning)
        worker.start()
        return worker

    return start


class Replayer:
    """Replays stored histories against orchestrator code; see the module docstring for the two ways."""

    def __init__(self, runner: Runner, close: Callable[[], None] | None = None) -> None:
        self._run = runner
        self._close = close

    @classmethod
    def in_process(cls, orchestrators: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]] = (),
                   versioning: Any = None, registry: Any = None) -> Replayer:
        """With our SDK's pure replay engine (``orchestrators``: functions, or a name -> function mapping)."""
        return cls(executor_runner(orchestrators, versioning, registry))

    @classmethod
    def through_worker(cls, start_worker: StartWorker, timeout: float = DEFAULT_ANSWER_TIMEOUT) -> Replayer:
        """With a real SDK worker: ``start_worker(host_address, metadata)`` returns it started."""
        runner = WorkerRunner(start_worker, timeout=timeout)
        return cls(runner, runner.close)

    @classmethod
    def for_functions(cls, orchestrators: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]],
                      versioning: Any = None) -> Replayer:
        """In-process with our SDK, else through the installed SDK's worker."""
        if our_sdk_is_installed():
            return cls.in_process(orchestrators, versioning)
        return cls.through_worker(sdk_worker_starter(list(orchestrators) if not isinstance(
            orchestrators, Mapping) else orchestrators, versioning))

    def replay(self, history: StoredHistory, repeat: int = 1) -> ReplayOutcome:
        """Replay one history ``repeat`` times; the first divergence found is the verdict."""
        return self.replay_all([history], repeat)[0]

    def replay_all(self, histories: Sequence[StoredHistory], repeat: int = 1) -> list[ReplayOutcome]:
        """Replay each history ``repeat`` times (all work items in one batch); one outcome per history."""
        plans = [(h, *work_items(h.instance_id, h.events)) for h in histories]
        requests = [r for _ in range(repeat) for _, _, rs in plans for r in rs]
        answers = self._run(requests) if requests else []
        outcomes: list[ReplayOutcome] = []
        offset = 0  # where this history's work items start within one round
        for history, found, own_requests in plans:
            verdict = ReplayOutcome(history.instance_id, len(found), source=history.source)
            for round_ in range(repeat):
                start = round_ * len(requests) // max(repeat, 1) + offset
                verdict = judge(history.instance_id, found, answers[start:start + len(found)], history.source)
                if not verdict.replays:
                    break
            outcomes.append(verdict)
            offset += len(own_requests)
        return outcomes

    def close(self) -> None:
        """Stop the replay worker and sidecar, if any."""
        if self._close is not None:
            self._close()

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
