"""Tests of the eternal certificate monitor: virtual days pass in milliseconds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from monitor_continue_as_new import certificate_monitor, main, new_monitor_state, register

from durabletask import client

DAY = timedelta(days=1)


def start_monitor(durable_worker, durable_client, durable_clock, *, expires_in: timedelta) -> str:
    register(durable_worker)
    durable_worker.start()
    state = new_monitor_state("shop.example.com", durable_clock.now() + expires_in, check_every=DAY,
                              remind_within=timedelta(days=3))
    return durable_client.schedule_new_orchestration(certificate_monitor, input=state)


def checks_done(durable_client, instance_id: str) -> int:
    status = durable_client.get_orchestration_state(instance_id).get_custom_status()
    return status["checks"] if status else 0


@pytest.mark.durabletask(clock="manual")
def test_monitor_checks_once_per_virtual_day(durable_worker, durable_client, durable_clock, durable_sidecar) -> None:
    instance_id = start_monitor(durable_worker, durable_client, durable_clock, expires_in=timedelta(days=10))
    assert durable_sidecar.wait_until_idle()  # the first check is done, the monitor sleeps on its timer
    assert checks_done(durable_client, instance_id) == 1

    for day in range(1, 10):
        durable_clock.advance(DAY)
        assert durable_sidecar.wait_until_idle()
        assert checks_done(durable_client, instance_id) == day + 1
        # continue-as-new restarts the history at each check, so it never grows
        assert len(durable_sidecar.history(instance_id)) < 20

    state = durable_client.get_orchestration_state(instance_id)
    assert state.runtime_status == client.OrchestrationStatus.RUNNING
    assert state.get_custom_status()["reminders"] == 3  # days 8, 9 and 10 are within 3 days of expiry

    durable_clock.advance(DAY)
    done = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert done.get_output() == {"site": "shop.example.com", "status": "expired", "checks": 10, "reminders": 3}


def test_a_month_of_checks_runs_at_once_on_the_auto_clock(durable_worker, durable_client, durable_clock) -> None:
    started = durable_clock.now()
    instance_id = start_monitor(durable_worker, durable_client, durable_clock, expires_in=timedelta(days=30))

    done = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert done.get_output() == {"site": "shop.example.com", "status": "expired", "checks": 30, "reminders": 3}
    assert durable_clock.now() - started == timedelta(days=30)


@pytest.mark.durabletask(clock="manual")
def test_the_eternal_monitor_can_be_terminated(durable_worker, durable_client, durable_clock, durable_sidecar) -> None:
    instance_id = start_monitor(durable_worker, durable_client, durable_clock, expires_in=timedelta(days=365))
    assert durable_sidecar.wait_until_idle()
    assert checks_done(durable_client, instance_id) == 1

    durable_client.terminate_orchestration(instance_id, output="site decommissioned")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.runtime_status == client.OrchestrationStatus.TERMINATED
    assert state.get_output() == "site decommissioned"


def test_example_script_runs_on_its_embedded_fake(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "COMPLETED after 30 days of sidecar time: 30 checks, 3 reminders" in out
