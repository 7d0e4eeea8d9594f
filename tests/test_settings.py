"""One settings object: every DATASPACE_* variable the code mentions is declared in config.SETTINGS,
documented in the README's settings table, and read through config.settings() only."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from data_products.config import SETTINGS, Settings, settings

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\bDATASPACE_[A-Z0-9_]*[A-Z0-9]\b")
SOURCES = ("data_products", "dashboards", "scripts", "tests")


def _source_files() -> list[Path]:
    files = [ROOT / "Makefile", ROOT / "pyproject.toml"]
    for top in SOURCES:
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".sh", ".toml") and p.is_file()]
    return [f for f in files if f.exists()]


def _readme_table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| `(DATASPACE_[A-Z0-9_]+)` \|.*$", section, re.M)}


def test_every_setting_the_code_mentions_is_documented_in_the_readme():
    documented = _readme_table()
    mentioned: dict[str, str] = {}
    for f in _source_files():
        for name in NAME.findall(f.read_text(encoding="utf-8", errors="replace")):
            mentioned.setdefault(name, str(f.relative_to(ROOT)))
    assert mentioned, "the scan found no setting at all: the pattern or the paths are wrong"
    undocumented = {n: f for n, f in mentioned.items() if n not in documented}
    assert not undocumented, f"settings read in the code but missing from the README's settings table: {undocumented}"


def test_readme_table_and_config_declare_the_same_settings_with_the_same_defaults():
    documented = _readme_table()
    assert set(documented) == set(SETTINGS)
    for name, s in SETTINGS.items():
        shown = s.default.strip("()")
        assert shown in documented[name], (name, shown)


def test_only_config_reads_the_environment_for_settings():
    """No module but config.py looks a DATASPACE_* variable up in the environment."""
    lookup = re.compile(r"(environ\.get|getenv|environ\[)\s*\(?\s*['\"]?(DATASPACE_|[A-Z_]*ENV\b)")
    offenders = []
    for top in ("data_products", "dashboards"):
        for f in (ROOT / top).rglob("*.py"):
            if f.name == "config.py" and f.parent.name == "data_products":
                continue
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if lookup.search(line):
                    offenders.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, offenders


def test_undeclared_setting_is_refused():
    with pytest.raises(KeyError, match="not a declared setting"):
        Settings({}).raw("DATASPACE_" + "NOT_A_SETTING")  # split so the scan above does not count it


def test_values_parse_and_bad_values_name_their_variable():
    s = settings({"DATASPACE_HOME": "/srv/space", "DATASPACE_MIN_CELL": "12", "DATASPACE_LOCKOUT_MINUTES": "3",
                  "DATASPACE_CJK_FONT": "/fonts/x.ttc"})
    assert (s.home, s.min_cell, s.lockout_minutes, s.lockout_failures) == (Path("/srv/space"), 12, 3, 5)
    assert s.cjk_font == Path("/fonts/x.ttc") and s.pseudonym_key_hex is None and s.password is None
    with pytest.raises(ValueError, match="DATASPACE_MIN_CELL=5 is below the floor"):
        _ = settings({"DATASPACE_MIN_CELL": "5"}).min_cell
    with pytest.raises(ValueError, match="DATASPACE_SESSION_IDLE_MINUTES must be positive"):
        _ = settings({"DATASPACE_SESSION_IDLE_MINUTES": "0"}).session_idle_minutes


def test_users_add_help_names_the_variables_the_code_reads(tmp_path, monkeypatch):
    out = subprocess.run([sys.executable, "-m", "data_products", "users", "add", "--help"], capture_output=True,
                         text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                                   "DATASPACE_HOME": str(tmp_path), "COLUMNS": "200"}, check=True)
    named = set(NAME.findall(out.stdout))
    assert "DATASPACE_NEW_PASSWORD" in named and named <= set(SETTINGS), out.stdout
    # ... and the new user's password is read from exactly that variable.
    from data_products.governance import cli as gov

    monkeypatch.setenv("DATASPACE_NEW_PASSWORD", "from-the-env-123")
    monkeypatch.setenv("DATASPACE_PASSWORD", "the-acting-officials")
    assert gov._new_password(None) == "from-the-env-123"
