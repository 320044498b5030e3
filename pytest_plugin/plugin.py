"""pytest11 entry point of the Durable Task plugin: options, marker, hooks and the fixture definitions.

Fixtures: ``durable_sidecar``, ``durable_client``, ``durable_worker``, ``durable_clock``, ``durable_faults``
(and ``durable_settings``, the resolved configuration), ``durable_explore``, ``durable_schedule``,
``durable_timeline_snapshot``, ``durable_deploy``, ``dapr_workflow_runtime``, ``dapr_workflow_client``,
``durable_functions``. Each is a thin wrapper over the rooms below: ``fixtures/``, ``sdk/``, ``report/``,
``explore/``, ``external/``, ``functions/`` (and the replay audit). Heavy imports (gRPC, the SDK, the fake, the
Durable Functions SDK) happen only when a test asks for a fixture, so installing the plugin costs nothing to
unrelated test suites; only in a session with pytester are the protocol bindings imported at once (see
:func:`pytest_plugin_registered`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest

from . import explore
from .explore import marker as explore_marker
from .external import standin
from .fixtures.environment import open_client, open_sidecar, open_worker
from .fixtures.reuse import POOL as FAKE_POOL
from .fixtures.settings import (
    DIALECTS,
    INI_CLOCK,
    INI_DIALECT,
    INI_FREEZE_TIME,
    INI_FUNCTIONS_APP,
    INI_REPLAY_AUDIT,
    INI_REPLAY_AUDIT_REPEATS,
    INI_START_TIME,
    INI_TASKHUB,
    MARKER_HELP,
    MARKER_NAME,
    OPTION_METADATA,
    OPTION_METADATA_DEST,
    OPTION_SIDECAR,
    OPTION_SIDECAR_DEST,
    OPTION_TASKHUB,
    OPTION_TASKHUB_DEST,
    DurableSettings,
    DurableSettingsError,
    apply_markers,
    defaults_from_ini,
    parse_address,
    parse_metadata,
)
from .fixtures.state import STATE_KEY, DurableTestState
from .report.failure import SECTION_TITLE
from .report.golden import OPTION_UPDATE, OPTION_UPDATE_DEST
from .sdk.dapr import uses_dapr

if TYPE_CHECKING:
    from durabletask_testing import Clock, FakeSidecar, FaultPlan

    from .external.standin import ExternalSidecar
    from .functions import DurableFunctions
    from .sdk.client import DurableTestClient
    from .sdk.dapr import DaprTestRuntime
    from .sdk.worker import DurableTestWorker
    from .seams import DrivableSidecar

OPTION_DIALECT = "--durabletask-dialect"
OPTION_DIALECT_DEST = "durabletask_dialect"
OPTION_CONTROL = "--durabletask-control"
OPTION_CONTROL_DEST = "durabletask_control"
TASK_HUB_HEADER = "taskhub"  # as durabletask_testing.shell.TASK_HUB_METADATA_KEY (not imported: it loads gRPC)
# At the end of a session, how long to wait for each SDK worker still finishing its shutdown in the background.
BACKGROUND_STOP_WAIT_SECONDS = 5.0

_FREEZE_REGISTERED = False
_DEFAULTS_KEY = pytest.StashKey[DurableSettings]()
_REMOVED_KEY = pytest.StashKey[Any]()  # the audit's RemovedHistories of the test's in-process fake, or None
_METADATA_KEY = pytest.StashKey[list[tuple[str, str]]]()


# Imported as soon as pytester is in the session: gRPC, the fake's protocol bindings, then each SDK if installed.
_BINDINGS = ("grpc", "durabletask_testing.protocol.orchestrator_service_pb2_grpc")
_SDK_BINDINGS = ("durabletask.client", "durabletask.worker", "durabletask.azuremanaged.client",
                 "durabletask.azuremanaged.worker", "dapr.ext.workflow", "azure.durable_functions")
# With the Durable Functions SDK: the bridge's one client event loop per process, which the SDK's process-wide HTTP
# session is bound to (an inner run must not import a second one).
_FUNCTIONS_LOOP = "durabletask_testing.functions.host"


def pytest_plugin_registered(plugin: object) -> None:
    """With pytester in the session, import the protocol bindings now, before any in-process run.

    ``pytester.runpytest()`` drops every module first imported during an inner run, so an inner run that used
    ``durable_worker`` would leave generated protobuf modules to be imported a second time by the next one, and
    protobuf's C extension crashes the interpreter on that. Modules imported before pytester's snapshot stay.
    The Durable Functions bridge's client loop is imported for a like reason: the SDK's HTTP session, once
    imported, is bound to the loop of the first run that used it.
    """
    if getattr(plugin, "__name__", None) != "_pytest.pytester":
        return
    import importlib
    import importlib.util

    for name in _BINDINGS:
        importlib.import_module(name)
    for name in _SDK_BINDINGS:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # its parent package is not installed
            found = False
        if found:
            importlib.import_module(name)
    if "azure.durable_functions" in sys.modules:
        importlib.import_module(_FUNCTIONS_LOOP)


def pytest_addoption(parser: pytest.Parser) -> None:
    _add_command_line_options(parser.getgroup("durabletask", "Durable Task workflow testing"))
    _add_ini_options(parser)


def _add_command_line_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        OPTION_SIDECAR,
        dest=OPTION_SIDECAR_DEST,
        metavar="HOST:PORT",
        default=None,
        help="run the durable_* fixtures against this external sidecar instead of the in-process fake; "
        "tests needing the virtual clock or fault injection are skipped, unless it is a CLI fake with a control "
        "API (detected, or given with --durabletask-control)",
    )
    group.addoption(
        OPTION_CONTROL,
        dest=OPTION_CONTROL_DEST,
        metavar="URL",
        default=None,
        help="the control API of the CLI fake given with --durabletask-sidecar (default: what it advertises); "
        "'none' turns the detection off",
    )
    group.addoption(
        OPTION_METADATA,
        dest=OPTION_METADATA_DEST,
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="gRPC metadata sent to the external sidecar by durable_client and durable_worker (repeatable)",
    )
    group.addoption(
        OPTION_UPDATE,
        dest=OPTION_UPDATE_DEST,
        action="store_true",
        default=False,
        help="write the golden timeline files compared by durable_timeline_snapshot instead of comparing them",
    )
    group.addoption(
        OPTION_DIALECT,
        dest=OPTION_DIALECT_DEST,
        choices=DIALECTS,
        default=None,
        help="protocol dialect of the fake sidecar: durabletask, or dapr for Dapr Workflow's SDK (default: the ini "
        "option durabletask_dialect, else durabletask; the dapr_* fixtures always use dapr)",
    )
    group.addoption(
        OPTION_TASKHUB,
        dest=OPTION_TASKHUB_DEST,
        metavar="NAME",
        default=None,
        help="use the Durable Task Scheduler's client and worker (durabletask-azuremanaged) on this task hub for "
        "durable_client and durable_worker; the fake then serves only that hub (default: the ini option "
        "durabletask_taskhub, else none: the plain durabletask client and worker)",
    )
    group.addoption(
        explore.OPTION_SEED,
        dest=explore.OPTION_SEED_DEST,
        metavar="SCHEDULE",
        default=None,
        help="run durable_explore scenarios and explore=N tests under this one schedule only (the spec a failing "
        "exploration prints, e.g. 'order=reverse,at=2' or 'crash=activity@0')",
    )


def _add_ini_options(parser: pytest.Parser) -> None:
    parser.addini(INI_DIALECT, "protocol dialect of the fake sidecar: durabletask or dapr (default: durabletask)",
                  default="")
    parser.addini(INI_TASKHUB, "task hub of the Durable Task Scheduler's client and worker (durabletask-azuremanaged) "
                  "that durable_client and durable_worker then are (default: none, the plain durabletask ones)",
                  default="")
    parser.addini(INI_CLOCK, "default clock of the fake sidecar: auto, manual or real (default: auto)", default="auto")
    parser.addini(INI_START_TIME, "default start time (ISO-8601) of the fake sidecar's virtual clock", default="")
    parser.addini(
        INI_FREEZE_TIME,
        "make datetime.now()/time.time() in tests and activities follow the virtual clock (default: false)",
        type="bool",
        default=False,
    )
    parser.addini(
        INI_REPLAY_AUDIT,
        "after a test passed, replay each orchestration it ran on the fake and fail it if the code produces other "
        "actions than recorded (default: true; @pytest.mark.durabletask(replay_audit=False) turns it off per test)",
        type="bool",
        default=True,
    )
    parser.addini(INI_REPLAY_AUDIT_REPEATS, "how many times the replay audit replays each instance (default: 7)",
                  default="")
    parser.addini(INI_FUNCTIONS_APP, "the Azure Durable Functions app the durable_functions fixture runs, as "
                  "'module:attribute' (e.g. function_app:app)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    _freeze_objects_at_exit()
    address = config.getoption(OPTION_SIDECAR_DEST, default=None)
    try:
        metadata = parse_metadata(config.getoption(OPTION_METADATA_DEST, default=None) or [])
        control_url = None
        if address is not None:
            address = parse_address(address, source=OPTION_SIDECAR)
            control_url = _control_url(config, address, metadata)
        config.stash[_DEFAULTS_KEY] = defaults_from_ini(
            config.getini, address, control_url, config.getoption(OPTION_DIALECT_DEST, default=None),
            config.getoption(OPTION_TASKHUB_DEST, default=None))
        config.stash[_METADATA_KEY] = metadata
    except DurableSettingsError as error:
        raise pytest.UsageError(str(error)) from None


def _freeze_objects_at_exit() -> None:
    """At the process's exit (once per process), move every object still alive into the collector's permanent
    generation.

    By then pytest collected the session's garbage itself (it does so to report unraisable exceptions); what
    remains lives until the process ends, and the interpreter's own collections over it while it shuts down
    cost more than all the rest of its exit (about 60 ms with the SDK, gRPC and the fake loaded). Frozen objects
    are not collected at exit, so their ``__del__`` methods do not run then, which Python never promised for
    objects alive at exit; other ``atexit`` handlers and ``weakref.finalize`` callbacks run as before. An
    ``atexit`` handler, not a pytest hook: an in-process pytest run (pytester) ends without the process ending.
    """
    global _FREEZE_REGISTERED
    if _FREEZE_REGISTERED:
        return
    _FREEZE_REGISTERED = True
    import atexit
    import gc

    atexit.register(gc.freeze)


def _control_url(config: pytest.Config, address: str, metadata: list[tuple[str, str]]) -> str | None:
    given = config.getoption(OPTION_CONTROL_DEST, default=None)
    if given is not None and given.strip().lower() == "none":
        return None
    from .external.client import detect_control_url

    url = given.strip() if given else detect_control_url(address, metadata)
    worker_input = getattr(config, "workerinput", None)  # set in pytest-xdist workers
    processes = getattr(config.option, "numprocesses", None)  # pytest-xdist's -n, seen by the controller
    several = (int(worker_input.get("workercount", 1)) > 1 if worker_input is not None
               else processes not in (None, 0, 1, "0", "1"))
    if url is not None and several:
        raise DurableSettingsError(
            f"the CLI fake at {address} serves one test at a time (each test resets it), so it cannot be shared "
            "by several pytest-xdist workers: run without -n, or give --durabletask-control=none to use it as a "
            "plain sidecar")
    return url


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    defaults = config.stash.get(_DEFAULTS_KEY, None)
    if defaults is None:
        return None
    lines = []
    if defaults.control_url is not None:
        lines.append(f"durabletask: using the CLI fake at {defaults.external_address} "
                     f"(control API {defaults.control_url}; each test resets it)")
    elif not defaults.uses_fake:
        lines.append(f"durabletask: using the external sidecar at {defaults.external_address}")
    if defaults.taskhub is not None:
        lines.append(f"durabletask: Durable Task Scheduler client and worker on the task hub {defaults.taskhub!r}")
    return lines or None


def pytest_sessionfinish(session: pytest.Session) -> None:
    reuse = sys.modules.get("durabletask_pytest.fixtures.reuse")
    if reuse is not None:  # the fakes kept for the next test
        reuse.POOL.close()
    audit = sys.modules.get("durabletask_pytest.audit.replay")
    if audit is not None:
        audit.shut_down(BACKGROUND_STOP_WAIT_SECONDS)
    wrappers = sys.modules.get("durabletask_pytest.sdk.worker")
    if wrappers is not None:  # only when a test used a worker: let SDK shutdowns finish while output is open
        wrappers.wait_for_background_stops(BACKGROUND_STOP_WAIT_SECONDS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    defaults = metafunc.config.stash.get(_DEFAULTS_KEY, None)
    explore_marker.parametrize_marked(metafunc, MARKER_NAME, in_process=defaults is None or defaults.uses_fake)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """After a test function passed, the replay audit runs inside its call phase (so ``--durations``, junit times
    and timeouts count it) and fails it when its orchestrations do not replay deterministically."""
    result = yield  # raises when the test failed or skipped: nothing to audit
    findings = _replay_audit(item)
    if findings is not None:
        pytest.fail(findings, pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call" and report.failed:
        section = explore_marker.marker_report(item)
        if section is not None:
            report.sections.append(section)
        state = item.stash.get(STATE_KEY, None)
        if state is not None:
            try:
                text = state.report_text()
            except Exception as error:  # never let the report hide the test's own failure
                text = f"(the durabletask report could not be built: {type(error).__name__}: {error})"
            report.sections.append((SECTION_TITLE, text))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:  # the report and the audit are done: let the test's fake, workers and clients be freed now
        if STATE_KEY in item.stash:
            del item.stash[STATE_KEY]


def _replay_audit(item: pytest.Item) -> str | None:
    """Why a passed test fails the replay audit (see audit/replay.py), or None."""
    state = item.stash.get(STATE_KEY, None)
    if state is None or not (state.workers or state.functions_apps):
        return None
    removed = item.stash.get(_REMOVED_KEY, None)
    try:
        found = []
        if state.workers:
            from .audit.replay import audit

            found.append(audit(state, removed))
        if state.functions_apps and state.settings.replay_audit and state.settings.has_fake_controls:
            from .audit.functions import audit_functions

            found.append(audit_functions(state, removed))
        findings = "\n".join(text for text in found if text is not None) or None
    except Exception as error:  # an audit that cannot run must say so, not pass silently
        findings = f"the replay audit could not run: {type(error).__name__}: {error}"
    if findings is None:
        return None
    return (f"{item.nodeid} passed, but the replay audit found non-deterministic orchestrator code "
            f"(turn it off with @pytest.mark.{MARKER_NAME}(replay_audit=False)):\n\n{findings}")


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def durable_settings(request: pytest.FixtureRequest) -> DurableSettings:
    """This test's durable configuration: ini defaults overlaid by the closest ``durabletask`` markers."""
    defaults = request.config.stash.get(_DEFAULTS_KEY, None) or DurableSettings()
    problem: str | None = None
    try:
        settings = apply_markers(defaults, request.node.iter_markers(MARKER_NAME))
    except DurableSettingsError as error:
        problem = str(error)
    if problem is not None:  # failed outside the except block, so the message is shown once
        pytest.fail(problem, pytrace=False)
    if settings.has_fake_controls and settings.clock == "real" and settings.start_time is not None:
        if _marker_sets(request, "start_time"):
            pytest.fail(
                f"@pytest.mark.{MARKER_NAME}: start_time cannot be combined with clock='real' "
                "(the real clock always reads wall time)",
                pytrace=False,
            )
        settings = dataclasses.replace(settings, start_time=None)  # an ini start time does not apply to 'real'
    if uses_dapr(request.fixturenames):  # a Dapr app: the fake speaks its dialect
        settings = dataclasses.replace(settings, dialect="dapr")
    return settings


