"""Unit tests of the hash-seed pass's pure parts: which code may order by string hash, and the verdict drawn from
the fresh processes' outcomes (two seeds that differ fail the test; a common divergence or a crash gives none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from durabletask_pytest.audit import hash_seed
from durabletask_pytest.audit.hash_seed import NoVerdictWarning, _Run, _verdict, uses_hash_order

TEAM = {"ann", "bob"}


def _literal(ctx: Any, _: Any) -> Any:
    for name in {"ann", "bob"}:  # a frozenset constant
        return name


def _views(ctx: Any, _: Any) -> Any:
    return next(iter({"a": 1}.keys() & {"b": 2}.keys()))


def _comprehension(ctx: Any, names: list[str]) -> Any:
    return next(iter({name.upper() for name in names}))


def _calls_set(ctx: Any, names: list[str]) -> Any:
    return next(iter(set(names)))


def _global_set(ctx: Any, _: Any) -> Any:
    return next(iter(TEAM))


def _helper(names: list[str]) -> Any:
    return {name for name in names}


def _through_helper(ctx: Any, names: list[str]) -> Any:
    return next(iter(_helper(names)))


def _plain(ctx: Any, names: list[str]) -> Any:
    ordered = sorted(names)
    counts = {name: len(name) for name in ordered}
    return [ordered[0], counts, 3 & 1]


@pytest.mark.parametrize("function", [_literal, _views, _comprehension, _calls_set, _global_set, _through_helper])
def test_code_that_may_order_by_string_hash_is_found(function: Any) -> None:
    assert uses_hash_order(function)


def test_the_chosen_orchestrators_are_those_that_may_order_by_hash() -> None:
    assert hash_seed.hash_ordered({"b": _literal, "a": _plain, "c": None, "d": _through_helper}) == {
        "b": _literal, "d": _through_helper}


def test_the_fresh_processes_import_from_the_test_process_import_path(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(hash_seed.sys, "path", ["", "/somewhere", str(tmp_path), "/somewhere"])
    assert hash_seed._import_path() == [str(tmp_path), "/somewhere"]  # "" is the current directory


def test_code_without_sets_is_not_chosen() -> None:
    assert not uses_hash_order(_plain)
    assert not uses_hash_order(len)  # no Python code


FILES = ["/tmp/x/instance-a-0.json"]
FUNCTIONS = {"_plain": _plain}


def test_two_seeds_that_replay_differently_are_a_verdict() -> None:
    runs = [_Run("1", ("replays",)), _Run("2", ("diverges at step 1 (action 1): recorded A, code produced B",))]
    report = _verdict(FUNCTIONS, runs, FILES)
    assert report is not None
    assert "PYTHONHASHSEED=2" in report and "with PYTHONHASHSEED=1 the same process replays them" in report
    assert "instance-a-0.json: diverges at step 1" in report


def test_the_same_divergence_under_every_seed_is_no_verdict() -> None:
    same = ("diverges at step 1 (action 1): recorded A, code produced B",)
    with pytest.warns(NoVerdictWarning, match="fails to replay them in the same way"):
        assert _verdict(FUNCTIONS, [_Run(str(seed), same) for seed in range(1, 4)], FILES) is None


def test_a_process_that_cannot_run_the_code_is_no_verdict() -> None:
    runs = [_Run("1", ("replays",)), _Run("2", None, "exit status 2: replay: cannot import: FileNotFoundError")]
    with pytest.warns(NoVerdictWarning, match="FileNotFoundError"):
        assert _verdict(FUNCTIONS, runs, FILES) is None


def test_all_replaying_is_a_pass() -> None:
    assert _verdict(FUNCTIONS, [_Run("1", ("replays",)), _Run("2", ("replays",))], FILES) is None


def test_the_test_process_seed_is_the_control(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "5")
    seeds = hash_seed._seeds()
    assert seeds[0] == "5" and len(set(seeds)) == len(seeds) == hash_seed.RUNS
    monkeypatch.delenv("PYTHONHASHSEED")
    assert "5" in hash_seed._seeds() and len(hash_seed._seeds()) == hash_seed.RUNS
