"""The task hub a fake serves: the ``taskhub`` metadata that Durable Task Scheduler clients and workers send.

``durabletask-azuremanaged``'s ``DurableTaskSchedulerClient`` and ``DurableTaskSchedulerWorker`` put the name of
their task hub in a ``taskhub`` header on every call. A scheduler hosts several task hubs, each with its own
instances and work, and refuses a call naming a hub it does not have with NOT_FOUND ("Task hub not found"); the
scheduler's emulator serves one hub, ``default``, unless told otherwise.

A fake serves one task hub. Given a name (``FakeSidecar(task_hub=...)``, ``serve --task-hub``),
:class:`TaskHubInterceptor` refuses every call whose ``taskhub`` header names another hub with NOT_FOUND and a
message naming both, compared exactly (case matters); a call without the header (any other SDK) is served.
Without a name, no interceptor is installed and the header is ignored, whatever it says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from .auth import refusal

TASK_HUB_METADATA_KEY = "taskhub"
"""The header naming the task hub of a call (lower-case, as gRPC metadata keys are)."""
MAX_TASK_HUB_LENGTH = 256


def check_task_hub(name: Any) -> str:
    """``name`` when it can name a task hub (a non-empty string of printable ASCII without spaces, the shape a
    header value can carry unchanged); raises ValueError naming the problem otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"a task hub name must be a string, got {type(name).__name__}")
    if not name:
        raise ValueError("a task hub name must not be empty")
    if len(name) > MAX_TASK_HUB_LENGTH:
        raise ValueError(f"a task hub name must be at most {MAX_TASK_HUB_LENGTH} characters, got {len(name)}")
    if not all("!" <= char <= "~" for char in name):
        raise ValueError(f"a task hub name must be printable ASCII without spaces (it travels as gRPC metadata), "
                         f"got {name!r}")
    return name


class TaskHubInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Refuses, with NOT_FOUND, every call whose ``taskhub`` header names a hub other than this fake's."""

    def __init__(self, task_hub: str) -> None:
        self.task_hub = check_task_hub(task_hub)

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        named = [value for key, value in handler_call_details.invocation_metadata or ()
                 if key == TASK_HUB_METADATA_KEY]
        if all(value == self.task_hub for value in named):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        others = sorted({str(value) for value in named if value != self.task_hub})
        message = (f"task hub not found: {others[0]!r} (this fake sidecar serves the task hub {self.task_hub!r}; "
                   "give the client and the worker that name, or start the fake with the hub they use)")
        return refusal(handler, grpc.StatusCode.NOT_FOUND, message)
