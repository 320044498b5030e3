"""Bounded error messages: what a status message echoes from a request is cut to a few dozen characters.

A gRPC status message travels in a trailer, and clients refuse trailers over 8 KiB (by default) with an
unrelated RESOURCE_EXHAUSTED: an echoed 20 KB id would hide the real status. :func:`echo` shortens one
echoed value; :func:`bounded` caps a whole message, whoever wrote it, and is applied to every status the
server sends.
"""

from __future__ import annotations

MAX_ECHO_CHARS = 64
MAX_MESSAGE_CHARS = 1024
ELLIPSIS = "…"


def echo(value: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``value`` quoted, cut to ``limit`` characters with its full length when longer."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}{ELLIPSIS} ({len(value)} characters)"


def bounded(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` unchanged when at most ``limit`` characters; else its start and end around a cut mark, in
    ``limit`` characters."""
    if len(message) <= limit:
        return message
    mark = f" {ELLIPSIS}[{len(message) - limit} characters cut]{ELLIPSIS} "
    keep = limit - len(mark)
    if keep < 2:
        return message[:limit]
    head = keep * 3 // 4
    return message[:head] + mark + message[len(message) - (keep - head):]
