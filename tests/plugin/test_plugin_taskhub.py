"""The task hub option: the Durable Task Scheduler's client and worker for the fixtures, and a fake serving that hub.

These run with whichever SDK is installed (ours, or the published one without ``durabletask-azuremanaged``); the
scheduler's classes themselves run in their own venv (``tests/interop/test_azuremanaged_sdk_on_fake.py``).
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
from durabletask_pytest.fixtures.channel import MetadataInterceptor
from durabletask_pytest.fixtures.settings import (
    DurableSettingsError,
    apply_markers,
    defaults_from_ini,
    parse_taskhub,
)


def _ini(values: dict[str, object]):
    return lambda name: values.get(name, "")


class _Marker:
    def __init__(self, **kwargs: object) -> None:
        self.args = ()
        self.kwargs = kwargs


def _azuremanaged_installed() -> bool:
    try:
        return importlib.util.find_spec("durabletask.azuremanaged") is not None
    except ImportError:
        return False


def test_no_task_hub_by_default_the_ini_gives_one_and_the_command_line_overrides_it() -> None:
    assert defaults_from_ini(_ini({}), None).taskhub is None
    assert defaults_from_ini(_ini({"durabletask_taskhub": " orders "}), None).taskhub == "orders"
    assert defaults_from_ini(_ini({"durabletask_taskhub": "orders"}), None, taskhub="payments").taskhub == "payments"


def test_a_marker_sets_or_clears_the_task_hub_for_one_test() -> None:
    defaults = defaults_from_ini(_ini({"durabletask_taskhub": "orders"}), None)
    assert apply_markers(defaults, [_Marker(taskhub="payments")]).taskhub == "payments"
    assert apply_markers(defaults, [_Marker(taskhub=None)]).taskhub is None
    assert apply_markers(defaults, [_Marker(clock="manual")]).taskhub == "orders"


@pytest.mark.parametrize(("value", "message"), [("my hub", "without spaces"), (3, "must be a task hub name or None")])
def test_a_bad_task_hub_is_refused_naming_where_it_came_from(value: object, message: str) -> None:
    with pytest.raises(DurableSettingsError, match=message) as caught:
        parse_taskhub(value, source="@pytest.mark.durabletask")
    assert str(caught.value).startswith("@pytest.mark.durabletask: ")


def test_the_metadata_interceptor_adds_its_pairs_after_the_calls_own() -> None:
    seen = []
    details = SimpleNamespace(method="/TaskHubSidecarService/Hello", timeout=3.0, metadata=[("taskhub", "orders")],
                              credentials=None, wait_for_ready=True, compression=None)
    MetadataInterceptor([("authorization", "Bearer t")]).intercept_unary_unary(
        lambda d, r: seen.append(d), details, None)
    assert seen[0].metadata == [("taskhub", "orders"), ("authorization", "Bearer t")]
    assert (seen[0].method, seen[0].timeout, seen[0].wait_for_ready) == ("/TaskHubSidecarService/Hello", 3.0, True)


HUB_TESTS = '''
import grpc
import pytest
from durabletask import client as dt_client


def test_the_fake_serves_the_configured_hub_only(durable_sidecar):
    assert durable_sidecar.task_hub == "orders"
    other = dt_client.TaskHubGrpcClient(host_address=durable_sidecar.address, metadata=[("taskhub", "payments")])
    try:
        with pytest.raises(grpc.RpcError) as refused:
            other.schedule_new_orchestration("anything")
    finally:
        other.close()
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "task hub not found: 'payments'" in refused.value.details()


@pytest.mark.durabletask(taskhub=None)
def test_a_test_without_a_hub_gets_a_fake_that_ignores_the_header(durable_sidecar):
    assert durable_sidecar.task_hub is None


def test_the_worker_is_the_schedulers_or_the_test_says_what_to_install(durable_worker):
    from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker

    assert isinstance(durable_worker, DurableTaskSchedulerWorker)
'''


def test_the_ini_task_hub_configures_the_fake_and_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_taskhub = orders\n")
    pytester.makepyfile(test_hub=HUB_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["durabletask: Durable Task Scheduler client and worker on the task hub 'orders'"])
    if _azuremanaged_installed():
        result.assert_outcomes(passed=3)
        return
    result.assert_outcomes(passed=2, errors=1)  # the worker fixture fails at set-up, saying what to install
    output = result.stdout.str()
    assert "durabletask-azuremanaged cannot be imported" in output
    assert "pip install durabletask-azuremanaged" in output


def test_a_bad_ini_task_hub_stops_the_run_with_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_taskhub = my hub\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini option durabletask_taskhub: a task hub name must be printable ASCII without spaces" in \
        result.stderr.str()


def test_the_failure_report_names_the_task_hub(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_taskhub = orders\n")
    pytester.makepyfile("def test_fails(durable_sidecar):\n    assert False, 'on purpose'\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["fake sidecar at *, clock=auto, task hub 'orders', virtual time now *"])


def test_the_command_line_task_hub_overrides_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_taskhub = orders\n")
    pytester.makepyfile("def test_hub(durable_sidecar):\n    assert durable_sidecar.task_hub == 'payments'\n")
    pytester.runpytest("-p", "no:cacheprovider", "--durabletask-taskhub=payments").assert_outcomes(passed=1)


def test_on_an_external_sidecar_the_plugins_own_calls_reach_the_task_hub(pytester: pytest.Pytester) -> None:
    """The stand-in reads and cleans up the test's instances on the same hub as the scheduler's classes."""
    from durabletask_testing import FakeSidecar

    with FakeSidecar(clock="real", task_hub="orders") as external:
        pytester.makepyfile(
            "def test_hub(durable_sidecar):\n"
            "    assert durable_sidecar.client.metadata == [('x-team', 'a'), ('taskhub', 'orders')]\n"
            "    assert durable_sidecar.client.describe(['nothing-here']) is not None\n")
        result = pytester.runpytest("-p", "no:cacheprovider", f"--durabletask-sidecar={external.address}",
                                    "--durabletask-control=none", "--durabletask-taskhub=orders",
                                    "--durabletask-metadata=x-team=a")
    result.assert_outcomes(passed=1)
