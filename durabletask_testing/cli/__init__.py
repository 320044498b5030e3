"""The command line, ``python -m durabletask_testing COMMAND``: ``serve`` (:mod:`.serve`: the fake as a process),
``export`` and ``replay`` (the replay commands of :mod:`durabletask_testing.replay.cli`; ``replay --functions-app``
runs in :mod:`.functions_replay`, which may import the Durable Functions bridge). ``serve`` and ``export`` share the
API-token options of :mod:`.tokens` (the replay room cannot import the shell, where tokens are read)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..replay import cli as replay_cli
from ..shell import TokenError
from . import serve
from .tokens import add_token_options, token_of


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (``--help`` documents every option)."""
    parser = argparse.ArgumentParser(
        prog="python -m durabletask_testing",
        description="In-memory fake Durable Task sidecar (TaskHubSidecarService over gRPC) with a virtual clock.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_command(commands)
    replay_cli.add_commands(commands)
    add_token_options(commands.choices["export"], "send 'authorization: Bearer TOKEN' to a fake that requires it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m durabletask_testing``: the exit status of the chosen subcommand."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve.serve(args)
    if args.command == "export":
        try:
            token = token_of(args)
        except TokenError as error:
            print(f"export: {error}", file=sys.stderr)
            return 2
        return replay_cli.export(args, token)
    if args.command == "replay":
        if args.functions_app is not None:
            from . import functions_replay  # the Durable Functions bridge, imported only when asked for

            return functions_replay.replay(args)
        return replay_cli.replay(args)
    return 2  # pragma: no cover - argparse enforces the command


__all__ = ["build_parser", "main"]
