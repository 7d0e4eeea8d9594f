"""The bulk ingest (visits, inside DuckDB) and the malformed-extract findings of issue 16.

Pseudonyms are checked against the row-by-row Python HMAC (``pseudonym.keyed_hashes``, the
implementation every kind used before), the store against a recomputation from the CSV, and
each malformed extract by what it must never do: store or print an identifier, replace a longer
transfer silently, pass as a copy, follow a link out of the hospital domain.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_products.cli import main as dataspace
from data_products.config import paths
from data_products.hospital import generate, sample
from data_products.restricted import bulk, ingest
from data_products.restricted.pseudonym import ENV, keyed_hashes, load_key
from data_products.restricted.visits import DOCTOR_CODE_HEX

NOW = datetime(2025, 1, 1)
IDENT = ("patient_name", "id_card", "phone")


def _rows(db: Path, sql: str, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _store(db: Path) -> tuple:
    """Everything a run stores, less the wall-clock time of each manifest."""
    return (_rows(db, "SELECT * FROM outpatient_visits ORDER BY ALL"),
            _rows(db, "SELECT * EXCLUDE (ingested_at) FROM manifests ORDER BY ALL"))


@pytest.mark.parametrize("key", [b"k" * 32, bytes(range(64)), bytes(range(100)), b"\x00" * 32 + b"\xff" * 7])
def test_sql_hmac_equals_the_python_hmac(key):
    values = ["440118196106260643", "44011819610626064X", "F0301:MZ2024W01000001", "F0301:doctor:YS1234", "",
              "陈小明", "a" * 200]
    con = duckdb.connect()
    got = bulk.keyed_hashes_sql(con, key, values)
    assert got == keyed_hashes(key, values)
    assert got == [hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in values]


@pytest.fixture(scope="module")
def visits_home(tmp_path_factory):
    home = paths(tmp_path_factory.mktemp("bulk")).ensure()
    os.environ.pop(ENV, None)
    generate(home, seed=9, kinds=["visits"], rows=12_000)
    report = ingest(home, now=NOW)
    assert report.exit_code == 0 and len(report.accepted) == 5, report.summary()
    return home


def test_store_equals_a_row_by_row_recomputation(visits_home):
    p = visits_home
    key = p.pseudonym_key.read_bytes()
    raw = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted(p.hospitals.glob("F*/*.csv"))],
                    ignore_index=True)
    got = pd.DataFrame(_rows(p.restricted_db, "SELECT * FROM outpatient_visits"),
                       columns=[r[0] for r in _rows(p.restricted_db, "SELECT column_name FROM information_schema.columns "
                                                                     "WHERE table_name = 'outpatient_visits' "
                                                                     "ORDER BY ordinal_position")])
    got = got.set_index("visit_key")
    keys = keyed_hashes(key, raw["facility_id"] + ":" + raw["visit_id"])
    row = got.loc[keys]
    assert len(got) == len(raw)
    assert list(row["pseudonym"]) == keyed_hashes(key, raw["id_card"].str.upper())
    doctor = ["D" + h[:DOCTOR_CODE_HEX] for h in keyed_hashes(key, raw["facility_id"] + ":doctor:" + raw["doctor_id"])]
    assert list(row["doctor_code"]) == doctor
    reg, call, start, end = (pd.to_datetime(raw[c]) for c in ("registration_time", "call_time", "consult_start",
                                                             "consult_end"))
    assert np.array_equal(row["wait_min"].to_numpy(), ((start - reg).dt.total_seconds() / 60.0).to_numpy())
    assert np.array_equal(row["call_wait_min"].to_numpy(), ((call - reg).dt.total_seconds() / 60.0).to_numpy())
    assert np.array_equal(row["consult_min"].to_numpy(), ((end - start).dt.total_seconds() / 60.0).to_numpy())
    assert list(row["weekday"]) == list(reg.dt.dayofweek + 1) and list(row["hour"]) == list(reg.dt.hour)
    assert list(pd.to_datetime(row["visit_date"]).dt.date) == list(reg.dt.date)
    # No identifier, staff code or raw timestamp anywhere in the store file.
    blob = p.restricted_db.read_bytes()
    for col in (*IDENT, "visit_id", "registration_time"):
        for v in raw[col].iloc[:50]:
            assert v.encode() not in blob, col


def _home_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    home = paths(tmp_path / "home").ensure()
    for name, data in files.items():
        target = home.hospitals / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return home


def _visits(n: int = 300) -> tuple[pd.DataFrame, str]:
    raw = sample("visits", 4000, seed=3)
    fac = raw["facility_id"].iloc[0]
    return raw[raw["facility_id"] == fac].iloc[:n].reset_index(drop=True), fac


def _csv(df: pd.DataFrame, header: bool = True) -> bytes:
    return df.to_csv(index=False, header=header, lineterminator="\n").encode("utf-8")


def test_visits_every_problem_of_a_file_at_once_with_its_line(tmp_path):
    df, fac = _visits()
    df.loc[3, "visit_type"] = "VIP"                                   # code list
    df.loc[7, "consult_end"] = "2024-13-45 25:00:00"                  # not a real time
    df.loc[11, "consult_end"] = df.loc[11, "registration_time"]       # negative duration (range), other row
    df.loc[12, "registration_time"] = "２０２４-09-02 08:00:00"         # full-width digits: not a time
    df.loc[250, "call_time"] = "2031-01-01 08:00:00"                  # future, far from the first rows
    df.loc[260, "registration_time"] = "2023-12-31 08:00:00"          # not the file name's year
    home = _home_with(tmp_path, {f"{fac}/visits_2024.csv": _csv(df)})
    report = ingest(home, now=NOW)
    assert report.exit_code == 1
    got = {(i.line, i.field) for i in report.rejected[0].issues}
    for line, field in [(5, "visit_type"), (9, "consult_end"), (13, "consult_end"), (14, "registration_time"),
                        (252, "call_time"), (262, "registration_time")]:
        assert (line, field) in got, (line, field, sorted(got))
    text = report.summary()
    assert "full" not in text and "２" not in text
    assert not any(df.loc[12, c] in text for c in IDENT)
    assert _rows(home.restricted_db, "SELECT count(*) FROM outpatient_visits")[0][0] == 0


def test_visits_lines_right_past_blank_lines_and_in_big_files(tmp_path):
    raw = sample("visits", 60_000, seed=4)
    fac = raw["facility_id"].value_counts().index[0]
    df = raw[raw["facility_id"] == fac].reset_index(drop=True)
    n = len(df)
    assert n > 10_000
    df.loc[n - 3, "phone"] = "12345"
    data = _csv(df)
    home = _home_with(tmp_path, {f"{fac}/visits_2024.csv": data})
    issues = ingest(home, now=NOW).rejected[0].issues
    assert [(i.line, i.field) for i in issues] == [(n - 1, "phone")]
    # Two blank lines after the header: rows and lines no longer correspond; lines are still right.
    lines = data.split(b"\n")
    (home.hospitals / fac / "visits_2024.csv").write_bytes(b"\n".join([lines[0], b"", b"", *lines[1:]]))
    issues = ingest(home, now=NOW).rejected[0].issues
    assert [(i.line, i.field) for i in issues] == [(n + 1, "phone")]


@pytest.mark.parametrize("kind", ["visits", "pneumonia"])
def test_headerless_extract_never_stores_or_prints_an_identifier(tmp_path, capsys, monkeypatch, kind):
    if kind == "visits":
        df, fac = _visits(40)
        name = f"{fac}/visits_2024.csv"
    else:
        df = sample("pneumonia", 400, seed=2)
        df = df[(df["facility_id"] == df["facility_id"].iloc[0]) & df["admission_time"].str.startswith("2023")]
        name = f"{df['facility_id'].iloc[0]}/pneumonia_2023.csv"
    home = _home_with(tmp_path, {name: _csv(df, header=False)})
    monkeypatch.setenv("DATASPACE_HOME", str(home.home))
    assert dataspace(["ingest", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    stored = " ".join(str(r) for r in _rows(home.restricted_db, "SELECT * FROM rejections"))
    assert "not the header" in out
    for col in ("patient_name", "id_card", "phone", *(("address",) if kind == "pneumonia" else ())):
        for v in df[col].iloc[:3]:
            assert v not in out and v not in err and v not in stored, col


def test_shrinking_reexport_needs_replace_and_row_count_is_checked(tmp_path):
    df, fac = _visits(41)
    home = _home_with(tmp_path, {f"{fac}/visits_2024.csv": _csv(df)})
    assert ingest(home, now=NOW).exit_code == 0
    target = home.hospitals / fac / "visits_2024.csv"
    target.write_bytes(_csv(df.iloc[:31]))  # cut at a line boundary: a well-formed, shorter file
    report = ingest(home, now=NOW)
    assert report.exit_code == 1 and "--replace" in str(report.rejected[0].issues[0])
    assert _rows(home.restricted_db, "SELECT count(*) FROM outpatient_visits")[0][0] == 41
    # The hospital's row count, where it sends one, is checked against the file.
    target.with_name("visits_2024.csv.rows").write_text("41\n", encoding="utf-8")
    report = ingest(home, now=NOW, replace=True)
    assert report.exit_code == 1 and "says 41" in str(report.rejected[0].issues[0])
    target.with_name("visits_2024.csv.rows").write_text("31\n", encoding="utf-8")
    report = ingest(home, now=NOW, replace=True)
    assert report.exit_code == 0 and report.accepted[0].replaced
    assert _rows(home.restricted_db, "SELECT count(*) FROM outpatient_visits")[0][0] == 31


def test_identical_bytes_elsewhere_are_rejected_not_skipped(tmp_path):
    df, fac = _visits(30)
    data = _csv(df)
    home = _home_with(tmp_path, {f"{fac}/visits_2024.csv": data})
    assert ingest(home, now=NOW).exit_code == 0
    other = "F0602" if fac != "F0602" else "F0301"
    for folder in (other, "F9999"):
        (home.hospitals / folder).mkdir()
        (home.hospitals / folder / "visits_2024.csv").write_bytes(data)
    report = ingest(home, now=NOW)
    assert report.exit_code == 1
    assert sorted(o.file for o in report.rejected) == sorted([f"{other}/visits_2024.csv", "F9999/visits_2024.csv"])
    assert [o.file for o in report.skipped] == [f"{fac}/visits_2024.csv"]


def test_symlink_out_of_the_hospital_domain_is_refused(tmp_path):
    df, fac = _visits(30)
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(_csv(df))
    home = _home_with(tmp_path, {})
    (home.hospitals / fac).mkdir()
    (home.hospitals / fac / "visits_2024.csv").symlink_to(outside)
    report = ingest(home, now=NOW)
    assert report.exit_code == 1 and "outside the hospital domain" in report.rejected[0].issues[0].message
    assert _rows(home.restricted_db, "SELECT count(*) FROM outpatient_visits")[0][0] == 0


def test_full_width_year_in_a_file_name_is_no_year(tmp_path):
    df, fac = _visits(30)
    home = _home_with(tmp_path, {f"{fac}/visits_２０２４.csv": _csv(df)})
    report = ingest(home, now=NOW)
    assert report.exit_code == 1 and "<kind>_<YYYY>.csv" in report.rejected[0].issues[0].message


def test_pneumonia_text_and_range_errors_reported_together(tmp_path):
    df = sample("pneumonia", 600, seed=5)
    fac = df["facility_id"].value_counts().index[0]
    df = df[(df["facility_id"] == fac) & df["admission_time"].str.startswith("2023")].reset_index(drop=True)
    df.loc[1, "sex"] = "X"                 # text error
    df.loc[4, "crp_mg_l"] = "5000"         # range error in another row
    df.loc[6, "admission_time"] = "2024-03-01 10:00:00"  # another year than the file's
    df.loc[9, "admission_time"] = "２０２３-03-01 10:00:00"  # full-width digits: no date
    home = _home_with(tmp_path, {f"{fac}/pneumonia_2023.csv": _csv(df)})
    issues = ingest(home).rejected[0].issues
    got = {(i.line, i.field) for i in issues}
    assert {(3, "sex"), (6, "crp_mg_l"), (8, "admission_time"), (11, "admission_time")} <= got
    assert any(i.line == 11 and "YYYY-MM-DD" in i.message for i in issues)


def test_pandera_kind_is_checked_chunk_by_chunk_with_the_file_lines(tmp_path, monkeypatch):
    # Memory follows the chunk, not the file: a file of several chunks is stored exactly as in one chunk,
    # and its problems are found in every chunk (a record id repeated in another chunk too), each with the
    # line it is on in the file, and the whole file is refused (nothing of the passing chunks stays).
    import importlib

    ingest_mod = importlib.import_module("data_products.restricted.ingest")
    df = sample("pneumonia", 600, seed=5)
    fac = df["facility_id"].value_counts().index[0]
    df = df[(df["facility_id"] == fac) & df["admission_time"].str.startswith("2023")].reset_index(drop=True)
    df = df.iloc[:24]  # two chunks of 12 rows: lines 2-13 and 14-25
    assert len(df) == 24
    name = f"{fac}/pneumonia_2023.csv"

    def run(where: str, data: bytes, chunk: int, key: bytes | None = None):
        monkeypatch.setattr(ingest_mod, "CHUNK_ROWS", chunk)
        home = _home_with(tmp_path / where, {name: data})
        if key:
            home.pseudonym_key.parent.mkdir(parents=True, exist_ok=True)
            home.pseudonym_key.write_bytes(key)
            home.pseudonym_key.chmod(0o600)
        return home, ingest(home, now=NOW)

    whole, report = run("whole", _csv(df), 10_000)
    assert report.exit_code == 0, report.summary()
    chunked, report = run("chunked", _csv(df), 12, whole.pseudonym_key.read_bytes())
    assert report.exit_code == 0 and report.accepted[0].rows == len(df), report.summary()
    for sql in ("SELECT * FROM pneumonia_episodes ORDER BY ALL", "SELECT * EXCLUDE (ingested_at) FROM manifests"):
        assert _rows(chunked.restricted_db, sql) == _rows(whole.restricted_db, sql)

    bad = df.copy()
    last = len(bad) - 1
    bad.loc[1, "sex"] = "X"                               # line 3, first chunk
    bad.loc[14, "episode_id"] = bad.loc[2, "episode_id"]  # lines 4 and 16: the same id in two chunks
    bad.loc[last, "crp_mg_l"] = "5000"                    # line 25, second chunk
    home, report = run("bad", _csv(bad), 12)
    issues = report.rejected[0].issues
    got = {(i.line, i.field) for i in issues}
    assert {(3, "sex"), (4, "episode_id"), (16, "episode_id"), (25, "crp_mg_l")} <= got, issues
    assert all(i.line in (3, 4, 16, 25) for i in issues), issues
    assert [i.message for i in issues if i.field == "episode_id"] == ["duplicate value"] * 2
    assert _rows(home.restricted_db, "SELECT count(*) FROM pneumonia_episodes")[0][0] == 0
    assert _rows(home.restricted_db, "SELECT count(*) FROM manifests")[0][0] == 0


CHILD = textwrap.dedent("""
    import sys
    from datetime import datetime
    from data_products.config import paths
    from data_products.restricted import ingest
    ingest(paths(), now=datetime(2025, 1, 1), on_file=lambda o: print(o.status, o.file, flush=True))
