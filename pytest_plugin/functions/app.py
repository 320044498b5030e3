"""``durable_functions``: an Azure Durable Functions app running on the test's sidecar.

:func:`open_functions` starts a ``FunctionsHost`` (``durabletask_testing.functions``) for the app on the sidecar
of the test, so ``durable_clock``, ``durable_faults``, golden timelines and the failure report see its instances as
any other, and yields the :class:`DurableFunctions` the test receives: the app's own ``DurableOrchestrationClient``
bound to the fake, its HTTP-triggered functions, waiting, activity stubs and a responder for durable HTTP calls.
The same object is the :class:`~durabletask_pytest.seams.ManagedFunctionsApp` the replay audit replays through
(and whose app spec its hash-seed pass hands fresh processes).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ..sdk.stubs import Stub, StubTable

if TYPE_CHECKING:
    from durabletask_testing.functions import FunctionsHost

T = TypeVar("T")
_UNSET: Any = object()


class FunctionsSetupError(Exception):
    """The app cannot run on the test's sidecar (not importable, not an app, the SDK missing); says why."""


class DurableFunctions:
    """What the ``durable_functions`` fixture hands a test: the app's client, its HTTP functions, waiting, stubs."""

    def __init__(self, host: FunctionsHost, sidecar: Any, now: Callable[[], datetime] | None = None,
                 spec: str | None = None) -> None:
        self.host = host
        self.sidecar = sidecar
        self._spec = spec  # "module:attribute" when the test named the app so
        self._client: Any = None
        self._stubs = StubTable(now=now)  # stub calls are stamped with the fake's time (wall time elsewhere)

    # -- the app's own client and HTTP functions ---------------------------------------------------

    @property
    def client(self) -> Any:
        """A real ``DurableOrchestrationClient`` bound to the fake: ``await`` its methods in an async test, or pass
        the coroutines to :meth:`run` in a plain one."""
        if self._client is None:
            self._client = self.host.client()
        return self._client

    @property
    def management_url(self) -> str:
        """The base URL of the management API the fake serves for this app (the host's, in Azure)."""
        return self.host.management_url

    def call_http(self, function_name: str, method: str = "GET", *, route_params: dict[str, str] | None = None,
                  params: dict[str, str] | None = None, body: Any = None, headers: dict[str, str] | None = None,
                  timeout: float = 60.0) -> Any:
        """Invoke the HTTP-triggered function ``function_name`` (its name or its route) as the host would, its
        ``durable_client_input`` wired to the fake; its ``azure.functions.HttpResponse``."""
        return self.host.call_http(function_name, method, route_params, params, body, headers, timeout)

    async def call_http_async(self, function_name: str, method: str = "GET", *,
                              route_params: dict[str, str] | None = None, params: dict[str, str] | None = None,
                              body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """:meth:`call_http` for async tests."""
        return await self.host.call_http_async(function_name, method, route_params, params, body, headers)

    def instance_id_of(self, response: Any) -> str:
        """The instance id in a ``create_check_status_response`` answer."""
        return str(json.loads(response.get_body())["id"])

    def start(self, orchestrator: str, input: Any = None, instance_id: str | None = None) -> str:
        """Start ``orchestrator`` through the client, as the app's own code would; its instance id."""
        return str(self.run(self.client.start_new(orchestrator, instance_id, input)))

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Raise ``event_name`` on the instance through the client."""
        self.run(self.client.raise_event(instance_id, event_name, data))

    def wait_for_completion(self, instance_id: str, timeout: float = 30.0) -> Any:
        """Wait until the instance ends (the auto clock jumps over its timers meanwhile); the client's
        ``DurableOrchestrationStatus`` of it. TimeoutError naming the instance when it does not end in time."""
        return self.host.wait_for_completion(instance_id, timeout=timeout)

    def get_status(self, instance_id: str, show_history: bool = False) -> Any:
        """The client's ``DurableOrchestrationStatus`` of the instance now."""
        return self.host.get_status(instance_id, show_history)

    def run(self, awaitable: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a client coroutine from a plain (non-async) test; its result."""
        return self.host.run(awaitable, timeout)

    # -- test doubles --------------------------------------------------------------------------------

    def stub_activity(self, name: str, *, returns: Any = _UNSET,
                      raises: BaseException | type[BaseException] | str | None = None,
                      side_effect: Callable[[Any], Any] | None = None) -> Stub:
        """Replace the app's activity ``name`` by a test double (before or after instances start), as
        ``durable_worker.stub_activity`` does: ``returns=``, ``raises=`` or ``side_effect=`` (a function of the
        ``StubCall``); the returned stub records every call (``.calls``, ``.inputs``)."""
        given: dict[str, Any] = {} if returns is _UNSET else {"returns": returns}
        stub = Stub(name, "activity", raises=raises, side_effect=side_effect, **given)
        self._stubs.set_stub(stub)
        table = self._stubs
        self.host.stub_activity(name, lambda call: table.call_activity(name, call, call.input))
        return stub

    def unstub_activity(self, name: str) -> None:
        """Let the app's own activity ``name`` answer again."""
        self._stubs.remove_stub("activity", name)
        self.host.stub_activity(name, None)

    def respond_http(self, responder: Callable[[dict[str, Any]], Any] | None) -> None:
        """Answer the app's durable HTTP calls (``context.call_http``) with ``responder(request)``: a status code,
        or a dict with ``statusCode``, ``headers`` and ``content``. Without one such a call fails, naming this."""
        self.host.respond_http(responder)

    # -- ManagedFunctionsApp -------------------------------------------------------------------------

    def orchestrator_names(self) -> set[str]:
        return set(self.host.functions.named("orchestrator"))

    def replay_history(self, instance_id: str, history: Sequence[Any], repeats: int) -> str | None:
        from durabletask_testing.functions.audit import audit_history

        return audit_history(self.host.worker, instance_id, list(history), repeats)

    def orchestrator_functions(self) -> dict[str, Callable[..., Any]]:
        from durabletask_testing.functions.app import user_function

        return {name: user_function(function.call) for name, function in self.host.functions.named(
            "orchestrator").items()}

    def import_spec(self) -> str | None:
        """The spec the test named the app by; for an app object, the first module global holding it (the modules
        of its orchestrators first), unless that module is ``__main__``."""
        if self._spec is not None:
            return self._spec
        modules = [getattr(fn, "__module__", None) for fn in self.orchestrator_functions().values()]
        for name in dict.fromkeys([*modules, *sorted(sys.modules)]):
            module = sys.modules.get(name) if name and name != "__main__" else None
            for attribute, value in list(getattr(module, "__dict__", {}).items()):
                if value is self.host.app:
                    return f"{name}:{attribute}"
        return None

    def close(self) -> None:
        self._stubs.close()


@contextmanager
def open_functions(app: Any, sidecar: Any, metadata: Sequence[tuple[str, str]] = (),
                   now: Callable[[], datetime] | None = None) -> Iterator[DurableFunctions]:
    """Run ``app`` (``"module:attribute"`` or the app object) on ``sidecar`` until the block ends; ``now`` is the
    fake's clock, when there is one."""
    try:
        from durabletask_testing.functions import AppError, FunctionsHost
    except ImportError as error:  # pragma: no cover - the room ships with the testkit
        raise FunctionsSetupError(str(error)) from error
    token = next((value[len("Bearer "):] for key, value in metadata
                  if key == "authorization" and value.startswith("Bearer ")), None)
    try:
        host = FunctionsHost(app, sidecar.address, metadata=list(metadata), api_token=token)
    except (AppError, ImportError) as error:
        raise FunctionsSetupError(str(error)) from error
    with host:
        functions = DurableFunctions(host, sidecar, now, app if isinstance(app, str) else None)
        try:
            yield functions
        finally:
            functions.close()
