"""Test doubles for activities and orchestrators, swapped in by name on the test's worker.

``durable_worker.stub_activity("charge", returns=42)`` makes every call of the activity ``charge`` return 42
(``raises=`` makes it fail, ``side_effect=`` runs a function of the :class:`StubCall`), without touching the code
under test, whether the real function was registered before, after, or never. The returned :class:`Stub`
records every call it received: input, attempt, time and where it came from.

How: the worker registers, under each name, a small trampoline of the same kind (plain, ``async`` or generator
function, with the real function's signature and annotations, so the SDK deserializes inputs as it would for the
real one); the trampoline calls whatever is current for that name. This works with any Durable Task SDK whose
worker has ``add_activity(fn)``/``add_orchestrator(fn)`` and names functions by ``__name__`` (ours and the
published ``durabletask``), and on a real sidecar too, because it happens in the worker.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from .gate import CallGate

StubKind = Literal["activity", "orchestrator"]
_UNSET: Any = object()


@dataclass(frozen=True)
class StubCall:
    """One call a stub received."""

    name: str
    input: Any
    """The input as the SDK deserialized it for the function (None when there was none)."""
    instance_id: str
    """The orchestration instance that called the activity, or the instance of the stubbed orchestrator."""
    attempt: int
    """1 for the first call of this activity task (instance, task id) or orchestrator instance, then 2, 3 ..."""
    time: datetime
    """Virtual time of the test's fake sidecar when the call ran (wall-clock UTC on an external sidecar)."""
    task_id: int | None = None
    """The activity's task id in its orchestration (None for orchestrators)."""


class StubbedError(Exception):
    """Raised by a stub given ``raises=<message string>``."""


