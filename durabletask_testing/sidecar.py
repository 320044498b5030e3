"""FakeSidecar: the in-memory Durable Task sidecar, served over gRPC on a local port."""

from __future__ import annotations

import threading
from concurrent import futures
from datetime import datetime, timedelta
from typing import Any

import grpc

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

from . import checks
from .clock import Clock
from .dialects import DEFAULT_DIALECT, check_dialect
from .engine import DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_WORK_ITEM_LEASE, Engine, SchedulePolicy
from .faults import FaultPlan
from .shell import (
    DEFAULT_HEALTH_PING_INTERVAL,
    WORKER_TAG_METADATA_KEY,
    Admission,
    ApiTokenInterceptor,
    FakeSidecarServicer,
    Limits,
    TaskHubInterceptor,
    check_task_hub,
)
from .views import EntitySnapshot, InstanceSnapshot

# Short RPCs (completions, start, raise, queries) run on a few threads: more threads only contend for the GIL
# (measured: with one 256-thread pool the fake used 7-17% more CPU in the chain and fan-out benchmarks). Work-item
# streams and long polls hold a thread for as long as they are open: each kind has a pool of its own (threads
# created lazily) and a limit of calls at once, so that neither can starve the other or the short RPCs.
SHORT_RPC_THREADS = 6
DEFAULT_MAX_WORK_ITEM_STREAMS = 256
DEFAULT_MAX_LONG_POLLS = 4096
# grpc core cancels calls that wait unrequested once 1,000 are pending (all of them beyond 3,000); a burst of
# thousands of calls must queue instead.
MAX_PENDING_CALLS = 1_000_000


