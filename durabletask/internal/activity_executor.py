"""Running one activity work item: look up the function, decode input, call it (sync or async), encode output."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

from durabletask import task
from durabletask.internal import serialization as ser
from durabletask.internal.registry import ActivityNotRegisteredError, Registry


class AsyncRunner:
    """One background event loop shared by all ``async def`` activities of a worker."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the shared loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()).result()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="durabletask-async-activities", daemon=True).start()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        """Stop the loop (pending coroutines are abandoned)."""
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


def execute_activity(registry: Registry, runner: AsyncRunner, orchestration_id: str, name: str, task_id: int,
                     encoded_input: str | None) -> str | None:
    """Run activity ``name`` and return its serialized output; raises what the activity raises."""
    fn = registry.get_activity(name)
    if fn is None:
        raise ActivityNotRegisteredError(f"Activity function named '{name}' was not registered!")
    converter = registry.data_converter
    activity_input = converter.deserialize(encoded_input, ser.input_type_of(fn, converter) if encoded_input else None)
    result = fn(task.ActivityContext(orchestration_id, task_id), activity_input)
    if inspect.isawaitable(result):
        result = runner.run(result)
    return converter.serialize(result)
