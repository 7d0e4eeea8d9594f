"""A served app and a real browser: the browser tests' fixtures and `dataspace bench browser` use these.

The app runs as `streamlit run dashboards/<entry>` on a free loopback port against a data home; Chromium
is Debian's, driven by Playwright (``playwright`` is a dev dependency; Playwright's own browser downloads
are never used), and never reaches beyond loopback: every other request is aborted and recorded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from data_products.config import settings

ROOT = Path(__file__).resolve().parents[1]
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


def missing() -> str | None:
    """Why a real browser cannot run here, or None."""
    chromium = settings().chromium
    if not Path(chromium).exists() or shutil.which("fc-list") is None:
        return f"{chromium} (or fontconfig) missing: sudo apt-get install chromium fonts-wqy-microhei"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(home: Path, entry: str = "server.py"):
    """`streamlit run` on a free loopback port against the data home ``home`` (``entry``: server.py, what
    `dataspace serve` runs, with the download gate; asgi.py for the ASGI entry with security headers)."""
    port = free_port()
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
        """``failed`` without the requests the browser itself cancelled (``net::ERR_ABORTED``): a navigation
        cancels what the page left in flight (a map's style, a chart's data), and Streamlit's fetch of a
        deferred download's ``/media`` URL is aborted when the navigation turns into the download. What the
        server failed to answer (refused, reset, empty) stays; outside requests are in ``blocked``."""
        return [f for f in self.failed if not f.endswith("net::ERR_ABORTED")]

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
def browser(locale: str = "zh-CN"):
    """Debian's Chromium through Playwright, loopback only: every other request is aborted and recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=settings().chromium, args=FLAGS, headless=True)
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


def sign_in(b: Browser, url: str, username: str, password: str, lang: str = "en") -> None:
    """Through the form, as a person would. Streamlit keeps the sign-in in the browser session, so
    move between pages with the ``open_page`` fixture (the navigation links), not by loading a new URL."""
    labels = {"en": ("Username", "Password", "Sign in"), "zh": ("用户名", "密码", "登录")}[lang]
    b.page.goto(f"{url}/?lang={lang}")
    b.wait_idle()
    b.page.get_by_role("textbox", name=labels[0]).fill(username)
    b.page.get_by_role("textbox", name=labels[1]).fill(password)
    b.page.get_by_role("button", name=labels[2]).click()
    b.wait_idle()


def open_page(b: Browser, url_path: str) -> None:
    """Follow the sidebar navigation link to ``url_path`` (keeps the Streamlit session)."""
    b.page.locator(f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]').first.click()
    b.page.wait_for_timeout(300)
    b.wait_idle()
