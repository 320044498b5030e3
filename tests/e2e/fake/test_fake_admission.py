"""The admission pools of blocking RPCs: a refused OS thread leaves the call queued instead of raising."""

from __future__ import annotations

import threading

import pytest

from durabletask_testing.shell import Admission


def test_a_call_that_gets_no_new_thread_waits_for_a_busy_one(monkeypatch):
    admission = Admission("things", 4, "test-admission")
    pool = admission._pool
    release = threading.Event()
    first = pool.submit(release.wait, 10)

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    second = pool.submit(lambda: "ran")  # no exception: queued for the busy thread
    monkeypatch.undo()
    release.set()
    assert first.result(timeout=10) and second.result(timeout=10) == "ran"
    admission.shutdown()


@pytest.mark.parametrize("limit", [0, -1, 1.5])
def test_the_limit_must_be_a_positive_integer(limit):
    with pytest.raises(ValueError, match="positive integer"):
        Admission("things", limit, "test-admission")
