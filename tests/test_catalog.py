"""Catalog and My-hospital page, on the small elderly-only space (conftest's ``elderly_space``)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

CHC_USER = "hospital_f0303"  # the centre user the elderly_space fixture adds (conftest.ELDERLY)

APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


@pytest.fixture
def env(elderly_space, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(elderly_space["home"]))
    return elderly_space


def test_catalog_lists_28_datasets_and_every_product(env, elderly_sign_in):
    from data_products import catalog
    from data_products.products.registry import all_products

    entries = catalog.datasets(elderly_sign_in("company_none"))
    assert len(entries) == 28 and len({d["id"] for d in entries}) == 28
    names = {d["name_en"] for d in entries}
    for named in ("Cerebrovascular disease specialty dataset", "Liver cancer specialty dataset",
                  "Cerebral infarction specialty dataset", "Primary-care elderly body-weight indicator dataset"):
        assert named in names
    assert {p["product_id"] for p in catalog.products()} == set(all_products())
    assert all(d["stage"] in catalog.STAGES for d in entries)


def test_catalog_counts_match_the_stores(env, elderly_sign_in, restricted_query):
    from data_products import approved, catalog

    official = elderly_sign_in("official")
    entry = next(d for d in catalog.datasets(official) if d["product_id"] == "elderly_weight_atlas")
    stored = restricted_query("SELECT count(DISTINCT facility_id) AS f, count(*) AS n FROM elderly_measurements")
    manifests = restricted_query("SELECT count(*) AS t FROM manifests WHERE kind = 'elderly_weight' AND superseded_by IS NULL")
    assert entry["facilities"] == stored["f"][0]
    assert entry["rows"] == stored["n"][0]
    assert entry["transfers"] == manifests["t"][0]
    assert entry["version"] == approved.current_release_id("elderly_weight_atlas")
    assert entry["stage"] == "compliance_listing"
    assert len(entry["facility_names"]) == entry["facilities"]
    # Everyone else reads the brochure: no names, no counts (test_catalog_brochure_for_companies).
    company = next(d for d in catalog.datasets(elderly_sign_in("company_none")) if d["product_id"] == "elderly_weight_atlas")
    assert company["facilities"] is None and company["facility_names"] is None
    # A product with no data in this space is at its first stage.
    pneu = next(d for d in catalog.datasets(official) if d["product_id"] == "pneumonia_atlas")
    assert pneu["stage"] == "scenario_approval" and pneu["facilities"] == 0


def test_applying_from_the_catalog_creates_a_pending_scenario(env, elderly_sign_in):
    from data_products import catalog
    from data_products.governance import pending

    company = elderly_sign_in("company_none")
    assert catalog.can_apply(company, "elderly_weight_atlas")
    assert not catalog.can_apply(elderly_sign_in(CHC_USER), "elderly_weight_atlas")  # standing already
    before = {s.id for s in pending()}
    sc = catalog.apply_from_catalog(company, "ds_elderly_weight", "区域老年营养干预规划（测试）",
                                    date.today(), date.today() + timedelta(days=90))
    after = {s.id: s for s in pending()}
    assert sc.id in after and sc.id not in before
    assert after[sc.id].product_id == "elderly_weight_atlas" and after[sc.id].state == "pending"
    with pytest.raises(ValueError, match="descriptive"):
        catalog.apply_from_catalog(company, "ds_lung_cancer", "x", date.today(), date.today() + timedelta(days=9))
    # A usable specialty dataset: the application is a research scenario for analyses inside the space.
    research = catalog.apply_from_catalog(company, "ds_liver_cancer", "生存分析方案设计（测试）", date.today(),
                                          date.today() + timedelta(days=9))
    assert research.product_id == "ds_liver_cancer" and research.scope == ("analyse",) and research.state == "pending"
    assert research.id in {s.id for s in pending()}


def test_catalog_cli_json(env, capsys):
    import json

    from data_products.catalog_cli import catalog_cli

    assert catalog_cli(json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["datasets"]) == 28 and doc["products"]
    assert all(d["facility_names"] is None for d in doc["datasets"])


def test_catalog_brochure_for_companies(env, elderly_sign_in):
    """Issue 13 item 9: a company with no scenario read exact record totals, facility counts, versions and
    that a product had been sold. It reads a signed-out brochure now, decided (and audited) by the gate."""
    from data_products import catalog
    from data_products.governance import entries
    from data_products.governance.scenarios import apply, approve

    official, company = elderly_sign_in("official"), elderly_sign_in("company_none")
    # The elderly atlas sold: a company's approved application (order) makes its stage "transaction".
    buyer = elderly_sign_in("company_jaundice")
    sc = apply(buyer, "elderly_weight_atlas", "营养干预评估（测试）", date.today(), date.today() + timedelta(days=30))
    approve(official, sc.id, "ok for the test")
    full = {d["id"]: d for d in catalog.datasets(official)}
    assert full["ds_elderly_weight"]["stage"] == "transaction" and full["ds_elderly_weight"]["rows"] > 0
    seen_before = max(e.seq for e in entries(limit=1))
    brochure = {d["id"]: d for d in catalog.datasets(company)}
    leaked = {k: v for d in brochure.values() for k, v in d.items()
              if k in ("rows", "facilities", "transfers", "last_transfer", "version", "approval", "facility_names")
              and v is not None}
    assert leaked == {}
    assert brochure["ds_elderly_weight"]["stage"] == "compliance_listing"  # listed; not whether it sold
    reads = [e for e in entries(action="gate.catalog", limit=50) if e.seq > seen_before]
    assert len(reads) == 1 and reads[0].actor == "company_none" and reads[0].detail["level"] == "brochure"
    prods = catalog.products(company)
    assert all(set(p) <= set(catalog.BROCHURE_PRODUCT) for p in prods)
    assert not any("release_id" in p or "approved_by" in p or "releases" in p for p in prods)
    # The page shows the same: no totals, no counts, no "transaction".
    at = _page(company, "catalog.py")
    shown = _text(at) + "\n".join(str(m.value) for m in at.metric)
    assert f"{full['ds_elderly_weight']['rows']:,}" not in shown
    assert "● Transaction" not in shown and "● 交易流通" not in shown
    assert not [m for m in at.metric if m.label in ("Contributing facilities", "贡献机构", "Records", "记录数")]


def _page(principal, page, lang=None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    if lang:
        at.query_params["lang"] = lang
    at.session_state["principal"] = principal
    at.run()
    at.switch_page(f"views/{page}")
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at) -> str:
    parts = [m.value for m in at.markdown] + [h.value for h in at.header] + [h.value for h in at.subheader]
    parts += [str(df.value.to_csv()) for df in at.dataframe]
    return "\n".join(parts)


@pytest.mark.parametrize("user", ["official", CHC_USER, "company_none"])
def test_catalog_page_renders(env, user, elderly_sign_in):
    at = _page(elderly_sign_in(user), "catalog.py")
    assert len(at.expander) == 28


def test_my_hospital_page_names_only_its_own_facility(env, elderly_sign_in):
    from data_products.reference import facilities

    at = _page(elderly_sign_in(CHC_USER), "my_hospital.py")
    text = _text(at)
    reg = facilities().set_index("facility_id")
    assert reg.at["F0303", "name_zh"] in text
    others = reg[(reg["tier"] == "chc") & (reg.index != "F0303")]
    assert not any(n in text for n in others["name_zh"])
    assert not any(f in text for f in others.index)


@pytest.mark.parametrize("user", ["official", CHC_USER])
def test_elderly_page_renders(env, user, elderly_sign_in):
    at = _page(elderly_sign_in(user), "elderly_weight.py")
    assert len(at.get("plotly_chart")) >= 3


_BLANK_CELLS = {"None", "nan", "NaN", "<NA>", "NaT"}
_EMOJI = ("✅", "❌", "✓", "✗")


def test_my_hospital_quality_tables_read_without_contradiction(env, elderly_sign_in, restricted_query):
    """Issue 15 item 7: counts are whole numbers, no "None"/"nan" cell (a dash, explained), no emoji,
    times are Beijing time to the minute, and a timeliness result agrees with its value."""
    from data_products.quality import Thresholds

    at = _page(elderly_sign_in(CHC_USER), "my_hospital.py", lang="en")
    # The three tables, told apart by a column only each has.
    frames = {key: next(df.value for df in at.dataframe if column in df.value.columns)
              for key, column in (("transfers", "Received at"), ("checks", "Check"), ("fields", "Field"))}
    transfers, checks = frames["transfers"], frames["checks"]
    for key, frame in frames.items():
        cells = frame.astype(str).to_numpy().ravel().tolist()
        assert not _BLANK_CELLS & set(cells), (key, sorted(_BLANK_CELLS & set(cells)))
        assert not [c for c in cells if any(e in c for e in _EMOJI)], key
    assert transfers["Rows"].str.fullmatch(r"\d{1,3}(,\d{3})*|—").all()
    assert transfers["Latest event to transfer (days)"].str.fullmatch(r"\d{1,3}(,\d{3})*").all()
    # Received-at is the stored UTC time + 8 h, to the minute.
    stored = restricted_query("SELECT file_name, facility_id, ingested_at FROM manifests WHERE superseded_by IS NULL")
    assert transfers["Received at"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}").all()
    one = stored[stored["file_name"] == transfers["File"].iloc[0]]["ingested_at"]
    expected = {(t + pd.Timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") for t in pd.to_datetime(one)}
    assert transfers["Received at"].iloc[0] in expected
    # Timeliness: shown in days, and "Passed" exactly when the lag is within the city's median + slack.
    late = checks[checks["Check"] == "Timeliness"]
    assert len(late) and late["This transfer"].str.fullmatch(r"[\d,]+ days").all()
    value = late["This transfer"].str.replace(r"[^\d]", "", regex=True).astype(int)
    # The reference states the bar itself (the city's median + the slack), not only the city's figure.
    bar = late["Reference"].str.extract(r"^≤ ([\d,]+) days \(city median ([\d,]+) \+ (\d+) days\)$")
    assert bar.notna().all().all(), late["Reference"].tolist()
    limit, city, slack = (bar[i].str.replace(",", "").astype(int) for i in range(3))
    assert (slack == Thresholds().timeliness_slack_days).all() and ((limit - city - slack).abs() <= 1).all()
    # Whole days on both sides, so ±1 covers the rounding of a median of an even count.
    ok = value <= city + Thresholds().timeliness_slack_days
    clear = (value - city - Thresholds().timeliness_slack_days).abs() > 1
    assert ((late["Result"] == "Passed") == ok)[clear].all()
    # A judged check never says a bare "Passed"/"Failed" beside a withheld value.
    bare = checks["Result"].isin(["Passed", "Failed"]) & (checks["This transfer"] == "—")
    assert not bare.any(), checks[bare].to_dict("records")[:3]
    text = " ".join(c.value for c in at.caption)
    assert "not released" in text and "Beijing" in text and "relative to the city" in text


def test_my_hospital_counts_have_no_decimals(env, elderly_sign_in):
    at = _page(elderly_sign_in(CHC_USER), "my_hospital.py", lang="en")
    measured = [df.value for df in at.dataframe if "Metric" in df.value.columns]
    assert measured
    rows = pd.concat(measured)
    counts = rows[rows["Metric"].str.contains("measured", case=False)]
    assert len(counts) and counts["Ours"].str.fullmatch(r"\d{1,3}(,\d{3})*|—").all()
    assert counts["City median"].str.fullmatch(r"\d{1,3}(,\d{3})*|—").all()
