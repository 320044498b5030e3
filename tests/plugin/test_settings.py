"""Unit tests of the plugin's settings resolution (markers over ini over defaults)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from durabletask_pytest.fixtures.settings import (
    DurableSettings,
    DurableSettingsError,
    apply_markers,
    defaults_from_ini,
    parse_address,
    parse_start_time,
)


def _ini(values: dict[str, object]):
    return lambda name: values.get(name, "")


def test_defaults_are_auto_clock_no_freeze_and_fake_sidecar() -> None:
    settings = defaults_from_ini(_ini({}), None)
    assert settings == DurableSettings(clock="auto", start_time=None, freeze_time=False, external_address=None)
    assert settings.uses_fake


def test_ini_values_are_parsed() -> None:
    settings = defaults_from_ini(
        _ini({"durabletask_clock": "Manual", "durabletask_start_time": "2030-01-02T03:04:05Z",
              "durabletask_freeze_time": True}),
        "127.0.0.1:4001",
    )
    assert settings.clock == "manual"
    assert settings.start_time == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert settings.freeze_time is True
    assert not settings.uses_fake


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ({"durabletask_clock": "sometimes"}, "clock must be one of auto, manual, real"),
        ({"durabletask_start_time": "yesterday"}, "start_time must be an ISO-8601"),
        ({"durabletask_freeze_time": "maybe"}, "freeze_time must be true or false"),
    ],
)
def test_bad_ini_values_name_the_option(ini: dict[str, object], message: str) -> None:
    with pytest.raises(DurableSettingsError, match=message) as caught:
        defaults_from_ini(_ini(ini), None)
    assert next(iter(ini)) in str(caught.value)


class _Marker:
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args = args
        self.kwargs = kwargs


def test_closest_marker_wins_per_keyword() -> None:
    defaults = DurableSettings(clock="auto", freeze_time=False)
    closest = _Marker(clock="manual")
    outer = _Marker(clock="real", freeze_time=True, start_time="2031-05-06T07:08:09+02:00")
    settings = apply_markers(defaults, [closest, outer])
    assert settings.clock == "manual"
    assert settings.freeze_time is True
    assert settings.start_time == datetime(2031, 5, 6, 5, 8, 9, tzinfo=timezone.utc)


def test_naive_start_time_is_taken_as_utc() -> None:
    assert parse_start_time(datetime(2030, 1, 1), source="x") == datetime(2030, 1, 1, tzinfo=timezone.utc)
    aware = datetime(2030, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_start_time(aware, source="x") == datetime(2030, 1, 1, 17, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (_Marker("manual"), "keyword arguments only"),
        (_Marker(clok="manual"), "unknown argument 'clok'"),
        (_Marker(start_time=12), "start_time must be a datetime or an ISO-8601 string, got int"),
        (_Marker(freeze_time="perhaps"), "freeze_time must be true or false"),
    ],
)
def test_bad_marker_arguments_are_explained(marker: _Marker, message: str) -> None:
    with pytest.raises(DurableSettingsError, match=message):
        apply_markers(DurableSettings(), [marker])


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1:", ":4001", "host:port", "host:70000"])
def test_bad_sidecar_addresses_are_refused(address: str) -> None:
    with pytest.raises(DurableSettingsError, match="expected HOST:PORT"):
        parse_address(address, source="--durabletask-sidecar")


def test_good_sidecar_address_is_kept() -> None:
    assert parse_address(" [::1]:4001 ", source="x") == "[::1]:4001"


def test_the_functions_app_comes_from_the_ini_and_the_closest_marker_overrides_it() -> None:
    defaults = defaults_from_ini(_ini({"durabletask_functions_app": " function_app:app "}), None)
    marker = pytest.mark.durabletask(functions_app="other_app:blueprint").mark

    assert defaults.functions_app == "function_app:app"
    assert apply_markers(defaults, [marker]).functions_app == "other_app:blueprint"
    assert apply_markers(defaults, []).functions_app == "function_app:app"


@pytest.mark.parametrize("value", ["function_app", ":app", "module:", 42])
def test_a_functions_app_that_is_neither_module_attribute_nor_an_app_is_refused(value: object) -> None:
    marker = pytest.mark.durabletask(functions_app=value).mark

    with pytest.raises(DurableSettingsError, match="functions_app"):
        apply_markers(DurableSettings(), [marker])
