"""Registries are written out in one place and read on first use: importing a module defines things and
registers nothing; the registries still find every kind, ingest spec, dataset and message source, and
a module that declares an entry but is missing from its registry's list fails here."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from data_products import i18n
from data_products.declared import Declared, read_declaration, read_script_declaration
from data_products.hospital.registry import KINDS
from data_products.products.registry import DEFINITIONS
from data_products.restricted.registry import SPECS
from data_products.specialty.registry import DICTIONARIES

ROOT = Path(__file__).resolve().parents[1]

# In a fresh interpreter: import the zones' packages and the modules that read the registries, check that
# nothing is registered yet, then ask each registry once.
_PROBE = """
import json, sys
import data_products, dashboards
from data_products import i18n
from data_products.governance import accounts, gate
from data_products.hospital import KINDS, generate
from data_products.products import registry
from data_products.restricted import SPECS, ingest, store
from data_products.specialty import DICTIONARIES
kind_modules = ("bilirubin", "cerebrovascular", "elderly", "infarction", "liver", "pneumonia", "tumor", "visits")
before = {"kinds": KINDS.loaded(), "specs": SPECS.loaded(), "datasets": DICTIONARIES.loaded(),
          "messages": len(i18n._MESSAGES), "read": list(i18n._read),
          "kind_modules": sorted(m for m in kind_modules if f"data_products.hospital.{m}" in sys.modules),
          "dashboards_loaded": sorted(m for m in sys.modules if m.startswith("dashboards."))}
i18n.t("app.title", "en")
after_core = {"read": list(i18n._read), "dashboards_loaded": "dashboards.ui" in sys.modules}
print(json.dumps({"before": before, "after_core": after_core, "kinds": list(KINDS), "specs": list(SPECS),
                  "datasets": list(DICTIONARIES)}))
"""


def test_importing_registers_nothing_and_the_registries_find_everything_on_first_use():
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    # Not even the kinds' modules are loaded before the registry is asked.
    assert got["before"] == {"kinds": False, "specs": False, "datasets": False, "messages": 0, "read": [],
                             "kind_modules": [], "dashboards_loaded": []}
    # A message of the core package is found without loading the web pages' modules (the CLI's case).
    assert got["after_core"] == {"read": ["data_products"], "dashboards_loaded": False}
    assert sorted(got["kinds"]) == ["bilirubin", "cerebrovascular", "elderly_weight", "infarction", "liver_cancer",
                                    "pneumonia", "tumor", "visits"]
    assert sorted(got["specs"]) == sorted(got["kinds"])
    assert sorted(got["datasets"]) == ["ds_cerebral_infarction", "ds_cerebrovascular", "ds_liver_cancer"]


def _declaring(folder: Path, attr: str, package: str) -> set[str]:
    """Modules under ``folder`` that assign ``attr`` at module level (read from the text, nothing imported)."""
    found = set()
    for f in sorted(folder.rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if attr in names:
                parts = list(f.relative_to(folder).with_suffix("").parts)
                found.add(".".join([package, *parts]).removesuffix(".__init__"))
    return found


@pytest.mark.parametrize(("registry", "folder", "attr"), [
    (KINDS, "hospital", "GENERATOR"),
    (SPECS, "restricted", "SPECS"),
    (DICTIONARIES, "specialty", "DICTIONARY"),
], ids=["kinds", "ingest-specs", "datasets"])
def test_every_module_that_declares_an_entry_is_in_its_registry(registry, folder, attr):
    """A module that declares an entry but is missing from its registry's written-out list fails here."""
    declaring = _declaring(ROOT / "data_products" / folder, attr, f"data_products.{folder}")
    declaring.discard(f"data_products.{folder}.registry")  # the registry's own name
    assert declaring, folder
    declared = []
    for m in sorted(declaring):
        value = getattr(importlib.import_module(m), attr)
        for entry in value if isinstance(value, tuple) else (value,):
            assert registry.get(registry.key(entry)) is entry, f"{m} declares {attr} but its registry does not list it"
            declared.append(entry)
    assert len(registry) == len(declared)


def test_every_module_with_messages_is_a_listed_source_or_a_products_definition():
    import dashboards
    import data_products

    listed = {s for pkg in (data_products, dashboards) for s in pkg.MESSAGE_SOURCES if ":" not in s}
    # Page scripts are listed by their file (read from the text, never imported).
    pages = {"dashboards." + s.removesuffix(".py").replace("/", "."): s for s in listed if s.endswith(".py")}
    declaring = (_declaring(ROOT / "data_products", "MESSAGES", "data_products")
                 | _declaring(ROOT / "dashboards", "MESSAGES", "dashboards"))
    assert {m for m in declaring if ".views." in m} == set(pages)
    declaring -= set(pages)
    by_product = {m for m in declaring - listed if any(sys.modules[m].MESSAGES is d.messages for d in DEFINITIONS)}
    assert declaring - listed - by_product == set()
    assert by_product == {"data_products.products.jaundice.spec", "data_products.products.pneumonia.labels"}
    assert "data_products.products.registry:messages" in data_products.MESSAGE_SOURCES
    # Read by name, so the zone order is checked here: the core package lists none of the web pages' modules.
    assert not [s for s in data_products.MESSAGE_SOURCES if s.startswith("dashboards")]
    keys = i18n.keys()
    for m in declaring:
        assert set(sys.modules[m].MESSAGES) <= keys, m
    for m, script in pages.items():
        assert set(read_script_declaration("dashboards", script, "MESSAGES")) <= keys, m
        assert m not in sys.modules  # read, never imported


def test_a_registry_refuses_a_duplicate_and_names_what_it_holds_and_a_missing_declaration_is_an_error(monkeypatch):
    probe = types.SimpleNamespace(name="probe")
    registry = Declared("kind", lambda: [probe], key=lambda k: k.name)
    assert not registry.loaded() and dict(registry) == {"probe": probe} and registry.loaded()
    with pytest.raises(KeyError, match="unknown kind 'nope'; known: \\['probe'\\]"):
        registry["nope"]
    with pytest.raises(ValueError, match="kind 'probe' is declared twice"):
        len(Declared("kind", lambda: [probe, types.SimpleNamespace(name="probe")], key=lambda k: k.name))
    # A source read by name (the message catalogue, governance's product directory) that lacks its declaration.
    bare = types.ModuleType("_declared_probe_bare")
    monkeypatch.setitem(sys.modules, bare.__name__, bare)
    with pytest.raises(LookupError, match="_declared_probe_bare is listed in a registry but declares no MESSAGES"):
        read_declaration(bare.__name__, "MESSAGES")


def test_a_spec_with_a_name_unfit_for_sql_is_refused():
    bad = types.SimpleNamespace(kind="visits; DROP TABLE x", table="visits")
    with pytest.raises(ValueError, match="plain identifiers"):
        SPECS._check(bad)
