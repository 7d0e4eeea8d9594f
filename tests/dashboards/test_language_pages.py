"""Every page, as every demo role, in both languages: no catalogue key shown raw, no column identifier, no
word of the other script (allow-listed proper nouns and notations only). AppTest renders each page's whole
script, every tab included.

The page's text is everything the user reads: every label, value, option, tab, metric, table header and
text cell, and the words of every chart (titles, axis titles, legend names, annotations, hover text).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_products.i18n import keys

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
USERS = ["official", "analyst", "hospital_f0301", "hospital_f0602", "company_jaundice", "company_none"]

# Written the same in both languages: units, standards, test and statistic names, codes, identifiers
# users type or read off a release (usernames, release ids, facility ids).
ALLOWED_LATIN = {
    # units and notations
    "mg", "dl", "µmol", "umol", "mmol", "min", "kg", "cm", "ml", "pp", "vs", "n", "p", "x", "k", "l",
    "ci", "sd", "iqr", "loa", "or", "log", "csv", "pdf", "zip", "json", "png", "svg", "id", "ids",
    # tests, markers, pathogens, statistics, standards
    "crp", "pct", "il", "wbc", "tcb", "tsb", "bmi", "icd", "who", "ws", "t", "gb", "deming", "passing", "bablok",
    "pearson", "wilson", "poisson", "ols", "pb", "uln", "rsv", "mp", "flu", "adv", "hmpv", "nlr", "esr", "sao", "spo",
    "tp", "fp", "fn", "tn", "ppv", "npv", "auc", "roc", "mae", "hcc", "sha", "hmac", "utc", "aap", "nice", "q", "hbsag",
    "covid", "sars", "cov", "mycoplasma", "pneumoniae", "ra", "ii", "iii", "iv", "hba", "ldl", "hdl", "alt", "ast",
    # products and systems by name
    "dataspace", "duckdb", "streamlit", "gb/t", "lambda", "λ",
    "bland", "altman", "linnet", "mcr", "var", "fisher", "hunt", "hess", "glasgow", "rankin", "mrs",
    "english",  # the language switch names each language in its own
}
# CJK written in English pages on purpose: the project's name in Chinese beside its English one.
ALLOWED_CJK = {"广州卫生健康可信数据空间", "合成演示数据", "简体中文"}  # the language switch names each in its own
# Bare words that are column identifiers when they stand alone as a table header or chart label.
RAW_HEADERS = {"count", "reason", "file_name", "pct", "city_pct", "pass_pct", "who", "name", "product_id",
               "approved_at", "source", "value", "suppressed", "district", "facility_id", "n_flag", "month",
               "category", "share", "level", "check", "status", "ALL", "quarterly", "group", "period", "metric"}

# A data dictionary's field names are what the data holds, in either language (its code-system notes are
# translated and checked). The audit ledger's actor and target are the identifiers it records (user names,
# product and page ids).
CODE_COLUMNS = {"字段", "Field",  # also My hospital's completeness table: a field of the hospital's extract
                "操作者", "Actor", "对象", "Target"}
# A dictionary's values: each code (what the data holds, written as an analysis writes it) with its meaning,
# which must be in the page's language. The codes are taken out of the cell before the check, nothing else.
VALUE_COLUMNS = {"取值（编码）", "Values (codes)"}
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
SNAKE = re.compile(r"(?<![\w@/.:-])[a-z][a-z0-9]*_[a-z0-9_]+(?![\w@/.:-])")
WORD = re.compile(r"(?<![\w@/.:#-])[A-Za-z][A-Za-z]+(?![\w@/.:-])")
# Things that are identifiers by design and may appear in either language (usernames, release ids, codes).
IDENTIFIERS = re.compile(
    r"[a-z_]+@\d{8}T\d{6}-[0-9a-f]{8}"          # release ids
    r"|\b(?:official2?|analyst|hospital_f\d{4}|company_\w+|research_org|system|seed_demo)\b"  # demo users
    r"|\bF\d{4}\b|\bT[0-9a-f]{16}\b|\b[0-9a-f]{16,64}\b"  # facility ids, transfer ids, hashes
    r"|https?://\S+|\S+\.(?:csv|pdf|zip|json|py)\b"  # links and file names
    r"|\b[A-Z]\d{2}(?:\.\d)?(?:[–-][A-Z]?\d{2}(?:\.\d)?)?\b"  # ICD-10 codes
    r"|\b(?:ALL|P\d{2}|Q[1-4]|\d{4}Q[1-4])\b"
)


# Proto fields that hold identifiers, data or widget state, not text a user reads.
SKIP_FIELDS = {"id", "formId", "data", "spec", "url", "default", "value", "rawValues", "setValue", "icon", "args",
               "type", "placeholder", "dataframe", "columnConfig", "columns", "key", "elementId", "scriptHash",
               "pageScriptHash", "urlPathname", "format", "stringTriggerValue", "widgetId", "queryString", "page", "srcdoc"}


def _strings(value, out: list[str], skip: bool = False) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not (skip and k in SKIP_FIELDS):
                _strings(v, out, skip)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, out, skip)


def _is_record(v: str) -> bool:
    if not v.startswith("{"):
        return False
    try:
        return isinstance(json.loads(v), dict)
    except ValueError:
        return False


def _plotly_text(spec: str) -> list[str]:
    fig = json.loads(spec)
    out: list[str] = []
    layout = fig.get("layout", {})
    for key, v in layout.items():
        if key in ("template", "map", "mapbox", "geo", "font", "colorway"):
            continue
        if key.startswith(("xaxis", "yaxis", "coloraxis", "legend", "title", "annotations")):
            for s in _collect(v, ("text", "title", "ticktext")):
                out.append(s)
    for trace in fig.get("data", []):
        for key in ("name", "text", "hovertext", "hovertemplate", "texttemplate", "labels", "ids"):
            if key in trace and key != "ids":
                _strings(trace[key], out)
        for axis in ("x", "y", "locations"):
            vals = trace.get(axis)
            if isinstance(vals, list) and vals and all(isinstance(v, str) for v in vals):
                out.extend(vals)
        if "colorbar" in trace:
            out.extend(_collect(trace["colorbar"], ("text", "title", "ticktext")))
        if "marker" in trace and isinstance(trace["marker"], dict) and "colorbar" in trace["marker"]:
            out.extend(_collect(trace["marker"]["colorbar"], ("text", "title", "ticktext")))
    # Hover templates hold format codes and %{...} fields, not words.
    return [re.sub(r"%\{[^}]*\}|<[^>]+>|%\S*", " ", s) for s in out]


def _collect(node, keys) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in keys:
                _strings(v, out)
            else:
                out.extend(_collect(v, keys))
    elif isinstance(node, list):
        for v in node:
            out.extend(_collect(v, keys))
    return out


def page_text(at) -> dict[str, list[str]]:
    """{"text": visible strings, "headers": table headers and chart axis/legend labels}."""
    text: list[str] = []
    headers: list[str] = []

    def visit(node) -> None:
        kind = getattr(node, "type", None)
        proto = getattr(node, "proto", None)
        if kind in ("dataframe", "arrow_data_frame", "table"):
            frame = node.value
            if isinstance(frame, pd.DataFrame):
                cols = [str(c) for c in frame.columns]
                headers.extend(cols)
                text.extend(cols)
                for c in frame.columns:
                    if str(c) in CODE_COLUMNS:
                        continue
                    s = frame[c]
                    if str(c) in VALUE_COLUMNS:
                        text.extend(_without_codes(str(v)) for v in s.dropna().unique())
                        continue
                    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
                        # A JSON object in a cell is a machine record shown as such (the audit ledger's detail).
                        text.extend(str(v) for v in s.dropna().unique()[:200] if not _is_record(str(v)))
        elif kind == "plotly_chart" or (proto is not None and hasattr(proto, "spec") and kind == "unknown"):
            strings = _plotly_text(proto.spec)
            text.extend(strings)
        elif proto is not None and kind not in ("html", "empty", "imgs", "json"):
            from google.protobuf.json_format import MessageToDict

            d = MessageToDict(proto)
            strings: list[str] = []
            _strings(d, strings, skip=True)
            text.extend(s for s in strings if not s.startswith(("$$", ":material", "material/")))
            if kind in ("metric",):
                text.extend([str(getattr(node, "value", "") or "")])
        for child in getattr(node, "children", {}).values() if isinstance(getattr(node, "children", None), dict) else []:
            visit(child)

    visit(at.main)
    visit(at.sidebar)
    return {"text": [s for s in text if s and s.strip()], "headers": headers}


def _without_codes(cell: str) -> str:
    from data_products.specialty import DICTIONARIES

    codes = sorted({c for d in DICTIONARIES.values() for f in d.fields for c in (f.codes or ())}, key=len, reverse=True)
    for code in codes:
        cell = re.sub(rf"(?<![\w/.]){re.escape(code)}(?![\w/.])", " ", cell)
    return cell


def field_names() -> set[str]:
    """Field names of the catalogue's data dictionaries: identifiers users look up there (a hospital's
    data-quality table names the fields of its own extract that fell short)."""
    from data_products.catalog import dataset_descriptions
    from data_products.specialty import DICTIONARIES

    out = {f for d in dataset_descriptions() for f in (d.get("fields") or [])}
    return out | {f.name for d in DICTIONARIES.values() for f in d.fields}


def written_by_users() -> list[str]:
    """Free text people typed (a scenario's purpose, a decision's or revocation's reason): shown as written,
    in whatever language its author used, so it is taken out of the page's text before the check."""
    from data_products.governance import list_scenarios

    out = []
    for sc in list_scenarios():
        out += [v for v in (sc.purpose, sc.decision_reason, sc.revoke_reason) if v]
    return sorted(out, key=len, reverse=True)


def problems(texts: dict[str, list[str]], lang: str, keys: frozenset[str]) -> list[str]:
    found: list[str] = []
    typed = written_by_users()
    fields = field_names()
    for s in texts["text"]:
        for w in typed:
            s = s.replace(w, " ")
        for token in re.findall(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+", s):
            if token in keys:
                found.append(f"catalogue key shown raw: {token!r} in {s[:80]!r}")
        # Code spans are identifiers by design (a data dictionary's field names), not words to translate.
        clean = IDENTIFIERS.sub(" ", re.sub(r"`[^`]*`", " ", s))
        for token in SNAKE.findall(clean):
            if token not in fields:
                found.append(f"identifier shown: {token!r} in {s[:80]!r}")
        if lang == "en":
            cjk = [c for c in CJK.findall(s) if not any(c in a for a in ALLOWED_CJK)]
            if cjk:
                found.append(f"Chinese in the English page: {cjk[:3]} in {s[:80]!r}")
        else:
            words = [w for w in WORD.findall(clean) if w.lower() not in ALLOWED_LATIN and not w.isupper()]
            if words:
                found.append(f"English in the Chinese page: {words[:4]} in {s[:80]!r}")
    for h in texts["headers"]:
        if h.strip() in RAW_HEADERS:
            found.append(f"raw column identifier as a header: {h!r}")
    return sorted(set(found))


def _pages(user) -> list[str]:
    from dashboards.navigation import allowed_pages
    from data_products.governance import visible_products

    return [s.file for s in allowed_pages(user, set(visible_products(user)))]


def _render(user, lang: str, page: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = lang
    if user is not None:
        at.session_state["principal"] = user
    at.run()
    if page is not None:
        at.switch_page(f"views/{page}")
        at.run()
    return at


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_sign_in_page_is_in_one_language(demo, lang):
    at = _render(None, lang, None)
    assert not at.exception
    assert problems(page_text(at), lang, keys()) == []


# The pages whose first chart is a district map: it writes every district's name on itself, in the page's language.
MAP_PAGES = {"pneumonia.py", "elderly_weight.py", "tumor.py"}


def _map_names(at) -> list[str]:
    from dashboards.charts import district_names_on

    return district_names_on(json.loads(at.get("plotly_chart")[0].proto.spec))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("username", USERS)
def test_every_page_is_in_one_language(demo, signed_in, username, lang):
    from data_products.reference import districts

    user = signed_in(username)
    found = {}
    names = sorted(districts()["name_zh" if lang == "zh" else "name_en"])
    for page in _pages(user):
        at = _render(user, lang, page)
        assert not at.exception, (page, at.exception)
        if page in MAP_PAGES:
            assert sorted(_map_names(at)) == names, page
        bad = problems(page_text(at), lang, keys())
        if bad:
            found[page] = bad
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
