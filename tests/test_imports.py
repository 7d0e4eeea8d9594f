"""The import graph keeps the zones' order and has no cycle.

Zones, upstream first: hospital -> restricted -> products -> dashboards. Governance, reference and the
contracts (``contracts``, and ``specialty`` for the specialty kinds) sit below products; config, i18n, disclosure and the approved store are the base every zone
may use; the pipeline, catalog, bench and command line sit on top; nothing imports dashboards. Every
import counts, also one inside a function (it still runs, and still ties the modules together);
imports under ``if TYPE_CHECKING:`` do not run and do not count. Modules are not found by walking
packages at run time either: such an import would hide an edge from this test.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_products", "dashboards")

# ``specialty`` holds the specialty kinds' data dictionaries: a contract layer like ``contracts``.
BASE = frozenset({"private", "config", "i18n", "contracts", "specialty", "reference", "disclosure", "differencing",
                  "approved", "declared"})
TOP = frozenset({"pipeline", "pipeline_cli", "catalog", "catalog_cli", "bench", "bench_browser", "bench_child", "bench_visits", "browser", "cli", "__main__", ""})
# What each zone may import besides itself.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "private": frozenset(),  # owner-only files and folders
    "contracts": frozenset(),
    "specialty": frozenset({"declared"}),
    "config": frozenset({"private"}),
    "declared": frozenset(),  # registries read on first use
    "i18n": frozenset({"declared"}),
    "reference": frozenset({"config", "private"}),
    "disclosure": frozenset({"config", "private"}),
    "differencing": frozenset({"disclosure", "config", "private"}),
    "approved": frozenset({"config", "private"}),
    "governance": BASE,
    "hospital": BASE,
    "restricted": BASE | {"hospital"},
    "quality": BASE | {"hospital", "restricted"},
    "products": BASE | {"governance", "hospital", "restricted", "quality"},
    # Analyses run inside the space on the restricted zone, beside the products.
    "analyses": BASE | {"governance", "hospital", "restricted"},
    **{top: BASE | {"governance", "hospital", "restricted", "quality", "products", "analyses"} | TOP for top in TOP},
    "dashboards": BASE | {"governance", "products", "analyses"} | TOP,
}

# Known breaches, each named with the work that removes it (issue 12, items 1-3: the written-out
# registry and the gate's grants). Nothing may be added; delete an entry when its breach is gone.
# Imports against the zone order, and modules found by name at run time, that are allowed for a stated
# reason. Empty since issue 12 landed: a new entry needs its reason and an issue.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}
KNOWN_DISCOVERY: dict[str, str] = {
    # The one import by name: the layers below what they list (the message catalogue in ``i18n``, governance's
    # product directory) read a declaration written out in one place, as entry points do, on first use and
    # never at import (issue 12). tests/test_registries.py checks every name listed there.
    "data_products.declared": "entry-point-style tables: i18n's MESSAGE_SOURCES, governance.policy.PRODUCT_DIRECTORY",
}


def zone(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "dashboards":
        return "dashboards"
    return parts[1] if len(parts) > 1 else ""


@cache
def modules() -> dict[str, Path]:
    out = {}
    for top in PACKAGES:
        for f in (ROOT / top).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _resolve(name: str) -> str | None:
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(tree: ast.AST):
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if not _type_checking(child):
                stack.append(child)
                yield child


@cache
def graph() -> dict[str, frozenset[str]]:
    mods = modules()
    out = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in _walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(_resolve(a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    head = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*head, base] if base else head)
                for a in node.names:
                    full = f"{base}.{a.name}"
                    deps.add(full if full in mods else _resolve(base))
        deps.discard(None)
        deps.discard(name)
        out[name] = frozenset(deps)
    return out


def cycles(g: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in g:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(g[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_the_cycle_finder_finds_a_cycle():
    g = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert cycles(g) == [["a", "b", "c"]]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_the_graph_sees_function_level_imports_and_skips_type_checking():
    g = graph()
    assert len(g) > 50
    # cli imports the pipeline inside its commands; a release module imports the pipeline inside build().
    assert "data_products.pipeline" in g["data_products.cli"]
    assert "data_products.contracts.pneumonia" in g["data_products.restricted.pneumonia"]


def test_no_import_cycle():
    assert cycles(graph()) == [], "import cycles (each line one cycle's modules)"


def test_every_zone_is_placed():
    unplaced = sorted({zone(m) for m in graph()} - set(MAY_IMPORT))
    assert not unplaced, f"place these top-level modules in MAY_IMPORT of {Path(__file__).name}: {unplaced}"


def test_no_import_against_the_zone_order():
    breaches = set()
    for src, deps in graph().items():
        for dst in deps:
            a, b = zone(src), zone(dst)
            if a != b and b not in MAY_IMPORT.get(a, frozenset()):
                breaches.add((src, dst))
    unexpected = sorted(breaches - set(KNOWN_UPWARD))
    assert not unexpected, "imports against the zone order:\n" + "\n".join(f"{s} -> {d}" for s, d in unexpected)


def test_nothing_imports_dashboards():
    assert not [(s, d) for s, ds in graph().items() for d in ds if zone(d) == "dashboards" and zone(s) != "dashboards"]


def test_no_module_is_found_by_walking_packages():
    """Explicit imports only: ``importlib.import_module``/``pkgutil`` discovery hides edges and runs at import."""
    found = set()
    for name, path in modules().items():
        for node in _walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("import_module", "iter_modules", "walk_packages"):
                found.add(name)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                found.add(name)
    unexpected = sorted(found - set(KNOWN_DISCOVERY))
    assert not unexpected, f"modules found at run time by name: {unexpected}"


# --- the test tree ------------------------------------------------------------------------------------

TESTS = ROOT / "tests"


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def test_no_test_imports_another_test_module():
    """Shared helpers are fixtures in conftest.py, so every test module stands alone."""
    offenders = []
    for f in _test_files():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            offenders += [f"{f.relative_to(ROOT)}: {n}" for n in names if n.startswith(("tests", "."))
                          or n.split(".")[0].startswith(("test_", "conftest"))]
    assert not offenders, offenders


def test_no_test_reaches_into_streamlit_private_attributes():
    """AppTest's private state (``_registered_pages``, ``_page_hash``, ...) changes between releases;
    tests use its public API (``switch_page``, ``session_state``, element lists) instead."""
    import re

    import streamlit.testing.v1.app_test as app_test

    private = set(re.findall(r"self\.(_[a-z]\w*)", Path(app_test.__file__).read_text(encoding="utf-8")))
    assert {"_registered_pages", "_page_hash"} <= private
    offenders = []
    for f in _test_files():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert not offenders, offenders


def test_the_test_tree_mirrors_the_package():
    """tests/<zone>/ and tests/products/<name>/ name a package of data_products (or the dashboards);
    cross-cutting tests sit at the top of tests/."""
    strays = []
    for d in sorted(p for p in TESTS.rglob("*") if p.is_dir() and p.name not in ("__pycache__", "data")):
        rel = d.relative_to(TESTS)
        if rel.parts[0] == "dashboards":
            target = ROOT / "dashboards" / Path(*rel.parts[1:])
        else:
            target = ROOT / "data_products" / rel
        if not (target.is_dir() or target.with_suffix(".py").is_file()):
            strays.append(str(rel))
    assert not strays, f"test folders that mirror no package: {strays}"