def _marker_sets(request: pytest.FixtureRequest, keyword: str) -> bool:
    return any(keyword in marker.kwargs for marker in request.node.iter_markers(MARKER_NAME))


@pytest.fixture
def durable_sidecar(
    request: pytest.FixtureRequest, durable_settings: DurableSettings
) -> Iterator[FakeSidecar | ExternalSidecar]:
    """A started FakeSidecar for this test (or, with --durabletask-sidecar, a handle on the external one)."""
    metadata = [] if durable_settings.uses_fake else _configured_metadata(request.config)
    from .external.client import bearer_token

    runner = explore_marker.runner_for(request) if durable_settings.uses_fake else None
    # The stand-in's own calls (reading and cleaning up the test's instances) must reach the test's task hub; the
    # scheduler's client and worker add that header themselves, so the state's metadata stays without it.
    own_metadata = metadata
    if durable_settings.taskhub is not None and not durable_settings.uses_fake:
        own_metadata = [*metadata, (TASK_HUB_HEADER, durable_settings.taskhub)]
    with open_sidecar(durable_settings, api_token=bearer_token(metadata), schedule=runner,
                      metadata=own_metadata, reuse=True) as sidecar:
        if runner is not None:
            explore_marker.remember_run(request.node, runner, sidecar)
        origin = sidecar.clock.now() if durable_settings.has_fake_controls else None
        external = sidecar if isinstance(sidecar, standin.ExternalSidecar) else None
        state = DurableTestState(settings=durable_settings, sidecar=sidecar, origin=origin, metadata=metadata,
                                 external=external)
        request.node.stash[STATE_KEY] = state
        removed = None
        if durable_settings.replay_audit and durable_settings.uses_fake:  # record what the test purges
            from .audit.replay import watch_removals

            removed = watch_removals(sidecar)
        request.node.stash[_REMOVED_KEY] = removed
        yield sidecar
        if removed is not None:
            removed.stop()
        state.clean_up_external()  # whatever the worker's teardown did not already clean up


