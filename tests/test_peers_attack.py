"""Peers reach a hospital only as a distribution: the re-identification attacks of issue 13 item 3.

The attacker is a hospital user who knows the city's hospital sector (names, districts, rough sizes: all
public) and reads every frame, page and CSV the space gives it. On main it matched "Peer facility N"
rows to names by their order (facility-ID order), their district (7 of 15 tumor peers were alone in
theirs) and their exact counts. The truth each test checks against is the commission's named view.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_products.disclosure import ALL
from data_products.governance.gate import open_product
from data_products.products import scope

# The rule as stated in scope.PEER_RULE; read with defaults so that the attacks also run (and fail) on
# code that predates it.
MIN_PEERS = getattr(scope, "MIN_PEERS", 5)
DISTRICT_MIN_FACILITIES = getattr(scope, "DISTRICT_MIN_FACILITIES", 3)
DOMINANCE = getattr(scope, "DOMINANCE", 0.7)

HOSPITALS = ("hospital_f0301", "hospital_f0602")
OWN = {"hospital_f0301": "F0301", "hospital_f0602": "F0602"}
TUMOR_CASES = [(ALL, ALL), ("lung", "2023"), ("liver", "2024Q1"), ("nasopharynx", ALL)]


@pytest.fixture(scope="module")
def users(demo_home_built, signed_in):
    import os

    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(demo_home_built)
    try:
        yield {u: signed_in(u) for u in (*HOSPITALS, "official")}
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old


def _rule_holds(values: pd.Series) -> bool:
    values = values.astype(float)
    return len(values) >= DISTRICT_MIN_FACILITIES and values.max() <= DOMINANCE * values.sum()


def _truth(users, group: str, period: str) -> pd.DataFrame:
    from data_products.products.tumor import views

    named = views.facilities_view(open_product(users["official"], views.PRODUCT_ID), group, period)
    return named[~named["suppressed"]].assign(patients=lambda f: f["patients"].astype(int))


@pytest.mark.parametrize("username", HOSPITALS)
def test_no_frame_has_a_row_for_another_facility(demo, users, username):
    """Order attack: any row of another facility, however renamed, is one peer's exact figures."""
    from data_products.products.elderly_weight import views as elderly
    from data_products.products.pneumonia import views as pneumonia
    from data_products.products.tumor import views as tumor
    from data_products.products.wait_times import views as wait_times

    user = users[username]
    frames = {
        "pneumonia.facility_table": pneumonia.facility_table(open_product(user, pneumonia.PRODUCT_ID)),
        "elderly.facility_table": elderly.facility_table(open_product(user, elderly.PRODUCT_ID)),
        "wait_times.longest_waits": wait_times.longest_waits(open_product(user, wait_times.PRODUCT_ID), top=50),
    }
    for group, period in TUMOR_CASES:
        frames[f"tumor.facilities_view{group, period}"] = tumor.facilities_view(open_product(user, tumor.PRODUCT_ID), group, period)
        frames[f"tumor.top_facilities{group, period}"] = tumor.top_facilities(open_product(user, tumor.PRODUCT_ID), group, period)
    for name, frame in frames.items():
        assert set(frame["facility_id"]) <= {OWN[username]}, f"{name}: rows for other facilities"


