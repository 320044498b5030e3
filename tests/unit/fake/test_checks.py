"""The one check of incoming numbers (``durabletask_testing.checks``) and the entries that use it: FakeSidecar,
Clock, FaultPlan and the CLI refuse non-finite and out-of-range numbers with an error naming the parameter."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from durabletask_testing import FakeSidecar, FaultPlan
from durabletask_testing.checks import MAX_INT64, MAX_TIMEOUT_SECONDS, duration, finite, seconds, timeout, whole
from durabletask_testing.cli import build_parser
from durabletask_testing.cli.serve import serve
from durabletask_testing.clock import Clock
from durabletask_testing.faults import RPC_STATUS_CODES

NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_numbers_are_refused_naming_the_parameter(value: float) -> None:
    with pytest.raises(ValueError, match="^width must be a finite number"):
        finite(value, "width")


def test_finite_checks_type_range_and_huge_ints() -> None:
    assert finite(3, "n") == 3.0
    with pytest.raises(TypeError, match="n must be a number"):
        finite(True, "n")
    with pytest.raises(TypeError, match="n must be a number"):
        finite("3", "n")
    with pytest.raises(ValueError, match="n is out of range"):
        finite(10**400, "n")
    with pytest.raises(ValueError, match="n must be positive"):
        finite(0, "n", positive=True)
    with pytest.raises(ValueError, match="n must not be negative"):
        finite(-1, "n", minimum=0)
    with pytest.raises(ValueError, match="n must be at most 1"):
        finite(2, "n", maximum=1)


def test_durations_timeouts_and_whole_numbers() -> None:
    assert seconds(timedelta(minutes=1), "d") == 60.0
    assert duration(1.5, "d") == timedelta(seconds=1.5)
    assert duration(timedelta(hours=1), "d") == timedelta(hours=1)
    with pytest.raises(ValueError, match="d must be at most"):
        duration(1e300, "d")
    with pytest.raises(TypeError, match="d must be a timedelta or a number of seconds"):
        duration("1", "d")
    assert timeout(None) is None
    with pytest.raises(ValueError, match="timeout must be at most"):
        timeout(MAX_TIMEOUT_SECONDS * 2)
    assert whole(7.0, "seed") == 7 and whole(MAX_INT64, "seed") == MAX_INT64
    for bad in (7.5, math.inf, MAX_INT64 + 1, -1):
        with pytest.raises(ValueError, match="seed"):
            whole(bad, "seed")
    with pytest.raises(TypeError, match="seed must be a whole number"):
        whole(True, "seed")


@pytest.mark.parametrize("value", NON_FINITE)
def test_fake_sidecar_refuses_non_finite_intervals_leases_and_timeouts(value: float) -> None:
    with pytest.raises(ValueError, match="work_item_lease"):
        FakeSidecar(work_item_lease=value)
    sidecar = FakeSidecar(clock="manual")
    with pytest.raises(ValueError, match="timeout"):
        sidecar.wait_until_idle(value)


@pytest.mark.parametrize("value", [*NON_FINITE, 1e300, -1])
def test_the_clock_refuses_non_finite_huge_and_negative_advances(value: float) -> None:
    clock = Clock("manual", datetime(2030, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="delta"):
        clock.advance(value)
    assert clock.now() == datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_the_fault_plan_refuses_bad_numbers_when_the_fault_is_added() -> None:
    plan = FaultPlan()
    for call, name in [
        (lambda: plan.delay_activity("a", by=math.inf), "by"),
        (lambda: plan.delay_activity("a", by=math.nan), "by"),
        (lambda: plan.chaos(math.inf, rate=0.1), "seed"),  # type: ignore[arg-type]
        (lambda: plan.chaos(1, rate=math.nan), "rate"),
        (lambda: plan.chaos(1, rate=0.1, max_delay=timedelta(0)), "max_delay"),
        (lambda: plan.chaos(1, rate=0.1, kinds="fail_activity"), "kinds"),  # type: ignore[arg-type]
        (lambda: plan.disconnect_workers(after=-1), "after"),
        (lambda: plan.lose_result_at("activity", 2**70), "step"),
        (lambda: plan.fail_activity("a", times=0), "times"),
        (lambda: plan.fail_rpc("GetInstance", code="BOGUS"), "code"),
        (lambda: plan.fail_rpc("GetInstance", code="OK"), "code"),
    ]:
        with pytest.raises(ValueError, match=name):
            call()
    assert repr(plan) == "FaultPlan(rules: none, injected: 0)"


def test_rpc_status_codes_are_grpc_s_names_and_any_case_is_taken() -> None:
    assert set(RPC_STATUS_CODES) == {code.name for code in grpc.StatusCode} - {"OK"}
    plan = FaultPlan().fail_rpc("GetInstance", code="not_found").fail_rpc("RaiseEvent", code=grpc.StatusCode.ABORTED)
    assert plan.rpc_fault("GetInstance", datetime(2030, 1, 1, tzinfo=timezone.utc)) == "NOT_FOUND"
    assert plan.rpc_fault("RaiseEvent", datetime(2030, 1, 1, tzinfo=timezone.utc)) == "ABORTED"


@pytest.mark.parametrize("option", ["--health-ping-interval", "--work-item-lease"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e300"])
def test_serve_refuses_non_finite_seconds_options(option: str, value: str, capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", option, value])
    assert exit_info.value.code == 2 and option in capsys.readouterr().err


def test_serve_refuses_a_remote_control_api_without_a_token(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DURABLETASK_TESTING_API_TOKEN", raising=False)
    args = build_parser().parse_args(["serve", "--port", "0", "--control-host", "0.0.0.0"])
    assert serve(args) == 2
    assert "--allow-remote-control" in capsys.readouterr().err


def test_timestamps_of_the_vocabulary_equal_protobufs_own_conversion() -> None:
    from datetime import datetime, timedelta, timezone

    from google.protobuf import timestamp_pb2

    from durabletask_testing.vocabulary import timestamp

    moments = [
        datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),  # before the epoch: negative seconds
        datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=5))),  # another offset
        datetime(2024, 5, 6, 7, 8, 9),  # naive: UTC
        datetime(1, 1, 1, tzinfo=timezone.utc),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
    ]
    for moment in moments:
        expected = timestamp_pb2.Timestamp()
        expected.FromDatetime(moment)
        assert timestamp(moment) == expected, moment
