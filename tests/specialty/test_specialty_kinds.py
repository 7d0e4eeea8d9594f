"""The three specialty kinds (cerebrovascular disease, cerebral infarction, liver cancer): generate -> ingest,
checked against the generator's truth and parameters, the dictionary's derivation rules and bad extracts."""

from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_products.specialty import DICTIONARIES, liver

KINDS = ("cerebrovascular", "infarction", "liver_cancer")
SEED = 5


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    from data_products.config import paths
    from data_products.hospital import generate
    from data_products.restricted import ingest

    home = tmp_path_factory.mktemp("specialty-home")
    p = paths(home)
    generate(p, seed=SEED, kinds=KINDS)
    report = ingest(p)
    assert not report.rejected, report.summary()
    truth = {k: json.loads((p.truth / f"{k}.json").read_text(encoding="utf-8")) for k in KINDS}
    con = duckdb.connect(str(p.restricted_db), read_only=True)
    yield p, truth, con
    con.close()


def _counts(con, table: str, column: str) -> dict[str, int]:
    rows = con.execute(f"SELECT CAST({column} AS VARCHAR), count(*) FROM {table} GROUP BY 1").fetchall()
    return {("(blank)" if k is None else k): v for k, v in rows}


def _within(observed: int, n: int, p: float, sds: float = 4.0) -> bool:
    return abs(observed - n * p) <= sds * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize("kind,table,fields", [
    ("cerebrovascular", "cerebrovascular_admissions", ("stroke_type", "icd10_primary", "acute_procedure",
                                                       "discharge_disposition", "outcome_1y", "insurance_type")),
    ("infarction", "infarction_admissions", ("toast", "reperfusion", "arrival_mode", "discharge_disposition")),
    ("liver_cancer", "liver_cancer_cases", ("first_treatment", "aetiology", "tumour_number", "vascular_invasion")),
])
def test_restricted_counts_equal_the_truth(space, kind, table, fields):
    _, truth, con = space
    assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == truth[kind]["realised"]["n_rows"]
    for f in fields:
        assert _counts(con, table, f) == truth[kind]["realised"]["counts"][f], f


def test_realised_mix_matches_the_parameters(space):
    _, truth, con = space
    cvd = truth["cerebrovascular"]
    n = cvd["realised"]["n_rows"]
    for t, p in cvd["parameters"]["type_share"].items():
        assert _within(cvd["realised"]["counts"]["stroke_type"].get(t, 0), n, p), t
    lc = truth["liver_cancer"]
    n = lc["realised"]["n_rows"]
    stages = _counts(con, "liver_cancer_cases", "cnlc_stage")
    for s, p in lc["parameters"]["cnlc_share"].items():
        assert _within(stages.get(s, 0), n, p), s
    ci = truth["infarction"]
    male = _counts(con, "infarction_admissions", "sex")["M"]
    assert _within(male, ci["realised"]["n_rows"], ci["parameters"]["male_share"])


def test_stages_are_derived_from_the_written_fields(space):
    """The CNLC stage the ingest derives from tumour/PS/Child-Pugh fields is the stage the generator drew."""
    _, truth, con = space
    assert _counts(con, "liver_cancer_cases", "cnlc_stage") == truth["liver_cancer"]["realised"]["counts"]["t_cnlc_drawn"]
    df = con.execute("SELECT * FROM liver_cancer_cases").df()
    cp = liver.child_pugh_class(df["child_pugh_score"])
    assert (df["child_pugh"] == cp).all()
    assert (df.loc[df["child_pugh"] == "C", "cnlc_stage"] == "IV").all()
    assert (df.loc[df["ecog_ps"] >= 3, "bclc_stage"] == "D").all()
    assert (df.loc[df["afp_ng_ml"] > 400, "afp_band"] == ">400").all()
    ok = df["death_date"].isna() | (df["os_months"] >= 0)
    assert ok.all()


