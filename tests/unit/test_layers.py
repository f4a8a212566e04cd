"""Pure domain code imports no web, ORM, WeChat or queue framework; core imports no Flask."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.imports import FORBIDDEN
from tests.support.imports import imported_modules as _imports

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ["shop/domain", "bots/messages.py", "bots/dialogue", "referral/domain",
                 "commissions/plans.py", "commissions/split.py", "core/money.py",
                 "core/bounds.py", "commissions/prorata.py", "commissions/maturity.py"]
# Core is the bottom layer: importing any of its modules loads none of these.
CORE_MUST_NOT_LOAD = ("flask", "flask_sqlalchemy", "flask_migrate", "flask_smorest", "werkzeug",
                      "webapp", "workers", "storefront", "shop", "commissions", "referral",
                      "adapters", "sandbox")


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


def test_shop_services_are_all_forbidden_to_pure_code():
    services = {p.stem for p in (ROOT / "shop").glob("*.py") if p.stem != "__init__"}
    assert services == {f.split(".", 1)[1] for f in FORBIDDEN if f.startswith("shop.")}


def _loaded_by_core() -> list[str]:
    """Top-level packages loaded (transitively) by importing every module under core/."""
    script = (
        "import importlib, pkgutil, sys, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('\\n'.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def test_core_loads_no_flask_and_nothing_above_it():
    loaded = set(_loaded_by_core())
    assert "core" in loaded and "sqlalchemy" in loaded  # the probe did import core
    assert not loaded & set(CORE_MUST_NOT_LOAD), sorted(loaded & set(CORE_MUST_NOT_LOAD))
