"""The architecture's rules that import-linter cannot see, checked on the source tree.

import-linter (``lint-imports``, run by ``make test``, contracts in pyproject.toml)
checks which package may import which, transitively. This module checks the rest:
imports placed inside functions stay few and each says why, and the contracts
themselves are wired into ``make test``.
"""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("webapp", "workers", "storefront", "shop", "commissions", "referral",
                   "adapters", "core", "bots", "sandbox")
MAX_LATE_IMPORTS = 15
# A late import carries its reason on the line: `import x  # late: <why>`.
REASON = re.compile(r"#\s*late:\s*\S")


def _source_files() -> list[Path]:
    files: list[Path] = []
    for package in SOURCE_PACKAGES:
        files.extend(p for p in sorted((ROOT / package).rglob("*.py"))
                     if "migrations" not in p.parts)
    return files


def late_imports(path: Path) -> list[tuple[int, str]]:
    """(line, source line) of every import statement inside a function body."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child.lineno, lines[child.lineno - 1]))
            visit(child, inside)

    visit(ast.parse(text), False)
    return found


def _all_late_imports() -> list[tuple[str, int, str]]:
    return [(str(path.relative_to(ROOT)), line, source)
            for path in _source_files() for line, source in late_imports(path)]


def test_source_packages_exist():
    missing = [p for p in SOURCE_PACKAGES if not (ROOT / p / "__init__.py").is_file()]
    assert not missing


def test_imports_inside_functions_are_few():
    found = _all_late_imports()
    assert len(found) <= MAX_LATE_IMPORTS, "\n".join(f"{p}:{n}" for p, n, _ in found)


def test_every_import_inside_a_function_says_why():
    unexplained = [f"{p}:{n}: {src.strip()}" for p, n, src in _all_late_imports()
                   if not REASON.search(src)]
    assert not unexplained, "add `# late: <reason>` or move the import up:\n" + "\n".join(
        unexplained)


def test_late_import_finder_sees_nested_and_method_imports(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "if os.name:\n    import json\n"
        "def f():\n    import re  # late: why\n"
        "class C:\n    def m(self):\n        if True:\n            from x import y\n"
    )
    assert [line for line, _ in late_imports(sample)] == [5, 9]


def test_layer_contracts_are_declared_and_run_by_make_test():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    kinds = {c["type"] for c in contracts}
    assert {"layers", "forbidden"} <= kinds
    assert set(SOURCE_PACKAGES) <= set(config["tool"]["importlinter"]["root_packages"])
    assert "lint-imports" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_core_the_pure_domain_referral_and_commissions_are_typed_strictly():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    strict = [o for o in config["tool"]["mypy"]["overrides"] if o.get("disallow_untyped_defs")]
    modules = {m for o in strict for m in o["module"]}
    assert {"core.*", "bots.*", "shop.domain.*", "referral.*", "commissions.*"} <= modules
    flags = ("disallow_any_generics", "disallow_untyped_calls", "warn_return_any",
             "no_implicit_reexport", "strict_equality", "disallow_subclassing_any")
    assert all(o.get(flag) for o in strict for flag in flags)
