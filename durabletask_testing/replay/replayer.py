"""Replaying recorded histories against the current orchestrator code, episode by episode.

Every orchestrator work item a history records (:func:`~.episodes.episodes`) is handed again to the current
code; the actions it produces must equal the recorded ones. How the code runs is the installed SDK's business
(:mod:`~.sdks`):

* ``Replayer.in_process(orchestrators)``: our SDK's pure replay engine (``OrchestrationExecutor``), no server;
* ``Replayer.through_worker(start_worker)``: any SDK's real worker, fed by the replay-only sidecar
  (:mod:`~.sidecar`, :mod:`~.workers`); ``start_worker(host_address, metadata)`` returns the started worker;
* ``Replayer.for_functions(orchestrators)`` / ``Replayer.for_registration(registration)``: whichever the installed
  SDK offers (in-process with ours and with the published SDK's versions that allow it, through its worker
  otherwise; :mod:`~.sdks` decides).

:meth:`Replayer.replay_plans` is the one replay loop: ``repeat`` rounds of each history, each round one pass of the
code through the whole history where the runner can (:class:`~.sdks.OnePass`, :func:`one_pass_steps`), else every
work item of every round in one batch; the first round that does not replay gives a history's verdict. A history
that records no work item of a worker (no ``OrchestratorStarted``: an instance no worker ran) does not replay: its
outcome is ``empty``.
``export_history(sidecar, instance_id)`` returns the stored-history document (:mod:`~.history_file`) of an instance
of a FakeSidecar or RemoteFake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..protocol import orchestrator_service_pb2 as pb
from . import sdks
from .episodes import (
    RECORD_KINDS,
    Divergence,
    Episode,
    compare,
    episodes,
    execution_id,
    produced_records,
)
from .history_file import StoredHistory, history_document
from .sdks import Orchestrators, Registration, Runner, ServerSource, StepRange
from .sidecar import Answer, ReplayServer
from .workers import DEFAULT_ANSWER_TIMEOUT, StartWorker, WorkerRunner


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
    replay_round: int = 1
    """The round (from 1) that gave the verdict: the first that did not replay, else the last."""
    rounds: int = 1
    """How many rounds were run."""
    empty: bool = False
    """The history records no work item of a worker (``problem`` says why): nothing was replayed, no verdict."""

    @property
    def replays(self) -> bool:
        """True when the history has work items and every one produced the recorded actions."""
        return self.divergence is None and self.problem is None

    def describe(self) -> str:
        """``replays``, ``diverges at step N: recorded X, code produced Y``, ``cannot replay: ...`` or
        ``nothing to replay: ...``."""
        if self.empty:
            return f"nothing to replay: {self.problem}"
        if self.problem is not None:
            return f"cannot replay: {self.problem}"
        if self.divergence is not None:
            return self.divergence.describe()
        return "replays"


@dataclass(frozen=True)
class ReplayPlan:
    """One history cut into its episodes, with the orchestrator request that replays each."""

    history: StoredHistory
    episodes: list[Episode]
    requests: list[pb.OrchestratorRequest]

    @property
    def events(self) -> int:
        """How many history events one round of this plan hands to the code."""
        return sum(len(r.pastEvents) + len(r.newEvents) for r in self.requests)


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


def plan(history: StoredHistory) -> ReplayPlan:
    """The replay plan of one stored history."""
    found, requests = work_items(history.instance_id, history.events)
    return ReplayPlan(history, found, requests)


def why_empty(history: Sequence[Any]) -> str:
    """Why a history with no episode gives nothing to replay."""
    if not any(event.WhichOneof("eventType") == "orchestratorStarted" for event in history):
        return (f"the history has no OrchestratorStarted event ({len(history)} events): no worker has run this "
                "instance yet")
    return "every work item it records was failed by the fake before a worker saw it (WorkItemEncodingError)"


def judge(instance_id: str, found: Sequence[Episode], answers: Sequence[Answer], source: str = "",
          replay_round: int = 1, rounds: int = 1) -> ReplayOutcome:
    """Compare each episode's answer with its recorded actions; the first difference decides."""
    divergence: Divergence | None = None
    problem: str | None = None
    refused = False
    for episode, answer in zip(found, answers):
        if not answer.answered:
            problem = f"the worker did not answer step {episode.step}"
        elif answer.abandoned:
            refused = True
            problem = (f"the worker's versioning options reject the instance (it abandoned step {episode.step}, "
                       "which the recorded history shows another worker took)")
        else:
            divergence = compare(episode, produced_records(answer.actions, instance_id))
        if problem is not None or divergence is not None:
            break
    return ReplayOutcome(instance_id, len(found), divergence=divergence, problem=problem, source=source,
                         refused=refused, replay_round=replay_round, rounds=rounds)