@pytest.fixture
def durable_client(request: pytest.FixtureRequest, durable_sidecar: DrivableSidecar) -> Iterator[DurableTestClient]:
    """A TaskHubGrpcClient connected to this test's sidecar (with a task hub: a DurableTaskSchedulerClient)."""
    state = request.node.stash.get(STATE_KEY, None)
    with open_client(durable_sidecar.address, _metadata_for(state), taskhub=_taskhub(state),
                     slot=FAKE_POOL.slot_for(durable_sidecar)) as client:
        if state is not None:
            state.clients.append(client)
            client.set_timeout_hint(state.timeout_hint)
        yield client


@pytest.fixture
def durable_worker(request: pytest.FixtureRequest, durable_sidecar: DrivableSidecar) -> Iterator[DurableTestWorker]:
    """A TaskHubGrpcWorker connected to this test's sidecar; register functions, then ``start()``.

    With a task hub (``durabletask_taskhub``, ``--durabletask-taskhub``, the marker's ``taskhub``) it is a
    ``DurableTaskSchedulerWorker`` on that hub.

    ``durable_worker.start_with(orchestrators=[...], activities=[...])`` does both in one call;
    ``durable_worker.stub_activity(name, returns=...)`` replaces an activity by a test double. The worker is
    stopped at teardown.
    """
    state = request.node.stash.get(STATE_KEY, None)
    now = durable_sidecar.clock.now if state is not None and state.settings.has_fake_controls else None
    with open_worker(durable_sidecar.address, _metadata_for(state), now=now, fast_reconnect=_is_fake(state),
                     taskhub=_taskhub(state), slot=FAKE_POOL.slot_for(durable_sidecar)) as worker:
        if state is not None:
            state.workers.append(worker)
        yield worker
        if state is not None:
            state.clean_up_external()  # while the worker still runs, so that it processes the terminations


