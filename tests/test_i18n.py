"""Messages are declared (module-level ``MESSAGES``), read from the sources each package lists when first
needed, and every key a page or module asks for resolves in both languages."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest

from data_products import i18n

ROOT = Path(__file__).resolve().parents[1]


def test_an_imported_module_that_no_package_lists_adds_no_message(monkeypatch):
    """The catalogue reads the sources each package writes out, never whatever happens to be imported."""
    mod = types.ModuleType("data_products._i18n_probe")
    mod.MESSAGES = {"probe.hello": {"zh": "你好", "en": "Hello"}}
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    with pytest.raises(KeyError, match="no message 'probe.hello'"):
        i18n.t("probe.hello", "en")
    monkeypatch.setattr(i18n, "_MESSAGES", {**i18n._MESSAGES})
    i18n.register(mod.MESSAGES)
    assert i18n.t("probe.hello", "en") == "Hello" and i18n.t("probe.hello", "zh") == "你好"


def test_a_source_without_both_languages_or_without_its_dict_is_refused_when_read(monkeypatch):
    pkg = types.ModuleType("_i18n_probe_pkg")
    bad = types.ModuleType("_i18n_probe_pkg.bad")
    bad.MESSAGES = {"probe.only_en": {"en": "English only"}}
    empty = types.ModuleType("_i18n_probe_pkg.empty")
    for m in (pkg, bad, empty):
        monkeypatch.setitem(sys.modules, m.__name__, m)
    monkeypatch.setattr(i18n, "_MESSAGES", {**i18n._MESSAGES})
    pkg.MESSAGE_SOURCES = ("_i18n_probe_pkg.bad",)
    with pytest.raises(ValueError, match="lacks"):
        i18n.read_sources(pkg.__name__)
    pkg.MESSAGE_SOURCES = ("_i18n_probe_pkg.empty",)
    with pytest.raises(LookupError, match="_i18n_probe_pkg.empty .*declares no MESSAGES"):
        i18n.read_sources(pkg.__name__)


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
    """Every ``t("literal", ...)`` in the package and the pages names a declared message: the catalogue
    reads its sources (no module imported here), each page's registrations are read from its text without
    running it, then every key is looked up in both languages."""
    declared: set[str] = set()
    for f in sorted((ROOT / "dashboards" / "views").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "register"
                    and node.args and isinstance(node.args[0], ast.Dict)):
                declared |= {k.value for k in node.args[0].keys if isinstance(k, ast.Constant)}
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
