"""The logger of a client or worker, set up from the constructor's logging arguments."""

from __future__ import annotations

import logging


def make_logger(suffix: str, handler: logging.Handler | None, formatter: logging.Formatter | None,
                custom: logging.Logger | None) -> logging.Logger:
    """``custom`` when given; else the ``durabletask.<suffix>`` logger, with ``handler`` (and its formatter).

    A logger given a handler logs INFO and above unless its level was set (as the published SDK's loggers do);
    the handler's own level filters further."""
    if custom is not None:
        return custom
    log = logging.getLogger(f"durabletask.{suffix}")
    if handler is not None:
        if formatter is not None:
            handler.setFormatter(formatter)
        if handler not in log.handlers:
            log.addHandler(handler)
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)
    return log
