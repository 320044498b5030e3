"""Replaying recorded histories against the current orchestrator code.

Modules: :mod:`.replayer` (``Replayer``, the one replay loop, verdicts), :mod:`.episodes` (a history cut into
work items, the comparison of actions), :mod:`.history_file` (the stored-history JSON format), :mod:`.sidecar`
(the replay-only sidecar), :mod:`.workers` (the replay worker's lifecycle), :mod:`.sdks` (the one module that
knows which SDK is installed and how to drive it), :mod:`.cli` (the ``export`` and ``replay`` subcommands).
"""

from __future__ import annotations

from .history_file import HistoryFileError, StoredHistory, history_document, load_history, parse_history, write_history
from .replayer import Replayer, ReplayOutcome, ReplayPlan, export_history, plan, sdk_worker_starter
from .sdks import Registration

__all__ = [
    "HistoryFileError",
    "Registration",
    "ReplayOutcome",
    "ReplayPlan",
    "Replayer",
    "StoredHistory",
    "export_history",
    "history_document",
    "load_history",
    "parse_history",
    "plan",
    "sdk_worker_starter",
    "write_history",
]
