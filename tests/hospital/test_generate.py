"""The synthetic hospital domain: determinism, identifiers, calibration against FACTS.md.

Calibration is checked from the written extracts (what the space will actually receive), against
the published figures (FACTS.md, restated in the truth JSON's ``targets``) and against the
generator's realised truth, recomputed here independently.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_products.cli import main as dataspace
from data_products.config import paths
from data_products.hospital import KINDS, generate, get_kind, sample
from data_products.reference import districts
from data_products.reference.facilities import facilities

CONTRACT = ["facility_id", "episode_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex",
            "admission_time", "crp_mg_l", "pct_ng_ml", "wbc_10e9_l", "neut_pct", "il6_pg_ml",
            "mp_result", "rsv_result", "flua_result", "flub_result", "adv_result"]


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*")) if f.is_file() and not f.name.startswith(".")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("gen")
    report = generate(paths(home), seed=11, scale="demo", kinds=["pneumonia"])
    frames = []
    for f in sorted((home / "hospitals").glob("F*/pneumonia_*.csv")):
        df = pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8")
        df["_file"] = str(f.relative_to(home / "hospitals"))
        frames.append(df)
    raw = pd.concat(frames, ignore_index=True)
    truth = json.loads((home / "hospitals" / "_truth" / "pneumonia.json").read_text(encoding="utf-8"))
    return home, report, raw, truth


def _age(raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Completed years / months, computed here with plain calendar arithmetic."""
    b = raw["birth_date"].str.split("-", expand=True).astype(int).to_numpy()
    a = raw["admission_time"].str.slice(0, 10).str.split("-", expand=True).astype(int).to_numpy()
    months = (a[:, 0] - b[:, 0]) * 12 + (a[:, 1] - b[:, 1]) - (a[:, 2] < b[:, 2])
    return months // 12, months


def _band(years: np.ndarray) -> np.ndarray:
    return np.where(years < 1, "lt1", np.where(years <= 5, "1to5", "6to13"))


def _rate(res: pd.Series, mask=None) -> float:
    if mask is not None:
        res = res[mask]
    tested = res[res != ""]
    return float((tested == "POS").mean())


def test_registry_has_pneumonia_and_contract_columns():
    assert "pneumonia" in KINDS
    kind = get_kind("pneumonia")
    assert list(kind.columns) == CONTRACT
    with pytest.raises(KeyError):
        get_kind("no_such_kind")


def test_same_seed_same_bytes_different_seed_differs(tmp_path, monkeypatch, capsys, demo):
    home, *_ = demo
    again = tmp_path / "again"
    # A stale file of the kind from an earlier run must not survive a regeneration.
    stray = again / "hospitals" / "F0403" / "pneumonia_2019.csv"
    stray.parent.mkdir(parents=True)
    stray.write_text("old", encoding="utf-8")
    monkeypatch.setenv("DATASPACE_HOME", str(again))
    assert dataspace(["generate", "--seed", "11", "--scale", "demo", "--kind", "pneumonia"]) == 0
    assert "30,000 rows" in capsys.readouterr().out
    assert not stray.exists()
    first, second = _tree_digest(home / "hospitals"), _tree_digest(again / "hospitals")
    assert first == second
    assert len(first) == 43  # 21 producing facilities x 2 years + truth
    a, b = sample("pneumonia", 400, seed=1), sample("pneumonia", 400, seed=2)
    assert a.to_csv().encode() != b.to_csv().encode()
    assert a.to_csv() == sample("pneumonia", 400, seed=1).to_csv()
    with pytest.raises(ValueError):
        generate(paths(tmp_path), seed=2, scale="galaxy")


