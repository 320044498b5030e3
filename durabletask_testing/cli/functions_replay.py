"""``python -m durabletask_testing replay --functions-app MODULE:ATTRIBUTE FILE...``: stored histories of an Azure
Durable Functions app replayed through the Durable Functions SDK's own replay (``durabletask_testing.functions``).

The app is imported as ``load_app`` imports it, from the current directory or the import path (``PYTHONPATH``);
each file is read as any stored history (:mod:`durabletask_testing.replay.history_file`) and replayed episode by
episode, ``--repeat`` times, by ``durabletask_testing.functions.audit.replay_outcome``. One line per file,
``FILE: OUTCOME``, and the exit statuses of ``replay --worker`` (``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..replay.cli import EXIT_DIVERGES, EXIT_NOTHING_TO_REPLAY, EXIT_REPLAYS, EXIT_USAGE
from ..replay.history_file import HistoryFileError, load_history


def replay(args: argparse.Namespace) -> int:
    """Run ``replay --functions-app``."""
    if args.repeat < 1:
        print("replay: --repeat must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.through_worker:
        print("replay: --through-worker drives a Durable Task SDK's worker; a --functions-app replays through the "
              "Durable Functions SDK in process", file=sys.stderr)
        return EXIT_USAGE
    try:
        histories = [load_history(path) for path in args.histories]
    except HistoryFileError as error:
        print(f"replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        worker = _worker(args.functions_app)
    except Exception as error:  # the app's own import may raise anything; AppError names what is missing
        print(f"replay: --functions-app {args.functions_app}: {error}", file=sys.stderr)
        return EXIT_USAGE
    from ..functions.audit import replay_outcome

    outcomes = []
    try:
        for history in histories:
            outcome = replay_outcome(worker, history.instance_id, history.events, args.repeat)
            outcomes.append(outcome)
            print(f"{history.source}: {outcome}", flush=True)
    finally:
        worker.stop()
    return exit_status(outcomes)


def _worker(spec: str) -> Any:
    if os.getcwd() not in sys.path:  # as --worker: the app beside the histories, as 'func start' runs it
        sys.path.insert(0, os.getcwd())
    try:
        from ..functions.audit import replay_worker
    except ImportError as error:  # azure-functions / azure-functions-durable not installed
        raise ValueError(f"the Durable Functions bridge cannot load: {error}") from None
    return replay_worker(spec)


def exit_status(outcomes: list[str]) -> int:
    """The worst outcome as an exit status: a divergence (or a history not replayed), then nothing to replay."""
    if any(outcome != "replays" and not outcome.startswith("nothing to replay") for outcome in outcomes):
        return EXIT_DIVERGES
    if any(outcome.startswith("nothing to replay") for outcome in outcomes):
        return EXIT_NOTHING_TO_REPLAY
    return EXIT_REPLAYS