""")


def test_ingest_killed_part_way_then_rerun_equals_a_clean_run(tmp_path):
    src = paths(tmp_path / "src").ensure()
    generate(src, seed=12, kinds=["visits"], rows=40_000)
    load_key(src)  # both runs pseudonymise with one key
    runs = {}
    for name in ("killed", "clean"):
        shutil.copytree(src.home, tmp_path / name)
        runs[name] = paths(tmp_path / name)
    env = {**os.environ, "DATASPACE_HOME": str(runs["killed"].home)}
    env.pop(ENV, None)
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True)
    seen = 0
    while seen < 2:
        line = proc.stdout.readline()
        assert line, "child ended early"
        seen += line.startswith("accepted")
    proc.send_signal(signal.SIGKILL)  # somewhere in the third file, or between files
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert 2 <= _rows(runs["killed"].restricted_db, "SELECT count(*) FROM manifests")[0][0] < 5
    again = ingest(runs["killed"], now=NOW)
    clean = ingest(runs["clean"], now=NOW)
    assert again.exit_code == clean.exit_code == 0
    assert len(again.accepted) + len(again.skipped) == len(clean.accepted) == 5
    assert _store(runs["killed"].restricted_db) == _store(runs["clean"].restricted_db)


def test_sql_id_check_digit_equals_the_definition():
    from data_products.contracts.person import gb11643_check_digit

    rng = np.random.default_rng(8)
    digits = rng.integers(0, 10, size=(3000, 17))
    digits[:50, :9] = 0  # leading zeros in both integer halves
    first = ["".join(map(str, row)) for row in digits]
    expected = gb11643_check_digit(digits)
    sql = (f"SELECT {bulk.id_check_digit_sql('id_card')} FROM (SELECT id_card, {bulk.id_parts_sql('id_card')} "
           "FROM (SELECT unnest($v) AS id_card, generate_subscripts($v, 1) AS i) ORDER BY i)")
    got = [r[0] for r in duckdb.connect().execute(sql, {"v": [f + "0" for f in first]}).fetchall()]
    assert got == list(expected)


def test_a_file_rewritten_during_ingest_is_rejected_and_nothing_stored(tmp_path, monkeypatch):
    # The manifest names the bytes that were hashed and checked: rows read from other bytes must not land.
    import importlib

    from data_products.restricted import store as store_mod

    ingest_mod = importlib.import_module("data_products.restricted.ingest")  # the package exports the function

    df, fac = _visits(60)
    path_v = f"{fac}/visits_{df['registration_time'].iloc[0][:4]}.csv"
    home = _home_with(tmp_path, {path_v: _csv(df)})
    real_insert = store_mod.insert_select

    def insert_then_rewrite(con, spec, select, params):  # the hospital rewrites the file mid-ingest
        real_insert(con, spec, select, params)
        with open(home.hospitals / path_v, "ab") as fh:
            fh.write(_csv(df.iloc[:1], header=False))

    monkeypatch.setattr(store_mod, "insert_select", insert_then_rewrite)
    report = ingest(home, now=NOW)
    assert report.exit_code == 1 and "changed while it was being ingested" in report.rejected[0].issues[0].message
    assert _rows(home.restricted_db, "SELECT count(*) FROM outpatient_visits")[0][0] == 0
    assert _rows(home.restricted_db, "SELECT count(*) FROM manifests")[0][0] == 0

    # The pandera path (pneumonia): the bytes read after hashing differ.
    pn = sample("pneumonia", 600, seed=5)
    pfac = pn["facility_id"].value_counts().index[0]
    pn = pn[(pn["facility_id"] == pfac) & pn["admission_time"].str.startswith("2023")].reset_index(drop=True)
    home2 = paths(tmp_path / "home2").ensure()
    (home2.hospitals / pfac).mkdir(parents=True)
    (home2.hospitals / pfac / "pneumonia_2023.csv").write_bytes(_csv(pn))
    real_scan = ingest_mod._scan

    def scan_then_rewrite(path, file):  # the hospital appends a row after the file was hashed
        scanned = real_scan(path, file)
        with open(path, "ab") as fh:
            fh.write(_csv(pn.iloc[:1], header=False))
        return scanned

    monkeypatch.setattr(ingest_mod, "_scan", scan_then_rewrite)
    report = ingest(home2, now=NOW)
    assert report.exit_code == 1 and "changed while it was being ingested" in report.rejected[0].issues[0].message
    assert _rows(home2.restricted_db, "SELECT count(*) FROM pneumonia_episodes")[0][0] == 0
