"""chatlocal's own layout rules, over the project's import graph (``tests/unit/test_layout.py``,
which also checks that there is no import cycle and that nothing imports ``tests``): each package
imports only the packages its ``__init__`` names, each says how faithful it is, and the worker's
runtime needs nothing but the standard library."""

from __future__ import annotations

import ast
import sys

import pytest

from tests.unit.test_layout import GRAPH, MODULES, ROOT, import_names

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


def part(name: str) -> str:
    """The package a module belongs to (``aws``...), or its own name at the top (``config``)."""
    return name.split(".")[1] if name != "chatlocal" else ""


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_its_docstring_allows(package):
    outside = {
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.startswith("chatlocal.") and part(name) == package
        for target in targets
        if target.startswith("chatlocal") and part(target) != package and part(target) not in ALLOWED[package]
    }
    assert outside == set()


def test_every_package_says_what_it_is():
    for package in ALLOWED.keys() - {"config"}:
        docstring = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert docstring and "How faithful" in docstring and "May import" in docstring, package


@pytest.mark.parametrize("name", STDLIB_ONLY)
def test_the_workers_runtime_imports_the_standard_library_only(name):
    tops = {target.partition(".")[0] for target in import_names(MODULES[name], name)}
    assert tops - {"__future__"} <= set(sys.stdlib_module_names)
