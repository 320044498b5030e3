"""Extract and run the Python code blocks of the Markdown docs, so the docs cannot rot.

Conventions (an HTML comment on the line just before a fence, invisible in rendered Markdown):

* no marker: the block is part of its page's story. The page's plain blocks run in order in one shared
  module namespace, like cells of a notebook, so a later block can use what an earlier one defined.
* ``<!-- snippet: pytest -->``: the block is a complete pytest test file. It is run with pytest (the
  durabletask plugin active) and every test in it must pass.
* ``<!-- snippet: standalone -->``: the block is a complete program run in a fresh namespace.
* ``<!-- snippet: functions-app FILE -->``: the block is the file FILE of a Durable Functions app (its code, its
  tests). They need ``azure-functions-durable``, which this venv does not hold: the page's blocks of this kind are
  written to one folder and their tests run in a venv of that SDK, by tests/interop/test_durable_functions_apps.py.

Every ```python block is one of these; there is no way to skip one.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FENCE_OPEN = re.compile(r"^```python\s*$")
FENCE_CLOSE = re.compile(r"^```\s*$")
MARKER = re.compile(r"^<!--\s*snippet:\s*(?P<kind>[a-z-]+)(?:\s+(?P<file>[\w.-]+))?\s*-->\s*$")
KINDS = ("story", "pytest", "standalone", "functions-app")
NEEDS_FILE = ("functions-app",)


class SnippetError(Exception):
    """A docs code block is malformed or failed; the message names the page and line."""


@dataclass(frozen=True)
class Snippet:
    """One ```python block: where it is, what kind it is, and its code."""

    page: Path
    line: int  # 1-based line of the block's first code line
    kind: str
    code: str
    file: str = ""  # the file a functions-app block is
    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"


def extract(page: Path) -> list[Snippet]:
    """Return the page's python blocks in order; raise SnippetError for an unknown marker or open fence."""
    lines = page.read_text(encoding="utf-8").splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        if not FENCE_OPEN.match(lines[index]):
            index += 1
            continue
        kind, file = _marker_before(page, lines, index)
        start = index + 1
        end = start
        while end < len(lines) and not FENCE_CLOSE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise SnippetError(f"{page.name}:{index + 1}: ```python block is never closed")
        snippets.append(Snippet(page, start + 1, kind, "\n".join(lines[start:end]) + "\n", file))
        index = end + 1
    return snippets


def _marker_before(page: Path, lines: list[str], fence_index: int) -> tuple[str, str]:
    if fence_index == 0:
        return "story", ""
    match = MARKER.match(lines[fence_index - 1].strip())
    if match is None:
        return "story", ""
    kind, file = match.group("kind"), match.group("file") or ""
    if kind not in KINDS:
        raise SnippetError(f"{page.name}:{fence_index}: unknown snippet kind {kind!r} (known: {', '.join(KINDS)})")
    if (kind in NEEDS_FILE) != bool(file):
        raise SnippetError(f"{page.name}:{fence_index}: a {kind} block " + (
            "names its file (<!-- snippet: functions-app function_app.py -->)" if kind in NEEDS_FILE
            else "takes no file name"))
    return kind, file


@contextmanager
def _module(name: str) -> Iterator[types.ModuleType]:
    """A real, importable module to run blocks in (dataclasses and pickling look modules up by name)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        yield module
    finally:
        sys.modules.pop(name, None)


def run_blocks(snippets: list[Snippet], module_name: str) -> None:
    """Run blocks in order in one namespace; a failure names the block's page and line."""
    with _module(module_name) as module:
        for snippet in snippets:
            try:
                exec(compile(snippet.code, snippet.where, "exec"), module.__dict__)  # noqa: S102 - runs our docs
            except Exception as error:
                line = _failing_page_line(snippet, error)
                raise SnippetError(
                    f"docs block at {snippet.where} failed (page line {line}): {type(error).__name__}: {error}"
                ) from error


def _failing_page_line(snippet: Snippet, error: BaseException) -> int:
    """The page line of the innermost traceback frame inside the block (the block's first line if none)."""
    line = snippet.line
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == snippet.where:
            line = snippet.line + frame.tb_lineno - 1
        frame = frame.tb_next
    return line


def module_name_for(page: Path, suffix: str = "") -> str:
    """A unique module name for a page (and optionally one block of it)."""
    return "docs_snippet_" + re.sub(r"\W", "_", page.stem) + suffix


def count_tests(snippet: Snippet) -> int:
    """How many test functions a pytest block defines (module level or in classes)."""
    return len(re.findall(r"^\s*def test_\w+\(", snippet.code, flags=re.MULTILINE))
