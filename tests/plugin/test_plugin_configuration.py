"""The marker and the ini options, as users write them: settings resolution seen from inside a test."""

from __future__ import annotations

import pytest

CONFIGURED_TESTS = '''
from datetime import datetime, timezone

import pytest


def test_ini_options_set_the_suite_defaults(durable_clock, durable_settings):
    assert durable_clock.mode == "manual"
    assert durable_clock.now() == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert durable_settings.freeze_time is False


@pytest.mark.durabletask(clock="auto")
def test_a_marker_overrides_one_option_and_keeps_the_others(durable_clock):
    assert durable_clock.mode == "auto"
    assert durable_clock.now() == datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.mark.durabletask(start_time=datetime(2031, 2, 3, 4, 5, 6))
class TestClassMarker:
    def test_class_marker_applies(self, durable_clock):
        assert durable_clock.now() == datetime(2031, 2, 3, 4, 5, 6, tzinfo=timezone.utc)

    @pytest.mark.durabletask(start_time="2032-01-01T00:00:00+01:00")
    def test_closest_marker_wins(self, durable_clock):
        assert durable_clock.now() == datetime(2031, 12, 31, 23, tzinfo=timezone.utc)


@pytest.mark.durabletask(clock="real")
def test_the_real_clock_ignores_the_suite_start_time(durable_clock):
    assert durable_clock.mode == "real"
    assert durable_clock.now().year < 2030


@pytest.mark.durabletask(clock="sometimes")
def test_a_bad_clock_is_reported(durable_clock):
    pass


@pytest.mark.durabletask(clock="real", start_time="2030-01-01T00:00:00Z")
def test_real_clock_with_a_start_time_is_reported(durable_sidecar):
    pass
'''


def test_marker_and_ini_options_configure_the_fake(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\n"
        "durabletask_clock = manual\n"
        "durabletask_start_time = 2030-01-01T00:00:00Z\n"
        "durabletask_freeze_time = false\n"
    )
    pytester.makepyfile(test_configured=CONFIGURED_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=2)
    output = result.stdout.str()
    assert "clock must be one of auto, manual, real, got 'sometimes'" in output
    assert "start_time cannot be combined with clock='real'" in output


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.durabletask(clock='manual')\ndef test_marked():\n    pass\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=1)
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.durabletask(clock=*start_time=*freeze_time=*"])


@pytest.mark.parametrize(
    ("ini_line", "message"),
    [
        ("durabletask_clock = sideways", "ini option durabletask_clock: clock must be one of auto, manual, real"),
        ("durabletask_start_time = soon", "ini option durabletask_start_time: start_time must be an ISO-8601"),
    ],
)
def test_bad_ini_options_stop_the_run_with_a_usage_error(
    pytester: pytest.Pytester, ini_line: str, message: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini_line}\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_bad_sidecar_address_stops_the_run_with_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--durabletask-sidecar=localhost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--durabletask-sidecar: expected HOST:PORT" in result.stderr.str()


def test_bad_metadata_stops_the_run_with_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--durabletask-metadata=no-equals-sign")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--durabletask-metadata: expected KEY=VALUE, got 'no-equals-sign'" in result.stderr.str()
