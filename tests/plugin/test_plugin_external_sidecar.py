"""--durabletask-sidecar: the same tests against an external sidecar (here a FakeSidecar playing a real one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from durabletask_testing import FakeSidecar

API_TOKEN = "s3cret"

PORTABLE_TESTS = '''
import pytest
from durabletask import client

from durabletask_pytest import ExternalSidecar


def hello(ctx, name):
    return f"Hello {name}!"


def greet(ctx, name):
    return (yield ctx.call_activity(hello, input=name))


def test_runs_unchanged(durable_worker, durable_client, durable_sidecar, durable_settings):
    assert not durable_settings.uses_fake
    assert isinstance(durable_sidecar, ExternalSidecar)
    durable_worker.start_with(orchestrators=[greet], activities=[hello])
    instance_id = durable_client.schedule_new_orchestration(greet, input="external", instance_id="portable-1")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == "Hello external!"


def test_failing_test_reports_the_external_instance(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[greet], activities=[hello])
    instance_id = durable_client.schedule_new_orchestration(greet, input="report", instance_id="portable-2")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == "Goodbye"


def test_needs_the_clock(durable_clock):
    raise AssertionError("must be skipped")


def test_needs_faults(durable_faults):
    raise AssertionError("must be skipped")


@pytest.mark.durabletask(freeze_time=True)
def test_needs_frozen_time(durable_client):
    raise AssertionError("must be skipped")


def test_reaches_for_the_fake_clock_in_the_body(durable_sidecar):
    durable_sidecar.clock.advance(5)
    raise AssertionError("must be skipped")


def test_waits_for_the_fake_to_be_idle(durable_sidecar):
    durable_sidecar.wait_until_idle(timeout=1)
    raise AssertionError("must be skipped")
'''


@pytest.fixture
def real_sidecar() -> Iterator[FakeSidecar]:
    sidecar = FakeSidecar(clock="real", api_token=API_TOKEN)
    sidecar.start()
    try:
        yield sidecar
    finally:
        sidecar.stop()


def test_external_sidecar_runs_portable_tests_and_skips_fake_only_ones(
    pytester: pytest.Pytester, real_sidecar: FakeSidecar
) -> None:
    pytester.makepyfile(test_portable=PORTABLE_TESTS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-rs",
        f"--durabletask-sidecar={real_sidecar.address}",
        f"--durabletask-metadata=authorization=Bearer {API_TOKEN}",  # the sidecar refuses calls without it
    )
    result.assert_outcomes(passed=1, failed=1, skipped=5)
    output = result.stdout.str()

    assert f"durabletask: using the external sidecar at {real_sidecar.address}" in output
    assert output.count("needs the fake sidecar's virtual clock") == 3  # durable_clock, freeze_time, .clock
    assert output.count("needs the fake sidecar's fault injection") == 1
    assert output.count("needs the fake sidecar's state inspection") == 1
    # Skips raised from inside a test body are reported at the test, not inside the plugin.
    assert "external.py" not in output
    assert "test_portable.py:" in output
    # The work really happened on the external sidecar, and each test's instances were purged at its teardown.
    assert "ExternalCleanupWarning" not in output
    assert real_sidecar.instances() == []
    # The failure report reads the instance back over the protocol.
    assert f"external sidecar at {real_sidecar.address}" in output
    assert "instance 'portable-2' (greet): COMPLETED" in output
    assert "TaskScheduled#" in output and "name=hello" in output
    assert 'output: "Hello report!"' in output


LEFTOVER_TESTS = '''
from datetime import timedelta

SEEN = []


def record(ctx, who):
    SEEN.append(who)
    return who


def later_record(ctx, who):
    yield ctx.create_timer(timedelta(seconds=1))
    return (yield ctx.call_activity(record, input=who))


def test_a_fails_partway(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[later_record], activities=[record])
    instance_id = durable_client.schedule_new_orchestration(later_record, input="from test A")
    durable_client.wait_for_orchestration_start(instance_id, timeout=10)
    raise AssertionError("test A fails before its orchestration is done")


def parent_of_later_record(ctx, who):
    return (yield ctx.call_sub_orchestrator(later_record, input=who))


def test_a2_fails_while_a_child_runs(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[parent_of_later_record, later_record], activities=[record])
    instance_id = durable_client.schedule_new_orchestration(parent_of_later_record, input="from test A2")
    durable_client.wait_for_orchestration_start(instance_id, timeout=10)
    raise AssertionError("test A2 fails while its sub-orchestration waits for its timer")


def test_b_sees_only_its_own_work(durable_worker, durable_client):
    SEEN.clear()
    durable_worker.start_with(orchestrators=[later_record], activities=[record])
    instance_id = durable_client.schedule_new_orchestration(later_record, input="from test B")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.serialized_output == '"from test B"'
    assert SEEN == ["from test B"]
'''


def test_instances_a_test_left_running_are_terminated_and_purged_at_its_teardown(
    pytester: pytest.Pytester, real_sidecar: FakeSidecar
) -> None:
    pytester.makepyfile(test_leftover=LEFTOVER_TESTS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider",
        f"--durabletask-sidecar={real_sidecar.address}",
        f"--durabletask-metadata=authorization=Bearer {API_TOKEN}",
    )
    result.assert_outcomes(passed=1, failed=2)
    assert "ExternalCleanupWarning" not in result.stdout.str()  # the child ended before the recursive purge
    assert real_sidecar.instances() == []


def test_a_real_clock_marker_with_an_ini_start_time_stays_on_the_cli_fake(
    pytester: pytest.Pytester, real_sidecar: FakeSidecar
) -> None:
    from durabletask_testing.control import ControlServer

    pytester.makeini("[pytest]\ndurabletask_start_time = 2030-01-01T00:00:00Z\n")
    pytester.makepyfile(test_real_clock='''
import pytest


@pytest.mark.durabletask(clock="real")
def test_settings(durable_settings):
    assert not durable_settings.uses_fake and durable_settings.has_fake_controls
    assert durable_settings.start_time is None
''')
    with ControlServer(real_sidecar, api_token=API_TOKEN) as control:
        result = pytester.runpytest("-p", "no:cacheprovider", f"--durabletask-sidecar={real_sidecar.address}",
                                    f"--durabletask-control={control.url}",
                                    f"--durabletask-metadata=authorization=Bearer {API_TOKEN}")
    result.assert_outcomes(passed=1)
