"""Issue 13 item 7: security response headers, which Streamlit's configuration cannot set, come from
`dataspace serve --security-headers` (Streamlit 1.67's ASGI entry point with a Starlette middleware)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboards.asgi import HEADERS

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, dict(r.headers)
    except OSError:
        return None, {}


@pytest.mark.slow
def test_served_pages_and_endpoints_carry_the_security_headers(home, free_port):
    port = free_port()
    env = dict(os.environ, DATASPACE_HOME=str(home), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "data_products", "serve", "--port", str(port), "--security-headers"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while _get(url + "/_stcore/health")[0] != 200:
            assert proc.poll() is None, "serve exited before answering"
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.3)
        for path in ("/", "/_stcore/health", "/audit"):
            status, headers = _get(url + path)
            assert status == 200, path
            got = {k.lower(): v for k, v in headers.items()}
            for name, value in HEADERS.items():
                assert got.get(name.lower()) == value, (path, name)
        # Streamlit's own XSRF protection stays on.
        assert "_streamlit_xsrf" in _get(url + "/_stcore/health")[1].get("set-cookie", "")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.browser
def test_the_app_behind_the_security_headers_works_in_a_browser(home, serve, browser, browser_sign_in, open_page):
    """Sign-in and the audit page through the ASGI entry, in Chromium (a light home: demo accounts only)."""
    from data_products.governance import demo_passwords, seed_demo

    (home / "DEMO").write_text("synthetic demonstration space\n", encoding="utf-8")
    seed_demo()
    with serve(home, entry="asgi.py") as url, browser() as b:
        documents = []
        b.page.on("response", lambda r: documents.append(r) if r.request.resource_type == "document" else None)
        browser_sign_in(b, url, "official", demo_passwords()["official"])
        open_page(b, "audit")
        b.page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
        text = b.page.inner_text("body")
        assert "Hash chain verified" in text and "published head(s) agree" in text
        assert documents and all(d.headers.get("x-frame-options") == "DENY" for d in documents)
        assert b.failed == [], b.failed
        assert b.blocked == [], b.blocked
