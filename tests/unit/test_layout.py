"""The project's layout promises (docs/architecture.md), checked on the source as text:

- no import cycle among the project's modules, counting imports inside functions and under
  ``if TYPE_CHECKING:`` (an import of ``a.b`` is an arrow to ``a.b``; the parent packages Python
  also runs are not arrows: their ``__init__`` only hands names on);
- each layer of ``chalicelib`` imports only what its package docstring allows, and deployed
  code imports nothing of the emulator, the client, the tests, the benchmarks or moto;
- one place builds a ``ChatService``; the benchmark, the chaos run and the emulator import
  nothing from ``tests/``;
- no folder of Python code holds more than 12 modules, no Python file outside ``tests/`` is over
  600 lines, and no script of the web page over 400.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chalicelib", "chatlocal", "chatclient", "bench", "chaos", "infra", "tests")
SKIP_PARTS = {".venv", "__pycache__", "build", ".git", "node_modules"}


def python_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for package in PACKAGES:
        files += [p for p in (ROOT / package).rglob("*.py") if not SKIP_PARTS & set(p.parts)]
    return sorted(files)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in python_files()}


def import_names(path: Path, this: str | None = None) -> Iterator[str]:
    """Every name ``path`` (the module ``this``) imports, wherever the import stands, relative
    imports resolved: ``from a import b`` gives ``a.b`` when that is a module of the project, else
    ``a`` (which defines ``b``)."""
    this = this or module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)


def imported(path: Path, this: str | None = None) -> Iterator[str]:
    """Every module of the project that ``path`` (the module ``this``) imports."""
    this = this or module_name(path)
    for name in import_names(path, this):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != this:
            yield name


GRAPH = {name: set(imported(path)) for name, path in MODULES.items()}


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_the_project_is_part_of_an_import_cycle():
    assert cycles() == []


def test_the_cycle_check_sees_imports_inside_functions_and_under_type_checking(tmp_path):
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import chalicelib.service\n"
    source += "def f():\n    from chalicelib.domain import ids\n"
    source += "def g():\n    from ..delivery import fanout\n"
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert set(imported(path, "chalicelib.actions.probe")) == {
        "chalicelib.service",
        "chalicelib.domain.ids",
        "chalicelib.delivery.fanout",
    }


def imports_of(prefix: str) -> dict[str, set[str]]:
    return {
        name: targets for name, targets in GRAPH.items() if name == prefix or name.startswith(prefix + ".")
    }


def within(target: str, allowed: tuple[str, ...]) -> bool:
    return any(target == a or target.startswith(a + ".") for a in allowed)


# What each layer of chalicelib may import (besides itself), as the packages' docstrings say.
LAYERS = {
    "chalicelib.domain": (),
    "chalicelib.storage": ("chalicelib.domain", "chalicelib.config"),
    "chalicelib.delivery": ("chalicelib.domain", "chalicelib.queues"),
    "chalicelib.push": ("chalicelib.domain", "chalicelib.storage", "chalicelib.queues"),
    "chalicelib.actions": ("chalicelib.domain", "chalicelib.storage", "chalicelib.push", "chalicelib.retry"),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_of_chalicelib_imports_only_the_layers_below_it(layer):
    allowed = (layer, *LAYERS[layer])
    strays = {
        (name, target)
        for name, targets in imports_of(layer).items()
        for target in targets
        if target.startswith("chalicelib") and not within(target, allowed)
    }
    assert strays == set()


def test_deployed_code_imports_no_emulator_client_tests_or_benchmarks_and_not_the_test_driver():
    deployed = {"app": GRAPH["app"], **imports_of("chalicelib")}
    forbidden = ("chatlocal", "chatclient", "tests", "bench", "chaos", "infra", "chalicelib.testing")
    strays = {
        (name, target)
        for name, targets in deployed.items()
        if name != "chalicelib.testing"
        for target in targets
        if within(target, forbidden)
    }
    assert strays == set()
    upward = {(name, "app") for name, targets in imports_of("chalicelib").items() if "app" in targets}
    assert upward == set(), "chalicelib never imports the app that wires it"
    for name in deployed:
        text = MODULES[name].read_text()
        assert not re.search(r"^\s*(from|import) moto\b", text, re.M), name


def calls_chat_service(path: Path) -> bool:
    return any(
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", "")) == "ChatService"
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_only_the_runtime_builds_a_chat_service():
    assert {str(path.relative_to(ROOT)) for path in python_files() if calls_chat_service(path)} == {
        "chalicelib/runtime.py"
    }


def test_the_benchmark_the_chaos_run_and_the_emulator_import_nothing_from_tests():
    strays = {
        (name, target)
        for prefix in ("bench", "chaos", "chatlocal", "chatclient", "chalicelib", "app")
        for name, targets in imports_of(prefix).items()
        for target in targets
        if within(target, ("tests",))
    }
    assert strays == set()


def test_no_folder_of_python_code_holds_more_than_12_modules():
    crowded = {}
    for folder in {path.parent for path in python_files()}:
        count = len(list(folder.glob("*.py")))
        if count > 12:
            crowded[str(folder.relative_to(ROOT))] = count
    assert crowded == {}


def test_no_python_file_outside_tests_is_over_600_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in python_files()
        if "tests" not in path.relative_to(ROOT).parts[:1]
        and (lines := len(path.read_text().splitlines())) > 600
    }
    assert long == {}


def test_the_web_page_is_native_modules_of_at_most_400_lines():
    scripts = sorted((ROOT / "web").rglob("*.js"))
    assert scripts, "no scripts under web/"
    long = {str(p.relative_to(ROOT)): n for p in scripts if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
    assert 'type="module"' in (ROOT / "web" / "index.html").read_text()