@pytest.fixture
def durable_clock(durable_settings: DurableSettings, durable_sidecar: DrivableSidecar) -> Clock:
    """The fake sidecar's clock: ``now()``, ``advance(timedelta | seconds)``, ``advance_to(datetime)``.

    For a CLI fake (``--durabletask-sidecar`` with its control API) a RemoteClock with the same methods.
    """
    if not durable_settings.has_fake_controls:
        standin.skip_needing_clock()
    return cast("Clock", durable_sidecar.clock)


@pytest.fixture
def durable_faults(durable_settings: DurableSettings, durable_sidecar: DrivableSidecar) -> FaultPlan:
    """The fake sidecar's fault-injection plan (``fail_activity``, ``chaos``, ``log`` ...).

    For a CLI fake (``--durabletask-sidecar`` with its control API) a RemoteFaultPlan with the same methods.
    """
    if not durable_settings.has_fake_controls:
        standin.skip_needing_faults()
    return cast("FaultPlan", durable_sidecar.faults)


def _configured_metadata(config: pytest.Config) -> list[tuple[str, str]]:
    configured: list[tuple[str, str]] = config.stash.get(_METADATA_KEY, [])
    return list(configured)


def _is_fake(state: DurableTestState | None) -> bool:
    """True for our fake (in process or a CLI fake): a worker may reconnect to it without a back-off."""
    return state is None or state.settings.has_fake_controls


