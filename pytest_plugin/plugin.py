"""pytest11 entry point of the Durable Task plugin: options, marker, fixtures and the failure report.

Fixtures: ``durable_sidecar``, ``durable_client``, ``durable_worker``, ``durable_clock``, ``durable_faults``
(and ``durable_settings``, the resolved configuration). Heavy imports (gRPC, the SDK, the fake) happen only
when a test asks for a fixture, so installing the plugin costs nothing to unrelated test suites.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from . import external
from .environment import open_client, open_sidecar, open_worker
from .report import SECTION_TITLE
from .settings import (
    INI_CLOCK,
    INI_FREEZE_TIME,
    INI_START_TIME,
    MARKER_HELP,
    MARKER_NAME,
    OPTION_SIDECAR,
    OPTION_SIDECAR_DEST,
    DurableSettings,
    DurableSettingsError,
    apply_markers,
    defaults_from_ini,
    parse_address,
)
from .state import STATE_KEY, DurableTestState

if TYPE_CHECKING:
    from durabletask_testing import Clock, FakeSidecar, FaultPlan

    from .external import ExternalSidecar
    from .sdk_wrappers import DurableTestClient, DurableTestWorker
    from .sidecar_protocol import DrivableSidecar

OPTION_METADATA = "--durabletask-metadata"
# At the end of a session, how long to wait for each SDK worker still finishing its shutdown in the background.
BACKGROUND_STOP_WAIT_SECONDS = 5.0
OPTION_METADATA_DEST = "durabletask_metadata"

_DEFAULTS_KEY = pytest.StashKey[DurableSettings]()
_METADATA_KEY = pytest.StashKey[list[tuple[str, str]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("durabletask", "Durable Task workflow testing")
    group.addoption(
        OPTION_SIDECAR,
        dest=OPTION_SIDECAR_DEST,
        metavar="HOST:PORT",
        default=None,
        help="run the durable_* fixtures against this external sidecar instead of the in-process fake; "
        "tests needing the virtual clock or fault injection are skipped",
    )
    group.addoption(
        OPTION_METADATA,
        dest=OPTION_METADATA_DEST,
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="gRPC metadata sent to the external sidecar by durable_client and durable_worker (repeatable)",
    )
    parser.addini(INI_CLOCK, "default clock of the fake sidecar: auto, manual or real (default: auto)", default="auto")
    parser.addini(INI_START_TIME, "default start time (ISO-8601) of the fake sidecar's virtual clock", default="")
    parser.addini(
        INI_FREEZE_TIME,
        "make datetime.now()/time.time() in tests and activities follow the virtual clock (default: false)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    address = config.getoption(OPTION_SIDECAR_DEST, default=None)
    try:
        if address is not None:
            address = parse_address(address, source=OPTION_SIDECAR)
        config.stash[_DEFAULTS_KEY] = defaults_from_ini(config.getini, address)
        config.stash[_METADATA_KEY] = _parse_metadata(config.getoption(OPTION_METADATA_DEST, default=None) or [])
    except DurableSettingsError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_report_header(config: pytest.Config) -> str | None:
    defaults = config.stash.get(_DEFAULTS_KEY, None)
    if defaults is None or defaults.uses_fake:
        return None
    return f"durabletask: using the external sidecar at {defaults.external_address}"


def _parse_metadata(pairs: list[str]) -> list[tuple[str, str]]:
    metadata: list[tuple[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DurableSettingsError(f"{OPTION_METADATA}: expected KEY=VALUE, got {pair!r}")
        metadata.append((key.strip().lower(), value))
    return metadata


def pytest_sessionfinish(session: pytest.Session) -> None:
    wrappers = sys.modules.get("durabletask_pytest.sdk_wrappers")
    if wrappers is not None:  # only when a test used a worker: let SDK shutdowns finish while output is open
        wrappers.wait_for_background_stops(BACKGROUND_STOP_WAIT_SECONDS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call" and report.failed:
        state = item.stash.get(STATE_KEY, None)
        if state is not None:
            try:
                text = state.report_text()
            except Exception as error:  # never let the report hide the test's own failure
                text = f"(the durabletask report could not be built: {type(error).__name__}: {error})"
            report.sections.append((SECTION_TITLE, text))
    return report


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def durable_settings(request: pytest.FixtureRequest) -> DurableSettings:
    """This test's durable configuration: ini defaults overlaid by the closest ``durabletask`` markers."""
    defaults = request.config.stash.get(_DEFAULTS_KEY, None) or DurableSettings()
    try:
        settings = apply_markers(defaults, request.node.iter_markers(MARKER_NAME))
    except DurableSettingsError as error:
        pytest.fail(str(error), pytrace=False)
    if settings.uses_fake and settings.clock == "real" and settings.start_time is not None:
        if _marker_sets(request, "start_time"):
            pytest.fail(
                f"@pytest.mark.{MARKER_NAME}: start_time cannot be combined with clock='real' "
                "(the real clock always reads wall time)",
                pytrace=False,
            )
        settings = DurableSettings(clock="real", freeze_time=settings.freeze_time)
    return settings