@pytest.mark.parametrize("args,cnlc,bclc", [
    (("1", 2.0, "none", 0, "A"), "Ia", "0"),
    (("1", 4.5, "none", 0, "A"), "Ia", "A"),
    (("1", 6.0, "none", 0, "B"), "Ib", "A"),
    (("2-3", 2.5, "none", 0, "A"), "Ib", "A"),
    (("2-3", 3.5, "none", 0, "A"), "IIa", "B"),
    ((">=4", 2.0, "none", 0, "A"), "IIb", "B"),
    (("1", 3.0, "PVTT", 1, "A"), "IIIa", "C"),
    (("1", 3.0, "extrahepatic", 0, "B"), "IIIb", "C"),
    (("1", 3.0, "none", 3, "A"), "IV", "D"),
    (("1", 3.0, "none", 0, "C"), "IV", "D"),
    (("1", 3.0, "none", 1, "A"), "Ia", "C"),
])
def test_stage_rules(args, cnlc, bclc):
    a = [np.array([x]) for x in args]
    assert liver.cnlc_stage(*a)[0] == cnlc
    assert liver.bclc_stage(*a)[0] == bclc


def test_reperfusion_follows_the_clinical_rules(space):
    _, _, con = space
    df = con.execute("SELECT * FROM infarction_admissions").df()
    ivt = df["reperfusion"].str.startswith("IVT")
    assert (df.loc[ivt, "onset_to_door_min"] <= 270).all()
    assert df.loc[~ivt, "door_to_needle_min"].isna().all()
    assert (df.loc[df["reperfusion"].str.contains("EVT"), "hospital_tier"] == "tertiary").all()
    assert df.loc[df["reperfusion"] == "none", "sich_36h"].isna().all()
    share = ivt.mean()
    assert 0.05 < share < 0.14, share


def test_no_direct_identifier_reaches_the_restricted_zone(space):
    p, _, con = space
    for d in DICTIONARIES.values():
        cols = {r[0] for r in con.execute(f"DESCRIBE {d.table}").fetchall()}
        assert not cols & {"patient_name", "id_card", "phone", "address", "birth_date", "admission_id"}
        assert set(cols) == {"pseudonym", "record_key", "facility_id", "transfer_id", *(f.name for f in d.fields)}
    f = next((p.hospitals).glob("*/liver_cancer_2023.csv"))
    raw = pd.read_csv(f, dtype=str, keep_default_na=False)
    names = set(raw["patient_name"]) | set(raw["id_card"])
    text = con.execute("SELECT string_agg(CAST(COLUMNS(*) AS VARCHAR), '|') FROM liver_cancer_cases").fetchone()
    assert not any(n in "".join(map(str, text)) for n in list(names)[:50])


def test_bad_extracts_are_rejected_with_file_line_and_field(space, tmp_path):
    from data_products.restricted import get_spec
    from data_products.restricted.extract import parse
    from data_products.restricted.ingest import prepare

    p, _, _ = space
    f = next(p.hospitals.glob("*/infarction_2023.csv"))
    raw = pd.read_csv(f, dtype=str, keep_default_na=False)
    raw.loc[2, "toast"] = "XYZ"
    none = raw.index[raw["reperfusion"] == "none"][0]
    raw.loc[none, "door_to_needle_min"] = "45"
    data = raw.to_csv(index=False, lineterminator="\n").encode()
    spec = get_spec("infarction")
    ext = parse(data, f"{f.parent.name}/{f.name}", spec.columns)
    rows, issues = prepare(spec, ext, f.parent.name, b"k" * 32)
    assert rows is None
    fields = {(i.line, i.field) for i in issues}
    assert (4, "toast") in fields
    # The code error does not hide the cross-field rule on another row: a file's problems come at once.
    assert none != 2
    assert any(i.field == "door_to_needle_min" and i.line == none + 2 and "thrombolysis" in i.message
               for i in issues), issues