def _taskhub(state: DurableTestState | None) -> str | None:
    """The Durable Task Scheduler task hub of this test's client and worker, or None (the plain classes)."""
    return state.settings.taskhub if state is not None else None


def _metadata_for(state: DurableTestState | None) -> list[tuple[str, str]]:
    return list(state.metadata) if state is not None else []


@pytest.fixture
def durable_schedule(request: pytest.FixtureRequest) -> str | None:
    """The schedule spec this test item runs under (``@pytest.mark.durabletask(explore=N)``), else None."""
    return cast("str | None", getattr(request, "param", None))  # pytest sets it on parametrized items only


@pytest.fixture
def durable_explore(request: pytest.FixtureRequest, durable_settings: DurableSettings) -> explore.Explorer:
    """``durable_explore(scenario, schedules=30)``: run ``scenario(run)`` once per schedule on a fresh fake.

    ``run`` has ``sidecar``, ``worker`` (not started), ``client``, ``clock``, ``faults`` and ``schedule``. The
    first failing schedule is shrunk and reported with its timeline and the ``--durabletask-seed`` to rerun it.
    """
    if not durable_settings.uses_fake:
        explore.skip_exploring()

    def remember(outcome: explore.Outcome) -> None:
        request.node.stash[STATE_KEY] = DurableTestState(
            settings=durable_settings, sidecar=outcome.sidecar, origin=outcome.origin)

    return explore.Explorer(durable_settings, forced=request.config.getoption(explore.OPTION_SEED_DEST, None),
                            rerun_target=request.node.nodeid, on_failure=remember)


