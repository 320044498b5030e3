"""Benchmark workloads, runnable on either stack: ours (our SDK + our fake) or published (PyPI SDK + its backend).

Both stacks share the import name ``durabletask``, so each runs in its own interpreter: this file uses only
the public client/worker/task API that both share, plus a tiny adapter (``sidecar``) that starts the stack's
in-memory sidecar. Run as a script it prints one JSON object with the timings:

    python benchmarks/workloads.py --stack ours --workload chain --n 1000
    python benchmarks/workloads.py --stack ours-oop --workload chain --n 1000   # our fake in its own process
    /path/to/published-venv/bin/python benchmarks/workloads.py --stack published --workload fanout --n 4000

Every workload checks its outputs and raises ``WorkloadError`` when an orchestration ends wrongly, so a fast
but broken stack never produces a figure.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

OURS_IN_PROCESS, OURS_FAKE_PROCESS, PUBLISHED = "ours", "ours-oop", "published"
STACKS = (OURS_IN_PROCESS, OURS_FAKE_PROCESS, PUBLISHED)
FAKE_START_TIMEOUT_S = 30.0
WAIT_TIMEOUT_S = 600.0
CHAIN_CITIES = ("Tokyo", "Seattle", "London")


class WorkloadError(RuntimeError):
    """A workload produced a wrong result or could not run on the requested stack."""


@dataclass
class Result:
    """What one workload run measured; printed as JSON by the command line."""

    stack: str
    workload: str
    n: int
    seconds: float
    setup_seconds: float = 0.0
    samples: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the whole process (all threads) during the measured part
    sidecar_cpu_seconds: float = 0.0  # CPU time of the separate sidecar process (ours-oop), same interval


# --------------------------------------------------------------------------------------------------------------
# Stack adapter: the only place that differs between the two stacks.
# --------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    """An ephemeral TCP port for the published backend, which cannot bind port 0 and report it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_stack(stack: str) -> None:
    """Fail loudly if this interpreter's ``durabletask`` is not the requested stack's package."""
    import durabletask

    location = str(getattr(durabletask, "__file__", ""))
    is_published = "site-packages" in location
    if stack not in STACKS:
        raise WorkloadError(f"unknown stack {stack!r}; expected one of {', '.join(STACKS)}")
    if (stack == PUBLISHED) != is_published:
        raise WorkloadError(f"--stack {stack} but this interpreter imports durabletask from {location}")


