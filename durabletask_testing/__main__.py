"""Command line: ``python -m durabletask_testing serve [options]`` runs the fake sidecar as a process.

Any Durable Task SDK (Python, Java, .NET, JavaScript, Go) can then connect to it. When ready it prints
exactly one line, ``listening on HOST:PORT``, and serves until SIGINT or SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from types import FrameType

from .clock import CLOCK_MODES
from .engine import DEFAULT_MAX_PAYLOAD_BYTES
from .sidecar import FakeSidecar
from .vocabulary import parse_iso


def _iso_datetime(text: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date-time: {text!r}") from error


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from error
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535: {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--help`` documents every option)."""
    parser = argparse.ArgumentParser(
        prog="python -m durabletask_testing",
        description="In-memory fake Durable Task sidecar (TaskHubSidecarService over gRPC) with a virtual clock.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the fake sidecar until SIGINT or SIGTERM",
        description="Serve the fake sidecar. Prints 'listening on HOST:PORT' once ready; exits 0 on SIGINT/SIGTERM.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, local only)")
    serve.add_argument("--port", type=_port, default=4001, help="port to listen on; 0 picks a free one (default: 4001)")
    serve.add_argument(
        "--clock",
        choices=CLOCK_MODES,
        default="real",
        help="real: wall time; manual: time moves only when told; auto: skips to the next timer while a "
        "client waits for completion and nothing else is running (default: real)",
    )
    serve.add_argument(
        "--start-time",
        type=_iso_datetime,
        default=None,
        metavar="ISO-8601",
        help="start time of a manual/auto clock, e.g. 2024-01-01T00:00:00Z (default: now, whole seconds)",
    )
    serve.add_argument(
        "--api-token",
        default=None,
        metavar="TOKEN",
        help="require 'authorization: Bearer TOKEN' metadata on every call (default: no token)",
    )
    serve.add_argument(
        "--max-payload-bytes",
        type=int,
        default=DEFAULT_MAX_PAYLOAD_BYTES,
        metavar="N",
        help=f"largest accepted input/output/event payload in bytes (default: {DEFAULT_MAX_PAYLOAD_BYTES})",
    )
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the sidecar until a termination signal arrives."""
    if args.clock == "real" and args.start_time is not None:
        print("error: --start-time needs --clock manual or auto", file=sys.stderr)
        return 2
    if args.max_payload_bytes <= 0:
        print("error: --max-payload-bytes must be positive", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sidecar = FakeSidecar(
        clock=args.clock,
        host=args.host,
        port=args.port,
        start_time=args.start_time,
        api_token=args.api_token,
        max_payload_bytes=args.max_payload_bytes,
    )
    try:
        sidecar.start()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        print(f"listening on {sidecar.address}", flush=True)
        stop.wait()
    finally:
        sidecar.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m durabletask_testing``."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse enforces the command


if __name__ == "__main__":
    sys.exit(main())