@pytest.fixture
def durable_timeline_snapshot(
    request: pytest.FixtureRequest, durable_settings: DurableSettings, durable_sidecar: DrivableSidecar
) -> Callable[..., None]:
    """``durable_timeline_snapshot(instance_id, label=None)``: compare the instance's golden timeline.

    The normalised timeline (event kinds, names, virtual-time offsets; no ids) must equal the file
    ``__durable_timelines__/<test file>/<test name>[-label].txt`` beside the test (one file per test id and
    label: see ``report/golden.py``); a difference fails with a diff. ``--durabletask-update-timelines``
    writes the files instead.
    """
    from .report.golden import (
        TimelineMismatch,
        compare_with_snapshot,
        legacy_snapshot_path,
        normalised_timeline,
        snapshot_path,
    )

    update = bool(request.config.getoption(OPTION_UPDATE_DEST, default=False))

    def check(instance_id: str, label: str | None = None) -> None:
        if not durable_settings.has_fake_controls:
            standin.skip_needing_inspection()
        lines = normalised_timeline(durable_sidecar.history(instance_id))
        path = snapshot_path(request.path, request.node.name, label)
        try:
            compare_with_snapshot(lines, path, update, legacy_snapshot_path(request.path, request.node.name, label))
        except TimelineMismatch as mismatch:
            problem = str(mismatch)
        else:
            return
        pytest.fail(problem, pytrace=False)  # outside the except block, so the message is shown once

    return check


