"""How much of one 3-activity orchestration is the sidecar's: the bound on what a faster sidecar can win.

    python benchmarks/sidecar_share.py              # published SDK on our fake and on its backend, our SDK on our fake
    python benchmarks/sidecar_share.py -n 60 --rounds 3

Same workload and stacks as ``one_orchestration.py`` (each in-process with its worker and client, one orchestration at
a time). For each orchestration it records the wall time, the CPU time of the whole process, and the CPU time spent
inside the sidecar's servicer methods (every RPC handler and each step of the work-item stream, measured with
``time.thread_time`` around them; grpcio's own server machinery is not counted, so this is a lower bound of the
sidecar's part). Everything else (the SDK's worker and client, grpcio on both sides) is the same code whichever
sidecar serves it, so even a sidecar whose handlers cost nothing cannot bring the ratio to the peer below
``(peer CPU - peer servicer CPU) / peer CPU`` while the run is CPU-bound (process CPU close to wall time).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sdk_envs  # noqa: E402
from sdk_envs import median  # noqa: E402

METHODS = ("Hello", "StartInstance", "GetWorkItems", "CompleteOrchestratorTask", "CompleteActivityTask",
           "WaitForInstanceCompletion", "GetInstance")


class ServicerClock:
    """CPU seconds spent inside the wrapped servicer methods, on any thread."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, servicer: Any) -> None:
        for name in METHODS:
            method = getattr(servicer, name, None)
            if method is not None:
                setattr(servicer, name, self._timed(method))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(method):
            @functools.wraps(method)
            def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
                items = method(*args, **kwargs)
                while True:
                    began = time.thread_time()
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                    finally:
                        self.seconds += time.thread_time() - began
                    yield item
            return stream

        @functools.wraps(method)
        def unary(*args: Any, **kwargs: Any) -> Any:
            began = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - began
        return unary


def _patch_servicer_classes(clock: ServicerClock, server: str) -> None:
    """Wrap the servicer object each server creates (its ``__init__``), so every RPC it serves is timed."""
    if server == "fake":
        from durabletask_testing.shell import servicer as module

        classes: list[type] = [module.FakeSidecarServicer]
    else:
        from durabletask.testing import in_memory_backend as backend  # type: ignore[import-not-found,unused-ignore]

        classes = [c for c in vars(backend).values() if isinstance(c, type) and hasattr(c, "GetWorkItems")]
    for cls in classes:
        original = cls.__init__  # type: ignore[misc]

        def init(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            _original(self, *args, **kwargs)
            clock.wrap(self)

        cls.__init__ = init  # type: ignore[misc]


def measure(server: str, n: int, clock: ServicerClock) -> list[tuple[float, float, float]]:
    """(wall, process CPU, servicer CPU) of ``n`` orchestrations, one at a time, after one warm-up."""
    import workloads

    stack = "published" if server == "backend" else "ours"
    samples = []
    with ExitStack() as resources:
        running = resources.enter_context(workloads.serving(stack))
        client = resources.enter_context(workloads.connected(running.address, [workloads.sequence], [workloads.hello]))
        workloads.run_chains(client, 1)
        for _ in range(n):
            clock.seconds = 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            instance_id = client.schedule_new_orchestration(workloads.sequence)
            state = client.wait_for_orchestration_completion(instance_id, timeout=60)
            samples.append((time.perf_counter() - wall, time.process_time() - cpu, clock.seconds))
            if state is None or not state.serialized_output:
                raise RuntimeError(f"wrong result on {server}: {state}")
    return samples


def child(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    args = parser.parse_args(arguments)
    sdk = sdk_envs.sdk_in_use()
    servers = ("fake", "backend") if sdk == "published" else ("fake",)
    clock = ServicerClock()
    for server in servers:
        _patch_servicer_classes(clock, server)
    found: dict[str, list[tuple[float, float, float]]] = {server: [] for server in servers}
    for _ in range(args.rounds):
        for server in servers:
            found[server].extend(measure(server, args.n, clock))
    print(json.dumps({"sdk": sdk, "samples": found}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="orchestrations per stack and round (default 40)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (default 2)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 1:
        parser.error("-n and --rounds must be at least 1")
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for sdk in ("published", "ours"):
        result = sdk_envs.run_child(sdk, Path(__file__), ["-n", str(args.n), "--rounds", str(args.rounds)])
        for server, samples in result["samples"].items():
            rows[f"{sdk}/{server}"] = [tuple(sample) for sample in samples]  # type: ignore[misc]
    labels = {"published/fake": "published SDK on our fake", "published/backend": "published SDK on its backend",
              "ours/fake": "our SDK on our fake"}
    print(f"one 3-activity orchestration ({args.rounds} rounds x {args.n}; medians per orchestration):")
    for key, label in labels.items():
        wall, cpu, servicer = (median([s[i] for s in rows[key]]) for i in range(3))
        print(f"  {label:<30} wall {wall * 1e3:5.2f} ms  process CPU {cpu * 1e3:5.2f} ms  "
              f"in the servicer {servicer * 1e3:4.2f} ms ({servicer / cpu:.0%} of the CPU)")
    peer_cpu = median([s[1] for s in rows["published/backend"]])
    peer_servicer = median([s[2] for s in rows["published/backend"]])
    floor = (peer_cpu - peer_servicer) / peer_cpu
    print(f"published SDK: with a sidecar whose handlers cost nothing, at best {floor:.2f}x the peer (CPU-bound)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
