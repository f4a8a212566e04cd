"""The test tree's own rules, checked by parsing it (issue 10 §5).

1. A test module imports no other test module: from ``tests`` only ``tests.support``.
2. No helper module is named like a test: every ``test_*.py`` holds tests, and
   tests/support holds none.
3. conftest.py files hold fixtures (and pytest hooks) only, and nobody imports them.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def _modules_imported(tree: ast.AST) -> list[str]:
    """Every module an import in ``tree`` names (relative imports as ``.``-prefixed names)."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    return found


def foreign_test_imports(source: str) -> list[str]:
    """Imports of the test tree other than tests.support (relative ones count too)."""
    return [
        name for name in _modules_imported(ast.parse(source))
        if name.startswith(".")
        or (name == "tests" or name.startswith("tests."))
        and not (name == "tests.support" or name.startswith("tests.support."))
    ]


def conftest_imports(source: str) -> list[str]:
    """Imports of any conftest module."""
    return [name for name in _modules_imported(ast.parse(source))
            if name == "conftest" or name.endswith(".conftest")]


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Attribute) and target.attr == "fixture") or (
        isinstance(target, ast.Name) and target.id == "fixture")


def not_fixtures(source: str) -> list[str]:
    """Top-level classes and functions of a conftest that are neither fixtures nor hooks."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            found.append(node.name)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("pytest_") and not any(
                    _is_fixture(d) for d in node.decorator_list):
                found.append(node.name)
    return found


def has_tests(source: str) -> bool:
    """The module defines a test function or a ``Test*`` class."""
    return any(
        (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"))
        or (isinstance(node, ast.ClassDef) and node.name.startswith("Test"))
        for node in ast.parse(source).body
    )


def _files(pattern: str) -> list[Path]:
    return sorted(TESTS.rglob(pattern))


def _relative(path: Path) -> str:
    return str(path.relative_to(TESTS.parent))


def test_the_tree_is_where_the_rules_look():
    assert (TESTS / "support" / "plugin.py").is_file()
    assert len(_files("test_*.py")) > 50 and len(_files("conftest.py")) > 3


@pytest.mark.parametrize("path", _files("test_*.py"), ids=_relative)
def test_a_test_module_imports_only_tests_support(path: Path):
    assert foreign_test_imports(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", _files("test_*.py"), ids=_relative)
def test_a_module_named_like_a_test_holds_tests(path: Path):
    assert has_tests(path.read_text(encoding="utf-8"))


def test_support_has_no_module_named_like_a_test():
    assert [_relative(p) for p in (TESTS / "support").rglob("test_*.py")] == []


@pytest.mark.parametrize("path", _files("conftest.py"), ids=_relative)
def test_conftest_holds_fixtures_only(path: Path):
    assert not_fixtures(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", _files("*.py"), ids=_relative)
def test_nobody_imports_a_conftest(path: Path):
    assert conftest_imports(path.read_text(encoding="utf-8")) == []


def test_the_detectors_catch_each_violation():
    assert foreign_test_imports("from tests.api.conftest import bearer") == ["tests.api.conftest"]
    assert foreign_test_imports("import tests.chat.test_storefront") == [
        "tests.chat.test_storefront"]
    assert foreign_test_imports("def f():\n    from .support import x\n") == [".support"]
    assert foreign_test_imports("from tests.support.api import bearer\nimport flask") == []
    assert conftest_imports("from tests.h5.conftest import fake") == ["tests.h5.conftest"]
    assert conftest_imports("from tests.support.h5 import RealModeApp") == []
    assert not_fixtures(
        "import pytest\nclass Fake: ...\ndef helper(): ...\n"
        "@pytest.fixture\ndef ok(): ...\n@pytest.fixture(scope='session')\ndef ok2(): ...\n"
        "def pytest_configure(config): ...\n"
    ) == ["Fake", "helper"]
    assert not has_tests("def helper(): ...\nclass Story: ...\n")
    assert has_tests("def test_x(): ...") and has_tests("class TestX: ...")
