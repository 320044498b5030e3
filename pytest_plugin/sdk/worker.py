"""The adapter for the ``durabletask`` API (ours and the published SDK): the worker as ``durable_worker`` hands it out.

``DurableTestWorker`` *is* a ``TaskHubGrpcWorker`` of whichever of the two is installed (every SDK method works
unchanged); it adds ``start_with(...)`` to register functions and start in one call, and
``stub_activity``/``stub_orchestrator`` to replace a function by name with a test double. What it adds to the SDK's
object lives in one :class:`WorkerExtras` under one attribute. It is a :class:`~durabletask_pytest.seams.ManagedWorker`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from durabletask import worker as dt_worker

from .published import prepare_prompt_stop
from .stubs import _UNSET, Stub, StubKind, StubTable

# A stop that finishes within this is simply awaited (our SDK stops in about a millisecond).
FAST_STOP_SECONDS = 0.005
# How long a stop waits for the test's functions that are still running when it is called.
STOP_GRACE_SECONDS = 30.0


# The reconnect back-off a worker of the plugin uses against a fake: the fake is in the same process or on this
# machine, so after a dropped stream (an exploration's disconnect crash point) it is back at once.
FAST_RECONNECT_BASE_SECONDS = 0.01
FAST_RECONNECT_CAP_SECONDS = 0.05


def fast_reconnect_options() -> dict[str, Any]:
    """``resiliency_options`` for the installed SDK's worker with a back-off of tens of milliseconds.

    Empty when the SDK has no such options (the published SDK before they existed): its default back-off stays.
    Our SDK accepts and checks them but keeps its own back-off, which starts at 50 ms.
    """
    options = getattr(dt_worker, "GrpcWorkerResiliencyOptions", None)
    if options is None:
        return {}
    try:
        return {"resiliency_options": options(reconnect_backoff_base_seconds=FAST_RECONNECT_BASE_SECONDS,
                                              reconnect_backoff_cap_seconds=FAST_RECONNECT_CAP_SECONDS)}
    except TypeError:  # a version whose options have other fields
        return {}


_BACKGROUND_STOPS: set[threading.Thread] = set()
_BACKGROUND_STOPS_LOCK = threading.Lock()


def wait_for_background_stops(timeout: float) -> None:
    """Let SDK shutdowns still running in the background finish (bounded), e.g. before pytest closes its output."""
    with _BACKGROUND_STOPS_LOCK:
        pending = list(_BACKGROUND_STOPS)
    for thread in pending:
        thread.join(timeout)


@dataclass
class WorkerExtras:
    """What a DurableTestWorker keeps beside the SDK's own state."""

    stubs: StubTable = field(default_factory=StubTable)
    """The functions by name (real and stubbed) and the gate every call passes."""
    registered: dict[StubKind, set[str]] = field(default_factory=lambda: {"activity": set(), "orchestrator": set()})
    """The names registered with the SDK (each one a trampoline of the stub table)."""
    versioning: Any = None
    """The options given to ``use_versioning``, for the replay audit."""
    running: bool = False
    """Between ``start()`` and ``stop()`` (tracked here, so it reads the same with every SDK)."""


