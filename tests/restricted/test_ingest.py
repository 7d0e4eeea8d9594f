"""Hospital -> restricted zone: validation, rejection whole, de-identification, idempotence, crash safety."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_products.cli import main as dataspace
from data_products.config import paths
from data_products.contracts.person import gb11643_check_digit
from data_products.hospital import generate, sample
from data_products.reference import districts
from data_products.restricted import get_spec, ingest
from data_products.restricted.pseudonym import ENV
from data_products.restricted.store import rejections

DATA_TABLES = ("pneumonia_episodes", "manifests")
IDENTIFIERS = ("patient_name", "id_card", "phone", "address")


def _digest_tables(db: Path, tables=DATA_TABLES) -> str:
    if not db.exists():
        return "absent"
    con = duckdb.connect(str(db), read_only=True)
    try:
        h = hashlib.sha256()
        for t in tables:
            h.update(repr(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()).encode())
        return h.hexdigest()
    finally:
        con.close()


def _query(db: Path, sql: str, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _files(home: Path) -> dict[str, str]:
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted((home / "hospitals").rglob("*.csv"))}


def _age(birth: pd.Series, on: pd.Series) -> np.ndarray:
    b = birth.str.split("-", expand=True).astype(int).to_numpy()
    a = on.str.slice(0, 10).str.split("-", expand=True).astype(int).to_numpy()
    return ((a[:, 0] - b[:, 0]) * 12 + (a[:, 1] - b[:, 1]) - (a[:, 2] < b[:, 2])) // 12


@pytest.fixture(scope="module")
def demo_ingested(tmp_path_factory):
    """The full demo generation, ingested once."""
    home = tmp_path_factory.mktemp("ingest_demo")
    p = paths(home)
    generate(p, seed=23, scale="demo", kinds=["pneumonia"])
    before = _files(home)
    os.environ.pop(ENV, None)
    report = ingest(p)
    after = _files(home)
    raw = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted(p.hospitals.glob("F*/pneumonia_*.csv"))],
                    ignore_index=True)
    return p, report, before, after, raw


def test_demo_ingest_accepts_everything_and_leaves_extracts_alone(demo_ingested):
    p, report, before, after, raw = demo_ingested
    assert report.exit_code == 0, report.summary()
    assert len(report.accepted) == 42 and not report.rejected
    assert before == after
    assert _query(p.restricted_db, "SELECT count(*) FROM pneumonia_episodes")[0][0] == len(raw)
    per_manifest = _query(p.restricted_db, """
        SELECT m.transfer_id, m.rows_accepted, count(e.transfer_id) FROM manifests m
        LEFT JOIN pneumonia_episodes e USING (transfer_id) GROUP BY ALL""")
    assert len(per_manifest) == 42
    assert all(rows == n for _, rows, n in per_manifest)
    shas = {r[0] for r in _query(p.restricted_db, "SELECT sha256 FROM manifests")}
    assert shas == set(before.values())
    assert (p.pseudonym_key.stat().st_mode & 0o777) == 0o600


def test_contract_columns_and_types(demo_ingested):
    p, *_ = demo_ingested
    cols = dict(_query(p.restricted_db, "SELECT column_name, data_type FROM information_schema.columns "
                                        "WHERE table_name = 'pneumonia_episodes'"))
    contract = {"pseudonym": "VARCHAR", "episode_key": "VARCHAR", "facility_id": "VARCHAR", "district": "VARCHAR",
                "age_years": "INTEGER", "age_months": "INTEGER", "sex": "VARCHAR", "admission_date": "DATE",
                "crp_mg_l": "DOUBLE", "pct_ng_ml": "DOUBLE", "wbc_10e9_l": "DOUBLE", "neut_pct": "DOUBLE",
                "il6_pg_ml": "DOUBLE", "mp": "VARCHAR", "rsv": "VARCHAR", "flua": "VARCHAR", "flub": "VARCHAR",
                "adv": "VARCHAR", "transfer_id": "VARCHAR"}
    for name, typ in contract.items():
        assert cols[name] == typ, name
    for t in ("manifests", "rejections"):
        assert _query(p.restricted_db, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [t])[0][0]


def test_deidentified_values_recomputed_independently(demo_ingested):
    """Pseudonym, record key, district, age and dates agree with a from-scratch recomputation."""
    p, _, _, _, raw = demo_ingested
    key = p.pseudonym_key.read_bytes()
    rows = _query(p.restricted_db, "SELECT episode_key, pseudonym, district, age_years, age_months, sex, "
                                   "CAST(admission_date AS VARCHAR), admission_month, crp_mg_l, mp FROM pneumonia_episodes")
    store = pd.DataFrame(rows, columns=["episode_key", "pseudonym", "district", "age_years", "age_months", "sex",
                                        "admission_date", "admission_month", "crp", "mp"]).set_index("episode_key")
    ekey = [hmac.new(key, f"{f}:{e}".encode(), hashlib.sha256).hexdigest()
            for f, e in zip(raw["facility_id"], raw["episode_id"], strict=True)]
    got = store.loc[ekey]
    assert list(got["pseudonym"]) == [hmac.new(key, i.encode(), hashlib.sha256).hexdigest() for i in raw["id_card"]]
    names = districts().set_index("name_zh")["adcode"]
    expected_district = raw["address"].str.extract("(" + "|".join(names.index) + ")", expand=False).map(names)
    assert list(got["district"]) == list(expected_district)
    ages = _age(raw["birth_date"], raw["admission_time"])
    assert list(got["age_years"]) == list(ages)
    assert got["age_months"].isna().to_numpy().tolist() == (ages >= 2).tolist()
    assert list(got["admission_date"]) == list(raw["admission_time"].str.slice(0, 10))
    assert list(got["admission_month"]) == list(raw["admission_time"].str.slice(0, 7))
    assert list(got["sex"]) == list(raw["sex"])
    assert list(got["mp"].fillna("")) == list(raw["mp_result"])
    crp = pd.to_numeric(raw["crp_mg_l"].replace("", None))
    assert np.allclose(got["crp"].to_numpy(dtype=float), crp.to_numpy(dtype=float), equal_nan=True)


def test_no_identifier_anywhere_in_store(demo_ingested):
    p, _, _, _, raw = demo_ingested
    con = duckdb.connect(str(p.restricted_db), read_only=True)
    try:
        cols = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns").fetchall()
        names = {c for _, c, _ in cols}
        assert not names & {*IDENTIFIERS, "birth_date", "admission_time", "episode_id"}
        texts: set[str] = set()
        for table, column, typ in cols:
            if typ == "VARCHAR":
                texts |= {r[0] for r in con.execute(f'SELECT DISTINCT "{column}" FROM {table}').fetchall()}
    finally:
        con.close()
    secret = {*raw["patient_name"], *raw["id_card"], *raw["phone"], *raw["address"], *raw["episode_id"]}
    assert not texts & secret
    key = p.pseudonym_key.read_bytes()
    assert not any(key.hex() in t for t in texts if t)
    blob = p.restricted_db.read_bytes()
    assert key not in blob and key.hex().encode() not in blob
    for value in list(raw["id_card"][:200]) + list(raw["phone"][:200]):
        assert value.encode() not in blob


def test_reingest_is_a_no_op(demo_ingested):
    p, *_ = demo_ingested
    before = _digest_tables(p.restricted_db, ("pneumonia_episodes", "manifests", "rejections"))
    report = ingest(p)
    assert len(report.skipped) == 42 and not report.accepted and not report.rejected
    assert _digest_tables(p.restricted_db, ("pneumonia_episodes", "manifests", "rejections")) == before


# --- a small home for the malformed corpus ------------------------------------------------------

FOLDER = "F0403"


@functools.cache
def _children() -> pd.DataFrame:
    return sample("pneumonia", 2000, seed=4)


def _base_frame(n: int = 60, seed: int = 4, year: int = 2023) -> pd.DataFrame:
    """n valid rows for FOLDER admitted in ``year`` (a file carries its year in its name); the seed
    only makes the episode ids distinct between files."""
    kids = _children()
    df = kids[kids["admission_time"].str.startswith(str(year))].iloc[:n].copy()
    assert len(df) == n
    df["facility_id"] = FOLDER
    df["episode_id"] = [f"T{seed:02d}{i:05d}" for i in range(n)]
    return df.reset_index(drop=True)


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


@pytest.fixture(scope="module")
def small_template(tmp_path_factory):
    """One accepted extract in a fresh home; each test gets a copy (store, key and all)."""
    home = tmp_path_factory.mktemp("small")
    p = paths(home).ensure()
    good = p.hospitals / FOLDER / "pneumonia_2023.csv"
    good.parent.mkdir(parents=True)
    good.write_bytes(_csv(_base_frame()))
    os.environ.pop(ENV, None)
    report = ingest(p)
    assert report.exit_code == 0, report.summary()
    return home


@pytest.fixture
def small(small_template, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(small_template, home)
    monkeypatch.setenv("DATASPACE_HOME", str(home))
    monkeypatch.delenv(ENV, raising=False)
    return paths(home)


def _with_id_birth(df: pd.DataFrame, i: int, birth: str) -> None:
    """Change a row's birth date and keep its ID number consistent (date digits + check digit)."""
    first17 = df.at[i, "id_card"][:6] + birth.replace("-", "") + df.at[i, "id_card"][14:17]
    digits = np.array([[int(c) for c in first17]])
    df.at[i, "birth_date"] = birth
    df.at[i, "id_card"] = first17 + gb11643_check_digit(digits)[0]


