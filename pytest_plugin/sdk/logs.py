"""Where the log of a test's SDK worker and client goes: into the standard logging tree, under pytest's control.

Left to itself, each SDK (ours, the published one and the Durable Task Scheduler's classes on top of it) builds a
logger outside the logging tree with its own handler at INFO, so every orchestration writes a few lines to
standard error, formatted and written whatever the test's outcome (and seen only when it fails). The plugin gives
them ``durabletask_pytest.sdk.worker`` and ``durabletask_pytest.sdk.client`` instead: no level and no handler of
their own, so they follow the root logger. By default that shows warnings and errors (in a failed test's
"Captured log" section); ``--log-level=INFO`` (or the ``log_level`` ini option, or ``caplog.set_level``) brings
the SDK's INFO lines back, and ``log_cli`` prints them live. SDK versions whose constructors take no ``logger``
keep their own. Each of the two loggers has a ``NullHandler``, so that a record logged when no handler is
configured (after pytest's session) is dropped instead of printed by logging's last resort.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Literal

WORKER_LOGGER = "durabletask_pytest.sdk.worker"
CLIENT_LOGGER = "durabletask_pytest.sdk.client"
_PLUGIN_PACKAGE = __name__.rsplit(".", 2)[0]


def logger_option(cls: type, role: Literal["worker", "client"]) -> dict[str, Any]:
    """``{"logger": ...}`` for ``cls``'s constructor when the SDK class under it takes a ``logger``, else ``{}``."""
    if not _takes_logger(cls):
        return {}
    return {"logger": _tree_logger(WORKER_LOGGER if role == "worker" else CLIENT_LOGGER)}


def is_plugin_logger(logger: logging.Logger) -> bool:
    """Whether ``logger`` is one of the two the plugin hands to SDKs (shared by every worker or client)."""
    return logger.name in (WORKER_LOGGER, CLIENT_LOGGER) and logging.getLogger(logger.name) is logger


def _tree_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())
    return logger


@functools.cache
def _takes_logger(cls: type) -> bool:
    """Whether the first SDK class in ``cls``'s method order that defines ``__init__`` has a ``logger`` argument
    (the plugin's own subclasses pass their arguments through)."""
    for klass in cls.__mro__:
        if klass.__module__.startswith(_PLUGIN_PACKAGE) or "__init__" not in vars(klass):
            continue
        try:
            return "logger" in inspect.signature(vars(klass)["__init__"]).parameters
        except (TypeError, ValueError):  # a constructor without a readable signature: leave it alone
            return False
    return False
