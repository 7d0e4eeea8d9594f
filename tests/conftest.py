"""Shared fixtures: data homes (empty, the session's demo space), signing in, and the browser tests'
served app and Chromium. Tests take these as fixtures; no test imports another test module.

The browser never reaches beyond loopback: every other request is aborted and recorded, and a test
fails if any request (loopback included) failed. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pandas as pd
import pytest

from data_products.config import settings


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


@pytest.fixture
def demo_copy(demo_home_built, tmp_path, monkeypatch):
    """A private copy of the demo space, as DATASPACE_HOME, for a test whose served app writes to it: what one
    test's server records (ledger entries, sessions) cannot leak into another test's counts. The governance
    store is copied with SQLite's backup API, which is consistent even while another process has it open."""
    import shutil
    import sqlite3

    home = tmp_path / "demo-copy"
    shutil.copytree(demo_home_built, home, ignore=shutil.ignore_patterns("governance.sqlite*", "*.log"))
    src, dst = sqlite3.connect(demo_home_built / "governance.sqlite"), sqlite3.connect(home / "governance.sqlite")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    (home / "governance.sqlite").chmod(0o600)
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
    from data_products.products import registry  # noqa: F401 - standing scenarios follow the product definitions
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

# --- the browser tests: serving the app and driving Debian's Chromium with Playwright ---------------

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = settings().chromium
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _require_browser() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("fc-list") is None:
        pytest.skip(f"{CHROMIUM} (or fontconfig) missing: sudo apt-get install chromium fonts-wqy-microhei")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serve(home: Path, entry: str = "server.py"):
    """`streamlit run` on a free loopback port against the data home ``home`` (``entry``: server.py, what
    `dataspace serve` runs, with the download gate; asgi.py for the ASGI entry with security headers)."""
    port = _free_port()
    env = dict(os.environ, DATASPACE_HOME=str(home), PYTHONPATH=str(ROOT))
    log = open(home / f"streamlit-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / entry),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError("streamlit did not start:\n" + (home / f"streamlit-{port}.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class Browser:
    """A page plus the record of what it tried to reach."""

    def __init__(self, page, context):
        self.page = page
        self.context = context
        self.blocked: list[str] = []
        self.failed: list[str] = []

    @property
    def failed_other(self) -> list[str]:
        """``failed`` without the download button's own check: Streamlit fetches a deferred download's
        ``/media`` URL while it navigates to it, and Chromium aborts that fetch when the navigation turns
        into the download."""
        return [f for f in self.failed if not ("/media/" in f and f.endswith("net::ERR_ABORTED"))]

    def wait_idle(self, timeout: float = 30_000) -> None:
        """Until Streamlit has finished running the script (its status widget disappears)."""
        page = self.page
        page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
        page.wait_for_function(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                return app && app.getAttribute('data-test-script-state') !== 'running'
                    && !document.querySelector('[data-testid="stStatusWidget"]');
            }""",
            timeout=timeout,
        )
        page.wait_for_timeout(400)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def _browser(locale: str = "zh-CN"):
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = b.new_context(viewport={"width": 1400, "height": 2200}, locale=locale, accept_downloads=True)
        page = context.new_page()
        rec = Browser(page, context)

        def route(r):
            host = urlparse(r.request.url).hostname or ""
            if r.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
                r.continue_()
            else:
                rec.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page.on("requestfailed", lambda req: rec.failed.append(f"{req.url} {req.failure}"))
        try:
            yield rec
        finally:
            context.close()
            b.close()


def _browser_sign_in(b: Browser, url: str, username: str, password: str, lang: str = "en") -> None:
    """Through the form, as a person would. Streamlit keeps the sign-in in the browser session, so
    move between pages with the ``open_page`` fixture (the navigation links), not by loading a new URL."""
    labels = {"en": ("Username", "Password", "Sign in"), "zh": ("用户名", "密码", "登录")}[lang]
    b.page.goto(f"{url}/?lang={lang}")
    b.wait_idle()
    b.page.get_by_role("textbox", name=labels[0]).fill(username)
    b.page.get_by_role("textbox", name=labels[1]).fill(password)
    b.page.get_by_role("button", name=labels[2]).click()
    b.wait_idle()


def _open_page(b: Browser, url_path: str) -> None:
    """Follow the sidebar navigation link to ``url_path`` (keeps the Streamlit session)."""
    b.page.locator(f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]').first.click()
    b.page.wait_for_timeout(300)
    b.wait_idle()


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
