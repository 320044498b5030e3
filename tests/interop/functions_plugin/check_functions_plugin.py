"""Plugin checks of durable_functions, run with pytester in a Durable Functions SDK venv (not collected here)."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

pytest.importorskip("azure.durable_functions")

APP = '''
import random
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.orchestration_trigger(context_name="context")
def steady(context):
    value = yield context.call_activity("echo", "x")
    return value

@app.orchestration_trigger(context_name="context")
def dice(context):
    name = "echo" if random.random() < 0.5 else "other"
    value = yield context.call_activity(name, "x")
    return value

@app.activity_trigger(input_name="value")
def echo(value: str) -> str:
    return value

@app.activity_trigger(input_name="value")
def other(value: str) -> str:
    return value
'''


def test_the_marker_names_the_app_and_a_deterministic_test_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_app=APP, test_it='''
import re
from importlib.metadata import version

import pytest

@pytest.mark.durabletask(functions_app="my_app:app")
def test_steady(durable_functions):
    instance_id = durable_functions.start("steady")
    assert durable_functions.wait_for_completion(instance_id).output == "x"
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_replay_audit_fails_a_non_deterministic_orchestrator(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_functions_app = my_app:app\n")
    pytester.makepyfile(my_app=APP, test_it='''
def test_dice(durable_functions):
    ids = [durable_functions.start("dice") for _ in range(8)]
    for instance_id in ids:
        durable_functions.wait_for_completion(instance_id)
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the replay audit found non-deterministic*", "*Durable Functions SDK's own replay*",
                             "*(dice), episode*"])


def test_a_missing_app_setting_fails_with_a_message_naming_both_ways(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it='''
def test_needs_app(durable_functions):
    pass
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*durabletask_functions_app*functions_app=*"])


def test_call_http_without_a_responder_names_the_gap(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(http_app='''
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.orchestration_trigger(context_name="context")
def fetch(context):
    response = yield context.call_http("GET", "https://example.invalid/data")
    return response["statusCode"]
''', test_it='''
import re
from importlib.metadata import version

import pytest

@pytest.mark.durabletask(functions_app="http_app:app")
def test_without(durable_functions):
    status = durable_functions.wait_for_completion(durable_functions.start("fetch"))
    assert status.runtime_status.value == "Failed"
    assert "responder" in str(status.output)

@pytest.mark.durabletask(functions_app="http_app:app")
def test_with(durable_functions):
    durable_functions.respond_http(lambda request: {"statusCode": 204, "content": None})
    assert durable_functions.wait_for_completion(durable_functions.start("fetch")).output == 204
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_exploration_runs_the_app_once_per_schedule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_app=APP, test_it='''
import re
from importlib.metadata import version

import pytest

@pytest.mark.durabletask(functions_app="my_app:app", explore=3)
def test_steady(durable_functions, durable_schedule):
    ids = [durable_functions.start("steady") for _ in range(2)]
    assert [durable_functions.wait_for_completion(i).output for i in ids] == ["x", "x"]
''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=3)


def test_freeze_time_makes_activities_read_the_virtual_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(clock_app='''
from datetime import datetime, timezone
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.orchestration_trigger(context_name="context")
def stamp(context):
    return (yield context.call_activity("now", None))

@app.activity_trigger(input_name="ignored")
def now(ignored) -> str:
    return datetime.now(timezone.utc).isoformat()
''', test_it='''
from datetime import datetime
import re
from importlib.metadata import version

import pytest

@pytest.mark.durabletask(functions_app="clock_app:app", freeze_time=True, clock="manual",
                         start_time="2031-05-01T12:00:00Z")
def test_now(durable_functions):
    status = durable_functions.wait_for_completion(durable_functions.start("stamp"))
    assert datetime.fromisoformat(status.output).year == 2031
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_call_http_takes_a_path_its_route_matches(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(route_app='''
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="orders/{order_id}/approve", methods=["POST"])
def approve(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"approved {req.route_params['order_id']}", status_code=202)
''', test_it='''
import re
from importlib.metadata import version

import pytest

pytestmark = pytest.mark.durabletask(functions_app="route_app:app")

def test_by_path(durable_functions):
    response = durable_functions.call_http("orders/42/approve", "POST")
    assert (response.status_code, response.get_body()) == (202, b"approved 42")

def test_by_template(durable_functions):
    response = durable_functions.call_http("orders/{order_id}/approve", "POST", route_params={"order_id": "7"})
    assert response.get_body() == b"approved 7"

async def test_async_refuses_a_method_as_the_plain_call_does(durable_functions):
    with pytest.raises(Exception, match="accepts POST, not GET"):
        await durable_functions.call_http_async("orders/42/approve", "GET")

def test_no_match(durable_functions):
    with pytest.raises(Exception, match="nor one whose route matches it"):
        durable_functions.call_http("orders/42/reject", "POST")
''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=4)


# -- the replay audit's hash-seed pass ------------------------------------------------------------------------------

NOTIFY_APP = '''
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.orchestration_trigger(context_name="context")
def notify(context):
    sent = []
    for channel in CHANNELS:
        sent.append((yield context.call_activity("send", channel)))
    return sent

@app.activity_trigger(input_name="channel")
def send(channel: str) -> str:
    return channel
'''
NOTIFY_TEST = '''
def test_notify(durable_functions):
    assert len(durable_functions.wait_for_completion(durable_functions.start("notify")).output) == 5
'''
CHANNELS = '{"email", "sms", "push", "slack", "teams"}'
_SDK_VERSION = tuple(int(part) for part in version("azure-functions-durable").split(".")[:2])
newest_sdk_only = pytest.mark.skipif(_SDK_VERSION < (1, 7), reason="launches 8 processes: run with the newest SDK")


@newest_sdk_only
def test_iterating_a_set_of_strings_fails_in_processes_with_other_hash_seeds(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_functions_app = notify_app:app\n")
    pytester.makepyfile(notify_app=NOTIFY_APP.replace("CHANNELS", CHANNELS), test_it=NOTIFY_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([
        re.escape("orchestrations of ['notify'] did not replay deterministically: replayed in another process with "
                  "PYTHONHASHSEED=") + r"\d+ \(set iteration order of strings differs between processes\), the code "
        r"diverged \(with PYTHONHASHSEED=\d+ the same process ",
        r"\s+instance-\S+\.json: diverges at episode \d+: the orchestrator now asks for \[scheduleTask#\d+ 'send' "
        r"input \S+\] where the history recorded \[scheduleTask#\d+ 'send' input \S+\]"])


@newest_sdk_only
def test_iterating_the_set_sorted_passes_in_every_process(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_functions_app = notify_app:app\n")
    pytester.makepyfile(notify_app=NOTIFY_APP.replace("CHANNELS", f"sorted({CHANNELS})"), test_it=NOTIFY_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "NoVerdictWarning" not in result.stdout.str()


def test_an_app_without_sets_launches_no_process(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndurabletask_functions_app = notify_app:app\n")
    pytester.makeconftest('''
import subprocess
import re
from importlib.metadata import version

import pytest

@pytest.fixture(autouse=True)
def no_processes(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the audit started a process: {args}")
    monkeypatch.setattr(subprocess, "run", refuse)  # undone at teardown, after the audit of the call phase
''')
    pytester.makepyfile(notify_app=NOTIFY_APP.replace("CHANNELS", '["email", "sms", "push", "slack", "teams"]'),
                        test_it=NOTIFY_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_pass_inspects_the_apps_own_orchestrator_behind_the_sdk_handle(pytester: pytest.Pytester) -> None:
    from durabletask_pytest.audit.hash_seed import uses_hash_order

    from durabletask_testing.functions.app import index_app, user_function

    pytester.makepyfile(notify_app=NOTIFY_APP.replace("CHANNELS", CHANNELS))
    pytester.syspathinsert()
    import notify_app  # type: ignore[import-not-found]

    handle = index_app(notify_app.app).get("orchestrator", "notify")
    assert handle is not None and user_function(handle.call).__qualname__ == "notify"  # the module's is the builder
    assert uses_hash_order(user_function(handle.call)) and not uses_hash_order(handle.call)


def test_the_replay_command_replays_an_apps_stored_history(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_app=APP, test_it='''
import json
import re
from importlib.metadata import version

import pytest
from durabletask_testing.cli import main
from durabletask_testing.replay import history_document, write_history

@pytest.mark.durabletask(functions_app="my_app:app")
def test_replay(durable_functions, durable_sidecar, tmp_path, capsys):
    instance_id = durable_functions.start("steady")
    durable_functions.wait_for_completion(instance_id)
    document = history_document(instance_id, durable_sidecar.history(instance_id))
    write_history(document, tmp_path / "steady.json")
    for event in document["events"]:
        if "taskScheduled" in event:
            event["taskScheduled"]["input"] = json.dumps("y")
    write_history(document, tmp_path / "changed.json")
    capsys.readouterr()

    assert main(["replay", "--functions-app", "my_app:app", str(tmp_path / "steady.json")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'steady.json'}: replays\\n"
    assert main(["replay", "--functions-app", "my_app:app", str(tmp_path / "changed.json")]) == 1
    changed = capsys.readouterr().out
    assert "diverges at episode 1: the orchestrator now asks for [scheduleTask#0 'echo' input " in changed
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