def _mutate(fn):
    def make() -> bytes:
        df = _base_frame(seed=9, year=2024)
        out = fn(df)
        return out if isinstance(out, bytes) else _csv(df)
    return make


def _set(i, col, value):
    return _mutate(lambda df: df.__setitem__(col, df[col].where(df.index != i, value)) or None)


def _age14(df):
    adm = pd.Timestamp(df.at[5, "admission_time"][:10])
    _with_id_birth(df, 5, (adm - pd.DateOffset(years=14)).strftime("%Y-%m-%d"))


def _dup(df):
    df.at[8, "episode_id"] = df.at[1, "episode_id"]


def _extra_field(df):
    data = _csv(df).split(b"\n")
    data[4] += b",surplus"
    return b"\n".join(data)


CORPUS = {
    # name: (bytes maker, folder, expected line (None = whole file), expected field, message fragment)
    "renamed_column": (_mutate(lambda df: _csv(df.rename(columns={"crp_mg_l": "crp_mg_dl"}))), FOLDER, 1, "crp_mg_l", "missing"),
    "missing_column": (_mutate(lambda df: _csv(df.drop(columns="il6_pg_ml"))), FOLDER, 1, "il6_pg_ml", "missing"),
    "extra_field_in_row": (_mutate(_extra_field), FOLDER, 5, None, "fields"),
    "wrong_type": (_set(4, "wbc_10e9_l", "abc"), FOLDER, 6, "wbc_10e9_l", "number"),
    "crp_in_mg_dl": (_mutate(lambda df: df.__setitem__("crp_mg_l", df["crp_mg_l"].map(
        lambda v: f"{float(v) / 10:.2f}" if v else v))), FOLDER, None, "crp_mg_l", "mg/dL"),
    "crp_impossible": (_set(6, "crp_mg_l", "5000.0"), FOLDER, 8, "crp_mg_l", "range"),
    "negative_wbc": (_set(2, "wbc_10e9_l", "-3.2"), FOLDER, 4, "wbc_10e9_l", "range"),
    "pct_5000": (_set(9, "pct_ng_ml", "5000"), FOLDER, 11, "pct_ng_ml", "range"),
    "future_date": (_set(3, "admission_time", "2099-01-01 10:00:00"), FOLDER, 5, "admission_time", "future"),
    "before_2000": (_set(3, "admission_time", "1999-05-01 10:00:00"), FOLDER, 5, "admission_time", "2000"),
    "impossible_date": (_set(3, "admission_time", "2023-02-30 10:00:00"), FOLDER, 5, "admission_time", "real"),
    "age_14": (_mutate(_age14), FOLDER, 7, "birth_date", "under 14"),
    "duplicate_episode": (_mutate(_dup), FOLDER, 10, "episode_id", "duplicate"),
    "unknown_facility_folder": (_mutate(lambda df: _csv(df.assign(facility_id="F9999"))), "F9999", None,
                                "facility_id", "registered"),
    "unknown_facility_value": (_set(0, "facility_id", "F9999"), FOLDER, 2, "facility_id", "registry"),
    "facility_not_folder": (_mutate(lambda df: _csv(df.assign(facility_id="F0602"))), FOLDER, 2, "facility_id",
                            "folder"),
    "gbk_encoding": (_mutate(lambda df: df.to_csv(index=False, lineterminator="\n").encode("gbk")), FOLDER, 2,
                     "patient_name", "UTF-8"),
    "empty_file": (lambda: b"", FOLDER, None, None, "empty"),
    "truncated": (_mutate(lambda df: _csv(df)[: _csv(df).index(b"\n", 2000) - 25]), FOLDER, None, None, "truncated"),
    "header_only": (_mutate(lambda df: _csv(df.iloc[:0])), FOLDER, 1, None, "header only"),
    "formula_in_name": (_set(2, "patient_name", '=HYPERLINK("http://x","y")'), FOLDER, 4, "patient_name", "formula"),
    "formula_in_address": (_set(7, "address", "@SUM(1+1)*cmd|' /C calc'!A0"), FOLDER, 9, "address", "formula"),
    "plus_in_name": (_set(1, "patient_name", "+陈小明"), FOLDER, 3, "patient_name", "formula"),
    "bad_sex": (_set(5, "sex", "X"), FOLDER, 7, "sex", "M/F"),
    "bad_result_code": (_set(5, "mp_result", "positive"), FOLDER, 7, "mp_result", "POS/NEG"),
    "bad_id_checksum": (_mutate(lambda df: df.__setitem__("id_card", df["id_card"].where(
        df.index != 3, df.at[3, "id_card"][:17] + ("0" if df.at[3, "id_card"][17] != "0" else "1")))),
        FOLDER, 5, "id_card", "check digit"),
    "id_birth_mismatch": (_set(3, "birth_date", "2019-01-01"), FOLDER, 5, "id_card", "birth date"),
    "missing_required": (_set(2, "phone", ""), FOLDER, 4, "phone", "missing"),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_extract_rejected_whole(small, case):
    make, folder, line, field, fragment = CORPUS[case]
    p = small
    target = p.hospitals / folder / "pneumonia_2024.csv"
    target.parent.mkdir(exist_ok=True)
    data = make()
    target.write_bytes(data)
    if case == "truncated":
        line = data.count(b"\n") + 1
        field = None  # depends on where the cut fell; checked below
    before_tables = _digest_tables(p.restricted_db)
    n_rejections = _query(p.restricted_db, "SELECT count(*) FROM rejections")[0][0]

    report = ingest(p)

    assert report.exit_code == 1
    assert [o.file for o in report.rejected] == [f"{folder}/pneumonia_2024.csv"]
    issues = report.rejected[0].issues
    assert issues
    assert all(i.file == f"{folder}/pneumonia_2024.csv" for i in issues)
    hit = [i for i in issues if i.line == line and (field is None or i.field == field)]
    assert hit, [str(i) for i in issues]
    assert any(fragment.lower() in i.message.lower() for i in hit), [str(i) for i in hit]
    assert f"{folder}/pneumonia_2024.csv" in report.summary()
    if line is not None:
        assert f"line {line}" in report.summary()
    if case == "truncated":
        assert hit[0].field in get_spec("pneumonia").columns
    # Nothing of it stored; the extract untouched; the rejection recorded once, findable by facility.
    assert _digest_tables(p.restricted_db) == before_tables
    assert target.read_bytes() == data
    rej = rejections(duckdb.connect(str(p.restricted_db), read_only=True), folder)
    assert len(rej) == 1 and rej.loc[0, "sha256"] == hashlib.sha256(data).hexdigest()
    assert rej.loc[0, "file_name"] == "pneumonia_2024.csv" and rej.loc[0, "issues"] == len(issues)
    # The stored reason names rows and fields but never quotes an identifier.
    reason = rej.loc[0, "reason"]
    base = _children()
    assert not any(v in reason for col in IDENTIFIERS for v in base[col])
    assert "HYPERLINK" not in reason and "陈小明" not in reason
    again = ingest(p)
    assert again.exit_code == 1
    assert _query(p.restricted_db, "SELECT count(*) FROM rejections")[0][0] == n_rejections + 1


def test_unknown_kind_file_rejected(small):
    p = small
    (p.hospitals / FOLDER / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    report = ingest(p)
    assert [o.file for o in report.rejected] == [f"{FOLDER}/notes.csv"]
    assert "kind" in report.rejected[0].issues[0].message


def test_record_already_ingested_from_another_file(small):
    p = small
    copy = _base_frame(year=2024)  # the episode ids of the accepted pneumonia_2023.csv, in 2024's file
    (p.hospitals / FOLDER / "pneumonia_2024.csv").write_bytes(_csv(copy.iloc[:5]))
    before = _digest_tables(p.restricted_db)
    report = ingest(p)
    assert len(report.rejected) == 1
    issues = report.rejected[0].issues
    assert [i.line for i in issues] == [2, 3, 4, 5, 6]
    assert all(i.field == "episode_id" and "pneumonia_2023.csv" in i.message for i in issues)
    assert _digest_tables(p.restricted_db) == before


def test_reexport_with_new_content_replaces_the_old_transfer(small):
    p = small
    f = p.hospitals / FOLDER / "pneumonia_2023.csv"
    df = _base_frame()
    df.loc[0, "crp_mg_l"] = "99.9"
    f.write_bytes(_csv(df))
    report = ingest(p)
    assert report.exit_code == 0 and len(report.accepted) == 1 and report.accepted[0].replaced
    rows = _query(p.restricted_db, "SELECT count(*), max(crp_mg_l) FILTER (WHERE crp_mg_l = 99.9) FROM pneumonia_episodes")
    assert rows[0] == (60, 99.9)
    live = _query(p.restricted_db, "SELECT count(*) FROM manifests WHERE superseded_by IS NULL")[0][0]
    assert live == 1


def test_pseudonyms_stable_with_same_key_and_differ_with_another(tmp_path, monkeypatch):
    df = _base_frame(n=30, seed=12)
    found = []
    for name, key in (("a", "11" * 32), ("b", "11" * 32), ("c", "22" * 32)):
        home = paths(tmp_path / name).ensure()
        (home.hospitals / FOLDER).mkdir(parents=True)
        (home.hospitals / FOLDER / "pneumonia_2023.csv").write_bytes(_csv(df))
        monkeypatch.setenv(ENV, key)
        assert ingest(home).exit_code == 0
        assert not home.pseudonym_key.exists()  # an env key is never written to disk
        found.append(sorted(r[0] for r in _query(home.restricted_db, "SELECT pseudonym FROM pneumonia_episodes")))
    assert found[0] == found[1]
    assert not set(found[0]) & set(found[2])
    expected = sorted(hmac.new(bytes.fromhex("11" * 32), i.encode(), hashlib.sha256).hexdigest() for i in df["id_card"])
    assert found[0] == expected
    monkeypatch.setenv(ENV, "not-hex")
    with pytest.raises(ValueError):
        ingest(paths(tmp_path / "a"))


def test_key_file_refused_when_readable_by_others(small):
    p = small
    os.chmod(p.pseudonym_key, 0o644)
    with pytest.raises(PermissionError):
        ingest(p)


def test_ingest_cli_exit_codes(small, capsys):
    p = small
    assert dataspace(["ingest"]) == 0
    assert "already ingested" in capsys.readouterr().out
    (p.hospitals / FOLDER / "pneumonia_2024.csv").write_bytes(b"")
    assert dataspace(["ingest"]) == 1
    out = capsys.readouterr().out
    assert "REJECTED F0403/pneumonia_2024.csv" in out and "empty" in out


# --- crash safety ------------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import os, signal, sys
    from data_products.config import paths
    from data_products.restricted import ingest, store

    mode, after = sys.argv[1], int(sys.argv[2])
    calls = []
    original = store.insert_rows

    def insert_then_die(con, spec, rows):
        original(con, spec, rows)
        calls.append(1)
        if mode == "inside" and len(calls) == after:
            os.kill(os.getpid(), signal.SIGKILL)  # rows written, transaction not committed

    store.insert_rows = insert_then_die
    ingest(paths(), on_file=lambda o: print(o.status, o.file, flush=True))
""")


def _crash_home(tmp_path: Path, files: int = 8) -> Path:
    p = paths(tmp_path).ensure()
    for i in range(files):
        year = 2023 + i // 4
        df = _base_frame(n=400, seed=30 + i, year=year)
        folder = ["F0403", "F0602", "F0301", "F1101"][i % 4]
        df["facility_id"] = folder
        (p.hospitals / folder).mkdir(exist_ok=True)
        (p.hospitals / folder / f"pneumonia_{year}.csv").write_bytes(_csv(df))
    return tmp_path


def _assert_consistent(db: Path) -> int:
    per = _query(db, """SELECT m.transfer_id, m.rows_accepted, count(e.transfer_id) FROM manifests m
                        LEFT JOIN pneumonia_episodes e USING (transfer_id) GROUP BY ALL""")
    assert all(rows == n for _, rows, n in per), per
    orphans = _query(db, "SELECT count(*) FROM pneumonia_episodes WHERE transfer_id NOT IN "
                         "(SELECT transfer_id FROM manifests)")[0][0]
    assert orphans == 0
    return len(per)


@pytest.mark.parametrize("mode", ["inside", "outside"])
def test_sigkill_mid_ingest_leaves_store_consistent(tmp_path, mode):
    home = _crash_home(tmp_path)
    env = {**os.environ, "DATASPACE_HOME": str(home)}
    env.pop(ENV, None)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, "3"], env=env, stdout=subprocess.PIPE, text=True)
    if mode == "outside":
        # Kill from outside as soon as two files are reported: the third is somewhere in flight.
        seen = 0
        while seen < 2:
            line = proc.stdout.readline()
            assert line, "child ended early"
            seen += line.startswith("accepted")
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    p = paths(home)
    survived = _assert_consistent(p.restricted_db)
    assert (survived == 2) if mode == "inside" else (2 <= survived < 8)
    report = ingest(p)
    assert report.exit_code == 0
    assert len(report.accepted) == 8 - survived and len(report.skipped) == survived
    assert _assert_consistent(p.restricted_db) == 8
    assert _query(p.restricted_db, "SELECT count(*) FROM pneumonia_episodes")[0][0] == 8 * 400


def test_prepare_works_on_in_memory_frames(tmp_path):
    """The benchmark path: validate + de-identify a generated frame without files or a store."""
    from data_products.restricted.extract import Extract
    from data_products.restricted.ingest import prepare

    df = _base_frame(n=200, seed=3).replace("", None)
    ex = Extract(file="memory", sha256="-", frame=df, lines=np.arange(2, 202))
    rows, issues = prepare(get_spec("pneumonia"), ex, FOLDER, b"k" * 32)
    assert issues == [] and len(rows) == 200
    assert not set(rows.columns) & set(IDENTIFIERS)
    assert json.dumps(list(rows.columns))
    assert re.fullmatch(r"[0-9a-f]{64}", rows["pseudonym"].iloc[0])
