"""Pure domain code imports no web, ORM, WeChat or queue framework."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ["shop/domain", "bots/messages.py", "bots/dialogue", "referral/domain",
                 "commissions/plans.py", "commissions/split.py", "commissions/money.py",
                 "commissions/prorata.py"]
FORBIDDEN = ("flask", "flask_sqlalchemy", "flask_smorest", "sqlalchemy", "wechatpy", "rq",
             "redis", "core.models", "shop", "webapp.http", "webapp.extensions")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _pure_files() -> list[Path]:
    files: list[Path] = []
    for entry in PURE_PACKAGES:
        path = ROOT / entry
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def test_pure_packages_exist():
    assert _pure_files(), "no pure domain modules found"


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_has_no_framework_imports(path: Path):
    bad = {
        name for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_forbidden_import_detector_catches_a_violation(tmp_path: Path):
    sample = tmp_path / "bad.py"
    sample.write_text("from sqlalchemy import select\nimport flask\n")
    assert {"sqlalchemy", "flask"} <= _imports(sample)