class FakeSidecar:
    """An in-memory TaskHubSidecarService with a virtual clock and failure injection.

    Usage::

        with FakeSidecar(clock="manual") as sidecar:
            worker = TaskHubGrpcWorker(host_address=sidecar.address)
            ...
            sidecar.clock.advance(timedelta(hours=24))

    ``clock`` is ``"auto"`` (default), ``"manual"``, ``"real"`` or a :class:`Clock`. ``port=0`` picks a
    free port; read the result from :attr:`address` after :meth:`start`. ``max_long_polls`` and
    ``max_work_item_streams`` bound the calls of each kind served at once (more are refused with
    RESOURCE_EXHAUSTED); ``limits`` bounds strings and whole requests (:class:`~.shell.Limits`). A work
    item not completed within ``work_item_lease`` (a timedelta or seconds; None: never) is dispatched again.
    ``dialect="dapr"`` speaks Dapr Workflow's fork of the protocol (see :mod:`.dialects.dapr`).
    ``schedule`` (exploration, :class:`~durabletask_testing.exploration.ScheduleRunner`) decides the order and
    batching of orchestrator work items instead of first come, first served. ``task_hub`` names the one task hub
    it serves: a call whose ``taskhub`` header (what Durable Task Scheduler clients and workers send) names another
    is refused with NOT_FOUND; None (default) ignores the header (see :mod:`.shell.taskhub`).
    """

    def __init__(
        self,
        clock: str | Clock = "auto",
        host: str = "127.0.0.1",
        port: int = 0,
        start_time: datetime | None = None,
        api_token: str | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        *,
        health_ping_interval: float = DEFAULT_HEALTH_PING_INTERVAL,
        max_long_polls: int = DEFAULT_MAX_LONG_POLLS,
        max_work_item_streams: int = DEFAULT_MAX_WORK_ITEM_STREAMS,
        limits: Limits | None = None,
        work_item_lease: timedelta | float | None = DEFAULT_WORK_ITEM_LEASE,
        dialect: str = DEFAULT_DIALECT,
        schedule: SchedulePolicy | None = None,
        task_hub: str | None = None,
    ) -> None:
        self._dialect = check_dialect(dialect)
        self._task_hub = check_task_hub(task_hub) if task_hub is not None else None
        if isinstance(clock, Clock):
            if start_time is not None:
                raise ValueError("pass start_time to the Clock itself when giving a Clock object")
            self._clock = clock
        else:
            self._clock = Clock(clock, start_time)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer between 0 and 65535; got {port!r}")
        if api_token is not None and not api_token:
            raise ValueError("api_token must not be empty (use None for no token)")
        health_ping_interval = checks.seconds(health_ping_interval, "health_ping_interval", positive=True,
                                              maximum=checks.MAX_TIMEOUT_SECONDS)
        if work_item_lease is not None:
            work_item_lease = checks.duration(work_item_lease, "work_item_lease", positive=True,
                                              maximum=checks.MAX_TIMEOUT_SECONDS)
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._api_token = api_token
        self._ping_interval = health_ping_interval
        self._faults = FaultPlan()
        self._engine = Engine(
            self._clock,
            self._faults,
            max_payload_bytes=max_payload_bytes,
            work_item_lease=work_item_lease,
            schedule=schedule,
            # Dapr's workflow actors recreate a completed workflow; durabletask-go replaces only a FAILED one
            child_id_reuse="ended" if self._dialect == "dapr" else "failed",
            # Dapr stores each response's custom status, none included; durabletask-go keeps the last one sent
            custom_status_rule="last" if self._dialect == "dapr" else "kept",
        )
        self._limits = limits if limits is not None else Limits()
        self._max_request_bytes = self._limits.request_limit(max_payload_bytes)
        if self._max_request_bytes < max_payload_bytes:
            raise ValueError(
                f"limits.request_bytes ({self._max_request_bytes}) must be at least "
                f"max_payload_bytes ({max_payload_bytes})"
            )
        self._streams = Admission("work-item streams", max_work_item_streams, "fake-sidecar-stream")
        self._long_polls = Admission(
            "long polls (WaitForInstanceStart/WaitForInstanceCompletion)", max_long_polls, "fake-sidecar-wait"
        )
        self._servicer = FakeSidecarServicer(
            self._engine,
            health_ping_interval=health_ping_interval,
            streams=self._streams,
            long_polls=self._long_polls,
            limits=self._limits,
        )
        self._dapr: Any = None
        if self._dialect == "dapr":
            from .dialects.dapr import DaprService

            self._dapr = DaprService(self._servicer)
        self._server: grpc.Server | None = None
        self._pump_stop = threading.Event()
        self._pump: threading.Thread | None = None
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSidecar:
        """Bind the port and start serving (a few milliseconds). Returns self."""
        if self._server is not None:
            raise RuntimeError("this FakeSidecar is already started")
        if self._stopped:
            raise RuntimeError("a stopped FakeSidecar cannot be started again; create a new one")
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=SHORT_RPC_THREADS, thread_name_prefix="fake-sidecar"),
            interceptors=self._interceptors() or None,
            options=[
                ("grpc.max_receive_message_length", self._max_request_bytes),  # strings: checked with their path
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),
                ("grpc.server.max_pending_requests", MAX_PENDING_CALLS),
                ("grpc.server.max_pending_requests_hard_limit", MAX_PENDING_CALLS),
            ],
        )
        if self._dapr is not None:
            server.add_generic_rpc_handlers((self._dapr.handler(),))
        else:
            stubs.add_TaskHubSidecarServiceServicer_to_server(self._servicer, server)  # type: ignore[no-untyped-call]  # generated, untyped
        bind_host = f"[{self._host}]" if ":" in self._host and not self._host.startswith("[") else self._host
        try:
            port = server.add_insecure_port(f"{bind_host}:{self._requested_port}")
        except RuntimeError as error:
            raise RuntimeError(f"could not listen on {bind_host}:{self._requested_port}: {error}") from error
        if port == 0:
            raise RuntimeError(f"could not listen on {bind_host}:{self._requested_port}")
        server.start()
        self._server = server
        self._port = port
        if self._clock.mode == "real":
            self._pump = threading.Thread(
                target=self._engine.run_real_time_timers,
                args=(self._pump_stop,),
                name="fake-sidecar-timers",
                daemon=True,
            )
            self._pump.start()
        return self

    def _interceptors(self) -> list[grpc.ServerInterceptor]:
        interceptors: list[grpc.ServerInterceptor] = []
        if self._api_token:  # the token first: a caller without it learns nothing of the hub
            interceptors.append(self._token_interceptor(self._api_token))
        if self._task_hub is not None:
            interceptors.append(TaskHubInterceptor(self._task_hub))
        return interceptors

    def _token_interceptor(self, token: str) -> ApiTokenInterceptor:
        if self._dapr is not None:
            from .dialects.dapr import DaprApiTokenInterceptor

            return DaprApiTokenInterceptor(token)
        return ApiTokenInterceptor(token)

    def stop(self) -> None:
        """Stop serving: open work-item streams and long polls end at once. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._engine.shutdown()
        self._pump_stop.set()
        self._engine.wake_timer_pump()
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace=0).wait(5)
        self._streams.shutdown()
        self._long_polls.shutdown()
        if self._pump is not None:
            self._pump.join(5)
            self._pump = None

    def __enter__(self) -> FakeSidecar:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ properties

    @property
    def address(self) -> str:
        """``"host:port"`` to give the SDK's worker and client (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the FakeSidecar has not been started; call start() or use it as a context manager")
        host = f"[{self._host}]" if ":" in self._host and not self._host.startswith("[") else self._host
        return f"{host}:{self._port}"

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the FakeSidecar has not been started")
        return self._port

    @property
    def clock(self) -> Clock:
        """The fake's clock: ``now()``, ``advance(delta)``, ``advance_to(when)``."""
        return self._clock

    @property
    def faults(self) -> FaultPlan:
        """The fault plan consulted at the engine's decision points."""
        return self._faults

    @property
    def engine(self) -> Engine:
        """The underlying engine (for advanced tests)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """The protocol dialect served: ``"durabletask"`` or ``"dapr"``."""
        return self._dialect

    @property
    def task_hub(self) -> str | None:
        """The task hub this fake serves (calls naming another are refused), or None (the header is ignored)."""
        return self._task_hub

    @property
    def api_token(self) -> str | None:
        return self._api_token

    @property
    def limits(self) -> Limits:
        """The size limits on strings and requests (payloads: ``max_payload_bytes``)."""
        return self._limits

    @property
    def long_polls_in_flight(self) -> int:
        """WaitForInstanceStart/WaitForInstanceCompletion calls being served now."""
        return self._long_polls.in_flight

    @property
    def work_item_streams_in_flight(self) -> int:
        """GetWorkItems streams being served now."""
        return self._streams.in_flight

    @property
    def is_running(self) -> bool:
        return self._server is not None

    # ------------------------------------------------------------------ state

    def advertise_control(self, url: str | None) -> None:
        """Name the control API serving this fake in every Hello answer (``x-durabletask-testing-control``)."""
        self._servicer.control_url = url

    def reset(self) -> None:
        """Drop every instance, queue, timer and configured fault; rewind a virtual clock to its start."""
        self._faults.reset()
        self._engine.reset()

    # ------------------------------------------------------------------ workers kept between tests

    WORKER_TAG_METADATA_KEY = WORKER_TAG_METADATA_KEY
    """The GetWorkItems metadata key under which a worker names itself for :meth:`hold_worker`."""

    def hold_worker(self, worker_tag: str) -> None:
        """Hand no work item to the streams of the worker whose GetWorkItems metadata names ``worker_tag``; they
        stay connected (across :meth:`reset` too). A test harness keeps a connected worker so between tests."""
        if not worker_tag:
            raise ValueError("worker_tag must not be empty")
        self._engine.hold_worker(worker_tag)

    def release_worker(self, worker_tag: str) -> None:
        """Hand work items to the worker tagged ``worker_tag`` again (undoes :meth:`hold_worker`)."""
        self._engine.release_worker(worker_tag)

    def worker_busy(self, worker_tag: str) -> bool:
        """True while a stream of the worker tagged ``worker_tag`` holds a work item it has not completed."""
        return self._engine.worker_busy(worker_tag)

    def wait_until_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until no work is queued or running (orchestrations wait on timers or events). True if idle.

        ``timeout``: seconds, finite and not negative (at most :data:`~.checks.MAX_TIMEOUT_SECONDS`); None waits as
        long as it takes."""
        return self._engine.wait_until_idle(checks.timeout(timeout))

    def instances(self) -> list[InstanceSnapshot]:
        """Read-only snapshots of every instance, in creation order."""
        return self._engine.snapshots()

    def instance(self, instance_id: str) -> InstanceSnapshot | None:
        """A read-only snapshot of one instance, or None."""
        return self._engine.snapshot(instance_id)

    def entities(self) -> list[EntitySnapshot]:
        """Every entity with state, queued operations or a lock: state, lock holder and the operations it ran."""
        return self._engine.entities()

    def entity(self, entity_id: str) -> EntitySnapshot | None:
        """One entity (``@name@key``), or None."""
        return self._engine.entity(entity_id)

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        """Copies of the committed history events of an instance's current execution."""
        return self._engine.history(instance_id)

    def __repr__(self) -> str:
        where = self.address if self._port is not None else "not started"
        dialect = f", dialect={self._dialect!r}" if self._dialect != DEFAULT_DIALECT else ""
        hub = f", task_hub={self._task_hub!r}" if self._task_hub is not None else ""
        return f"FakeSidecar({where}, clock={self._clock.mode!r}{dialect}{hub})"