def rounds_within(plans: Sequence[ReplayPlan], repeat: int, event_budget: int | None) -> int:
    """``repeat``, cut so that all rounds hand at most ``event_budget`` events to the code (one round at least)."""
    if event_budget is None:
        return repeat
    events = sum(p.events for p in plans)
    return max(1, min(repeat, event_budget // max(events, 1)))


def one_pass_steps(p: ReplayPlan) -> list[StepRange] | None:
    """Where each work item of ``p`` lies in its history, for a replay in one pass; None when the history does not
    have the shape that needs: every ``OrchestratorStarted`` starts an episode, and within each work item its new
    events come first, then only action records."""
    events = p.history.events
    starts = [index for index, event in enumerate(events) if event.WhichOneof("eventType") == "orchestratorStarted"]
    if not starts or len(starts) != len(p.episodes):
        return None
    steps: list[StepRange] = []
    applied = 0  # events before this index are handed to the code already
    for number, (start, episode) in enumerate(zip(starts, p.episodes)):
        end = starts[number + 1] if number + 1 < len(starts) else len(events)
        new_to = start + len(episode.new_events)
        if len(episode.past_events) != start or new_to > end \
                or any(events[start + i] is not event for i, event in enumerate(episode.new_events)) \
                or any(events[i].WhichOneof("eventType") not in RECORD_KINDS for i in range(new_to, end)):
            return None
        steps.append((applied, start, new_to))
        applied = new_to
    return steps


def _in_one_pass(p: ReplayPlan, steps: Sequence[StepRange], rounds: int, one_pass: Any) -> ReplayOutcome | None:
    """The verdict of ``rounds`` one-pass replays of ``p`` (the first that diverges ends them); None when a pass
    stopped early without a divergence."""
    history = pb.OrchestratorRequest(instanceId=p.history.instance_id, pastEvents=p.history.events)
    execution = execution_id(p.history.events)
    if execution is not None:
        history.executionId.value = execution
    verdict = None
    for round_ in range(rounds):
        answers, complete = one_pass(history, steps)
        verdict = judge(p.history.instance_id, p.episodes, answers, p.history.source, round_ + 1, rounds)
        if not verdict.replays:
            return verdict
        if not complete:
            return None
    return verdict


def sdk_worker_starter(orchestrators: Orchestrators, versioning: Any = None) -> StartWorker:
    """``start_worker`` for the installed SDK's TaskHubGrpcWorker registered with ``orchestrators``."""
    return sdks.installed().start_worker(Registration.of(orchestrators, versioning))


class Replayer:
    """Replays stored histories against orchestrator code; see the module docstring for the ways.

    A context manager: leaving ``with`` (or :meth:`close`) stops the replay worker and sidecar it started, if any;
    one never closed has them stopped at interpreter exit (:mod:`~.workers`).
    """

    def __init__(self, runner: Runner, close: Callable[[], None] | None = None) -> None:
        self._run = runner
        self._close = close

    @classmethod
    def in_process(cls, orchestrators: Orchestrators = (), versioning: Any = None,
                   registry: Any = None) -> Replayer:
        """With our SDK's pure replay engine (``orchestrators``: functions, or a name -> function mapping; or a
        ready ``Registry`` of our SDK)."""
        ours = sdks.ours()
        if registry is not None:
            return cls(ours.engine_of_registry(registry))
        return cls(ours.engine(Registration.of(orchestrators, versioning)))

    @classmethod
    def through_worker(cls, start_worker: StartWorker, timeout: float = DEFAULT_ANSWER_TIMEOUT,
                       server: ReplayServer | None = None, per_item_timeout: float = 0.0) -> Replayer:
        """With a real SDK worker: ``start_worker(host_address, metadata)`` returns it started (on ``server``, or
        on a replay-only sidecar of its own); see :class:`~.workers.WorkerRunner` for the timeouts."""
        runner = WorkerRunner(start_worker, server=server, timeout=timeout, per_item_timeout=per_item_timeout)
        return cls(runner, runner.close)

    @classmethod
    def for_functions(cls, orchestrators: Orchestrators, versioning: Any = None) -> Replayer:
        """In-process when the installed SDK can (:mod:`~.sdks`), else through a worker of it."""
        return cls.for_registration(Registration.of(orchestrators, versioning))

    @classmethod
    def for_registration(cls, registration: Registration, through_worker: bool = False,
                         server: ServerSource = None, timeout: float = DEFAULT_ANSWER_TIMEOUT,
                         per_item_timeout: float = 0.0) -> Replayer:
        """The installed SDK's way (:func:`~.sdks.runner`): in-process when it can and ``through_worker`` is
        False, else through a worker of it (on ``server``: a replay-only sidecar, a function returning one, called
        only then, or None for one of its own)."""
        runner, close = sdks.runner(registration, through_worker, server, timeout, per_item_timeout)
        return cls(runner, close)

    def replay(self, history: StoredHistory, repeat: int = 1) -> ReplayOutcome:
        """Replay one history ``repeat`` times; the first divergence found is the verdict."""
        return self.replay_all([history], repeat)[0]

    def replay_all(self, histories: Sequence[StoredHistory], repeat: int = 1) -> list[ReplayOutcome]:
        """Replay each history ``repeat`` times (all work items in one batch); one outcome per history."""
        return self.replay_plans([plan(h) for h in histories], repeat)

    def replay_plans(self, plans: Sequence[ReplayPlan], repeat: int = 1,
                     event_budget: int | None = None) -> list[ReplayOutcome]:
        """Replay each plan ``repeat`` rounds (fewer when ``event_budget`` events would be exceeded; one round
        always); one outcome per plan, from its first round that does not replay.

        With a runner that can (:class:`~.sdks.OnePass`), a round of a plan whose history has the usual shape
        (:func:`one_pass_steps`) is one pass of the code through the whole history. A pass that stops early without
        a divergence sends that plan the usual way: every work item of every round in one batch. A divergence
        shown by a runner whose split is not exact (``one_pass_exact = False``) sends it that way too, with twice
        the rounds within the budget (so a coin the pass caught is caught again with probability > 0.99)."""
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {repeat}")
        rounds = rounds_within(plans, repeat, event_budget)
        one_pass = getattr(self._run, "one_pass", None)
        exact = bool(getattr(self._run, "one_pass_exact", True))
        outcomes: dict[int, ReplayOutcome] = {}
        batched: list[int] = []  # the plans replayed one work item at a time
        confirmed: list[int] = []  # the same, with twice the rounds: an inexact pass showed a divergence
        for number, p in enumerate(plans):
            if not p.episodes:
                outcomes[number] = ReplayOutcome(p.history.instance_id, 0, problem=why_empty(p.history.events),
                                                 source=p.history.source, rounds=rounds, empty=True)
                continue
            steps = one_pass_steps(p) if one_pass is not None else None
            verdict = None if steps is None else _in_one_pass(p, steps, rounds, one_pass)
            if verdict is None:
                batched.append(number)
            elif not verdict.replays and not exact:
                confirmed.append(number)
            else:
                outcomes[number] = verdict
        outcomes.update(self._one_work_item_at_a_time(plans, batched, rounds))
        again = max(rounds, rounds_within([plans[number] for number in confirmed], 2 * rounds, event_budget))
        outcomes.update(self._one_work_item_at_a_time(plans, confirmed, again))
        return [outcomes[number] for number in range(len(plans))]

    def _one_work_item_at_a_time(self, plans: Sequence[ReplayPlan], numbers: Sequence[int],
                                 rounds: int) -> dict[int, ReplayOutcome]:
        """The verdicts of the plans at ``numbers``: every work item of every round in one batch."""
        one_round = [r for number in numbers for r in plans[number].requests]
        answers = self._run(one_round * rounds) if one_round else []
        outcomes: dict[int, ReplayOutcome] = {}
        offset = 0  # where this plan's work items start within one round
        for number in numbers:
            p = plans[number]
            verdict = ReplayOutcome(p.history.instance_id, len(p.episodes), source=p.history.source,
                                    replay_round=rounds, rounds=rounds)
            for round_ in range(rounds):
                start = round_ * len(one_round) + offset
                verdict = judge(p.history.instance_id, p.episodes, answers[start:start + len(p.episodes)],
                                p.history.source, round_ + 1, rounds)
                if not verdict.replays:
                    break
            outcomes[number] = verdict
            offset += len(p.requests)
        return outcomes

    def close(self) -> None:
        """Stop the replay worker (in the background) and its own sidecar, if any."""
        if self._close is not None:
            self._close()

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
