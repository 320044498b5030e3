"""An eternal monitor built with continue-as-new: watch a TLS certificate until it expires.

Every check is one short execution: look at the time left, send a reminder when renewal is due, sleep on
a durable timer, then ``continue_as_new`` with the updated state. Restarting keeps the history small no
matter how long the monitor lives. The monitor ends by itself when the certificate has expired (or when
someone terminates it).

Run it:  python examples/monitor_continue_as_new.py            (embedded fake: 30 days of daily checks
                                                                in well under a second)
         python examples/monitor_continue_as_new.py --host localhost:4001   (a real sidecar: a 5-second
                                                                             certificate checked every second)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from _runner import ExampleRun, describe_duration, describe_elapsed, run_example

from durabletask import task, worker


def new_monitor_state(site: str, expires_at: datetime, check_every: timedelta, remind_within: timedelta
                      ) -> dict[str, Any]:
    """The monitor's input: what to watch, how often, and the counters carried from check to check."""
    return {
        "site": site,
        "expires_at": expires_at.isoformat(),
        "check_every_s": check_every.total_seconds(),
        "remind_within_s": remind_within.total_seconds(),
        "checks": 0,
        "reminders": 0,
    }


def send_renewal_reminder(ctx: task.ActivityContext, reminder: dict[str, Any]) -> None:
    """Activity: tell the site owner to renew (here: print it)."""
    left = describe_duration(timedelta(seconds=reminder["seconds_left"]))
    print(f"    [activity] reminder: the certificate of {reminder['site']} expires in {left}")


def certificate_monitor(ctx: task.OrchestrationContext, state: dict[str, Any]):
    """Orchestrator: one check per execution, then continue as new until the certificate has expired."""
    now = ctx.current_utc_datetime.replace(tzinfo=timezone.utc)  # the SDK gives naive UTC, like the published one
    seconds_left = (datetime.fromisoformat(state["expires_at"]) - now).total_seconds()
    if seconds_left <= 0:
        return {"site": state["site"], "status": "expired", "checks": state["checks"],
                "reminders": state["reminders"]}

    state = dict(state, checks=state["checks"] + 1)
    if seconds_left <= state["remind_within_s"]:
        yield ctx.call_activity(send_renewal_reminder, input={"site": state["site"], "seconds_left": seconds_left})
        state["reminders"] += 1
    ctx.set_custom_status({"checks": state["checks"], "reminders": state["reminders"], "last_check": now.isoformat()})

    yield ctx.create_timer(now + timedelta(seconds=state["check_every_s"]))
    ctx.continue_as_new(state)


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's orchestrator and activity to a worker."""
    w.add_orchestrator(certificate_monitor)
    w.add_activity(send_renewal_reminder)


def scenario(run: ExampleRun) -> None:
    """Watch a certificate until it expires and print what the monitor did."""
    start = run.now()
    if run.on_fake:
        expiry, every, remind = timedelta(days=30), timedelta(days=1), timedelta(days=3)
    else:
        expiry, every, remind = timedelta(seconds=5), timedelta(seconds=1), timedelta(seconds=2)
    print(f"Certificate of shop.example.com expires in {describe_duration(expiry)}; checking every "
          f"{describe_duration(every)}, reminding within {describe_duration(remind)} of expiry.")
    state = new_monitor_state("shop.example.com", start + expiry, every, remind)
    instance_id = run.client.schedule_new_orchestration(certificate_monitor, input=state)
    done = run.client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert done is not None
    done.raise_if_failed()
    result = done.get_output()
    print(f"Monitor {instance_id}: {done.runtime_status.name} after {describe_elapsed(start, run.now())} "
          f"of sidecar time: {result['checks']} checks, {result['reminders']} reminders, "
          f"certificate {result['status']}.")
    if run.fake is not None:
        print(f"Its final history holds only {len(run.fake.history(instance_id))} events: "
              "continue-as-new started each check afresh.")


def main(argv: list[str] | None = None) -> int:
    return run_example("Eternal monitor: periodic checks with continue-as-new.", register, scenario,
                       clock="auto", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
