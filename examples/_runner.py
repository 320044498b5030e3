"""Shared plumbing for the examples: run a scenario on an embedded fake sidecar or on a real one.

Every example calls :func:`run_example` with two functions of its own:

* ``register(worker)`` adds the example's orchestrators and activities to a worker (and may configure
  versioning on it);
* ``scenario(run)`` drives the story with ``run.client`` and prints what happens.

By default the example starts an in-process :class:`durabletask_testing.FakeSidecar` (no Docker, no
separate process). ``--host HOST:PORT`` points the same worker and client at a real sidecar instead, for
example durabletask-go or Dapr. Examples whose story needs the virtual clock look at :attr:`ExampleRun.fake`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from durabletask import client, worker
from durabletask.client import OrchestrationState, OrchestrationStatus
from durabletask_testing import FakeSidecar

Register = Callable[[worker.TaskHubGrpcWorker], None]


@dataclass
class ExampleRun:
    """What a scenario gets: a connected client and, when running embedded, the fake sidecar."""

    client: client.TaskHubGrpcClient
    address: str
    fake: FakeSidecar | None = None
    started_wall: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def on_fake(self) -> bool:
        """True when the example runs on the embedded fake (virtual clock and inspection available)."""
        return self.fake is not None

    def now(self) -> datetime:
        """The sidecar's notion of 'now': virtual time on the fake, wall time on a real sidecar."""
        if self.fake is not None:
            return self.fake.clock.now()
        return datetime.now(timezone.utc)

    def wait_for_status(
        self, instance_id: str, status: OrchestrationStatus, timeout: float = 10.0
    ) -> OrchestrationState:
        """Wait until the instance reports ``status`` (e.g. SUSPENDED, which shows once the worker saw it)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.fake is not None:  # let the fake finish what is queued before looking
                self.fake.wait_until_idle(timeout=max(0.0, deadline - time.monotonic()))
            state = self.client.get_orchestration_state(instance_id)
            if state is not None and state.runtime_status == status:
                return state
            if time.monotonic() >= deadline:
                seen = state.runtime_status.name if state is not None else "no such instance"
                raise TimeoutError(f"instance {instance_id} did not reach {status.name} in {timeout} s ({seen})")
            time.sleep(0.01)

    def start_worker(self, register: Register, **worker_options: Any) -> worker.TaskHubGrpcWorker:
        """Start an additional worker (e.g. an older deployment) on the same sidecar; stop it yourself."""
        extra = worker.TaskHubGrpcWorker(host_address=self.address, **worker_options)
        register(extra)
        extra.start()
        return extra


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line every example shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--host",
        metavar="HOST:PORT",
        default=None,
        help="address of a running Durable Task sidecar; without it an embedded fake sidecar is used",
    )
    return parser.parse_args(argv)


def describe_duration(duration: timedelta) -> str:
    """Render a duration for the stories the examples print: '30 days', '1 day', '6 hours', '7 seconds'."""
    seconds = round(duration.total_seconds())
    for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds and seconds % unit_seconds == 0:
            count = seconds // unit_seconds
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "0 seconds"


def describe_elapsed(start: datetime, end: datetime) -> str:
    """Render the time between two instants with :func:`describe_duration`."""
    return describe_duration(end - start)


def run_example(
    description: str,
    register: Register,
    scenario: Callable[[ExampleRun], None],
    *,
    clock: str = "auto",
    argv: Sequence[str] | None = None,
    client_options: dict[str, Any] | None = None,
) -> int:
    """Run ``scenario`` with a worker carrying ``register``'s functions; return a process exit code.

    ``clock`` chooses the embedded fake's clock mode ("auto" skips ahead to due timers while the client
    waits for completion, "manual" moves only when told, "real" is wall time). It is ignored with ``--host``.
    """
    args = parse_args(description, argv)
    print(description)
    if args.host:
        print(f"Using the sidecar at {args.host}.")
        _run_with_sidecar(args.host, None, register, scenario, client_options or {})
        return 0
    with FakeSidecar(clock=clock) as fake:
        print(f"Using an embedded fake sidecar at {fake.address} (clock: {clock}).")
        _run_with_sidecar(fake.address, fake, register, scenario, client_options or {})
    return 0


def _run_with_sidecar(
    address: str,
    fake: FakeSidecar | None,
    register: Register,
    scenario: Callable[[ExampleRun], None],
    client_options: dict[str, Any],
) -> None:
    """Start a worker and a client on ``address``, run the scenario, and shut both down."""
    task_worker = worker.TaskHubGrpcWorker(host_address=address)
    register(task_worker)
    task_client = client.TaskHubGrpcClient(host_address=address, **client_options)
    task_worker.start()
    try:
        scenario(ExampleRun(client=task_client, address=address, fake=fake))
    finally:
        task_worker.stop()
        task_client.close()
