"""Long polls under load: N concurrent WaitForInstanceCompletion calls, then a worker connects and ends them all.

    python benchmarks/long_polls.py                  # 2,000 waits
    python benchmarks/long_polls.py -n 300 --bound 60

The fake runs in this process (as the pytest plugin runs it); the waits are futures of one gRPC channel. Prints
the seconds for the waits to arrive, from the worker's connection to the last wait's answer, the CPU time of the
process, its peak RSS and the most threads it had. Exits 1 when a wait is still pending after ``--bound`` seconds.
"""

from __future__ import annotations

import argparse
import logging
import resource
import threading
import time
from typing import Any

import grpc

from durabletask import worker
from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs


def finish(ctx: Any, _: Any) -> str:
    """An orchestration that completes at once."""
    return "done"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(waits: int, bound: float) -> bool:
    """One run; prints its figures and returns True when every wait ended COMPLETED within ``bound``."""
    with FakeSidecar(clock="manual") as sidecar, grpc.insecure_channel(sidecar.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        ids = [f"wait-{n}" for n in range(waits)]
        for start in [stub.StartInstance.future(pb.CreateInstanceRequest(instanceId=i, name="finish")) for i in ids]:
            start.result(timeout=bound)
        cpu, began = _cpu(), time.perf_counter()
        calls = [stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=i), timeout=bound) for i in ids]
        arrived = threading.Event()
        while not arrived.wait(0.001):
            if sidecar.long_polls_in_flight >= waits or time.perf_counter() - began > bound:
                arrived.set()
        arrival = time.perf_counter() - began
        most_threads = threading.active_count()
        done = threading.Semaphore(0)
        for call in calls:
            call.add_done_callback(lambda _: done.release())
        connected = time.perf_counter()
        w = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        w.add_orchestrator(finish)
        w.start()
        try:
            ended = sum(done.acquire(timeout=max(0.0, bound - (time.perf_counter() - began))) for _ in calls)
        finally:
            w.stop()
        drained = time.perf_counter() - connected
        completed = sum(
            1
            for call in calls
            if call.done() and call.exception() is None
            and call.result().orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
        )
        for call in calls:
            call.cancel()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{waits} waits: arrived in {arrival:.2f} s; worker connected, all answered in {drained:.2f} s "
        f"({ended} answered, {completed} COMPLETED); CPU {_cpu() - cpu:.2f} s; peak RSS {peak_mb:.0f} MB; "
        f"{most_threads} threads"
    )
    return completed == waits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--waits", type=int, default=2000, help="concurrent waits (default 2000)")
    parser.add_argument("--bound", type=float, default=60.0, help="seconds allowed for the whole run (default 60)")
    args = parser.parse_args(argv)
    logging.getLogger("durabletask").setLevel(logging.WARNING)
    return 0 if run(args.waits, args.bound) else 1


if __name__ == "__main__":
    raise SystemExit(main())
