"""chatlocal's layout holds: no import cycle among its modules (counting imports inside functions
and under ``if TYPE_CHECKING:``), each package imports only the packages its ``__init__`` names,
the worker's runtime needs nothing but the standard library, and nothing imports ``tests``."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "chatlocal"
# What each package may import of the stack (chatlocal/<package>/__init__.py says why).
ALLOWED = {
    "config": set(),
    "aws": {"config"},
    "functions": {"config", "aws"},
    "eventsources": {"config", "functions"},
    "gateway": {"config", "aws", "functions"},
    "push": {"config"},
}
STDLIB_ONLY = ("chatlocal.functions.runtime_worker",)


def modules() -> dict[str, Path]:
    """Every module of the stack by its dotted name (a package by its ``__init__``)."""
    found = {}
    for file in PACKAGE.rglob("*.py"):
        parts = file.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return found


def imported(name: str, file: Path) -> Iterator[str]:
    """Every module ``file`` imports, wherever the import statement is."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    """Each module's imports of other modules of the stack (the most specific name that is one)."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, file in known.items():
        targets = {target for target in imported(name, file) if target in known and target != name}
        # ``from chatlocal.aws import services`` names both: keep the module, not its package.
        edges[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return edges


def cycle_from(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    path: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in seen:
            return None
        seen.add(node)
        path.append(node)
        for target in sorted(edges[node]):
            if found := visit(target):
                return found
        path.pop()
        return None

    return visit(start)


def part(name: str) -> str:
    """The package a module belongs to (``aws``...), or its own name at the top (``config``)."""
    return name.split(".")[1] if name != "chatlocal" else ""


def test_no_import_cycle_among_the_stacks_modules():
    edges = graph()
    cycles = [cycle for name in sorted(edges) if (cycle := cycle_from(name, edges))]
    assert cycles == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_its_docstring_allows(package):
    outside = {
        f"{name} -> {target}"
        for name, targets in graph().items()
        if part(name) == package
        for target in targets
        if part(target) != package and part(target) not in ALLOWED[package]
    }
    assert outside == set()


def test_every_package_says_what_it_is():
    for package in ALLOWED.keys() - {"config"}:
        docstring = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert docstring and "How faithful" in docstring and "May import" in docstring, package


@pytest.mark.parametrize("name", STDLIB_ONLY)
def test_the_workers_runtime_imports_the_standard_library_only(name):
    tops = {target.partition(".")[0] for target in imported(name, modules()[name])}
    assert tops - {"__future__"} <= set(sys.stdlib_module_names)


def test_nothing_in_the_stack_imports_the_tests():
    assert [
        name
        for name, file in modules().items()
        if any(target.partition(".")[0] == "tests" for target in imported(name, file))
    ] == []