def _marker_sets(request: pytest.FixtureRequest, keyword: str) -> bool:
    return any(keyword in marker.kwargs for marker in request.node.iter_markers(MARKER_NAME))


@pytest.fixture
def durable_sidecar(
    request: pytest.FixtureRequest, durable_settings: DurableSettings
) -> Iterator[FakeSidecar | ExternalSidecar]:
    """A started FakeSidecar for this test (or, with --durabletask-sidecar, a handle on the external one)."""
    metadata = [] if durable_settings.uses_fake else _configured_metadata(request.config)
    with open_sidecar(durable_settings) as sidecar:
        origin = sidecar.clock.now() if durable_settings.uses_fake else None
        state = DurableTestState(settings=durable_settings, sidecar=sidecar, origin=origin, metadata=metadata)
        request.node.stash[STATE_KEY] = state
        yield sidecar
        state.clean_up_external()  # whatever the worker's teardown did not already clean up


@pytest.fixture
def durable_client(request: pytest.FixtureRequest, durable_sidecar: DrivableSidecar) -> Iterator[DurableTestClient]:
    """A TaskHubGrpcClient connected to this test's sidecar."""
    state = request.node.stash.get(STATE_KEY, None)
    with open_client(durable_sidecar.address, _metadata_for(state)) as client:
        if state is not None:
            state.clients.append(client)
            client.set_timeout_hint(state.timeout_hint)
        yield client


@pytest.fixture
def durable_worker(request: pytest.FixtureRequest, durable_sidecar: DrivableSidecar) -> Iterator[DurableTestWorker]:
    """A TaskHubGrpcWorker connected to this test's sidecar; register functions, then ``start()``.

    ``durable_worker.start_with(orchestrators=[...], activities=[...])`` does both in one call;
    ``durable_worker.stub_activity(name, returns=...)`` replaces an activity by a test double. The worker is
    stopped at teardown.
    """
    state = request.node.stash.get(STATE_KEY, None)
    now = durable_sidecar.clock.now if state is not None and state.settings.uses_fake else None
    with open_worker(durable_sidecar.address, _metadata_for(state), now=now) as worker:
        if state is not None:
            state.workers.append(worker)
        yield worker
        if state is not None:
            state.clean_up_external()  # while the worker still runs, so that it processes the terminations


@pytest.fixture
def durable_clock(durable_settings: DurableSettings, durable_sidecar: DrivableSidecar) -> Clock:
    """The fake sidecar's clock: ``now()``, ``advance(timedelta | seconds)``, ``advance_to(datetime)``."""
    if not durable_settings.uses_fake:
        external.skip_needing_clock()
    return durable_sidecar.clock


@pytest.fixture
def durable_faults(durable_settings: DurableSettings, durable_sidecar: DrivableSidecar) -> FaultPlan:
    """The fake sidecar's fault-injection plan (``fail_activity``, ``chaos``, ``log`` ...)."""
    if not durable_settings.uses_fake:
        external.skip_needing_faults()
    return durable_sidecar.faults


def _configured_metadata(config: pytest.Config) -> list[tuple[str, str]]:
    configured: list[tuple[str, str]] = config.stash.get(_METADATA_KEY, [])
    return list(configured)


def _metadata_for(state: DurableTestState | None) -> list[tuple[str, str]]:
    return list(state.metadata) if state is not None else []
