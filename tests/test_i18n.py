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
    reads its sources (page scripts from their text, none of them run), then every key is looked up in both
    languages. A key a page uses but declares nowhere fails here."""
    known = i18n.keys()
    used = set()
    for top in ("data_products", "dashboards"):
        for f in (ROOT / top).rglob("*.py"):
            used |= _literal_keys(f)
    missing = sorted(used - known)
    assert not missing, missing
    for key in sorted(used):
        for lang in i18n.LANGS:
            assert i18n._MESSAGES[key][lang], (key, lang)


def test_page_scripts_declare_their_messages_and_running_one_registers_nothing():
    """A page script is run by Streamlit, never imported: it declares ``MESSAGES`` as a literal, the
    dashboards package lists its file, and nothing in it calls ``register`` (so a run adds no message)."""
    import dashboards

    pages = sorted((ROOT / "dashboards" / "views").glob("*.py"))
    declaring = set()
    for f in pages:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and (getattr(n.func, "id", None) == "register" or getattr(n.func, "attr", None) == "register")]
        assert not calls, f"{f.name}, line {calls[0].lineno}: a page declares MESSAGES instead of registering"
        if any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "MESSAGES" for t in n.targets)
               for n in tree.body):
            declaring.add(f"views/{f.name}")
    assert declaring == {s for s in dashboards.MESSAGE_SOURCES if s.endswith(".py")}
    assert len(declaring) >= 10


def test_a_page_script_source_is_read_as_a_literal_and_refused_otherwise(tmp_path, monkeypatch):
    """The literal is read from the text; a page whose MESSAGES needs running, or that has none, is refused
    naming its file, and nothing of the script runs."""
    pkg = tmp_path / "_i18n_script_pkg"
    (pkg / "views").mkdir(parents=True)
    (pkg / "__init__.py").write_text('MESSAGE_SOURCES = ("views/page.py",)\n')
    page = pkg / "views" / "page.py"
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(i18n, "_MESSAGES", {**i18n._MESSAGES})
    page.write_text('raise SystemExit("ran")\nMESSAGES = {"probe.page": {"zh": "页", "en": "Page"}}\n')
    i18n.read_sources(pkg.name)
    assert i18n.t("probe.page", "en") == "Page"
    page.write_text('NAME = "x"\nMESSAGES = {"probe.other": {"zh": NAME, "en": "Other"}}\n')
    with pytest.raises(ValueError, match=r"page\.py, line 2: MESSAGES is read from the text, not run"):
        i18n.read_sources(pkg.name)
    page.write_text('TEXTS = {}\n')
    with pytest.raises(LookupError, match="_i18n_script_pkg/views/page.py .*declares no MESSAGES"):
        i18n.read_sources(pkg.name)
