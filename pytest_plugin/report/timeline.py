"""Readable text for orchestration histories (re-exported from :mod:`durabletask_testing.timeline`)."""

from durabletask_testing.timeline import (
    DEFAULT_VALUE_WIDTH,
    FAILURE_MESSAGE_LIMIT,
    event_type_label,
    format_event,
    format_failure,
    format_history,
    format_offset,
    shorten,
    status_name,
)

__all__ = [
    "DEFAULT_VALUE_WIDTH",
    "FAILURE_MESSAGE_LIMIT",
    "event_type_label",
    "format_event",
    "format_failure",
    "format_history",
    "format_offset",
    "shorten",
    "status_name",
]
