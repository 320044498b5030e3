"""Kept for ``replay_audit.py`` (the audit room's, which imports ``DurableTestState`` from here today); the state
itself lives in :mod:`.fixtures.state`. Remove once the audit imports it from there."""

from .fixtures.state import STATE_KEY, DurableTestState

__all__ = ["STATE_KEY", "DurableTestState"]
