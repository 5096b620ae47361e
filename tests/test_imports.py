"""The import graph of ``mtl``: no cycles, and few function-local imports of ``mtl`` modules.

The graph is read with ``ast`` from the source (every ``import`` statement, module-level or
inside a function; imports under ``if TYPE_CHECKING:`` are types only and are skipped), so a
lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Function-local imports of mtl modules today, each with a comment saying why: they keep torch
# or scikit-learn off a light path (the dashboard's pages, the CLI's start, a spare worker
# before it is needed). The goal is fewer than 15; lower this number as they go, never raise it.
LOCAL_IMPORT_CEILING = 12


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    local: bool


def module_names() -> dict[str, Path]:
    names = {}
    for path in (ROOT / "mtl").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The mtl module an imported name lives in (``mtl.viz.curves.x`` → ``mtl.viz.curves``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(
    node: ast.Import | ast.ImportFrom, package: str, modules: dict[str, Path]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def edges() -> Iterator[Edge]:
    modules = module_names()
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]

        def walk(
            node: ast.AST, local: bool, name: str = name, package: str = package
        ) -> Iterator[Edge]:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue  # types only
                inside = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                if isinstance(child, ast.Import | ast.ImportFrom):
                    for target in {
                        _resolve(t, modules)
                        for t in _targets(child, package, modules)
                        if t.split(".")[0] == "mtl"
                    }:
                        if target and target != name:
                            yield Edge(name, target, child.lineno, inside)
                yield from walk(child, inside)

        yield from walk(ast.parse(path.read_text(encoding="utf-8")), False)


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for edge in edges():
        graph.setdefault(edge.source, set()).add(edge.target)
    return graph


def local_imports() -> set[tuple[str, int]]:
    """One entry per function-local ``import`` statement of an mtl module."""
    return {(e.source, e.line) for e in edges() if e.local}


def test_the_graph_reader_sees_module_and_function_imports() -> None:
    found = {(e.source, e.target, e.local) for e in edges()}
    assert ("mtl.commands.run", "mtl.config", False) in found  # module level
    assert ("mtl.runs.worker", "mtl.train.distributed", True) in found  # inside a function
    assert ("mtl.data.tasks", "mtl.config", False) not in found  # under TYPE_CHECKING: skipped


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_mtl_modules() -> None:
    found = [" -> ".join(sorted(component)) for component in cycles(import_graph())]
    assert found == [], f"import cycles: {found}"


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_run_processes_sit_on_top_of_the_scheduler() -> None:
    """The worker, spare and supervisor processes call the scheduler; it starts them by module
    name and never imports them back (the cycle this package once had)."""
    graph = import_graph()
    processes = {"mtl.runs.worker", "mtl.runs.spare_process", "mtl.runs.supervisor_process"}
    for low in ("mtl.runs.scheduler", "mtl.runs.local_executor", "mtl.runs.store"):
        assert not reachable(graph, low) & processes, low
    assert "mtl.runs.scheduler" in graph["mtl.runs.worker"] & graph["mtl.runs.supervisor_process"]


def test_config_and_the_registries_import_each_other_no_more() -> None:
    graph = import_graph()
    for low in (
        "mtl.data.catalog",
        "mtl.data.tasks",
        "mtl.data.prepare",
        "mtl.models.encoders",
        "mtl.weighting.options",
    ):
        assert "mtl.config" not in graph.get(low, set()), low


def test_function_local_imports_of_mtl_modules_do_not_grow() -> None:
    count = len(local_imports())
    assert count <= LOCAL_IMPORT_CEILING, (
        f"{count} function-local imports of mtl modules (ceiling {LOCAL_IMPORT_CEILING})"
    )
