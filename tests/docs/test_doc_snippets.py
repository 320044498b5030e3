"""Every ```python block in docs/ runs, and fails this test if it breaks (see snippets.py for the rules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snippets import (  # noqa: E402
    Snippet,
    SnippetError,
    count_tests,
    extract,
    module_name_for,
    run_blocks,
)

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
PAGES = [*sorted(DOCS_DIR.glob("*.md")), DOCS_DIR.parent / "README.md"]


def _blocks(kind: str) -> list[Snippet]:
    return [snippet for page in PAGES for snippet in extract(page) if snippet.kind == kind]


def _story_pages() -> list[Path]:
    return [page for page in PAGES if any(s.kind == "story" for s in extract(page))]


def test_the_docs_have_python_blocks_of_every_kind() -> None:
    kinds = {snippet.kind for page in PAGES for snippet in extract(page)}
    assert kinds == {"story", "pytest", "standalone", "functions-app"}


@pytest.mark.parametrize("page", _story_pages(), ids=lambda page: page.name)
def test_story_blocks_of_a_page_run_in_order(page: Path) -> None:
    run_blocks([s for s in extract(page) if s.kind == "story"], module_name_for(page))


@pytest.mark.parametrize("snippet", _blocks("standalone"), ids=lambda s: s.where)
def test_standalone_block_runs(snippet: Snippet) -> None:
    run_blocks([snippet], module_name_for(snippet.page, f"_{snippet.line}"))


def _run_pytest_block(snippet: Snippet, pytester: pytest.Pytester) -> None:
    tests = count_tests(snippet)
    assert tests > 0, f"{snippet.where}: a pytest block without test functions"
    pytester.makepyfile(**{f"test_docs_{snippet.page.stem.replace('-', '_')}_{snippet.line}": snippet.code})
    golden = "durable_timeline_snapshot" in snippet.code
    if golden:  # write the golden timeline first; the page must show exactly what was written
        pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "--durabletask-update-timelines")
        written = sorted(Path(pytester.path, "__durable_timelines__").rglob("*.txt"))
        assert written, f"{snippet.where}: no golden timeline was written"
        page_text = snippet.page.read_text(encoding="utf-8")
        for snapshot in written:
            assert snapshot.read_text() in page_text, f"{snippet.where}: the page does not show {snapshot.name}:\n" + (
                snapshot.read_text())
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    assert result.ret == 0, f"{snippet.where}: the test file did not pass:\n" + "\n".join(result.outlines[-80:])
    outcomes = result.parseoutcomes()
    passed = outcomes.pop("passed", 0)
    outcomes.pop("warnings", None)
    assert passed >= tests and not outcomes, f"{snippet.where}: {tests}+ tests should pass: {result.outlines[-1]}"


@pytest.mark.parametrize("snippet", _blocks("pytest"), ids=lambda s: s.where)
def test_pytest_block_passes(snippet: Snippet, pytester: pytest.Pytester) -> None:
    _run_pytest_block(snippet, pytester)


# -- the checker itself must catch broken docs ------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_a_broken_story_block_fails_with_its_line(tmp_path: Path) -> None:
    page = _write(tmp_path, "# t\n\n```python\nx = 1\n```\n\ntext\n\n```python\nassert x == 2\n```\n")
    with pytest.raises(SnippetError, match=r"page\.md:10 failed \(page line 10\): AssertionError"):
        run_blocks(extract(page), "docs_snippet_selftest")


def test_the_failing_line_inside_a_block_is_reported(tmp_path: Path) -> None:
    page = _write(tmp_path, "intro\n\n```python\nx = 1\ny = 2\nassert x == y, 'x differs'\n```\n")
    with pytest.raises(SnippetError, match=r"page\.md:4 failed \(page line 6\): AssertionError: x differs"):
        run_blocks(extract(page), "docs_snippet_selftest")


def test_story_blocks_share_one_namespace(tmp_path: Path) -> None:
    page = _write(tmp_path, "```python\nx = 41\n```\n\n```python\nx += 1\nassert x == 42\n```\n")
    run_blocks(extract(page), "docs_snippet_selftest")


def test_markers_select_the_kind(tmp_path: Path) -> None:
    page = _write(
        tmp_path,
        "<!-- snippet: pytest -->\n```python\ndef test_a():\n    pass\n```\n"
        "<!-- snippet: standalone -->\n```python\nprint(1)\n```\n```bash\nls\n```\n",
    )
    snippets = extract(page)
    assert [(s.kind, s.line) for s in snippets] == [("pytest", 3), ("standalone", 8)]
    assert count_tests(snippets[0]) == 1


def test_an_unknown_marker_is_an_error(tmp_path: Path) -> None:
    page = _write(tmp_path, "<!-- snippet: skip -->\n```python\nx = 1\n```\n")
    with pytest.raises(SnippetError, match="unknown snippet kind 'skip'"):
        extract(page)


def test_a_functions_app_block_names_its_file_and_only_it_does(tmp_path: Path) -> None:
    named = extract(_write(tmp_path, "<!-- snippet: functions-app function_app.py -->\n```python\nx = 1\n```\n"))
    assert [(s.kind, s.file) for s in named] == [("functions-app", "function_app.py")]
    with pytest.raises(SnippetError, match="names its file"):
        extract(_write(tmp_path, "<!-- snippet: functions-app -->\n```python\nx = 1\n```\n"))
    with pytest.raises(SnippetError, match="takes no file name"):
        extract(_write(tmp_path, "<!-- snippet: pytest test_a.py -->\n```python\nx = 1\n```\n"))


def test_an_unclosed_block_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SnippetError, match="never closed"):
        extract(_write(tmp_path, "```python\nx = 1\n"))


def test_a_failing_pytest_block_is_detected(tmp_path: Path, pytester: pytest.Pytester) -> None:
    broken = Snippet(tmp_path / "page.md", 3, "pytest", "def test_broken():\n    assert 1 == 2\n")
    with pytest.raises(AssertionError, match=r"page\.md:3: the test file did not pass"):
        _run_pytest_block(broken, pytester)
