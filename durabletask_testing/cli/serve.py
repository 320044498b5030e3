"""``python -m durabletask_testing serve [options]``: runs the fake sidecar as a process.

Any Durable Task SDK (Python, Java, .NET, JavaScript, Go) can then connect to it. When ready it prints
``listening on HOST:PORT`` and, on a second line, ``control API on http://HOST:PORT`` (the HTTP/JSON control
API of docs/control-api.md; not with ``--no-control``), and serves until SIGINT or SIGTERM, then exits 0. With
``--functions-app`` a third line, ``functions app on http://HOST:PORT/api/``: an Azure Durable Functions app runs on
the fake, its HTTP functions and the Durable extension's management API served there (docs/durable-functions.md).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import sys
from datetime import datetime
from types import FrameType
from typing import Any

from .. import checks
from ..clock import CLOCK_MODES
from ..control import ControlServer
from ..dialects import DEFAULT_DIALECT, DIALECTS
from ..engine import DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_WORK_ITEM_LEASE
from ..shell import DEFAULT_HEALTH_PING_INTERVAL, TOKEN_ENV_VAR, Limits, check_task_hub, is_loopback
from ..sidecar import DEFAULT_MAX_LONG_POLLS, FakeSidecar
from ..vocabulary import parse_iso
from .tokens import add_token_options, token_of


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


def _seconds(text: str) -> float:
    """A number of seconds, finite and not negative (what every seconds option takes)."""
    try:
        return checks.seconds(float(text), "the value", maximum=checks.MAX_TIMEOUT_SECONDS)
    except (TypeError, ValueError, OverflowError) as error:
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0 to {checks.MAX_TIMEOUT_SECONDS:g}: "
                                         f"{text!r}") from error


def _count(text: str) -> int:
    """A positive whole number."""
    try:
        return checks.whole(int(text), "the value", minimum=1)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}") from error


def add_command(commands: Any) -> None:
    """Add ``serve`` to the subcommands of the parser (``--help`` documents every option)."""
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
    add_token_options(serve, "require 'authorization: Bearer TOKEN' metadata on every call")
    serve.add_argument(
        "--max-payload-bytes",
        type=_count,
        default=DEFAULT_MAX_PAYLOAD_BYTES,
        metavar="N",
        help=f"largest accepted input/output/event payload in bytes (default: {DEFAULT_MAX_PAYLOAD_BYTES})",
    )
    serve.add_argument(
        "--max-request-bytes",
        type=_count,
        default=None,
        metavar="N",
        help="largest accepted request message in bytes, at least --max-payload-bytes "
        "(default: 64 MiB or 4 payloads, whichever is larger)",
    )
    serve.add_argument(
        "--work-item-lease",
        type=_seconds,
        default=DEFAULT_WORK_ITEM_LEASE.total_seconds(),
        metavar="SECONDS",
        help="a work item whose completion does not arrive within this many seconds is dispatched again; 0 turns "
        f"leases off (default: {DEFAULT_WORK_ITEM_LEASE.total_seconds():g})",
    )
    serve.add_argument(
        "--control-host",
        default="127.0.0.1",
        help="interface of the control API (HTTP/JSON: clock, faults, inspection, reset; see docs/control-api.md); "
        "default: 127.0.0.1, local only",
    )
    serve.add_argument(
        "--control-port", type=_port, default=0, help="port of the control API; 0 picks a free one (default: 0)"
    )
    serve.add_argument(
        "--allow-remote-control",
        action="store_true",
        help="serve the control API on a --control-host other than loopback without an API token (anyone who can "
        "reach the port can then reset the fake and inject faults) (default: refused)",
    )
    serve.add_argument("--no-control", action="store_true",
                       help="do not serve the control API (default: serve it on --control-host/--control-port)")
    serve.add_argument(
        "--max-long-polls",
        type=_count,
        default=DEFAULT_MAX_LONG_POLLS,
        metavar="N",
        help="most WaitForInstanceStart/WaitForInstanceCompletion calls served at once; more are refused with "
        f"RESOURCE_EXHAUSTED (default: {DEFAULT_MAX_LONG_POLLS})",
    )
    serve.add_argument(
        "--dialect",
        choices=DIALECTS,
        default=DEFAULT_DIALECT,
        help="protocol dialect: durabletask (the published protocol: every Durable Task SDK) or dapr (Dapr "
        f"Workflow's fork: its SDKs; also accepts 'dapr-api-token' metadata) (default: {DEFAULT_DIALECT})",
    )
    serve.add_argument(
        "--task-hub",
        default=None,
        metavar="NAME",
        help="serve this one task hub: calls whose 'taskhub' metadata (sent by Durable Task Scheduler clients and "
        "workers) names another are refused with NOT_FOUND (default: the header is ignored)",
    )
    serve.add_argument(
        "--functions-app",
        metavar="MODULE:ATTRIBUTE",
        default=None,
        help="also run this Azure Durable Functions app on the fake (needs azure-functions-durable) and serve its "
        "HTTP functions under /api/ and the Durable extension's management API, as 'func start' would; the "
        "module is imported from the current directory (default: none)",
    )
    serve.add_argument(
        "--functions-port", type=_port, default=7071,
        help="port of the functions app's HTTP functions and management API; 0 picks a free one (default: 7071)",
    )
    serve.add_argument(
        "--health-ping-interval",
        type=_seconds,
        default=DEFAULT_HEALTH_PING_INTERVAL,
        metavar="SECONDS",
        help="idle seconds before a work-item stream gets a health ping (the dapr dialect sends them only to "
        f"workers that ask) (default: {DEFAULT_HEALTH_PING_INTERVAL:g})",
    )


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop(Exception):
    """Raised in the main thread by SIGINT or SIGTERM."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    # Runs in the main thread, whichever thread the OS gave the signal to; raising ends the main thread's wait.
    # Later signals are ignored while the sidecar stops.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise _Stop


