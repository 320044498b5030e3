"""The SDK worker's and client's log goes into the logging tree: quiet by default, pytest's log options show it."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from durabletask_pytest.sdk.logs import CLIENT_LOGGER, WORKER_LOGGER, is_plugin_logger, logger_option

INNER_TESTS = '''
import logging

from durabletask import client as dt_client


def hello(ctx, name):
    return f"Hello {name}!"


def greet(ctx, name):
    return (yield ctx.call_activity(hello, input=name))


def test_greets_then_fails(durable_worker, durable_client):
    assert durable_worker._logger is logging.getLogger("durabletask_pytest.sdk.worker")
    assert durable_client._logger is logging.getLogger("durabletask_pytest.sdk.client")
    durable_worker.start_with(orchestrators=[greet], activities=[hello])
    instance_id = durable_client.schedule_new_orchestration(greet, input="Tokyo", instance_id="greet-1")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.runtime_status == dt_client.OrchestrationStatus.COMPLETED
    durable_client._logger.info("client info marker")
    durable_worker._logger.warning("worker warning marker")
    assert False, "fail on purpose"
'''


def _has_published_client_log() -> bool:
    """Whether the installed SDK's client logs each scheduled instance at INFO (the published one does)."""
    import inspect

    from durabletask import client as dt_client

    source = inspect.getsource(dt_client.TaskHubGrpcClient.schedule_new_orchestration)
    return re.search(r"_logger\.info\(f?[\"']Starting new", source) is not None


def _captured_log(output: str) -> list[str]:
    """The lines of the failed test's "Captured log call" section."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Captured log call" in line)
    section = []
    for line in lines[start + 1:]:
        if line.startswith(("----", "====")):
            break
        section.append(line)
    return section


def test_by_default_only_warnings_reach_a_failed_tests_captured_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--tb=line")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert _captured_log(output) == [
        "WARNING  durabletask_pytest.sdk.worker:test_inner.py:22 worker warning marker"]
    assert "Starting new" not in output and "Captured stderr" not in output  # the SDK's own INFO lines are gone


def test_log_level_info_brings_the_sdks_info_lines_back(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--tb=line", "--log-level=INFO")
    result.assert_outcomes(failed=1)
    captured = _captured_log(result.stdout.str())
    assert "INFO     durabletask_pytest.sdk.client:test_inner.py:21 client info marker" in captured
    assert "WARNING  durabletask_pytest.sdk.worker:test_inner.py:22 worker warning marker" in captured
    if _has_published_client_log():  # the published SDK logs each scheduled instance at INFO
        assert any("Starting new 'greet' instance with ID = 'greet-1'." in line for line in captured)


class _TakesLogger:
    def __init__(self, *, host_address: str = "", logger: logging.Logger | None = None) -> None:
        self.logger = logger


class _TakesNoLogger:
    def __init__(self, *, host_address: str = "", log_handler: Any = None) -> None:
        self.log_handler = log_handler


def _plugin_subclass(base: type) -> type:
    """A subclass as the plugin writes them (in its own package, passing its arguments through)."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        vars(base)["__init__"](self, *args, **kwargs)

    return type("Sub", (base,), {"__init__": __init__, "__module__": "durabletask_pytest.sdk.worker"})


def test_logger_option_follows_the_sdk_class_under_the_plugins_subclass() -> None:
    option = logger_option(_plugin_subclass(_TakesLogger), "worker")
    assert option == {"logger": logging.getLogger(WORKER_LOGGER)}
    assert logger_option(_plugin_subclass(_TakesNoLogger), "client") == {}
    client_logger = logger_option(_TakesLogger, "client")["logger"]
    assert client_logger.name == CLIENT_LOGGER and is_plugin_logger(client_logger)
    assert any(isinstance(handler, logging.NullHandler) for handler in client_logger.handlers)
    assert not is_plugin_logger(logging.Logger(WORKER_LOGGER))  # same name, outside the tree: the SDK's own
