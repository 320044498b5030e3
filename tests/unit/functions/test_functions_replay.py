"""``replay --functions-app``'s refusals (a bad app spec, a module that cannot be imported, a malformed file, options
that do not fit) and the pure parts of the Durable Functions replay: the outcome of histories it cannot replay, the
steps it compares (inputs too), the app's own function behind an SDK handle. Replays through the Durable Functions
SDK itself run in its venv (tests/interop/functions_plugin)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from durabletask_testing.cli import main
from durabletask_testing.cli.functions_replay import exit_status
from durabletask_testing.functions.app import AppFunction, AppFunctions, user_function
from durabletask_testing.functions.audit import Step, replay_outcome
from durabletask_testing.functions.worker import FunctionsWorker
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.replay import history_document, write_history


def _history(tmp_path: Path, events: list[pb.HistoryEvent], name: str = "h.json") -> str:
    path = tmp_path / name
    write_history(history_document("i-1", events), path)
    return str(path)


def _started(name: str = "notify") -> pb.HistoryEvent:
    return pb.HistoryEvent(eventId=-1, executionStarted=pb.ExecutionStartedEvent(name=name))


@pytest.fixture(autouse=True)
def _own_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command puts its directory first; keep it to the test


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["replay", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(("spec", "said"), [
    ("function_app", "a functions app is named as 'module:attribute'"),
    ("no_such_function_app:app", "cannot import the functions app module 'no_such_function_app'"),
    ("json:dumps", "is not a Durable Functions app"),
    ("json:no_such_app", "module 'json' has no attribute 'no_such_app'"),
])
def test_an_app_that_cannot_be_loaded_is_a_usage_error_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, said: str) -> None:
    code, output = _replay(capsys, "--functions-app", spec, _history(tmp_path, [_started()]))

    assert code == 2 and f"--functions-app {spec}: " in output and said in output, output


def test_a_module_that_raises_while_imported_is_named_with_its_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_app_module.py").write_text("open('missing-settings.json')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    code, output = _replay(capsys, "--functions-app", "broken_app_module:app",
                           _history(tmp_path, [_started()]))

    assert code == 2 and "cannot import the functions app module 'broken_app_module': FileNotFoundError" in output


def test_a_malformed_history_file_is_a_usage_error_naming_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))

    code, output = _replay(capsys, "--functions-app", "function_app:app", str(bad))

    assert code == 2 and f"{bad}: not a durabletask-history document" in output, output


def test_the_options_of_a_durable_task_worker_do_not_fit_an_app(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _history(tmp_path, [_started()])
    code, output = _replay(capsys, "--functions-app", "function_app:app", "--through-worker", path)
    assert code == 2 and "--through-worker" in output
    with pytest.raises(SystemExit) as both:
        main(["replay", "--functions-app", "function_app:app", "--worker", "flows:orchestrators", path])
    assert both.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def _worker() -> FunctionsWorker:
    return FunctionsWorker(AppFunctions([AppFunction("notify", "orchestrator", lambda context: None, "context")]), "")


def test_histories_that_cannot_be_replayed_say_why_and_set_the_exit_status() -> None:
    worker = _worker()
    outcomes = [
        replay_outcome(worker, "a", [pb.HistoryEvent(orchestratorStarted=pb.OrchestratorStartedEvent())]),
        replay_outcome(worker, "b", [_started("other")]),
        replay_outcome(worker, "c", [_started()]),
    ]

    assert outcomes == [
        "cannot replay: the history has no ExecutionStarted event",
        "cannot replay: the app has no orchestrator function named 'other' (orchestrators: notify)",
        "nothing to replay: the history records no OrchestratorStarted (an instance no worker ran)",
    ]
    assert exit_status(outcomes) == 1
    assert exit_status(["replays", outcomes[2]]) == 3
    assert exit_status(["replays", "replays"]) == 0


def test_an_activity_scheduled_with_another_input_is_another_step() -> None:
    assert Step("scheduleTask", 1, "send", '"sms"') != Step("scheduleTask", 1, "send", '"email"')
    assert str(Step("scheduleTask", 1, "send", '"sms"')) == "scheduleTask#1 'send' input \"sms\""
    assert str(Step("completeOrchestration", -1, "COMPLETED")) == "completeOrchestration#-1 'COMPLETED'"


def _notify(context: Any) -> Any:
    yield context.call_activity("send", "sms")


def _handle_keeping_it(fn: Any) -> Any:  # azure-functions-durable 1.7: the function kept on the handle
    def handle(context: Any) -> Any:
        return fn(context)

    handle.orchestrator_function = fn  # type: ignore[attr-defined]
    return handle


def _handle_closing_over_it(fn: Any) -> Any:  # older versions: only in the handle's closure
    def handle(context: Any) -> Any:
        return fn(context)

    return handle


@pytest.mark.parametrize("wrap", [_handle_keeping_it, _handle_closing_over_it])
def test_the_apps_own_orchestrator_is_found_behind_the_sdk_handle(wrap: Any) -> None:
    assert user_function(wrap(_notify)) is _notify
    assert user_function(_notify) is _notify


APP_OBJECT = AppFunctions([])  # stands for an app object a module holds


def test_an_app_object_is_imported_in_another_process_by_the_module_global_holding_it() -> None:
    from types import SimpleNamespace

    from durabletask_pytest.functions.app import DurableFunctions

    host: Any = SimpleNamespace(app=APP_OBJECT, functions=AppFunctions([]))
    assert DurableFunctions(host, None).import_spec() == f"{__name__}:APP_OBJECT"
    assert DurableFunctions(host, None, spec="function_app:app").import_spec() == "function_app:app"
    host.app = AppFunctions([])  # built inside a test: no other process can import it
    assert DurableFunctions(host, None).import_spec() is None
