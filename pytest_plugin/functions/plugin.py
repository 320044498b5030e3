"""``durable_functions``: an Azure Durable Functions app running on this test's fake sidecar.

The app comes from ``@pytest.mark.durabletask(functions_app="module:attribute")`` (or the app object itself), else
the ini option ``durabletask_functions_app``. The fixture starts a
:class:`~durabletask_testing.functions.FunctionsHost` on ``durable_sidecar``, so ``durable_clock``,
``durable_faults``, golden timelines and the failure report see its instances as any other. After a passed test,
each orchestration the app ran is replayed through the Durable Functions SDK's own replay (the replay audit; off
with ``replay_audit=False``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

INI_FUNCTIONS_APP = "durabletask_functions_app"
MARKER_KEYWORD = "functions_app"
MARKER_NAME = "durabletask"
AUDIT_REPEATS = 2

T = TypeVar("T")
_UNSET: Any = object()


@dataclass
class FunctionsStub:
    """A test double for one activity of the app: what it answers, and the inputs it received."""

    name: str
    returns: Any = None
    raises: BaseException | type[BaseException] | str | None = None
    side_effect: Callable[[Any], Any] | None = None
    calls: list[Any] = field(default_factory=list)

    def __call__(self, value: Any) -> Any:
        self.calls.append(value)
        if self.side_effect is not None:
            return self.side_effect(value)
        if self.raises is not None:
            if isinstance(self.raises, str):
                raise RuntimeError(self.raises)
            raise self.raises if isinstance(self.raises, BaseException) else self.raises()
        return self.returns


class DurableFunctions:
    """What the ``durable_functions`` fixture hands a test: the app's client, its HTTP functions, waiting."""

    def __init__(self, host: Any, sidecar: Any) -> None:
        self.host = host
        self.sidecar = sidecar
        self._client: Any = None

    @property
    def client(self) -> Any:
        """A real ``DurableOrchestrationClient`` bound to the fake (await its methods, or pass them to run())."""
        if self._client is None:
            self._client = self.host.client()
        return self._client

    def call_http(self, function_name: str, method: str = "GET", *, route_params: dict[str, str] | None = None,
                  params: dict[str, str] | None = None, body: Any = None, headers: dict[str, str] | None = None,
                  timeout: float = 60.0) -> Any:
        """Invoke the app's HTTP-triggered function ``function_name``; its ``HttpResponse``."""
        __tracebackhide__ = True
        return self.host.call_http(function_name, method, route_params, params, body, headers, timeout)

    async def call_http_async(self, function_name: str, method: str = "GET", *,
                              route_params: dict[str, str] | None = None, params: dict[str, str] | None = None,
                              body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return await self.host.call_http_async(function_name, method, route_params, params, body, headers)

    def start(self, orchestrator: str, input: Any = None, instance_id: str | None = None) -> str:
        """Start ``orchestrator`` through the client (as the app's own code would); its instance id."""
        return str(self.run(self.client.start_new(orchestrator, instance_id, input)))

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        self.run(self.client.raise_event(instance_id, event_name, data))

    def wait_for_completion(self, instance_id: str, timeout: float = 30.0) -> Any:
        """Wait until the instance ends (the auto clock jumps meanwhile); the client's status object for it."""
        __tracebackhide__ = True
        try:
            return self.host.wait_for_completion(instance_id, timeout=timeout)
        except TimeoutError as error:
            problem = str(error)
        pytest.fail(f"durable_functions.wait_for_completion: {problem}", pytrace=False)

    def get_status(self, instance_id: str, show_history: bool = False) -> Any:
        return self.host.get_status(instance_id, show_history)

    def instance_id_of(self, response: Any) -> str:
        """The instance id in a ``create_check_status_response`` answer."""
        return str(json.loads(response.get_body())["id"])

    def run(self, awaitable: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a client coroutine from a plain (non-async) test; its result."""
        return self.host.run(awaitable, timeout)  # type: ignore[no-any-return]

    def stub_activity(self, name: str, *, returns: Any = None, raises: Any = None,
                      side_effect: Callable[[Any], Any] | None = None) -> FunctionsStub:
        """Replace the app's activity ``name`` by a test double (before or after starting instances)."""
        stub = FunctionsStub(name, returns, raises, side_effect)
        self.host.stub_activity(name, stub)
        return stub

    def respond_http(self, responder: Callable[[dict[str, Any]], Any] | None) -> None:
        """Answer the app's durable HTTP calls (``context.call_http``) with ``responder(request_dict)``."""
        self.host.respond_http(responder)


@dataclass
class _AuditPlan:
    host: Any
    sidecar: Any
    enabled: bool


_AUDIT_KEY = pytest.StashKey[_AuditPlan]()


def _app_spec(request: pytest.FixtureRequest) -> Any:
    for marker in request.node.iter_markers(MARKER_NAME):
        if MARKER_KEYWORD in marker.kwargs:
            return marker.kwargs[MARKER_KEYWORD]
    configured = str(request.config.getini(INI_FUNCTIONS_APP) or "").strip()
    return configured or None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI_FUNCTIONS_APP, "the Durable Functions app the durable_functions fixture runs, as "
                  "'module:attribute' (e.g. function_app:app)", default="")


@pytest.fixture
def durable_functions(request: pytest.FixtureRequest, durable_settings: Any, durable_sidecar: Any
                      ) -> Iterator[DurableFunctions]:
    """The app of ``durabletask_functions_app`` (or ``@pytest.mark.durabletask(functions_app=...)``) on the fake.

    ``.client`` is the SDK's own DurableOrchestrationClient bound to the fake; ``.call_http(name, method=...,
    route_params=..., params=..., body=..., headers=...)`` invokes an HTTP-triggered function with its client
    binding wired to the fake and returns its HttpResponse; ``.wait_for_completion(instance_id, timeout=...)``
    returns the client's status object; ``.stub_activity(name, returns=...)`` replaces an activity.
    """
    spec = _app_spec(request)
    if spec is None:
        pytest.fail(f"durable_functions needs the app: set the ini option {INI_FUNCTIONS_APP} = \"module:attribute\" "
                    f"or mark the test @pytest.mark.{MARKER_NAME}({MARKER_KEYWORD}=\"module:attribute\")",
                    pytrace=False)
    from durabletask_testing.functions import AppError, FunctionsHost

    problem: str | None = None
    try:
        host = FunctionsHost(spec, durable_sidecar.address, api_token=getattr(durable_sidecar, "api_token", None))
    except (AppError, ImportError) as error:
        problem = str(error)
    if problem is not None:
        pytest.fail(f"durable_functions: {problem}", pytrace=False)
    with host:
        request.node.stash[_AUDIT_KEY] = _AuditPlan(host, durable_sidecar, bool(durable_settings.replay_audit)
                                                    and bool(durable_settings.has_fake_controls))
        yield DurableFunctions(host, durable_sidecar)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call" and report.passed:
        plan = item.stash.get(_AUDIT_KEY, None)
        if plan is not None and plan.enabled:
            _audit(item, report, plan)
    return report


def _audit(item: pytest.Item, report: pytest.TestReport, plan: _AuditPlan) -> None:
    from durabletask_testing.functions.audit import audit_instances

    try:
        ids = [snapshot.instance_id for snapshot in plan.sidecar.instances()]
        findings = audit_instances(plan.host.worker, ids, plan.sidecar.history, AUDIT_REPEATS)
    except Exception as error:  # an audit that cannot run must say so, not pass silently
        findings = f"the replay audit could not run: {type(error).__name__}: {error}"
    if findings is None:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"{item.nodeid} passed, but replaying its orchestrations through the Durable Functions SDK found "
        f"non-deterministic orchestrator code (turn it off with @pytest.mark.{MARKER_NAME}(replay_audit=False)):"
        f"\n\n{findings}")
