"""The ``export`` and ``replay`` subcommands of ``python -m durabletask_testing``.

``export --control URL INSTANCE_ID`` (a CLI fake, through its control API) or ``export --address HOST:PORT
INSTANCE_ID`` (any sidecar, through ``StreamInstanceHistory``) prints or writes a stored-history document. Its
API-token options are added where the parser is assembled (:mod:`durabletask_testing.cli`, beside ``serve``'s),
and the token read arrives as ``export(args, token)``.

``replay --worker module:factory FILE...`` replays each stored history against the current code and prints, per
file, ``replays``, ``diverges at step N: recorded X, code produced Y``, ``cannot replay: ...`` or ``nothing to
replay: ...``; its exit status is one of :data:`EXIT_CODES`. The factory is called with no arguments and returns
the orchestrator functions (a list, or a dict name -> function); or it takes ``(host_address, metadata)`` and
returns an unstarted TaskHubGrpcWorker of any SDK, registered and configured (versioning) as in production, which
is started against the replay-only sidecar. With functions, replay runs in-process where the installed SDK allows
(ours; the published SDK's checked versions, :mod:`.sdks`), with no server; ``--through-worker`` forces the worker
path.

``replay --functions-app module:attribute FILE...`` replays the histories of an Azure Durable Functions app through
the Durable Functions SDK's own replay instead, episode by episode (``durabletask_testing.functions.audit``), with
the same output lines (``diverges at episode N: ...``) and exit statuses. The replay room imports no Durable
Functions code: the CLI (:mod:`durabletask_testing.cli.functions_replay`) runs that form.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from .history_file import HistoryFileError, history_document, load_history, write_history
from .replayer import Replayer, ReplayOutcome, export_history, sdk_worker_starter

EXIT_REPLAYS = 0
EXIT_DIVERGES = 1
EXIT_USAGE = 2
EXIT_NOTHING_TO_REPLAY = 3
EXIT_CODES = {
    EXIT_REPLAYS: "every history replays",
    EXIT_DIVERGES: "a history diverges, or could not be replayed (the worker did not answer or refused it)",
    EXIT_USAGE: "bad arguments: a history file that cannot be read, a --worker or --functions-app that cannot be "
                "loaded",
    EXIT_NOTHING_TO_REPLAY: "no history diverges, but one records no work item of a worker (no OrchestratorStarted: "
                            "an instance no worker ran), so nothing was replayed",
}
"""The ``replay`` subcommand's exit statuses (docs/determinism.md lists them too)."""


def add_commands(commands: Any) -> None:
    """Add ``export`` and ``replay`` to the subcommand parsers."""
    export = commands.add_parser("export", help="write an instance's history as a stored-history JSON document",
                                 description="Export one instance's history (docs/determinism.md describes the "
                                             "format).")
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--control", metavar="URL", help="the control API of a CLI fake")
    source.add_argument("--address", metavar="HOST:PORT", help="any sidecar (reads StreamInstanceHistory)")
    export.add_argument("instance_id", metavar="INSTANCE_ID")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    replay = commands.add_parser("replay", help="replay stored histories against the current orchestrator code",
                                 description="Replay stored histories against the current orchestrator code.",
                                 epilog="exit status: " + "; ".join(f"{code} {meaning}"
                                                                    for code, meaning in EXIT_CODES.items()))
    code = replay.add_mutually_exclusive_group(required=True)
    code.add_argument("--worker", metavar="MODULE:FACTORY",
                      help="returns the orchestrators (list or dict), or builds a worker from (host_address, metadata)")
    code.add_argument("--functions-app", metavar="MODULE:ATTRIBUTE",
                      help="an Azure Durable Functions app (DFApp, FunctionApp or Blueprint), replayed through the "
                           "Durable Functions SDK's own replay (needs azure-functions-durable)")
    replay.add_argument("--repeat", type=int, default=1, metavar="N", help="replay each history N times (default 1)")
    replay.add_argument("--through-worker", action="store_true",
                        help="drive the SDK's worker through the replay-only sidecar even where it could replay "
                             "in process")
    replay.add_argument("histories", nargs="+", metavar="FILE")


def export(args: argparse.Namespace, token: str | None = None) -> int:
    """Run ``export``; ``token``: the API token to send, if any."""
    try:
        if args.control:
            from ..control.client import RemoteFake  # the control API client (kernel only), for --control

            document = export_history(RemoteFake(args.control, api_token=token), args.instance_id)
        else:
            document = history_document(args.instance_id, _stream_history(args.address, args.instance_id, token))
    except Exception as error:
        print(f"export: {error}", file=sys.stderr)
        return 1
    if args.output:
        write_history(document, args.output)
    else:
        print(json.dumps(document, indent=2))
    return 0


def _stream_history(address: str, instance_id: str, token: str | None = None) -> list[Any]:
    import grpc

    from ..protocol import orchestrator_service_pb2 as pb
    from ..protocol import orchestrator_service_pb2_grpc as stubs

    metadata = [] if token is None else [("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, untyped
        chunks = stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=instance_id), timeout=30,
                                            metadata=metadata)
        try:
            return [event for chunk in chunks for event in chunk.events]
        except grpc.RpcError as error:  # the call's status, without the channel's debug string
            raise RuntimeError(f"StreamInstanceHistory on {address}: {error.code().name}: {error.details()}") from None


def load_factory(spec: str) -> Callable[..., Any]:
    """``module:attribute`` from the current directory or the import path."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"--worker expects MODULE:FACTORY, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    factory = getattr(importlib.import_module(module_name), attribute)
    if not callable(factory):
        raise TypeError(f"{spec} is not callable")
    return factory  # type: ignore[no-any-return]


def replayer_for(factory: Callable[..., Any], through_worker: bool = False) -> Replayer:
    """The Replayer a factory describes (see the module docstring)."""
    if len(inspect.signature(factory).parameters) >= 2:
        def start(address: str, metadata: list[tuple[str, str]]) -> Any:
            worker = factory(address, metadata)
            worker.start()
            return worker

        return Replayer.through_worker(start)
    functions = factory()
    if through_worker:
        return Replayer.through_worker(sdk_worker_starter(functions))
    return Replayer.for_functions(functions)


def replay(args: argparse.Namespace) -> int:
    """Run ``replay``."""
    if args.repeat < 1:
        print("replay: --repeat must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        histories = [load_history(path) for path in args.histories]
        replayer = replayer_for(load_factory(args.worker), args.through_worker)
    except (HistoryFileError, ImportError, AttributeError, ValueError, TypeError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    with replayer:
        outcomes = replayer.replay_all(histories, args.repeat)
    for outcome in outcomes:
        print(f"{outcome.source}: {outcome.describe()}")
    return exit_status(outcomes)


def exit_status(outcomes: list[ReplayOutcome]) -> int:
    """The worst of the outcomes as an exit status: a divergence, then nothing to replay, else success."""
    if any(not outcome.replays and not outcome.empty for outcome in outcomes):
        return EXIT_DIVERGES
    if any(outcome.empty for outcome in outcomes):
        return EXIT_NOTHING_TO_REPLAY
    return EXIT_REPLAYS
