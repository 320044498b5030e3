"""The one helper that keeps status messages small: echoed values are cut, whole messages capped."""

from __future__ import annotations

from durabletask_testing.messages import MAX_MESSAGE_CHARS, bounded, echo


def test_echo_quotes_short_values_and_cuts_long_ones_with_their_length():
    assert echo("abc") == "'abc'"
    shown = echo("x" * 20_000)
    assert shown.startswith("'" + "x" * 64 + "'") and "(20000 characters)" in shown and len(shown) < 100


def test_bounded_keeps_short_messages_and_caps_long_ones_keeping_both_ends():
    assert bounded("no such instance") == "no such instance"
    message = "no orchestration instance with id '" + "z" * 20_000 + "' (status RUNNING)"
    capped = bounded(message)
    assert len(capped) == MAX_MESSAGE_CHARS
    assert capped.startswith("no orchestration instance with id 'zzz") and capped.endswith("(status RUNNING)")
    assert "characters cut" in capped
    assert bounded("y" * 50, limit=10) == "y" * 10  # no room for the cut mark
