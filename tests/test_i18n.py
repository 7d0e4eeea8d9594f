"""Messages are declared (module-level ``MESSAGES``), collected when first needed, and every key a page
or module asks for resolves in both languages."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest

from data_products import i18n

ROOT = Path(__file__).resolve().parents[1]


def test_importing_a_module_registers_nothing_until_a_key_is_needed(monkeypatch):
    mod = types.ModuleType("data_products._i18n_probe")
    mod.MESSAGES = {"probe.hello": {"zh": "你好", "en": "Hello"}}
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    assert "probe.hello" not in i18n._MESSAGES
    assert i18n.t("probe.hello", "en") == "Hello" and i18n.t("probe.hello", "zh") == "你好"


def test_a_module_without_both_languages_is_refused_when_collected(monkeypatch):
    mod = types.ModuleType("data_products._i18n_bad")
    mod.MESSAGES = {"probe.only_en": {"en": "English only"}}
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    with pytest.raises(ValueError, match="lacks"):
        i18n.t("probe.only_en", "en")


def test_unknown_key_is_an_error():
    with pytest.raises(KeyError, match="no message"):
        i18n.t("no.such.key.anywhere", "en")


def _literal_keys(path: Path) -> set[str]:
    keys = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            keys.add(node.args[0].value)
    return keys


def test_every_literal_key_in_the_code_resolves_in_both_languages():
    """Every ``t("literal", ...)`` in the package and the pages names a declared message: import the
    package's modules and run each page's registrations, then look every key up in both languages."""
    import importlib

    declared: set[str] = set()
    for f in sorted((ROOT / "data_products").rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] in ("__main__",):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        importlib.import_module(".".join(parts))
    for f in sorted((ROOT / "dashboards").rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # Page scripts register their dict literals: collect those without running the page.
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "register"
                    and node.args and isinstance(node.args[0], ast.Dict)):
                declared |= {k.value for k in node.args[0].keys if isinstance(k, ast.Constant)}
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MESSAGES" for t in node.targets) \
                    and isinstance(node.value, ast.Dict):
                declared |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    known = i18n.keys() | declared
    used = set()
    for top in ("data_products", "dashboards"):
        for f in (ROOT / top).rglob("*.py"):
            used |= _literal_keys(f)
    missing = sorted(used - known)
    assert not missing, missing
    for key in sorted(used & i18n.keys()):
        for lang in i18n.LANGS:
            assert i18n._MESSAGES[key][lang], (key, lang)