class Sidecar:
    """A running sidecar: its address, and the CPU time of its own process when it runs in one."""

    def __init__(self, address: str, process: subprocess.Popen[str] | None = None) -> None:
        self.address = address
        self._process = process

    def cpu_seconds(self) -> float:
        """User + system CPU time of the separate sidecar process so far; 0 when the sidecar is in-process."""
        if self._process is None:
            return 0.0
        with open(f"/proc/{self._process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime in clock ticks


@contextmanager
def _fake_process(clock: str) -> Iterator[Sidecar]:
    """Our fake served by its command line (``python -m durabletask_testing serve``) in a child process."""
    command = [sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--clock", clock]
    errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: a chatty child can never block on it
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until "listening on HOST:PORT" or the process exits
        if not line.startswith("listening on "):
            process.kill()
            process.wait(timeout=FAKE_START_TIMEOUT_S)
            errors.seek(0)
            raise WorkloadError(f"the fake sidecar process did not start: {line!r} {errors.read().strip()[-300:]}")
        yield Sidecar(line.removeprefix("listening on ").strip(), process)
    finally:
        errors.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=FAKE_START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def serving(stack: str, clock: str = "auto") -> Iterator[Sidecar]:
    """Start the stack's sidecar on an ephemeral port (``ours-oop``: our fake in a child process); stop it on exit."""
    if stack == OURS_FAKE_PROCESS:
        with _fake_process(clock) as running:
            yield running
        return
    if stack == OURS_IN_PROCESS:
        from durabletask_testing import FakeSidecar

        with FakeSidecar(clock=clock, port=0) as fake:
            yield Sidecar(fake.address)
        return
    from durabletask.testing import InMemoryOrchestrationBackend

    backend = InMemoryOrchestrationBackend(port=_free_port())
    address = backend.start()
    try:
        yield Sidecar(address)
    finally:
        backend.stop()


@contextmanager
def sidecar(stack: str, clock: str = "auto") -> Iterator[str]:
    """Start the stack's sidecar on an ephemeral port; yield its address; stop it on exit."""
    with serving(stack, clock) as running:
        yield running.address


def _quiet_kwargs(cls: type) -> dict[str, Any]:
    """Keyword arguments that silence an SDK class's INFO logging (per-orchestration log lines), if supported."""
    if "logger" in inspect.signature(cls).parameters:
        quiet = logging.getLogger(f"bench.{cls.__name__}")
        quiet.setLevel(logging.WARNING)
        return {"logger": quiet}
    return {}


@contextmanager
def connected(
    address: str, orchestrators: list[Callable[..., Any]], activities: list[Callable[..., Any]]
) -> Iterator[Any]:
    """A started worker with the given functions registered and a client, both on ``address``; yields the client."""
    from durabletask import client, worker

    w = worker.TaskHubGrpcWorker(host_address=address, **_quiet_kwargs(worker.TaskHubGrpcWorker))
    for orchestrator in orchestrators:
        w.add_orchestrator(orchestrator)
    for activity in activities:
        w.add_activity(activity)
    w.start()
    c = client.TaskHubGrpcClient(host_address=address, **_quiet_kwargs(client.TaskHubGrpcClient))
    try:
        yield c
    finally:
        w.stop()
        close = getattr(c, "close", None)
        if close is not None:
            close()


# --------------------------------------------------------------------------------------------------------------
# Orchestrations and activities (the same code on both stacks).
# --------------------------------------------------------------------------------------------------------------


def hello(ctx: Any, name: str) -> str:
    """Activity of the chain: a greeting."""
    return f"Hello {name}!"


def sequence(ctx: Any, _: Any) -> Any:
    """Orchestrator of the chain: three sequential activities."""
    results = []
    for city in CHAIN_CITIES:
        results.append((yield ctx.call_activity(hello, input=city)))
    return results


def square(ctx: Any, value: int) -> int:
    """Activity of the fan-out."""
    return value * value


def fan_out_fan_in(ctx: Any, count: int) -> Any:
    """Orchestrator of the fan-out: ``count`` parallel activities, summed."""
    from durabletask import task

    results = yield task.when_all([ctx.call_activity(square, input=i) for i in range(count)])
    return sum(results)


def send_approval_request(ctx: Any, order: dict[str, Any]) -> None:
    """Activity of the purchase-order workflow: ask a manager (does nothing here)."""


def place_order(ctx: Any, order: dict[str, Any]) -> None:
    """Activity of the purchase-order workflow: place the order (does nothing here)."""


def purchase_order_workflow(ctx: Any, order: dict[str, Any]) -> Any:
    """The seeds' human-interaction sample: approval within 24 hours or the order is canceled."""
    from durabletask import task

    if order["Cost"] < 1000:
        return "Auto-approved"
    yield ctx.call_activity(send_approval_request, input=order)
    approval_event = ctx.wait_for_external_event("approval_received")
    timeout_event = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"
    yield ctx.call_activity(place_order, input=order)
    approval = approval_event.get_result()
    return f"Approved by '{approval['approver']}'"


def _expect_completed(c: Any, instance_id: str, expected_output: Any) -> None:
    """Wait for one instance and check it COMPLETED with the expected output."""
    state = c.wait_for_orchestration_completion(instance_id, timeout=WAIT_TIMEOUT_S)
    if state is None:
        raise WorkloadError(f"instance {instance_id} vanished")
    status = getattr(state.runtime_status, "name", str(state.runtime_status))
    if status != "COMPLETED":
        raise WorkloadError(f"instance {instance_id} ended {status}: {state.failure_details}")
    output = json.loads(state.serialized_output) if state.serialized_output else None
    if output != expected_output:
        raise WorkloadError(f"instance {instance_id} returned {output!r}, expected {expected_output!r}")


# --------------------------------------------------------------------------------------------------------------
# Workloads.
# --------------------------------------------------------------------------------------------------------------


def run_chains(c: Any, n: int) -> None:
    """Schedule ``n`` chain orchestrations at once, then await and check all of them."""
    ids = [c.schedule_new_orchestration(sequence) for _ in range(n)]
    expected = [f"Hello {city}!" for city in CHAIN_CITIES]
    for instance_id in ids:
        _expect_completed(c, instance_id, expected)


def chain(stack: str, n: int) -> Result:
    """``n`` orchestrations of three sequential activities, all scheduled at once, all awaited."""
    started = time.perf_counter()
    with serving(stack) as running, connected(running.address, [sequence], [hello]) as c:
        ready, cpu, sidecar_cpu = time.perf_counter(), cpu_seconds(), running.cpu_seconds()
        run_chains(c, n)
        elapsed, cpu = time.perf_counter() - ready, cpu_seconds() - cpu
        sidecar_cpu = running.cpu_seconds() - sidecar_cpu
    return Result(stack, "chain", n, elapsed, setup_seconds=ready - started, cpu_seconds=cpu,
                  sidecar_cpu_seconds=sidecar_cpu)


def fanout(stack: str, n: int) -> Result:
    """One orchestration fanning out to ``n`` activities and summing their results."""
    started = time.perf_counter()
    with serving(stack) as running, connected(running.address, [fan_out_fan_in], [square]) as c:
        ready, cpu, sidecar_cpu = time.perf_counter(), cpu_seconds(), running.cpu_seconds()
        instance_id = c.schedule_new_orchestration(fan_out_fan_in, input=n)
        _expect_completed(c, instance_id, sum(i * i for i in range(n)))
        elapsed, cpu = time.perf_counter() - ready, cpu_seconds() - cpu
        sidecar_cpu = running.cpu_seconds() - sidecar_cpu
    return Result(stack, "fanout", n, elapsed, setup_seconds=ready - started, cpu_seconds=cpu,
                  sidecar_cpu_seconds=sidecar_cpu)


def lifecycle_once(stack: str) -> float:
    """One per-test cycle: start sidecar, connect worker and client, run one chain, tear all down. Seconds."""
    started = time.perf_counter()
    with sidecar(stack) as address, connected(address, [sequence], [hello]) as c:
        run_chains(c, 1)
    return time.perf_counter() - started


def lifecycle(stack: str, n: int) -> Result:
    """``n`` per-test cycles after one warm-up cycle; reports the median cycle."""
    lifecycle_once(stack)  # warm-up: first-use imports and gRPC initialisation are not per-test costs
    samples = [lifecycle_once(stack) for _ in range(n)]
    return Result(stack, "lifecycle", n, statistics.median(samples), samples=samples)


def timetravel(stack: str, n: int) -> Result:
    """The purchase-order workflow timing out after 24 hours on the virtual clock, end to end; median of ``n``."""
    if stack == PUBLISHED:
        raise WorkloadError("time travel needs a virtual clock; the published stack waits the full 24 hours")
    samples = []
    for _ in range(n + 1):  # the first run is a warm-up
        started = time.perf_counter()
        with sidecar(stack, clock="auto") as address:
            with connected(address, [purchase_order_workflow], [send_approval_request, place_order]) as c:
                instance_id = c.schedule_new_orchestration(purchase_order_workflow, input={"Cost": 2000})
                _expect_completed(c, instance_id, "Canceled")
        samples.append(time.perf_counter() - started)
    return Result(stack, "timetravel", n, statistics.median(samples[1:]), samples=samples[1:])


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def memory(stack: str, n: int) -> Result:
    """Peak RSS of this process while its sidecar holds ``n`` completed chain orchestrations."""
    started = time.perf_counter()
    with sidecar(stack) as address, connected(address, [sequence], [hello]) as c:
        run_chains(c, n)
        rss = peak_rss_mb()
        elapsed = time.perf_counter() - started
    return Result(stack, "memory", n, elapsed, peak_rss_mb=rss)


WORKLOADS: dict[str, Callable[[str, int], Result]] = {
    "chain": chain,
    "fanout": fanout,
    "lifecycle": lifecycle,
    "timetravel": timetravel,
    "memory": memory,
}


def run_workload(stack: str, workload: str, n: int) -> Result:
    """Run one workload on one stack in this interpreter."""
    if workload not in WORKLOADS:
        raise WorkloadError(f"unknown workload {workload!r}; expected one of {', '.join(WORKLOADS)}")
    if n < 1:
        raise WorkloadError(f"--n must be at least 1, got {n}")
    check_stack(stack)
    return WORKLOADS[workload](stack, n)


def main(argv: list[str] | None = None) -> int:
    """Command line: run one workload and print its Result as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=STACKS, required=True)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    parser.add_argument("--n", type=int, required=True, help="size: orchestrations, activities or cycles")
    args = parser.parse_args(argv)
    try:
        result = run_workload(args.stack, args.workload, args.n)
    except WorkloadError as error:
        print(f"workload failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
