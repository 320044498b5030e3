"""The adapter for the ``durabletask`` API (ours and the published SDK): the worker as ``durable_worker`` hands it out.

``DurableTestWorker`` *is* a ``TaskHubGrpcWorker`` of whichever of the two is installed (every SDK method works
unchanged); it adds ``start_with(...)`` to register functions and start in one call, and
``stub_activity``/``stub_orchestrator`` to replace a function by name with a test double. What it adds to the SDK's
object lives in one :class:`WorkerExtras` under one attribute. It is a :class:`~durabletask_pytest.seams.ManagedWorker`.

On a fake the plugin keeps between tests (``fixtures/reuse.py``), ``start()`` may borrow the connected SDK worker
an earlier test left instead of starting this one: the test's registrations (trampolines and entities, in the
SDK's registry) are copied into the borrowed worker's registry, whose old ones are dropped, so it runs exactly
this test's functions; the test's object keeps answering for it (stubs, ``is_running``, ``stop()``). A test that
changes anything else about its worker before ``start()`` (versioning, work-item filters, capabilities) gets its
own SDK worker. Registering after ``start()`` fails as the SDK's own check would.
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
    slot: Any = None
    """The kept fake's ``fixtures.reuse.WorkerSlot`` (None: this worker is never kept nor lent one)."""
    worker_tag: str = ""
    """The tag this worker's SDK sends on GetWorkItems (with a slot), by which the fake can hold its streams."""
    lent: DurableTestWorker | None = None
    """The kept worker whose SDK runs this test's functions, between ``start()`` and the end of the test."""
    sdk_started: bool = False
    """This object's own SDK worker was started (and not stopped since)."""
    own_config: bool = False
    """The test changed the worker beyond registrations (versioning, filters, capabilities): not lent, not kept."""


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
        self._refuse_when_lent("Activities" if kind == "activity" else "Orchestrators")
        if kind == "activity":
            super().add_activity(trampoline)
        else:
            super().add_orchestrator(trampoline)
        self._registered_names(kind).add(trampoline.__name__)

    def use_versioning(self, version: Any) -> None:
        """Apply versioning options (the SDK's method); remembered for the replay audit."""
        self._refuse_when_lent("Versioning options")
        super().use_versioning(version)
        self._durable.versioning = version
        self._durable.own_config = True

    def add_entity(self, fn: Any, name: str | None = None) -> str:
        """Register an entity (the SDK's method)."""
        self._refuse_when_lent("Entities")
        return str(super().add_entity(fn, name))

    def add_capability(self, capability: int) -> None:
        """Advertise a worker capability (the SDK's method)."""
        self._refuse_when_lent("Capabilities")
        self._durable.own_config = True
        super().add_capability(capability)

    def configure_scheduled_tasks(self) -> None:
        """Enable scheduled tasks (the SDK's method)."""
        self._refuse_when_lent("Scheduled tasks")
        self._durable.own_config = True
        super().configure_scheduled_tasks()

    def use_work_item_filters(self, *args: Any, **kwargs: Any) -> None:
        """Configure work-item filters (the SDK's method)."""
        self._refuse_when_lent("Work item filters")
        self._durable.own_config = True
        super().use_work_item_filters(*args, **kwargs)

    def _refuse_when_lent(self, what: str) -> None:
        if self._durable.lent is not None:
            raise RuntimeError(f"{what} cannot be changed while the worker is running.")

    @property
    def versioning(self) -> Any:
        """The versioning options given to :meth:`use_versioning`, or None."""
        return self._durable.versioning

    def orchestrator_names(self) -> set[str]:
        """The orchestrator names registered on this worker (real functions or stubs)."""
        return set(self._registered_names("orchestrator"))

    def start(self) -> None:
        """Start the worker (the SDK's method), or borrow the connected worker an earlier test left (see above)."""
        extras = self._durable
        if extras.running:
            if extras.lent is not None:
                raise RuntimeError("The worker is already running.")
            super().start()  # the SDK's own answer to a second start
            return
        extras.stubs.reopen()
        lent = self._borrow()
        if lent is not None:
            extras.lent = lent
        else:
            super().start()
            extras.sdk_started = True
        extras.running = True

    def _borrow(self) -> DurableTestWorker | None:
        """The kept worker of this test's fake, now running this test's registrations; None to start our own."""
        slot = self._durable.slot
        if slot is None or self._durable.own_config or self._durable.sdk_started:
            return None
        mine = _registry_maps(self)
        if mine is None:
            return None
        lent: DurableTestWorker | None = slot.borrow()
        if lent is None:
            return None
        theirs = _registry_maps(lent)
        if theirs is None or type(lent) is not type(self) or (
                type(getattr(lent, "_registry", None)) is not type(getattr(self, "_registry", None))):
            lent.shut_down_sdk()
            return None
        for name, registered in mine.items():
            theirs[name].clear()
            theirs[name].update(registered)
        return lent

    def stop(self) -> None:
        """Stop the worker as the SDK does (waits for its shutdown); a no-op if it is not running.

        Work the worker had not finished is handed to the next worker by the sidecar, as after a real shutdown.
        With the published SDK the stop is made prompt (see ``published.py``); its log lines stay.
        """
        if not self.is_running:
            return
        extras = self._durable
        extras.running = False
        lent, extras.lent = extras.lent, None
        if lent is not None:
            lent._stop_sdk(quiet=False)
            return
        extras.sdk_started = False
        self._stop_sdk(quiet=False)

    def _stop_sdk(self, quiet: bool) -> None:
        """This object's SDK worker: stop it (made prompt for the published SDK, see ``published.py``)."""
        prepare_prompt_stop(self, quiet=quiet)
        dt_worker.TaskHubGrpcWorker.stop(self)

    def lend_through(self, slot: Any, worker_tag: str) -> None:
        """Borrow and leave kept workers through ``slot`` (a ``fixtures.reuse.WorkerSlot``); this worker's SDK
        sends ``worker_tag`` on GetWorkItems (the caller put it in the worker's metadata)."""
        self._durable.slot = slot
        self._durable.worker_tag = worker_tag

    @property
    def worker_tag(self) -> str:
        """The tag under which this worker's SDK connects (empty: the fake cannot hold it)."""
        return self._durable.worker_tag

    def shut_down_sdk(self) -> None:
        """Stop this object's SDK worker promptly and silently (a kept worker no test uses any more)."""
        self._durable.stubs.close()
        self._stop_sdk(quiet=True)

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
        extras = self._durable
        extras.running = False
        table = extras.stubs
        table.close()  # from here on, work items that still reach the worker run none of the test's code
        lent, extras.lent = extras.lent, None
        carrier = lent if lent is not None else (self if extras.sdk_started and not extras.own_config else None)
        if carrier is not None and extras.slot is not None:
            table.wait_until_no_call_runs(STOP_GRACE_SECONDS)
            if extras.slot.keep(carrier):  # kept, connected and held, for the next test
                return
        if lent is not None:  # the rest stops a worker of this object's own SDK
            table.wait_until_no_call_runs(STOP_GRACE_SECONDS)
            lent._stop_sdk(quiet=True)
            return
        extras.sdk_started = False
        if prepare_prompt_stop(self, quiet=True):  # the published SDK: its stop now takes milliseconds
            dt_worker.TaskHubGrpcWorker.stop(self)  # waits for the calls still running, as the stop below does
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


def _registry_maps(worker: Any) -> dict[str, dict[str, Any]] | None:
    """The SDK's name -> function maps of ``worker`` (both SDKs keep them in ``_registry``); None for another
    shape, which is then never lent nor kept."""
    registry = getattr(worker, "_registry", None)
    maps = {name: getattr(registry, name, None) for name in ("orchestrators", "activities", "entities")}
    if not all(isinstance(found, dict) for found in maps.values()) or getattr(registry, "versioning", None):
        return None
    return {name: found for name, found in maps.items() if isinstance(found, dict)}


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