class DurableTestWorker(dt_worker.TaskHubGrpcWorker):
    """A TaskHubGrpcWorker connected to the test's sidecar, stopped automatically at teardown."""

    _durable: WorkerExtras

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._durable = WorkerExtras()
        super().__init__(*args, **kwargs)

    def register(
        self,
        orchestrators: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
    ) -> DurableTestWorker:
        """Register orchestrator and activity functions under their function names; returns the worker."""
        for orchestrator in _as_functions(orchestrators, "orchestrators"):
            self.add_orchestrator(orchestrator)
        for activity in _as_functions(activities, "activities"):
            self.add_activity(activity)
        return self

    def start_with(
        self,
        orchestrators: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
    ) -> DurableTestWorker:
        """Register the given functions and start the worker; returns the worker."""
        self.register(orchestrators=orchestrators, activities=activities)
        self.start()
        return self

    # -- registration goes through the stub table, so that any name can be stubbed later -------------------

    def add_orchestrator(self, fn: Callable[..., Any], **kwargs: Any) -> str:
        """Register an orchestrator (the SDK's method); returns its name."""
        return self._register("orchestrator", fn, kwargs)

    def add_activity(self, fn: Callable[..., Any], **kwargs: Any) -> str:
        """Register an activity (the SDK's method); returns its name."""
        return self._register("activity", fn, kwargs)

    def stub_activity(
        self,
        activity: str | Callable[..., Any],
        *,
        returns: Any = _UNSET,
        raises: BaseException | type[BaseException] | str | None = None,
        side_effect: Callable[..., Any] | None = None,
    ) -> Stub:
        """Replace the activity named ``activity`` (a name or the function) by a test double; returns the Stub.

        ``returns=value`` answers every call with ``value``; ``raises=exc`` fails every call with ``exc`` (an
        exception, its class, or a message); ``side_effect=f`` answers with ``f(call)`` (``call`` is a
        :class:`~durabletask_pytest.sdk.stubs.StubCall`; ``f`` may raise). With none of them it returns None. The
        stub's ``calls`` list what it received. Works before or after the real function is registered, or without
        it; a name not registered yet must be stubbed before ``start()``.
        """
        return self._stub("activity", activity, Stub(_name_of(activity), "activity", returns=returns,
                                                     raises=raises, side_effect=side_effect))

    def stub_orchestrator(
        self,
        orchestrator: str | Callable[..., Any],
        *,
        returns: Any = _UNSET,
        raises: BaseException | type[BaseException] | str | None = None,
        side_effect: Callable[..., Any] | None = None,
    ) -> Stub:
        """Replace the orchestrator named ``orchestrator`` (e.g. a sub-orchestrator) by a test double.

        The stubbed orchestration completes at once with ``returns`` (or fails with ``raises``, or answers with
        ``side_effect(call)``); its parent sees an ordinary completion or failure. Otherwise like
        :meth:`stub_activity`.
        """
        return self._stub("orchestrator", orchestrator, Stub(_name_of(orchestrator), "orchestrator",
                                                             returns=returns, raises=raises, side_effect=side_effect))

    def unstub(self, function: str | Callable[..., Any]) -> None:
        """Remove the stubs of this name (activity and orchestrator): the real function answers again."""
        name = _name_of(function)
        removed = [self._durable.stubs.remove_stub(kind, name) for kind in ("activity", "orchestrator")]
        if not any(removed):
            raise KeyError(f"no stub named {name!r} on this worker")

    @property
    def stubs(self) -> list[Stub]:
        """The stubs currently in place."""
        return list(self._durable.stubs.stubs())

    @property
    def stub_table(self) -> StubTable:
        """The worker's functions by name: real ones, stubs, and the gate every call passes."""
        return self._durable.stubs

    def _register(self, kind: StubKind, fn: Callable[..., Any], kwargs: dict[str, Any]) -> str:
        if kwargs.keys() - {"name"}:
            raise TypeError(f"add_{kind}() got unexpected keyword arguments {sorted(kwargs.keys() - {'name'})}")
        name = kwargs.get("name") or _name_of(fn)
        table = self._durable.stubs
        if table.has_real(kind, name):
            raise ValueError(f"A '{name}' {kind} already exists.")
        already_registered = name in self._registered_names(kind)  # by a stub, which stays in front
        if not already_registered:
            self._sdk_add(kind, table.trampoline(kind, name, fn))  # the SDK refuses first if it must
        table.set_real(kind, name, fn)
        return name

    def _stub(self, kind: StubKind, function: str | Callable[..., Any], stub: Stub) -> Stub:
        table = self._durable.stubs
        table.set_stub(stub)
        if stub.name not in self._registered_names(kind):
            if self.is_running:
                table.remove_stub(kind, stub.name)
                raise RuntimeError(
                    f"cannot stub the {kind} {stub.name!r} now: it was never registered and the worker is running; "
                    "stub it before start()")
            like = function if callable(function) else None
            self._sdk_add(kind, table.trampoline(kind, stub.name, like))
        return stub

    def _registered_names(self, kind: StubKind) -> set[str]:
        return self._durable.registered[kind]

    def _sdk_add(self, kind: StubKind, trampoline: Callable[..., Any]) -> None:
        if kind == "activity":
            super().add_activity(trampoline)
        else:
            super().add_orchestrator(trampoline)
        self._registered_names(kind).add(trampoline.__name__)

    def use_versioning(self, version: Any) -> None:
        """Apply versioning options (the SDK's method); remembered for the replay audit."""
        super().use_versioning(version)
        self._durable.versioning = version

    @property
    def versioning(self) -> Any:
        """The versioning options given to :meth:`use_versioning`, or None."""
        return self._durable.versioning

    def orchestrator_names(self) -> set[str]:
        """The orchestrator names registered on this worker (real functions or stubs)."""
        return set(self._registered_names("orchestrator"))

    def start(self) -> None:
        """Start the worker (the SDK's method)."""
        self._durable.stubs.reopen()
        super().start()
        self._durable.running = True

    def stop(self) -> None:
        """Stop the worker as the SDK does (waits for its shutdown); a no-op if it is not running.

        Work the worker had not finished is handed to the next worker by the sidecar, as after a real shutdown.
        With the published SDK the stop is made prompt (see ``published.py``); its log lines stay.
        """
        if not self.is_running:
            return
        self._durable.running = False
        prepare_prompt_stop(self, quiet=False)
        super().stop()

    def stop_for_teardown(self) -> None:
        """End of the test: stop the worker; a no-op if it is not running.

        From the first moment no function of the test can start any more: a work item that still reaches the
        worker fails without running the test's code, which is harmless only because the test is over (mid-test,
        use :meth:`stop`). The published SDK's stop is made prompt and silent (``published.py``): it returns
        once the calls still running ended and the SDK stopped. With an SDK of another shape whose stop is slow,
        it returns once none of the test's functions runs (bounded by ``STOP_GRACE_SECONDS``) and the rest of
        the SDK's shutdown goes on in the background.
        """
        if not self.is_running:
            return
        self._durable.running = False
        table = self._durable.stubs
        table.close()  # from here on, work items that still reach the worker run none of the test's code
        if prepare_prompt_stop(self, quiet=True):  # the published SDK: its stop now takes milliseconds
            super().stop()  # waits for the calls still running, as the stop below does
            return
        sdk_stop = super().stop
        stopped = threading.Event()

        def stop_sdk_worker() -> None:
            try:
                sdk_stop()
            finally:
                stopped.set()
                with _BACKGROUND_STOPS_LOCK:
                    _BACKGROUND_STOPS.discard(threading.current_thread())

        stopper = threading.Thread(target=stop_sdk_worker, name="durable-worker-stop", daemon=True)
        with _BACKGROUND_STOPS_LOCK:
            _BACKGROUND_STOPS.add(stopper)
        stopper.start()
        if not stopped.wait(FAST_STOP_SECONDS):
            table.wait_until_no_call_runs(STOP_GRACE_SECONDS)

    @property
    def is_running(self) -> bool:
        """True between ``start()`` and ``stop()`` (tracked here, so it reads the same with every SDK)."""
        return self._durable.running


def _name_of(function: str | Callable[..., Any]) -> str:
    if isinstance(function, str):
        if not function:
            raise ValueError("a stub needs a non-empty name")
        return function
    name = getattr(function, "__name__", None)
    if not name or name == "<lambda>":
        raise ValueError(f"cannot infer a name from {function!r}; pass the name as a string")
    return str(name)


def _as_functions(functions: Iterable[Callable[..., Any]], what: str) -> list[Callable[..., Any]]:
    if callable(functions):
        return [functions]
    items = list(functions)
    for item in items:
        if not callable(item):
            raise TypeError(f"{what} must be functions; got {item!r} ({type(item).__name__})")
    return items