@pytest.fixture
def durable_deploy(request: pytest.FixtureRequest, durable_sidecar: DrivableSidecar) -> Iterator[Callable[..., Any]]:
    """``durable_deploy(orchestrators=..., activities=..., versioning=None)``: an upgrade in the middle of a test.

    Waits until the fake is idle (instances wait on timers or events), stops the test's running workers, and
    starts a new worker with the given functions (``orchestrators`` may map registered names to new functions,
    so v2 code answers for v1's name) and versioning options; returns it. Instances started before continue on
    the new code, or are refused by the versioning strategy, as a real deployment would do.
    """
    state = request.node.stash.get(STATE_KEY, None)
    deployed: list[Any] = []

    def deploy(orchestrators: Any = (), activities: Any = (), versioning: Any = None,
               idle_timeout: float = 10.0) -> Any:
        if state is not None and state.settings.has_fake_controls and not durable_sidecar.wait_until_idle(
                idle_timeout):
            pytest.fail(f"durable_deploy: the fake did not become idle within {idle_timeout} s", pytrace=False)
        for worker in list(state.workers if state is not None else []):
            worker.stop()
        now = durable_sidecar.clock.now if state is not None and state.settings.has_fake_controls else None
        context = open_worker(durable_sidecar.address, _metadata_for(state), now=now, fast_reconnect=_is_fake(state),
                              taskhub=_taskhub(state))
        worker = context.__enter__()
        deployed.append(context)
        if state is not None:
            state.workers.append(worker)
        items = orchestrators.items() if isinstance(orchestrators, dict) else ((None, fn) for fn in orchestrators)
        for name, function in items:
            worker.add_orchestrator(function, **({"name": name} if name else {}))
        items = activities.items() if isinstance(activities, dict) else ((None, fn) for fn in activities)
        for name, function in items:
            worker.add_activity(function, **({"name": name} if name else {}))
        if versioning is not None:
            worker.use_versioning(versioning)
        worker.start()
        return worker

    yield deploy
    for context in reversed(deployed):
        context.__exit__(None, None, None)


@pytest.fixture
def dapr_workflow_runtime(
    request: pytest.FixtureRequest, durable_sidecar: DrivableSidecar
) -> Iterator[DaprTestRuntime]:
    """A Dapr ``WorkflowRuntime`` on this test's sidecar: ``start_with(workflows=[...], activities=[...])``."""
    from .sdk.dapr import open_dapr_runtime

    with open_dapr_runtime(durable_sidecar.address) as runtime:
        state = request.node.stash.get(STATE_KEY, None)
        if state is not None:
            state.workers.append(runtime)
        yield runtime


@pytest.fixture
def dapr_workflow_client(durable_sidecar: DrivableSidecar) -> Iterator[Any]:
    """A Dapr ``DaprWorkflowClient`` connected to this test's sidecar."""
    from .sdk.dapr import open_dapr_client

    with open_dapr_client(durable_sidecar.address) as client:
        yield client


@pytest.fixture
def durable_functions(
    request: pytest.FixtureRequest, durable_settings: DurableSettings, durable_sidecar: DrivableSidecar
) -> Iterator[DurableFunctions]:
    """The Azure Durable Functions app of ``durabletask_functions_app`` (or ``@pytest.mark.durabletask(
    functions_app="module:attribute")``) running on this test's sidecar.

    ``.client`` is the SDK's own ``DurableOrchestrationClient`` bound to the fake; ``.call_http(name, method=...,
    route_params=..., params=..., body=..., headers=...)`` invokes an HTTP-triggered function with its client
    binding wired to the fake and returns its ``HttpResponse``; ``.wait_for_completion(instance_id, timeout=...)``
    returns the client's status object; ``.stub_activity(name, returns=...)`` replaces an activity. After a passed
    test its orchestrations are replayed through the Durable Functions SDK's own replay (the replay audit).
    """
    if durable_settings.functions_app is None:
        pytest.fail(f"durable_functions needs the app: set the ini option {INI_FUNCTIONS_APP} = "
                    f'"module:attribute" or mark the test @pytest.mark.{MARKER_NAME}(functions_app="module:attribute")',
                    pytrace=False)
    from contextlib import ExitStack

    from .functions import FunctionsSetupError, open_functions

    state = request.node.stash.get(STATE_KEY, None)
    now = durable_sidecar.clock.now if state is not None and state.settings.has_fake_controls else None
    with ExitStack() as stack:
        problem: str | None = None
        try:
            functions = stack.enter_context(open_functions(durable_settings.functions_app, durable_sidecar,
                                                           _metadata_for(state), now))
        except FunctionsSetupError as error:
            problem = str(error)
        if problem is not None:  # failed outside the except block, so the message is shown once
            pytest.fail(f"durable_functions: {problem}", pytrace=False)
        if state is not None:
            state.functions_apps.append(functions)
        yield functions