@pytest.mark.parametrize("username", HOSPITALS)
@pytest.mark.parametrize(("group", "period"), TUMOR_CASES)
def test_tumor_csv_names_no_peer_by_district_and_size(demo, users, username, group, period):
    """District-and-size attack on the CSV: a row whose district holds one facility with that exact
    count (in the commission's named table) names it."""
    from data_products.products.tumor import views

    csv_bytes, _meta = views.download(open_product(users[username], views.PRODUCT_ID), group, period)
    rows = pd.read_csv(io.BytesIO(csv_bytes), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    truth = _truth(users, group, period)
    own = OWN[username]
    others = truth[truth["facility_id"] != own]
    for _, row in rows.iterrows():
        if row["facility_id"] == own or row["patients"] == "":
            continue
        n = int(row["patients"])
        same = others[(others["district"] == row["district"]) & (others["patients"] == n)]
        assert same.empty, f"row {dict(row)} is {same['facility_id'].tolist()}"
        # A district total of others: exactly the sum of their released counts, under the rule.
        members = others[others["district"] == row["district"]]["patients"]
        assert n == members.sum() and _rule_holds(members)
        assert row["row_kind"] == "other_facilities_in_district"
    assert not rows["facility_id"].str.startswith("peer-").any()


@pytest.mark.parametrize("username", HOSPITALS)
@pytest.mark.parametrize(("group", "period"), TUMOR_CASES)
def test_hidden_districts_are_not_one_subtraction_away(demo, users, username, group, period):
    """Complement attack: city total - own - the district totals shown = the hidden districts together;
    that remainder must pass the rule as well (else a lone facility falls out of a subtraction)."""
    from data_products.products.tumor import views

    agg = views.district_aggregates(open_product(users[username], views.PRODUCT_ID), group, period)
    truth = _truth(users, group, period)
    others = truth[truth["facility_id"] != OWN[username]]
    shown = set(agg.loc[agg["shown"], "district"])
    for d in shown:
        members = others[others["district"] == d]["patients"]
        assert _rule_holds(members)
        assert int(agg.loc[agg["district"] == d, "patients"].iloc[0]) == members.sum()
    rest = others[~others["district"].isin(shown)]["patients"]
    if shown:
        assert _rule_holds(rest)
    assert agg.loc[~agg["shown"], "patients"].isna().all()


@pytest.mark.parametrize("username", HOSPITALS)
@pytest.mark.parametrize("group", [ALL, "lung", "breast"])
def test_flows_and_tiers_do_not_name_a_lone_facility(demo, users, username, group):
    """The Sankey's inflow to a facility district and a tier's total are sums of facilities: a district
    or tier with one facility (the cancer hospital is a tier by itself) is that facility."""
    from data_products.products.tumor import views

    user = users[username]
    own = OWN[username]
    truth = _truth(users, group, ALL)
    others = truth[truth["facility_id"] != own]
    fl = views.flows(open_product(user, views.PRODUCT_ID), group)
    for d in set(fl["facility_district"]) - {views.OTHER_DISTRICTS}:
        assert _rule_holds(others[others["district"] == d]["patients"]), d
    ts = views.tier_split(open_product(user, views.PRODUCT_ID), group, ALL)
    shown_tiers = set(ts.loc[~ts["suppressed"], "tier"])
    for tier in shown_tiers:
        assert _rule_holds(others[others["tier"] == tier]["patients"]), tier
    assert "tertiary_cancer" not in shown_tiers
    if shown_tiers:
        assert _rule_holds(others[~others["tier"].isin(shown_tiers)]["patients"])


def test_peer_distribution_needs_five_other_facilities():
    own = "F0301"
    four = pd.Series([10.0, 20, 30, 40, 50], index=[own, "a", "b", "c", "d"])
    small = scope.peer_summary(four, 10.0, own)
    assert small["peers"] == MIN_PEERS - 1
    assert all(np.isnan(small[k]) for k in ("p25", "median", "p75", "percentile_rank"))
    five = pd.concat([four, pd.Series([60.0], index=["e"])])
    enough = scope.peer_summary(five, 10.0, own)
    # Six values 10..60: the median's position is 0.5 * 5 + 0.25 = 2.75, between 30 and 40.
    assert enough["peers"] == MIN_PEERS and enough["median"] == 37.5 and enough["percentile_rank"] == pytest.approx(100 / 12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=MIN_PEERS + 1, max_size=40, unique=True), st.booleans())
def test_no_peer_quartile_is_one_facilitys_value(values, own_listed):
    # An ordinary median over an odd number of facilities is the middle facility's figure; the released
    # quartiles blend two neighbours with non-zero weights instead, so they equal no facility's value.
    own = "F0301"
    index = [own if own_listed and i == 0 else f"p{i}" for i in range(len(values))]
    released = pd.Series([float(v) for v in values], index=index)
    out = scope.peer_summary(released, float(values[0]), own)
    for name in ("p25", "median", "p75"):
        assert out[name] not in set(released), (name, out[name])
        assert released.min() < out[name] < released.max()


@pytest.mark.parametrize("username", HOSPITALS)
def test_every_peer_distribution_a_hospital_gets_rests_on_five_peers(demo, users, username):
    from data_products.products.elderly_weight import views as elderly
    from data_products.products.pneumonia import views as pneumonia
    from data_products.products.supplier_quality import views as supplier

    for fn in (pneumonia.facility_comparison, elderly.facility_comparison, supplier.facility_comparison):
        frame = fn(open_product(users[username], fn.__module__ and sys.modules[fn.__module__].PRODUCT_ID))
        given = frame["median"].notna()
        assert (frame.loc[given, "peers"] >= MIN_PEERS).all()
        assert frame.loc[~given, "percentile_rank"].isna().all()


@pytest.mark.parametrize("username", HOSPITALS)
def test_tumor_page_shows_no_peer(demo_copy, users, username):
    """The page a hospital sees: no "Peer facility N", no other facility's name, no peer marker."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from data_products.reference import facilities

    app = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")
    at = AppTest.from_file(app, default_timeout=120)
    at.query_params["lang"] = "en"
    at.session_state["principal"] = users[username]
    at.run()
    at.switch_page("views/tumor.py")
    at.query_params["group"] = "lung"
    at.run()
    assert not at.exception
    text = "\n".join([str(e.value) for k in ("markdown", "caption", "subheader", "info") for e in getattr(at, k)]
                     + [f.value.to_string() for f in at.dataframe])
    assert "Peer facility" not in text and "同级机构 " not in text
    reg = facilities()
    for _, f in reg[reg["facility_id"] != OWN[username]].iterrows():
        assert f["name_en"] not in text and f["name_zh"] not in text
