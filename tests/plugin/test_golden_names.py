"""Unit tests of golden timeline file names: one file per test id and label, simple names unchanged (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from durabletask_pytest.report.golden import (
    TimelineMismatch,
    compare_with_snapshot,
    legacy_snapshot_path,
    snapshot_path,
)

TEST_FILE = Path("/project/tests/test_orders.py")


def name(test_name: str, label: str | None = None) -> str:
    return snapshot_path(TEST_FILE, test_name, label).name


def test_simple_names_and_labels_keep_the_names_they_always_had() -> None:
    assert snapshot_path(TEST_FILE, "test_flow", None) == Path(
        "/project/tests/__durable_timelines__/test_orders/test_flow.txt")
    assert name("test_flow", "before-v2.1") == "test_flow-before-v2.1.txt"


@pytest.mark.parametrize("ids", [
    [("test_region[eu/west]", None), ("test_region[eu_west]", None), ("test_region_eu_west", None),
     ("test_region[eu west]", None), ("test_region[eu:west]", None)],
    [("test_x", "a/b"), ("test_x", "a_b"), ("test_x[a]", "b"), ("test_x", "a-b"), ("test_x-a", "b")],
    [("test_x[" + "a" * 300 + "]", None), ("test_x[" + "a" * 299 + "b]", None)],
])
def test_names_that_sanitise_alike_get_different_files(ids: list[tuple[str, str | None]]) -> None:
    names = [name(test_name, label) for test_name, label in ids]
    assert len(set(names)) == len(names), names


def test_a_changed_name_stays_readable_short_and_stable() -> None:
    made = name("test_region[eu/west]")
    assert made.startswith("test_region_eu_west~") and made == name("test_region[eu/west]")
    assert len(name("test_x[" + "a" * 1000 + "]")) < 160


def test_a_golden_file_under_its_old_name_is_named_in_the_missing_file_message(tmp_path: Path) -> None:
    test_file = tmp_path / "test_orders.py"
    legacy = legacy_snapshot_path(test_file, "test_region[eu/west]", None)
    legacy.parent.mkdir(parents=True)
    legacy.write_text("+00:00:00.000  ExecutionStarted  wait\n")
    path = snapshot_path(test_file, "test_region[eu/west]", None)
    with pytest.raises(TimelineMismatch, match=r"an older version of the plugin kept it at test_region_eu_west\.txt"):
        compare_with_snapshot(["+00:00:00.000  ExecutionStarted  wait"], path, update=False, legacy=legacy)
