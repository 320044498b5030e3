"""docs/other-languages.md shows the JavaScript, Go and Java tests verbatim: each block must equal its file.

A block is marked by an HTML comment on the line before its fence, ``<!-- verbatim: PATH -->`` (PATH relative to
the repository root). The files are the ones the interop suite runs (test_js_sdk_on_fake.py,
test_go_sdk_on_fake.py, test_java_sdk_on_fake.py), so the page cannot drift from tested code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .sidecars import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "other-languages.md"
MARKER = re.compile(r"^<!--\s*verbatim:\s*(?P<path>\S+)\s*-->$")
FENCE_OPEN = re.compile(r"^```[a-z]+$")
# The 24-hour-timer test of each language, and the helper it needs, must be on the page.
REQUIRED = [
    "tests/interop/js/timer.test.js",
    "tests/interop/js/control.js",
    "tests/interop/go/timer_test.go",
    "tests/interop/go/fake_test.go",
    "tests/interop/java/src/test/java/interop/TimerTest.java",
    "tests/interop/java/src/test/java/interop/ControlApi.java",
]


def verbatim_blocks(page: Path) -> dict[str, tuple[int, str]]:
    """PATH -> (line of the block's first code line, the block's text) for every marked block of ``page``."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: dict[str, tuple[int, str]] = {}
    for index, line in enumerate(lines):
        marker = MARKER.match(line)
        if not marker:
            continue
        where = f"{page.name}:{index + 1}"
        assert index + 1 < len(lines) and FENCE_OPEN.match(lines[index + 1]), f"{where}: no code fence after the marker"
        end = next((i for i in range(index + 2, len(lines)) if lines[i] == "```"), None)
        assert end is not None, f"{where}: the code block is never closed"
        path = marker.group("path")
        assert path not in blocks, f"{where}: {path} is shown twice"
        blocks[path] = (index + 3, "\n".join(lines[index + 2:end]) + "\n")
    return blocks


BLOCKS = verbatim_blocks(PAGE)


def test_the_page_shows_every_languages_timer_test_and_its_helper() -> None:
    missing = [path for path in REQUIRED if path not in BLOCKS]
    assert not missing, f"{PAGE.name} does not show {missing} (mark the block with <!-- verbatim: PATH -->)"


@pytest.mark.parametrize("path", sorted(BLOCKS))
def test_the_block_equals_its_file(path: str) -> None:
    line, shown = BLOCKS[path]
    actual = (REPO_ROOT / path).read_text(encoding="utf-8")
    if shown != actual:
        shown_lines, actual_lines = shown.splitlines(), actual.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(shown_lines, actual_lines)) if a != b),
                     min(len(shown_lines), len(actual_lines)))
        pytest.fail(f"{PAGE.name}:{line + first}: the block differs from {path} at its line {first + 1}:\n"
                    f"  page: {shown_lines[first] if first < len(shown_lines) else '(block ends)'}\n"
                    f"  file: {actual_lines[first] if first < len(actual_lines) else '(file ends)'}\n"
                    f"copy the file into the block again", pytrace=False)
