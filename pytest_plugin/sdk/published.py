"""What the plugin does for a worker of the published ``durabletask`` SDK that its public API does not offer.

The published worker's ``stop()`` takes about a second: its three work-item consumers (asyncio tasks of the
worker's own event loop) wait on their queues with a one-second timeout, and only look at the shutdown flag when
that wait ends. :func:`prepare_prompt_stop` drops one wake-up item into a consumer's queue just before the stop:
the consumer cannot unpack it, which is the manager's own "uncaught error" path: it hands any queued work items
back (their cancellation), shuts its thread pool down after the calls still running, and returns, so ``stop()``
ends within milliseconds. The manager's log line about that error is filtered out. The plugin's shared SDK logger
(``logs.py``) is never silenced: what a stop logs goes where pytest's logging puts it; a worker's own logger (an
SDK version without a ``logger`` argument) is silenced at the end of a test, since what the stop writes to
standard error then could reach no test's output.

This reads private attributes of the published worker (``_async_worker_manager``, its ``activity_queue`` and
``_queue_event_loop``, the worker's ``_logger``): they are checked first, and with any other shape (another
version, or our SDK, whose stop already takes about a millisecond) nothing is touched and False is returned.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .logs import is_plugin_logger

WAKE_UP_TEXT = "durabletask_pytest: wake-up item for a prompt stop"
"""What the wake-up item's error says (the filter below drops the manager's log line about it)."""


class _WakeUpError(Exception):
    """Raised when the published worker's consumer unpacks the wake-up item."""


class _WakeUpItem:
    """A work item that cannot be unpacked: ``func, cancel, args, kwargs = item`` raises at once."""

    def __iter__(self) -> Any:
        raise _WakeUpError(WAKE_UP_TEXT)


class _DropWakeUpLines(logging.Filter):
    """Drops the log records that mention the wake-up item."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return WAKE_UP_TEXT not in record.getMessage()
        except Exception:  # a record that cannot be formatted is not ours
            return True


_FILTER = _DropWakeUpLines()


def prepare_prompt_stop(worker: Any, *, quiet: bool) -> bool:
    """Make the coming ``stop()`` of a started published worker end promptly; ``quiet`` silences its log.

    Call it right before the SDK's ``stop()``. True when the worker has the shape this relies on (then the
    wake-up item is queued), False otherwise (nothing was changed; the stop takes as long as the SDK makes it).
    """
    manager = getattr(worker, "_async_worker_manager", None)
    loop = getattr(manager, "_queue_event_loop", None)
    queue = getattr(manager, "activity_queue", None)
    if not isinstance(loop, asyncio.AbstractEventLoop) or not isinstance(queue, asyncio.Queue):
        return False
    logger = getattr(worker, "_logger", None)
    if isinstance(logger, logging.Logger):
        if quiet and not is_plugin_logger(logger):  # the SDK's own logger, which writes to standard error itself
            logger.disabled = True
        elif _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    try:
        loop.call_soon_threadsafe(queue.put_nowait, _WakeUpItem())
    except RuntimeError:  # the worker's loop is already closed: its run loop ended, the stop is prompt anyway
        pass
    return True