def _sidecar_from(args: argparse.Namespace) -> FakeSidecar:
    """The sidecar the options describe; ValueError naming the option when they do not fit together."""
    if args.clock == "real" and args.start_time is not None:
        raise ValueError("--start-time needs --clock manual or auto")
    if args.health_ping_interval <= 0:
        raise ValueError("--health-ping-interval must be positive")
    if args.task_hub is not None:
        try:
            check_task_hub(args.task_hub)
        except ValueError as error:
            raise ValueError(f"--task-hub: {error}") from None
    token = token_of(args)
    if token is None and not args.no_control and not args.allow_remote_control and not is_loopback(args.control_host):
        raise ValueError(f"--control-host {args.control_host} is not a loopback address: without an API token anyone "
                         "who reaches it could reset the fake and inject faults; give a token (--api-token-file, "
                         f"${TOKEN_ENV_VAR}) or pass --allow-remote-control")
    if token is None and not is_loopback(args.host):
        print(f"warning: serving the sidecar protocol on {args.host} without an API token: anyone who reaches the "
              "port can start, read and end orchestrations (give a token with --api-token-file or "
              f"${TOKEN_ENV_VAR})", file=sys.stderr)
    return FakeSidecar(
        clock=args.clock,
        host=args.host,
        port=args.port,
        start_time=args.start_time,
        api_token=token,
        max_payload_bytes=args.max_payload_bytes,
        max_long_polls=args.max_long_polls,
        limits=Limits(request_bytes=args.max_request_bytes),
        work_item_lease=args.work_item_lease or None,
        health_ping_interval=args.health_ping_interval,
        dialect=args.dialect,
        task_hub=args.task_hub,
    )


def _serve_until_signalled(sidecar: FakeSidecar, args: argparse.Namespace | None = None) -> None:
    """Start ``sidecar`` (and its control API unless ``--no-control``), print the address (and the control URL on
    a second line), and return after SIGINT or SIGTERM with both stopped.

    A signal may be given to any thread of the process (gRPC has its own); the Python handler only runs once
    the main thread runs. The main thread therefore sleeps on the signal wakeup fd, which every signal writes
    to, rather than on a lock that only the thread receiving the signal would be woken from.
    """
    previous = {signum: signal.signal(signum, _raise_stop) for signum in STOP_SIGNALS}
    wakeup_reader, wakeup_writer = socket.socketpair()
    wakeup_writer.setblocking(False)
    previous_wakeup_fd = signal.set_wakeup_fd(wakeup_writer.fileno())
    control: ControlServer | None = None
    functions: Any = None  # a durabletask_testing.functions.FunctionsHost
    try:
        sidecar.start()
        if args is not None and not args.no_control:
            control = ControlServer(sidecar, args.control_host, args.control_port, sidecar.api_token,
                                    allow_remote=args.allow_remote_control).start()
            sidecar.advertise_control(control.url)
        if args is not None and args.functions_app is not None:
            functions = _functions_host(args, sidecar)
        print(f"listening on {sidecar.address}", flush=True)
        if control is not None:
            print(f"control API on {control.url}", flush=True)
        if functions is not None:
            print(f"functions app on {functions.management_url}/api/", flush=True)
        while True:
            select.select([wakeup_reader], [], [])
            wakeup_reader.recv(64)
    except _Stop:
        pass
    finally:
        if functions is not None:
            functions.stop()
        if control is not None:
            control.stop()
        sidecar.stop()
        signal.set_wakeup_fd(previous_wakeup_fd)
        wakeup_reader.close()
        wakeup_writer.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _functions_host(args: argparse.Namespace, sidecar: FakeSidecar) -> Any:
    """The started host of ``--functions-app`` on ``sidecar``; ValueError naming what is wrong with the app."""
    from ..functions import AppError, FunctionsHost

    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the app module, as 'func start' finds it
    try:
        host = FunctionsHost(args.functions_app, sidecar.address, api_token=sidecar.api_token, serve_http=True,
                             http_port=args.functions_port)
    except (AppError, ImportError) as error:
        raise ValueError(f"--functions-app {args.functions_app}: {error}") from None
    except OSError as error:
        raise ValueError(f"cannot serve the functions app on 127.0.0.1:{args.functions_port}: {error}") from None
    return host.start()


def serve(args: argparse.Namespace) -> int:
    """Run the sidecar until a termination signal arrives: 0 then, 2 for bad options, 1 when it cannot listen."""
    try:
        sidecar = _sidecar_from(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        _serve_until_signalled(sidecar, args)
    except ValueError as error:  # the functions app
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the control API's port
        print(f"error: cannot serve the control API on {args.control_host}:{args.control_port}: {error}",
              file=sys.stderr)
        return 1
    return 0
