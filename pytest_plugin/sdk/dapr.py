"""The adapter for Dapr Workflow apps: the app's own ``WorkflowRuntime`` and ``DaprWorkflowClient`` on the fake.

What the ``dapr_workflow_runtime`` fixture hands out is a real ``dapr.ext.workflow.WorkflowRuntime`` (wrapped to
register the test's workflows and activities and to start within a bounded time) and ``dapr_workflow_client`` a
real ``DaprWorkflowClient``, both connected to this test's sidecar: the in-process fake speaking the Dapr dialect,
or, with ``--durabletask-sidecar``, a Dapr sidecar (or a ``serve --dialect dapr`` CLI fake). The fake runs in the
test's process: its protocol bindings live under their own proto package, so they load beside Dapr's.
``durable_clock``, ``durable_faults``, ``durable_sidecar`` and the failure report work as with any SDK. The runtime
is a :class:`~durabletask_pytest.seams.ManagedWorker` that registers nothing through a stub table (the replay
audit leaves Dapr workflows alone).

Every call the runtime's SDK makes to the sidecar passes a :class:`DaprCallGate` (a gRPC client interceptor). At
shutdown the gate closes first, the calls already on their way end (bounded by ``DRAIN_TIMEOUT_SECONDS``), and
only then is the SDK's runtime shut down: Dapr 1.18's ``WorkflowRuntime.shutdown()`` closes its channel at once,
and a result sent on it at that moment (an activity finishing during the teardown) crashed grpcio (SIGSEGV). A
result that becomes ready after the gate closed is not sent; the SDK reads that as a closed channel, and the
sidecar dispatches the work item again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from .gate import CallGate

if TYPE_CHECKING:
    from datetime import timedelta

    from .stubs import StubTable

DAPR_FIXTURES = ("dapr_workflow_runtime", "dapr_workflow_client")
START_TIMEOUT_SECONDS = 10.0
DRAIN_TIMEOUT_SECONDS = 10.0  # how long shutdown waits for the calls already on their way to the sidecar


def uses_dapr(fixture_names: Iterable[str]) -> bool:
    """True when a test asks for a Dapr fixture (its fake then speaks the Dapr dialect)."""
    return any(name in DAPR_FIXTURES for name in fixture_names)


def _host_and_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), port


def _import_workflow_sdk() -> Any:
    try:
        import dapr.ext.workflow as wf
    except ImportError as error:  # pragma: no cover - depends on the environment
        pytest.fail(f"the dapr_* fixtures need Dapr Workflow's SDK (pip install dapr): {error}", pytrace=False)
    return wf


def _fresh_registration(fn: Callable[..., Any], flag: str, name: str | None) -> dict[str, str]:
    """Let ``fn`` be registered in this test's runtime although an earlier one registered it.

    Dapr's SDK marks a registered function (``fn._workflow_registered``) and refuses it in any later runtime of
    the process; each test has a runtime of its own, as each process of an app has. The mark is cleared; the
    name the function was first registered under is kept (Dapr refuses a second, different one).
    """
    attributes = getattr(fn, "__dict__", None)
    if isinstance(attributes, dict):
        attributes.pop(flag, None)
        if name is not None and attributes.get("_dapr_alternate_name") == name:
            return {}
    return {"name": name} if name else {}


class RuntimeStoppingError(ValueError):
    """A call of the runtime's SDK refused because the runtime is shutting down.

    A ``ValueError``, as grpcio raises for a call on a closed channel: Dapr's SDK takes it for one and leaves the
    work item to the sidecar, which dispatches it again.
    """


class DaprCallGate(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    """Counts the SDK's calls to the sidecar while they run; once closed, refuses new ones before they reach the
    channel (:class:`RuntimeStoppingError`).

    A unary call counts until its response (or error) arrived; a streaming call (``GetWorkItems``) only while it is
    being opened, since it runs until the channel closes.
    """

    def __init__(self) -> None:
        self.gate = CallGate()

    def _admit(self, details: Any) -> None:
        if not self.gate.enter():
            method = str(getattr(details, "method", "a call"))
            raise RuntimeStoppingError(f"{method} was not sent: the test's Dapr workflow runtime is shutting down")

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        self._admit(details)
        try:
            outcome = continuation(details, request)
        except BaseException:
            self.gate.leave()
            raise
        done = getattr(outcome, "done", None)
        if callable(done) and not done():  # a call made with .future(): it ends later
            outcome.add_done_callback(lambda _: self.gate.leave())
        else:
            self.gate.leave()
        return outcome

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        self._admit(details)
        try:
            return continuation(details, request)
        finally:
            self.gate.leave()


def stop_after_drain(gate: CallGate, stop: Callable[[], None], timeout: float) -> bool:
    """Close ``gate``, wait until none of its calls runs (at most ``timeout`` s), then ``stop()``.

    Returns True when the calls ended in time. ``stop()`` is called either way, so a call that never ends delays
    the shutdown by ``timeout`` and no more.
    """
    gate.close()
    drained = gate.wait_until_no_call_runs(timeout)
    stop()
    return drained


class DaprTestRuntime:
    """A Dapr ``WorkflowRuntime`` for one test: register, then :meth:`start` (bounded); shut down at teardown.

    Anything else is forwarded to the real runtime (``.runtime``), so ``@dapr_workflow_runtime.workflow``
    and ``register_versioned_workflow`` work as in an app.
    """

    def __init__(self, address: str, start_timeout: float = START_TIMEOUT_SECONDS,
                 drain_timeout: float = DRAIN_TIMEOUT_SECONDS) -> None:
        wf = _import_workflow_sdk()
        host, port = _host_and_port(address)
        self._start_timeout = start_timeout
        self._drain_timeout = drain_timeout
        self.calls = DaprCallGate()
        self.runtime = wf.WorkflowRuntime(host=host, port=port, worker_ready_timeout=start_timeout,
                                          interceptors=[self.calls])
        self.is_running = False

    def register_workflow(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        self.runtime.register_workflow(fn, **_fresh_registration(fn, "_workflow_registered", name))

    def register_activity(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        self.runtime.register_activity(fn, **_fresh_registration(fn, "_activity_registered", name))

    def start(self) -> None:
        """Start the runtime; fails the test (never hangs it) if its stream is not ready within the timeout."""
        failures: list[BaseException] = []
        started = threading.Event()

        def run() -> None:
            try:
                self.runtime.start()
            except BaseException as error:  # noqa: BLE001 - reported to the test below
                failures.append(error)
            finally:
                started.set()

        self.calls.gate.reopen()
        self.is_running = True  # from here on, shutdown() stops it, even if start() never returns
        threading.Thread(target=run, name="dapr-workflow-runtime-start", daemon=True).start()
        if not started.wait(self._start_timeout + 5):
            pytest.fail(f"WorkflowRuntime.start() did not return within {self._start_timeout + 5:g} s", pytrace=False)
        if failures:
            pytest.fail(f"WorkflowRuntime.start() failed: {failures[0]!r}", pytrace=False)

    def start_with(self, workflows: Iterable[Callable[..., Any]] = (),
                   activities: Iterable[Callable[..., Any]] = ()) -> DaprTestRuntime:
        """Register ``workflows`` and ``activities``, then :meth:`start`; returns self."""
        for workflow in workflows:
            self.register_workflow(workflow)
        for activity in activities:
            self.register_activity(activity)
        self.start()
        return self

    def shutdown(self) -> None:
        """Stop taking work (idempotent): no call of the SDK reaches the sidecar any more, the calls already on their
        way end (at most ``drain_timeout`` s), then the SDK's runtime shuts down."""
        if self.is_running:
            self.is_running = False
            stop_after_drain(self.calls.gate, self.runtime.shutdown, self._drain_timeout)

    def stop(self) -> None:
        """The same as :meth:`shutdown` (what the plugin calls on every worker it manages)."""
        self.shutdown()

    @property
    def stub_table(self) -> StubTable | None:
        """None: Dapr workflows are registered with the runtime directly."""
        return None

    def orchestrator_names(self) -> set[str]:
        """None of the workflows: the replay audit does not replay Dapr workflows."""
        return set()

    @property
    def versioning(self) -> Any:
        """None: versioning is part of each workflow's registration in Dapr."""
        return None

    @property
    def maximum_timer_interval(self) -> timedelta | None:
        """None: the audit does not replay Dapr workflows."""
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runtime, name)


@contextmanager
def open_dapr_runtime(address: str) -> Iterator[DaprTestRuntime]:
    """A DaprTestRuntime on the sidecar at ``address``, shut down on exit."""
    runtime = DaprTestRuntime(address)
    try:
        yield runtime
    finally:
        runtime.shutdown()


@contextmanager
def open_dapr_client(address: str) -> Iterator[Any]:
    """A Dapr ``DaprWorkflowClient`` connected to ``address``, closed on exit (Dapr 1.19 and later have close())."""
    wf = _import_workflow_sdk()
    host, port = _host_and_port(address)
    client = wf.DaprWorkflowClient(host=host, port=port)
    try:
        yield client
    finally:
        close = getattr(client, "close", None)  # Dapr's object: its 1.18 client has no close()
        if callable(close):
            close()