class Stub:
    """What one stubbed name does when called, and the calls it received (thread-safe)."""

    def __init__(
        self,
        name: str,
        kind: StubKind,
        *,
        returns: Any = _UNSET,
        raises: BaseException | type[BaseException] | str | None = None,
        side_effect: Callable[[StubCall], Any] | None = None,
    ) -> None:
        given = [returns is not _UNSET, raises is not None, side_effect is not None]
        if sum(given) > 1:
            raise ValueError(f"stub {name!r}: give at most one of returns=, raises= and side_effect=")
        if side_effect is not None and not callable(side_effect):
            raise TypeError(f"stub {name!r}: side_effect must be a function of the StubCall; got {side_effect!r}")
        if raises is not None and not isinstance(raises, (str, BaseException)) and not (
            isinstance(raises, type) and issubclass(raises, BaseException)
        ):
            raise TypeError(f"stub {name!r}: raises= takes an exception, an exception class or a message")
        self.name = name
        self.kind: StubKind = kind
        self._returns = None if returns is _UNSET else returns
        self._raises = raises
        self._side_effect = side_effect
        self._calls: list[StubCall] = []
        self._lock = threading.Lock()

    @property
    def calls(self) -> list[StubCall]:
        """Every call received so far, in order."""
        with self._lock:
            return list(self._calls)

    @property
    def call_count(self) -> int:
        """How many calls were received so far."""
        with self._lock:
            return len(self._calls)

    @property
    def inputs(self) -> list[Any]:
        """The input of every call so far, in order."""
        return [call.input for call in self.calls]

    def _attempt_of(self, instance_id: str, task_id: int | None) -> int:
        with self._lock:
            return 1 + sum(1 for c in self._calls if (c.instance_id, c.task_id) == (instance_id, task_id))

    def _record(self, call: StubCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _outcome(self, call: StubCall) -> Any:
        if self._side_effect is not None:
            return self._side_effect(call)
        if isinstance(self._raises, str):
            raise StubbedError(self._raises)
        if self._raises is not None:
            raise self._raises
        return self._returns

    def __repr__(self) -> str:
        return f"Stub({self.kind} {self.name!r}, {self.call_count} call(s))"


class WorkerStoppedError(RuntimeError):
    """A work item reached a test's worker after its teardown began; the function was not run."""


class StubTable:
    """The worker's functions by name: the real one, the stub that replaces it (if any), and a gate.

    Every call passes through here, so the table also knows how many calls are running; once ``close()`` is
    called no new call starts, which is what lets a test's teardown return without waiting for the SDK's own
    (sometimes slow) shutdown while guaranteeing that none of the test's functions runs after it.
    """

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._real: dict[tuple[StubKind, str], Callable[..., Any]] = {}
        self._stubs: dict[tuple[StubKind, str], Stub] = {}
        self._lock = threading.Lock()
        self._gate = CallGate()
        self._trampolines: dict[tuple[StubKind, str, int], tuple[Any, Callable[..., Any]]] = {}

    def close(self) -> None:
        """Refuse every later call (they fail with WorkerStoppedError)."""
        self._gate.close()

    def reopen(self) -> None:
        """Accept calls again (the worker was started again)."""
        self._gate.reopen()

    def wait_until_no_call_runs(self, timeout: float) -> bool:
        """Block until no call is running (or ``timeout`` seconds passed); True when none runs."""
        return self._gate.wait_until_no_call_runs(timeout)

    def _enter(self, kind: StubKind, name: str) -> None:
        if not self._gate.enter():
            raise WorkerStoppedError(f"{kind} {name!r} was not run: the test's worker is stopping")

    def _leave(self) -> None:
        self._gate.leave()

    def set_clock(self, now: Callable[[], datetime]) -> None:
        """Read call times from ``now`` (the fake sidecar's virtual clock)."""
        self._now = now

    def has(self, kind: StubKind, name: str) -> bool:
        """True once a real function or a stub is known under this name."""
        with self._lock:
            return (kind, name) in self._real or (kind, name) in self._stubs

    def has_real(self, kind: StubKind, name: str) -> bool:
        """True once the real function of this name was registered."""
        with self._lock:
            return (kind, name) in self._real

    def set_real(self, kind: StubKind, name: str, fn: Callable[..., Any]) -> None:
        with self._lock:
            self._real[(kind, name)] = fn

    def real(self, kind: StubKind, name: str) -> Callable[..., Any] | None:
        """The real function registered under this name, or None."""
        with self._lock:
            return self._real.get((kind, name))

    def is_stubbed(self, kind: StubKind, name: str) -> bool:
        """True while a stub replaces this name."""
        with self._lock:
            return (kind, name) in self._stubs

    def set_stub(self, stub: Stub) -> None:
        with self._lock:
            self._stubs[(stub.kind, stub.name)] = stub

    def remove_stub(self, kind: StubKind, name: str) -> Stub | None:
        with self._lock:
            return self._stubs.pop((kind, name), None)

    def stubs(self) -> Iterator[Stub]:
        with self._lock:
            return iter(list(self._stubs.values()))

    def _current(self, kind: StubKind, name: str) -> Stub | Callable[..., Any]:
        with self._lock:
            stub = self._stubs.get((kind, name))
            if stub is not None:
                return stub
            real = self._real.get((kind, name))
        if real is None:
            raise LookupError(f"{kind} {name!r}: its stub was removed and no real function is registered")
        return real

    def call_activity(self, name: str, ctx: Any, activity_input: Any) -> Any:
        """Call what answers for the activity ``name`` now: its stub (recording the call; ``ctx`` gives the caller's
        ``orchestration_id`` and ``task_id``), else its real function. For workers that are not trampolines."""
        return self._call_activity(name, ctx, activity_input)

    def _call_activity(self, name: str, ctx: Any, activity_input: Any) -> Any:
        target = self._current("activity", name)
        if not isinstance(target, Stub):
            return target(ctx, activity_input)
        instance_id = str(getattr(ctx, "orchestration_id", ""))
        task_id = getattr(ctx, "task_id", None)
        call = StubCall(name=name, input=activity_input, instance_id=instance_id,
                        attempt=target._attempt_of(instance_id, task_id), time=self._now(), task_id=task_id)
        target._record(call)
        return target._outcome(call)

    def _call_orchestrator(self, name: str, ctx: Any, orchestration_input: Any) -> Any:
        target = self._current("orchestrator", name)
        if not isinstance(target, Stub):
            return target(ctx, orchestration_input)
        instance_id = str(getattr(ctx, "instance_id", ""))
        when = getattr(ctx, "current_utc_datetime", None) or self._now()
        call = StubCall(name=name, input=orchestration_input, instance_id=instance_id,
                        attempt=target._attempt_of(instance_id, None), time=when)
        target._record(call)
        return target._outcome(call)

    def trampoline(self, kind: StubKind, name: str, like: Callable[..., Any] | None) -> Callable[..., Any]:
        """A function registered under ``name`` that calls whatever is current for it, of the same kind as ``like``.

        The same function object for the same arguments (the worker's registration and the replay audit's), so the
        SDK's memo of what it read from its signature serves both."""
        key = (kind, name, id(like))
        with self._lock:
            known = self._trampolines.get(key)
        if known is not None and known[0] is like:
            return known[1]
        if kind == "activity":
            made = self._activity_trampoline(name, like)
        else:
            made = self._orchestrator_trampoline(name, like)
        with self._lock:
            self._trampolines[key] = (like, made)
        return made

    def _activity_trampoline(self, name: str, like: Callable[..., Any] | None) -> Callable[..., Any]:
        call, enter, leave = self._call_activity, self._enter, self._leave
        if like is not None and inspect.iscoroutinefunction(like):

            async def async_activity(ctx: Any, activity_input: Any = None) -> Any:
                enter("activity", name)
                try:
                    result = call(name, ctx, activity_input)
                    return await result if inspect.isawaitable(result) else result
                finally:
                    leave()

            return _named(async_activity, name, like)

        def activity(ctx: Any, activity_input: Any = None) -> Any:
            enter("activity", name)
            try:
                return call(name, ctx, activity_input)
            finally:
                leave()

        return _named(activity, name, like)

    def _orchestrator_trampoline(self, name: str, like: Callable[..., Any] | None) -> Callable[..., Any]:
        call, enter, leave = self._call_orchestrator, self._enter, self._leave
        if like is not None and inspect.iscoroutinefunction(like):
            # Orchestrators must be generator functions; stay async so that the SDK refuses it as it would the
            # real one (the call is never awaited by a correct SDK).

            async def async_orchestrator(ctx: Any, orchestration_input: Any = None) -> Any:
                return await call(name, ctx, orchestration_input)

            return _named(async_orchestrator, name, like)
        if like is not None and not inspect.isgeneratorfunction(like):

            def plain_orchestrator(ctx: Any, orchestration_input: Any = None) -> Any:
                enter("orchestrator", name)
                try:
                    return call(name, ctx, orchestration_input)
                finally:
                    leave()

            return _named(plain_orchestrator, name, like)

        def orchestrator(ctx: Any, orchestration_input: Any = None) -> Any:
            # The gate is checked once per work item (the SDK replays from this call each time); the steps of
            # the generator are replay-safe orchestrator code, not counted as running calls.
            enter("orchestrator", name)
            try:
                result = call(name, ctx, orchestration_input)
            finally:
                leave()
            if isinstance(result, types.GeneratorType):
                return (yield from result)
            return result

        return _named(orchestrator, name, like)


def _named(trampoline: Callable[..., Any], name: str, like: Callable[..., Any] | None) -> Callable[..., Any]:
    if like is not None:
        functools.update_wrapper(trampoline, like)  # signature and annotations: the SDK types inputs from them
    trampoline.__name__ = name
    trampoline.__qualname__ = name
    return trampoline
