"""The gRPC floor: CPU per call of grpcio itself, with a do-nothing server, measured on both sides.

    python benchmarks/grpc_floor.py                 # sync server with 256 and 6 threads, and a grpc.aio server
    python benchmarks/grpc_floor.py --server 6      # one server kind

The server runs in a child process (as ``ours-oop`` runs the fake); the client in this one. For each server kind it
prints the client's and the server's CPU time per call (user + system, all threads) and the wall time per call for
blocking unary calls, unary calls as futures with 8 in flight (as the SDK worker sends completions), and messages
of one server stream (as GetWorkItems delivers work items). No Durable Task code is involved: this is what any
Python sidecar and SDK built on grpcio pay before doing any work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

UNARY_CALLS = 4000
IN_FLIGHT = 8
STREAMED_MESSAGES = 8000
SERVER_KINDS = ("256", "6", "aio")  # sync server pool sizes, or grpc.aio


def _identity(data: bytes) -> bytes:
    return data


def _unary(request: bytes, context: Any) -> bytes:
    return b"x" * 40


def _stream(request: bytes, context: Any) -> Iterator[bytes]:
    for _ in range(int(request)):
        yield b"y" * 200


async def _unary_async(request: bytes, context: Any) -> bytes:
    return b"x" * 40


async def _stream_async(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for _ in range(int(request)):
        yield b"y" * 200


def _handlers(unary: Callable[..., Any], stream: Callable[..., Any]) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler("floor", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, _identity, _identity),
        "Stream": grpc.unary_stream_rpc_method_handler(stream, _identity, _identity),
    })


def serve(kind: str) -> None:
    """Serve the do-nothing service; print the port; run until killed."""
    if kind == "aio":
        async def main() -> None:
            server = grpc.aio.server()
            server.add_generic_rpc_handlers((_handlers(_unary_async, _stream_async),))
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            print(port, flush=True)
            await server.wait_for_termination()

        asyncio.run(main())
        return
    sync_server = grpc.server(futures.ThreadPoolExecutor(max_workers=int(kind)))
    sync_server.add_generic_rpc_handlers((_handlers(_unary, _stream),))
    port = sync_server.add_insecure_port("127.0.0.1:0")
    sync_server.start()
    print(port, flush=True)
    sync_server.wait_for_termination()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str) -> list[str]:
    """Per-call CPU and wall time against one server kind; one printable line per call pattern."""
    server = subprocess.Popen([sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        channel = grpc.insecure_channel(f"127.0.0.1:{int(server.stdout.readline())}")
        unary = channel.unary_unary("/floor/Unary", _identity, _identity)
        stream = channel.unary_stream("/floor/Stream", _identity, _identity)
        for _ in range(200):  # warm-up
            unary(b"")
        list(stream(b"100"))

        def blocking() -> int:
            for _ in range(UNARY_CALLS):
                unary(b"")
            return UNARY_CALLS

        def concurrent() -> int:
            pending: list[Any] = []
            for _ in range(UNARY_CALLS):
                pending.append(unary.future(b""))
                if len(pending) >= IN_FLIGHT:
                    pending.pop(0).result()
            for future in pending:
                future.result()
            return UNARY_CALLS

        def streamed() -> int:
            return sum(1 for _ in stream(str(STREAMED_MESSAGES).encode()))

        lines = []
        for label, run in (("unary, blocking", blocking), (f"unary, {IN_FLIGHT} futures in flight", concurrent),
                           ("streamed message", streamed)):
            client_cpu, server_cpu, started = _own_cpu(), _process_cpu(server.pid), time.perf_counter()
            count = run()
            wall = time.perf_counter() - started
            client_cpu, server_cpu = _own_cpu() - client_cpu, _process_cpu(server.pid) - server_cpu
            lines.append(f"server {kind:>4}  {label:<28} client {client_cpu / count * 1e6:4.0f} us  "
                         f"server {server_cpu / count * 1e6:4.0f} us  wall {wall / count * 1e6:4.0f} us")
        channel.close()
        return lines
    finally:
        server.kill()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=SERVER_KINDS, action="append", help="server kind(s) to measure")
    parser.add_argument("--serve", choices=SERVER_KINDS, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    for kind in args.server or SERVER_KINDS:
        print("\n".join(measure(kind)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
