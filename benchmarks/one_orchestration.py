"""One 3-activity orchestration: each SDK on our fake against the published SDK on its own in-memory backend.

    python benchmarks/one_orchestration.py               # 3 rounds of 30 orchestrations per stack
    python benchmarks/one_orchestration.py -n 50 --rounds 5
    python benchmarks/one_orchestration.py --sdk published   # skip our SDK

Three stacks, measured in one run: the published SDK (1.12.0) on our ``FakeSidecar``, the published SDK on its
``durabletask.testing.InMemoryOrchestrationBackend`` (the peer), our SDK on our ``FakeSidecar``. Each is served
in-process on a local TCP port with its worker and client connected (as in a test session); "warm" times
``schedule_new_orchestration`` to ``wait_for_orchestration_completion`` of one orchestration at a time. "first"
times a stack from nothing (server start, worker start, client) to its first orchestration's completion, the
part of a per-test cycle before tear-down. Rounds alternate between the stacks; figures are medians.

Targets (issue 26): published SDK on our fake <= 0.7x the peer; our SDK on our fake <= 0.6x the peer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sdk_envs  # noqa: E402
from sdk_envs import median, ms, verdict  # noqa: E402

TARGET_PUBLISHED = 0.7
TARGET_OURS = 0.6


def measure_block(server: str, n: int) -> tuple[float, list[float]]:
    """Bring one stack up, run ``n`` orchestrations one at a time; (seconds to the first completion, warm samples)."""
    import workloads

    stack = "published" if server == "backend" else "ours"  # workloads.serving: which server to start
    expected = [f"Hello {city}!" for city in workloads.CHAIN_CITIES]
    started = time.perf_counter()
    with ExitStack() as resources:
        running = resources.enter_context(workloads.serving(stack))
        client = resources.enter_context(workloads.connected(running.address, [workloads.sequence], [workloads.hello]))
        workloads.run_chains(client, 1)
        first = time.perf_counter() - started
        samples = []
        for _ in range(n):
            began = time.perf_counter()
            instance_id = client.schedule_new_orchestration(workloads.sequence)
            state = client.wait_for_orchestration_completion(instance_id, timeout=60)
            samples.append(time.perf_counter() - began)
            if state is None or json.loads(state.serialized_output or "null") != expected:
                raise RuntimeError(f"wrong result on {server}: {state}")
    return first, samples


def child(arguments: list[str]) -> int:
    """Measuring half: the servers this interpreter's SDK is compared on, ``rounds`` alternating blocks each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--server", choices=("fake", "backend"), help="only this server (for profiling)")
    args = parser.parse_args(arguments)
    sdk = sdk_envs.sdk_in_use()
    servers = ("fake", "backend") if sdk == "published" else ("fake",)
    servers = (args.server,) if args.server else servers
    warm: dict[str, list[float]] = {server: [] for server in servers}
    first: dict[str, list[float]] = {server: [] for server in servers}
    for server in servers:
        measure_block(server, 1)  # warm-up: imports and gRPC's first channel are paid once per process
    for _ in range(args.rounds):
        for server in servers:
            cold, samples = measure_block(server, args.n)
            first[server].append(cold)
            warm[server].extend(samples)
    print(json.dumps({"sdk": sdk, "warm": warm, "first": first}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="orchestrations per stack and round (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--sdk", choices=("both", "published"), default="both")
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 1:
        parser.error("-n and --rounds must be at least 1")
    warm: dict[str, list[float]] = {}
    first: dict[str, list[float]] = {}
    sdks = ("published", "ours") if args.sdk == "both" else ("published",)
    for _ in range(args.rounds):  # one round per child, alternating the interpreters too
        for sdk in sdks:
            result = sdk_envs.run_child(sdk, Path(__file__), ["-n", str(args.n), "--rounds", "1"])
            for server, samples in result["warm"].items():
                warm.setdefault(f"{sdk}/{server}", []).extend(samples)
                first.setdefault(f"{sdk}/{server}", []).extend(result["first"][server])
    labels = {"published/fake": "published SDK on our fake", "published/backend": "published SDK on its backend (peer)",
              "ours/fake": "our SDK on our fake"}
    print(f"one 3-activity orchestration ({args.rounds} rounds x {args.n}; medians):")
    for key, label in labels.items():
        if key in warm:
            print(f"  {label:<38} warm {ms(median(warm[key])):>9}   first after start {ms(median(first[key])):>9}")
    peer = median(warm["published/backend"])
    published_ratio = median(warm["published/fake"]) / peer
    print(f"published SDK, our fake / its backend: {published_ratio:.2f}x (target <= {TARGET_PUBLISHED}x): "
          f"{verdict(published_ratio, TARGET_PUBLISHED)}")
    if "ours/fake" in warm:
        ours_ratio = median(warm["ours/fake"]) / peer
        print(f"our SDK on our fake / published SDK on its backend: {ours_ratio:.2f}x (target <= {TARGET_OURS}x): "
              f"{verdict(ours_ratio, TARGET_OURS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
