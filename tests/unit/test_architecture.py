"""The rooms of docs/architecture.md, checked: which room may import which, and no import cycles.

The rules are read from the source with `ast` (nothing is imported). Imports under `if TYPE_CHECKING:` are type
names only and are not counted; imports inside functions are counted for the room rules (they run too) but
not for cycles (a function-level import is how a module defers a dependency, not a cycle at import time).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "durabletask_testing": "durabletask_testing",
    "pytest_plugin": "durabletask_pytest",
    "durabletask": "durabletask",
}
KERNEL = {"checks", "clock", "errors", "faults", "messages", "timeline", "views", "vocabulary"}

# The fake's rooms and the rooms each may import at run time (docs/architecture.md, "Fake sidecar").
FAKE_MAY_IMPORT: dict[str, set[str]] = {
    "kernel": {"protocol"},
    "protocol": set(),
    "engine": {"kernel", "protocol"},
    "shell": {"kernel", "protocol", "engine"},
    "control": {"kernel", "protocol", "shell"},
    "replay": {"kernel", "protocol", "control"},
    "exploration": {"kernel", "protocol", "engine"},
    "dialects": {"kernel", "protocol", "shell"},
    "functions": {"kernel", "protocol", "shell", "control"},
    "cli": {"kernel", "protocol", "engine", "shell", "control", "replay", "exploration", "dialects", "functions",
            "facade"},
    "facade": {"kernel", "protocol", "engine", "shell", "control", "replay", "exploration", "dialects", "functions",
               "cli"},
}
# The plugin's rooms (docs/architecture.md, "Pytest plugin"); the fake and the SDKs are outside these rules.
PLUGIN_MAY_IMPORT: dict[str, set[str]] = {
    "seams": set(),
    "sdk": {"seams"},
    "external": {"seams"},
    "report": {"seams", "external"},
    "fixtures": {"seams", "sdk", "report", "external"},
    "explore": {"seams", "sdk", "fixtures"},
    "audit": {"seams", "fixtures"},
    "functions": {"seams", "sdk"},
    "strategies": {"explore"},
    "package": {"fixtures", "external"},
    "plugin": {"seams", "sdk", "external", "report", "fixtures", "explore", "audit", "functions"},
}


@dataclass(frozen=True)
class Edge:
    source: str  # dotted module name
    target: str  # dotted module name (a package or a module)
    path: Path
    line: int
    module_level: bool


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(folder: str) -> Iterator[Path]:
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "_pb2" not in path.name:
            yield path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt], module_level: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, module_level
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, module_level)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _imports(node.body, module_level and isinstance(node, ast.ClassDef))
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    nested = [child for child in children if isinstance(child, ast.stmt)]
                    nested += [s for child in children if isinstance(child, ast.ExceptHandler) for s in child.body]
                    yield from _imports(nested, module_level)


def edges(folder: str) -> Iterator[Edge]:
    for path in sources(folder):
        source = module_name(path)
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node, module_level in _imports(ast.parse(path.read_text()).body, True):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{stem}.{alias.name}" for alias in node.names] if not node.module else [stem]
            else:
                targets = [node.module or ""]
            for target in targets:
                yield Edge(source, target, path, node.lineno, module_level)


def fake_room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "durabletask_testing":
        return None
    if len(parts) == 1 or parts[1] in {"sidecar", "__main__"}:
        return "facade"
    return "kernel" if parts[1] in KERNEL else parts[1]


def plugin_room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "durabletask_pytest":
        return None
    return "package" if len(parts) == 1 else parts[1]


def violations(folder: str, room_of: dict[str, set[str]], classify: Callable[[str], str | None]) -> list[str]:
    found = []
    for edge in edges(folder):
        source, target = classify(edge.source), classify(edge.target)
        if source is None or target is None or source == target:
            continue
        assert source in room_of, f"{edge.path}: room {source!r} is not in the table; add it and its row in the docs"
        if target not in room_of[source]:
            found.append(f"{edge.path.relative_to(ROOT)}:{edge.line}: {source} imports {target} ({edge.target})")
    return found


def test_each_room_of_the_fake_imports_only_the_rooms_the_architecture_allows() -> None:
    assert violations("durabletask_testing", FAKE_MAY_IMPORT, fake_room) == []


def test_each_room_of_the_plugin_imports_only_the_rooms_the_architecture_allows() -> None:
    assert violations("pytest_plugin", PLUGIN_MAY_IMPORT, plugin_room) == []


def test_the_control_client_side_imports_neither_engine_nor_shell() -> None:
    client_side = {"durabletask_testing.control.client", "durabletask_testing.control.schema"}
    found = [
        f"{edge.source} imports {edge.target}"
        for edge in edges("durabletask_testing")
        if edge.source in client_side and fake_room(edge.target) in {"engine", "shell", "facade"}
    ]
    assert found == []


@pytest.mark.parametrize("room", ["kernel", "engine"])
def test_the_engine_and_kernel_import_no_grpc(room: str) -> None:
    found = [
        f"{edge.path.relative_to(ROOT)}:{edge.line}"
        for edge in edges("durabletask_testing")
        if fake_room(edge.source) == room and edge.target.split(".")[0] == "grpc"
    ]
    assert found == []


def test_only_the_replay_room_of_the_fake_imports_an_sdk() -> None:
    found = [
        f"{edge.path.relative_to(ROOT)}:{edge.line}: {edge.target}"
        for edge in edges("durabletask_testing")
        if edge.target.split(".")[0] in {"durabletask", "dapr"} and fake_room(edge.source) != "replay"
    ]
    assert found == []


@pytest.mark.parametrize("folder", ["durabletask_testing", "pytest_plugin"])
def test_only_the_functions_room_of_the_fake_imports_the_durable_functions_sdk(folder: str) -> None:
    found = [
        f"{edge.path.relative_to(ROOT)}:{edge.line}: {edge.target}"
        for edge in edges(folder)
        if edge.target.split(".")[0] == "azure" and fake_room(edge.source) != "functions"
    ]
    assert found == []


def test_the_sdk_imports_nothing_of_the_testkit() -> None:
    found = [
        f"{edge.path.relative_to(ROOT)}:{edge.line}: {edge.target}"
        for edge in edges("durabletask")
        if edge.target.split(".")[0] in {"durabletask_testing", "durabletask_pytest"}
    ]
    assert found == []


def import_graph(folders: list[str]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for folder in folders:
        for path in sources(folder):
            graph.setdefault(module_name(path), set())
    for folder in folders:
        for edge in edges(folder):
            if edge.module_level and edge.target in graph and edge.target != edge.source:
                graph[edge.source].add(edge.target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's, iterative: no recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def enter(node: str) -> tuple[str, Iterator[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return node, iter(sorted(graph.get(node, ())))

    for start in sorted(graph):
        if start in index:
            continue
        work = [enter(start)]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    work.append(enter(child))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_three_packages_have_no_import_cycles() -> None:
    assert cycles(import_graph(["durabletask_testing", "pytest_plugin", "durabletask"])) == []


def test_the_cycle_finder_finds_loops_and_only_loops() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"x": {"y"}, "y": set()}) == []
