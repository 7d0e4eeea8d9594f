"""Shared fixtures: data homes (empty, the session's demo space), signing in, and the browser tests'
served app and Chromium. Tests take these as fixtures; no test imports another test module.

The browser never reaches beyond loopback: every other request is aborted and recorded, and a test
fails if any request (loopback included) failed. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data_products import browser as browser_tools


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh, empty data home for one test."""
    monkeypatch.setenv("DATASPACE_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture(scope="session")
def demo_home_built(tmp_path_factory):
    """One synthetic demo space (`dataspace build --demo`) built once per test session. Read it, don't write it."""
    from data_products.pipeline import build_demo

    home = tmp_path_factory.mktemp("demo-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    try:
        build_demo(seed=2024, log=lambda *a: None)
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old
    return home


@pytest.fixture
def demo(demo_home_built, monkeypatch):
    """The session's demo space, as DATASPACE_HOME for this test."""
    monkeypatch.setenv("DATASPACE_HOME", str(demo_home_built))
    return demo_home_built


def _copy_demo(src: Path, home: Path) -> Path:
    """A private copy of the demo space at ``home``. The governance store is copied with SQLite's backup API,
    which is consistent even while another process has it open."""
    import sqlite3

    shutil.copytree(src, home, ignore=shutil.ignore_patterns("governance.sqlite*", "*.log"))
    source, dest = sqlite3.connect(src / "governance.sqlite", timeout=60), sqlite3.connect(home / "governance.sqlite")
    try:
        source.backup(dest)
    finally:
        source.close()
        dest.close()
    (home / "governance.sqlite").chmod(0o600)
    return home


@pytest.fixture(scope="session")
def copy_demo():
    """``copy_demo(src, home)``: a private copy of a demo space, for fixtures wider than one test."""
    return _copy_demo


@pytest.fixture
def demo_copy(demo_home_built, tmp_path, monkeypatch):
    """A private copy of the demo space, as DATASPACE_HOME, for a test whose served app writes to it: what one
    test's server records (ledger entries, sessions) cannot leak into another test's counts."""
    home = _copy_demo(demo_home_built, tmp_path / "demo-copy")
    monkeypatch.setenv("DATASPACE_HOME", str(home))
    return home


def _signed_in(username: str):
    """A demo user's principal (argon2 sign-in against the current DATASPACE_HOME)."""
    from data_products.governance import demo_passwords, sign_in

    result = sign_in(username, demo_passwords()[username])
    assert result.ok, result.reason
    return result.principal


@pytest.fixture(scope="session")
def signed_in():
    """``signed_in(username)``: a demo user's principal, signed in against the current DATASPACE_HOME."""
    return _signed_in



# The small elderly-only space (tests/test_elderly.py, tests/test_catalog.py): tampered transfers.
ELDERLY = {
    "seed": 11,
    "blanked": "F0304",      # weight blanked in most rows of its 2024 file
    "stale": "F1503",        # 2024 file stops at the end of March
    "duped": "F1804",        # 2024 file repeats 5% of its rows under new record ids
    "rejected": "F0405",     # 2023 file carries an invalid sex code
    "chc_user": "hospital_f0303",
    "password": "chc-user-password-2025",
}


def _elderly_tamper(hospitals):
    import numpy as np

    rng = np.random.default_rng(0)
    f = hospitals / ELDERLY["blanked"] / "elderly_weight_2024.csv"
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    df.loc[rng.random(len(df)) < 0.6, "weight_kg"] = ""
    df.to_csv(f, index=False, lineterminator="\n")
    f = hospitals / ELDERLY["stale"] / "elderly_weight_2024.csv"
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    df[df["measure_date"] < "2024-04-01"].to_csv(f, index=False, lineterminator="\n")
    f = hospitals / ELDERLY["duped"] / "elderly_weight_2024.csv"
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    extra = df.sample(frac=0.05, random_state=1).copy()
    extra["record_id"] = "DUP" + pd.Series(range(len(extra)), index=extra.index).astype(str)
    pd.concat([df, extra]).to_csv(f, index=False, lineterminator="\n")
    f = hospitals / ELDERLY["rejected"] / "elderly_weight_2023.csv"
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    df.loc[df.index[3], "sex"] = "X"
    df.to_csv(f, index=False, lineterminator="\n")


@pytest.fixture(scope="module")
def elderly_space(tmp_path_factory):
    """An elderly-only home: generate -> ingest -> process -> approve with three tampered transfers
    that pass the schema and one that is rejected, plus a community-health-centre user. Built per module."""
    from data_products.config import paths
    from data_products.governance import add_user, ensure_standing, seed_demo
    from data_products.hospital import generate
    from data_products.pipeline import approve_demo, process
    from data_products.reference import facilities
    from data_products.restricted import ingest

    home = tmp_path_factory.mktemp("elderly-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    try:
        p = paths().ensure()
        (p.home / "DEMO").write_text("demo\n", encoding="utf-8")
        generate(p, seed=ELDERLY["seed"], kinds=["elderly_weight"])
        _elderly_tamper(p.hospitals)
        report = ingest(p)
        seed_demo()
        name = facilities().set_index("facility_id").at["F0303", "name_zh"]
        add_user(ELDERLY["chc_user"], ELDERLY["password"], "hospital", name, facility="F0303")
        ensure_standing()
        for rid in process(["elderly_weight_atlas", "supplier_quality"]):
            approve_demo(rid)
        truth = json.loads((p.truth / "elderly_weight.json").read_text(encoding="utf-8"))
        yield {"home": home, "report": report, "truth": truth, **ELDERLY}
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old


def _elderly_sign_in(username):
    from data_products.governance import demo_passwords, sign_in

    pw = ELDERLY["password"] if username == ELDERLY["chc_user"] else demo_passwords()[username]
    result = sign_in(username, pw)
    assert result.ok, result.reason
    return result.principal


@pytest.fixture(scope="session")
def elderly_sign_in():
    """``elderly_sign_in(username)``: a demo user, or the elderly space's centre user, signed in."""
    return _elderly_sign_in


def _restricted_query(sql, params=()):
    import duckdb

    from data_products.config import paths

    con = duckdb.connect(str(paths().restricted_db), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


@pytest.fixture(scope="session")
def restricted_query():
    """``restricted_query(sql, params)``: a read-only query of the current home's restricted store (a test's
    independent truth; no product code reads it this way)."""
    return _restricted_query


@pytest.fixture(scope="module")
def analyses_space(tmp_path_factory):
    """A demo home with the liver-cancer kind generated and ingested and company_none's research scenario
    for ds_liver_cancer approved (tests/analyses). Built per module."""
    from data_products.analyses import service
    from data_products.config import paths
    from data_products.governance import approve, seed_demo
    from data_products.hospital import generate
    from data_products.restricted import ingest

    home = tmp_path_factory.mktemp("analyses-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    try:
        p = paths()
        (home / "DEMO").write_text("synthetic demonstration space\n", encoding="utf-8")  # demo accounts
        generate(p, seed=3, kinds=["liver_cancer"])
        assert not ingest(p).rejected
        seed_demo()
        company = _signed_in("company_none")
        sid = service.apply_research(company, "ds_liver_cancer", "HCC treatment patterns (test)", date.today(),
                                     date.today() + timedelta(days=60))
        approve(_signed_in("official"), sid, "test approval")
        records = duckdb.connect(str(p.restricted_db), read_only=True)
        frame = records.execute("SELECT * FROM liver_cancer_cases").df()
        records.close()
        yield {"home": home, "scenario": sid, "records": frame}
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old

# --- the browser tests: serving the app and driving Debian's Chromium (data_products.browser) ----------

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = browser_tools.ARTIFACTS


def _require_browser() -> None:
    missing = browser_tools.missing()
    if missing:
        pytest.skip(missing)


_free_port = browser_tools.free_port
_serve = browser_tools.serve
Browser = browser_tools.Browser
_browser_sign_in = browser_tools.sign_in
_open_page = browser_tools.open_page


@contextmanager
def _browser(locale: str = "zh-CN"):
    _require_browser()
    with browser_tools.browser(locale) as b:
        yield b


@pytest.fixture(scope="session")
def free_port():
    """``free_port()``: a free loopback port."""
    return _free_port


@pytest.fixture(scope="session")
def serve():
    """``with serve(home[, entry]) as url``: `streamlit run` on a free loopback port against the data home."""
    return _serve


@pytest.fixture(scope="session")
def browser():
    """``with browser(locale) as b``: Chromium (skips the test when it is not installed), loopback only."""
    return _browser


@pytest.fixture(scope="session")
def browser_sign_in():
    """``browser_sign_in(b, url, username, password, lang)``: sign in through the form."""
    return _browser_sign_in


@pytest.fixture(scope="session")
def open_page():
    """``open_page(b, url_path)``: follow the sidebar link (keeps the Streamlit session)."""
    return _open_page