def test_files_layout_and_producers(demo):
    home, report, raw, truth = demo
    fac = facilities()
    depts = fac["departments"].str.split()
    expected = set(fac.loc[depts.map(lambda d: "pediatrics" in d or "pediatric_respiratory" in d), "facility_id"])
    folders = {p.name for p in (home / "hospitals").iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders == expected
    assert not folders & set(fac.loc[fac["tier"] == "chc", "facility_id"])
    for f in report.files:
        assert re.fullmatch(r"pneumonia_(2023|2024)\.csv", f.name)
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        assert list(df.columns) == CONTRACT
        assert (df["facility_id"] == f.parent.name).all()
        assert (df["admission_time"].str.slice(0, 4) == f.name[10:14]).all()
    assert len(raw) == report.rows["pneumonia"] == truth["realised"]["n_episodes"]
    assert abs(len(raw) - 30_000) <= 300
    # Children's and maternal-child centres carry more than any general hospital.
    by_fac = raw["facility_id"].value_counts()
    centres = fac.loc[fac["kind"].isin(["childrens", "maternal_child"]) & (fac["tier"] == "tertiary"), "facility_id"]
    assert set(by_fac.index[:2]) == set(centres)
    assert by_fac.to_dict() == truth["realised"]["episodes"]["by_facility"]


def test_identifiers_are_valid(demo):
    _, _, raw, _ = demo
    weights = [pow(2, 17 - i, 11) for i in range(17)]  # GB 11643 from its definition
    for ident, birth, sex in zip(raw["id_card"], raw["birth_date"], raw["sex"], strict=True):
        assert re.fullmatch(r"\d{17}[\dX]", ident)
        check = "10X98765432"[sum(int(c) * w for c, w in zip(ident[:17], weights, strict=True)) % 11]
        assert ident[17] == check
        assert ident[6:14] == birth.replace("-", "")
        assert (int(ident[16]) % 2 == 1) == (sex == "M")
    assert raw["id_card"].is_unique
    assert raw["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert raw["patient_name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()
    names = "|".join(districts()["name_zh"])
    assert raw["address"].str.fullmatch(rf"广州市({names}).+?\d+号.*").all()
    assert raw.groupby("facility_id")["episode_id"].apply(lambda s: s.is_unique).all()
    for col in ("mp_result", "rsv_result", "flua_result", "flub_result", "adv_result"):
        assert set(raw[col]) <= {"POS", "NEG", ""}
    assert set(raw["sex"]) == {"M", "F"}


def test_ages_and_age_mix(demo):
    _, _, raw, truth = demo
    years, _ = _age(raw)
    assert years.min() >= 0 and years.max() <= 13
    share = pd.Series(_band(years)).value_counts(normalize=True)
    for band, target in truth["targets"]["age_band_share"].items():
        assert share[band] == pytest.approx(target, abs=0.015)
        assert share[band] == pytest.approx(truth["realised"]["age_band_share"][band], abs=1e-6)


def test_home_districts_follow_child_population(demo):
    _, _, raw, truth = demo
    d = districts()
    child_share = d.set_index("name_zh")["children_0_14_est"] / d["children_0_14_est"].sum()
    home = raw["address"].str.extract("(" + "|".join(d["name_zh"]) + ")", expand=False)
    observed = home.value_counts(normalize=True)
    for name, share in child_share.items():
        assert observed[name] == pytest.approx(share, abs=0.012), name
    # Most children are admitted in their own district; a minority travel to the big centres.
    fac_district = raw["facility_id"].map(facilities().set_index("facility_id")["district"])
    own = (home.map(d.set_index("name_zh")["adcode"]) == fac_district).mean()
    assert 0.6 < own < 0.85


def test_mycoplasma_calibration(demo):
    _, _, raw, truth = demo
    tg, real = truth["targets"], truth["realised"]["positivity"]["mp"]
    years, _ = _age(raw)
    band = _band(years)
    overall = _rate(raw["mp_result"])
    assert overall == pytest.approx(tg["mp_positivity"], abs=0.02)
    assert overall == pytest.approx(real["overall"]["rate"], abs=1e-6)
    by_band = {b: _rate(raw["mp_result"], band == b) for b in ("lt1", "1to5", "6to13")}
    assert by_band["lt1"] < by_band["1to5"] < by_band["6to13"]
    assert by_band["6to13"] == pytest.approx(tg["mp_positivity_6_13"], abs=0.03)
    for b, r in by_band.items():
        assert r == pytest.approx(real["by_age_band"][b]["rate"], abs=1e-6)
    month = raw["admission_time"].str.slice(0, 7)
    by_month = {m: _rate(raw["mp_result"], month == m) for m in sorted(month.unique())}
    assert max(by_month, key=by_month.get) == tg["mp_peak_month"]
    assert by_month["2023-11"] == pytest.approx(tg["mp_positivity_2023_11"], abs=0.04)
    autumn = np.mean([by_month[m] for m in by_month if m[5:] in ("10", "11")])
    spring = np.mean([by_month[m] for m in by_month if m[5:] in ("03", "04")])
    assert autumn > spring + 0.08


def test_rsv_flu_adenovirus_calibration(demo):
    _, _, raw, truth = demo
    tg = truth["targets"]
    _, months = _age(raw)
    years = months // 12
    assert _rate(raw["rsv_result"]) == pytest.approx(tg["rsv_positivity"], abs=0.02)
    assert _rate(raw["rsv_result"], months < 6) == pytest.approx(tg["rsv_positivity_under_6_months"], abs=0.035)
    cal = raw["admission_time"].str.slice(5, 7).astype(int)
    rsv_month = {m: _rate(raw["rsv_result"], cal == m) for m in range(1, 13)}
    assert max(rsv_month, key=rsv_month.get) == tg["rsv_peak_calendar_month"]
    assert _rate(raw["rsv_result"], raw["sex"] == "M") > _rate(raw["rsv_result"], raw["sex"] == "F")
    for flu in ("flua_result", "flub_result"):
        winter_spring = _rate(raw[flu], cal.isin([12, 1, 2, 3, 4]))
        summer_autumn = _rate(raw[flu], cal.isin([6, 7, 8, 9, 10]))
        assert winter_spring > 1.5 * summer_autumn
    adv_by_year = {y: _rate(raw["adv_result"], years == y) for y in range(14)}
    assert max(adv_by_year, key=adv_by_year.get) in (2, 3, 4)
    assert adv_by_year[3] > 2 * adv_by_year[0]


def test_testing_shares_match_parameters(demo):
    _, _, raw, truth = demo
    tested = truth["parameters"]["tested_share"]
    for col, key in (("mp_result", "mp"), ("rsv_result", "rsv"), ("flua_result", "flu"), ("adv_result", "adv")):
        assert (raw[col] != "").mean() == pytest.approx(tested[key], abs=0.015)
    assert ((raw["flua_result"] != "") == (raw["flub_result"] != "")).all()
    measured = truth["parameters"]["measured_share"]
    for col in ("crp_mg_l", "pct_ng_ml", "il6_pg_ml"):
        assert (raw[col] != "").mean() == pytest.approx(measured[col], abs=0.015)


def test_markers_by_class_match_published(demo):
    """Latent classes (truth) reproduce the published medians, IQRs and means."""
    _, _, _, truth = demo
    mk, tg = truth["realised"]["markers_by_class"], truth["targets"]
    pct_b = mk["bacterial"]["pct_ng_ml"]
    assert pct_b["median"] == pytest.approx(tg["pct_median"]["bacterial"], rel=0.15)
    assert pct_b["q1"] == pytest.approx(tg["pct_iqr"]["bacterial"][0], rel=0.25)
    assert pct_b["q3"] == pytest.approx(tg["pct_iqr"]["bacterial"][1], rel=0.25)
    assert mk["mycoplasma"]["pct_ng_ml"]["median"] == pytest.approx(tg["pct_median"]["mycoplasma"], abs=0.02)
    assert mk["rsv"]["pct_ng_ml"]["median"] == pytest.approx(tg["pct_median"]["viral"], rel=0.15)
    for cls, mean in tg["crp_mean"].items():
        assert mk[cls]["crp_mg_l"]["mean"] == pytest.approx(mean, rel=0.1), cls
    assert mk["bacterial"]["wbc_10e9_l"]["median"] == pytest.approx(tg["wbc_median"]["bacterial"], rel=0.05)
    assert mk["mycoplasma"]["wbc_10e9_l"]["median"] == pytest.approx(tg["wbc_median"]["mycoplasma"], rel=0.05)
    assert mk["influenza"]["wbc_10e9_l"]["median"] == pytest.approx(tg["wbc_median"]["viral"], rel=0.05)
    neut = {c: mk[c]["neut_pct"]["median"] for c in mk}
    assert min(neut["bacterial"], neut["influenza"], neut["adenovirus"]) > max(neut["rsv"], neut["other"])
    assert mk["bacterial"]["il6_pg_ml"]["median"] > 2 * max(mk[c]["il6_pg_ml"]["median"] for c in mk if c != "bacterial")


def test_markers_visible_in_extracts(demo):
    """What a product can see: markers among children positive for one pathogen only."""
    _, _, raw, _ = demo
    res = {p: raw[f"{p}_result"] for p in ("mp", "rsv", "flua", "flub", "adv")}

    def only(p):
        mask = res[p] == "POS"
        for q, r in res.items():
            if q != p and not (p in ("flua", "flub") and q in ("flua", "flub")):
                mask &= r == "NEG"
        return mask

    def num(col, mask):
        v = raw.loc[mask, col]
        return pd.to_numeric(v[v != ""])

    assert num("pct_ng_ml", only("mp")).median() == pytest.approx(0.10, abs=0.03)
    assert num("wbc_10e9_l", only("mp")).median() == pytest.approx(12.0, abs=1.0)
    assert num("crp_mg_l", only("adv")).mean() == pytest.approx(41.0, rel=0.2)
    assert num("crp_mg_l", only("rsv")).mean() == pytest.approx(17.0, rel=0.25)
    assert num("neut_pct", only("rsv")).median() < num("neut_pct", only("adv")).median() - 15
    nothing = (res["mp"] == "NEG") & (res["rsv"] == "NEG") & (res["flua"] == "NEG") & (res["adv"] == "NEG")
    assert num("pct_ng_ml", nothing).quantile(0.9) > 2 * num("pct_ng_ml", only("mp")).quantile(0.9)


def test_sample_in_memory_matches_contract():
    df = sample("pneumonia", 250, seed=5)
    assert list(df.columns) == CONTRACT
    assert len(df) == 250
    assert all(pd.api.types.is_string_dtype(df[c]) for c in df.columns)


# --- one generator at any size, streamed -------------------------------------------------------


def test_visits_any_row_count_byte_identical_whatever_the_chunk_size(tmp_path, monkeypatch, capsys):
    """`generate --kind visits --rows N`: exactly N rows, and the same bytes for a seed whether the
    writer holds 700 rows or all of them between writes."""
    small, large = tmp_path / "small", tmp_path / "large"
    report = generate(paths(small), seed=5, kinds=["visits"], rows=23_457, chunk_rows=700)
    monkeypatch.setenv("DATASPACE_HOME", str(large))
    assert dataspace(["generate", "--kind", "visits", "--rows", "23457", "--seed", "5", "--chunk-rows", "1000000",
                      "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "23,457 rows" in out and "rows/s" in out
    a, b = _tree_digest(small / "hospitals"), _tree_digest(large / "hospitals")
    assert a == b and len(a) > 2
    files = sorted((small / "hospitals").glob("F*/visits_*.csv"))
    assert report.rows["visits"] == 23_457
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
    assert sum(len(f) for f in frames) == 23_457
    for f, df in zip(files, frames, strict=True):
        assert (df["facility_id"] == f.parent.name).all()
        assert (df["registration_time"].str.slice(0, 4) == f.stem[-4:]).all()
        assert df["visit_id"].is_unique
    # The in-memory stream (sample, chunks) is the same model: its rows are the files' rows.
    mem = sample("visits", 23_457, seed=5)
    disk = pd.concat(frames, ignore_index=True)
    key = ["facility_id", "visit_id"]
    pd.testing.assert_frame_equal(mem.sort_values(key).reset_index(drop=True).astype(str),
                                  disk.sort_values(key).reset_index(drop=True).astype(str))
    with pytest.raises(ValueError):
        generate(paths(tmp_path / "x"), seed=5, kinds=["visits"], rows=0)


def test_id_allocator_vectorised_equals_the_loop():
    """The vectorised allocator gives exactly what a loop over the people in order gives: first free
    number of the same parity, collisions (with earlier calls and within a call) moved on in order."""
    from data_products.hospital.identity import IdAllocator

    def loop(used: set, body, seq):
        out = []
        for b, s in zip(body.tolist(), seq.tolist(), strict=True):
            while b + s in used:
                s = (s + 2) % 1000
            out.append(b + s)
            used.add(b + s)
        return np.array(out)

    rng = np.random.default_rng(17)
    for _ in range(200):
        alloc, used = IdAllocator(), set()
        for _call in range(3):
            n = int(rng.integers(1, 300))
            body = rng.integers(0, 3, size=n) * 10**9 * 1000  # few bodies: many collisions
            seq = rng.integers(0, int(rng.integers(1, 40)), size=n) * 2 + rng.integers(0, 2, size=n)
            got = alloc._settle(body, seq)
            assert (got == loop(used, body, seq)).all()
            assert (got % 2 == seq % 2).all()


def test_string_pool_gathers_like_arrow_take():
    import pyarrow as pa

    from data_products.hospital.kinds import StringPool

    values = np.array(["曾若辰", "肖博", "44510219730505850X", "", "x"])
    who = np.array([0, 2, 2, 3, 1, 4, 0])
    got = StringPool(values).take(who)
    got.validate(full=True)
    assert got.equals(pa.array(values).take(pa.array(who)))
