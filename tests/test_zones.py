"""The zones hold: pages never reach the hospital or restricted code, and read the approved zone read-only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import duckdb

from data_products import approved
from data_products.config import paths

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("data_products.hospital", "data_products.restricted", "duckdb", "sqlite3")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_dashboard_module_imports_the_hospital_or_restricted_code():
    files = sorted((ROOT / "dashboards").rglob("*.py"))
    assert len(files) > 5
    for f in files:
        bad = [n for n in _imports(f) if n.startswith(FORBIDDEN)]
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_no_page_folder_named_pages():
    assert not (ROOT / "dashboards" / "pages").exists()


def test_what_the_pages_import_never_loads_the_restricted_zone():
    """Transitively: importing every page's product modules leaves the hospital and restricted code unloaded."""
    code = (
        "import sys, importlib, pathlib\n"
        "import dashboards.ui, dashboards.charts, dashboards.navigation\n"
        "for p in pathlib.Path('data_products/products').glob('*/views.py'):\n"
        "    importlib.import_module('data_products.products.' + p.parent.name + '.views')\n"
        "import data_products.catalog\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('data_products.hospital', 'data_products.restricted')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout


def test_the_read_side_opens_only_approved_files_and_only_read_only(demo, monkeypatch):
    opened = []
    real = duckdb.connect

    def spy(database=":memory:", read_only=False, *a, **k):
        opened.append((str(database), read_only))
        return real(database, read_only, *a, **k)

    monkeypatch.setattr(duckdb, "connect", spy)
    approved._cache.clear()
    for product in ("pneumonia_atlas", "tumor_distribution", "jaundice_report"):
        approved.current(product)
    assert opened, "the read side opened nothing"
    root = str(paths().approved)
    for database, read_only in opened:
        assert read_only and database.startswith(root), (database, read_only)
