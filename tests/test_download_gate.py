"""Every byte out is a decision: the media route behind ``MediaGate`` serves a downloadable file once, to
the browser it was made for, within a minute, and nothing else; nothing is put in the media store before
a click; tables carry only what they show.

The inner app is Streamlit's own ``/media`` route over its own in-memory media store (what ``streamlit run``
serves), driven through ASGI the way uvicorn drives it.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import time
import tomllib
from pathlib import Path

import pytest
from starlette.applications import Starlette
from streamlit.runtime.media_file_storage import MediaFileKind
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.web.server.starlette.starlette_routes import create_media_routes

from dashboards import downloads
from dashboards.downloads import BINDING_COOKIE, MediaGate

ROOT = Path(__file__).resolve().parents[1]


def _fetch(app, path: str, cookie: str | None = None, method: str = "GET", mode: str | None = None
           ) -> tuple[int, bytes, dict]:
    headers = [(b"host", b"127.0.0.1")]
    if mode is not None:
        headers.append((b"sec-fetch-mode", mode.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"{BINDING_COOKIE}={cookie}; other=1".encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8501)}
    out: dict = {"body": b""}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return out["status"], out["body"], out["headers"]


@pytest.fixture
def media():
    storage = MemoryMediaFileStorage("/media")
    app = MediaGate(Starlette(routes=create_media_routes(storage, None)))
    downloads._tickets.clear()
    downloads._spent.clear()
    yield storage, app
    downloads._tickets.clear()
    downloads._spent.clear()


def _put(storage, data: bytes, kind=MediaFileKind.DOWNLOADABLE, name="table.csv", mime="text/csv") -> str:
    return storage.get_url(storage.load_and_get_id(data, mime, kind, name))


def test_a_download_url_without_a_ticket_answers_nobody(media):
    """What main did: Streamlit's media URL served the file to anyone (no session) as often as asked."""
    storage, app = media
    url = _put(storage, b"facility,patients\nF0301,7008\n")
    assert _fetch(Starlette(routes=create_media_routes(storage, None)), url)[0] == 200  # Streamlit alone
    for cookie in (None, "browser-a"):
        status, body, _ = _fetch(app, url, cookie)
        assert (status, body) == (404, b"")


def test_a_ticket_serves_its_browser_once(media):
    storage, app = media
    data = b"facility,patients\nF0301,7008\n"
    url = _put(storage, data)
    downloads.issue(data, "browser-a", "hospital_f0301", "table.csv")
    assert _fetch(app, url, None)[0] == 404          # no session cookie: refused, and the ticket survives
    assert _fetch(app, url, "browser-b")[0] == 404   # another browser: refused
    status, body, headers = _fetch(app, url, "browser-a")
    assert (status, body) == (200, data)
    assert headers["content-disposition"].startswith("attachment") and headers["cache-control"] == "no-store"
    assert _fetch(app, url, "browser-a")[0] == 404   # the second fetch: refused
    assert downloads.pending() == 0


@pytest.mark.parametrize("check_first", [True, False])
def test_the_frontends_check_neither_spends_nor_carries_the_file(media, check_first):
    """Streamlit's button fetches the URL twice at once: the download (navigate) and a fetch() check
    (cors). In either order the download gets the bytes once and the check never gets them."""
    storage, app = media
    data = b"facility,patients\nF0301,7008\n"
    url = _put(storage, data)
    assert _fetch(app, url, "browser-a", mode="cors")[:2] == (404, b"")  # nothing issued yet
    downloads.issue(data, "browser-a", "u", "a.csv")
    if check_first:
        assert _fetch(app, url, "browser-a", mode="cors")[:2] == (200, b"")
    assert _fetch(app, url, "browser-a", mode="navigate")[:2] == (200, data)
    assert _fetch(app, url, "browser-a", mode="cors")[:2] == (200, b"")  # just spent: still an empty answer
    assert _fetch(app, url, "browser-a", mode="navigate")[0] == 404
    assert _fetch(app, url, None, mode="cors")[0] == 404 and _fetch(app, url, "browser-b", mode="cors")[0] == 404


def test_two_clicks_allow_two_fetches_and_no_third(media):
    storage, app = media
    data = b"same bytes"
    url = _put(storage, data)
    downloads.issue(data, "browser-a", "u", "a.csv")
    downloads.issue(data, "browser-a", "u", "a.csv")
    assert [_fetch(app, url, "browser-a")[0] for _ in range(3)] == [200, 200, 404]


def test_a_ticket_expires(media):
    storage, app = media
    data = b"late"
    url = _put(storage, data)
    downloads.issue(data, "browser-a", "u", "a.csv", now=time.monotonic() - downloads.TICKET_SECONDS - 1)
    assert _fetch(app, url, "browser-a")[0] == 404


def test_a_ticket_is_for_its_bytes_only(media):
    storage, app = media
    downloads.issue(b"what was decided", "browser-a", "u", "a.csv")
    url = _put(storage, b"something else")
    assert _fetch(app, url, "browser-a")[0] == 404
    assert downloads.pending() == 1


def test_no_binding_means_no_fetch(media):
    storage, app = media
    data = b"made outside a browser"
    url = _put(storage, data)
    assert downloads.issue(data, None, "u", "a.csv") is None
    assert _fetch(app, url, None)[0] == 404 and _fetch(app, url, "")[0] == 404


def test_head_and_range_requests_do_not_spend_or_bypass(media):
    storage, app = media
    data = b"x" * 100
    url = _put(storage, data)
    downloads.issue(data, "browser-a", "u", "a.csv")
    assert _fetch(app, url, "browser-a", method="HEAD")[0] == 404
    assert _fetch(app, url, "browser-a")[0] == 200


def test_inline_media_passes(media):
    storage, app = media
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    url = _put(storage, png, kind=MediaFileKind.MEDIA, name=None, mime="image/png")
    status, body, _ = _fetch(app, url, None)
    assert (status, body) == (200, png)


def test_deferred_leaves_its_ticket_only_when_run(media):
    storage, app = media
    made = []

    def make() -> bytes:
        made.append(1)
        return b"made on click"

    run = downloads.deferred(make, "browser-a", "u", "a.csv")
    assert made == [] and downloads.pending() == 0   # nothing made, nothing stored before the click
    data = run()
    assert made == [1] and downloads.pending() == 1
    assert _fetch(app, _put(storage, data), "browser-a")[0] == 200


# --- what the pages do --------------------------------------------------------------------------------


def _calls(path: Path, name: str) -> list[ast.Call]:
    """Calls of Streamlit's ``name`` on ``st`` or on any container (``col.dataframe``, ``tab.download_button``);
    the gated helpers of ``dashboards.ui`` (called as ``ui.name``) are what pages should use instead."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == name and not (isinstance(n.func.value, ast.Name) and n.func.value.id == "ui")]


PAGES = sorted((ROOT / "dashboards").rglob("*.py"))


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_hand_out_bytes_only_through_the_gated_helpers(path):
    """No page builds a Streamlit download or an exportable table itself: downloads go through
    ``ui.download_button`` (made on click, ticketed) and tables through ``ui.show_table``."""
    if path.name == "ui.py":
        return
    assert not _calls(path, "download_button"), f"{path.name}: st.download_button outside dashboards/ui.py"
    assert not _calls(path, "dataframe"), f"{path.name}: st.dataframe outside dashboards/ui.py"
    assert not _calls(path, "data_editor"), f"{path.name}: st.data_editor outside dashboards/ui.py"
    # A chart through ui.chart: Plotly's modebar (its client-side "download as png") off, its files gated.
    assert not _calls(path, "plotly_chart"), f"{path.name}: st.plotly_chart outside dashboards/ui.py"


def test_the_ui_download_helper_hands_streamlit_a_callable():
    calls = _calls(ROOT / "dashboards" / "ui.py", "download_button") or [
        n for n in ast.walk(ast.parse((ROOT / "dashboards" / "ui.py").read_text(encoding="utf-8")))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "download_button"]
    assert calls
    for call in calls:
        kw = {k.arg: k.value for k in call.keywords}
        assert isinstance(kw["data"], ast.Call) and ast.unparse(kw["data"].func) == "downloads.deferred"
        assert ast.literal_eval(kw["on_click"]) == "ignore"


def test_plotlys_own_image_download_is_off():
    """Plotly's modebar makes a PNG in the browser, with no decision and no ledger entry: every chart is drawn
    by ``ui.chart``, whose one ``plotly_chart`` call passes ``CHART_CONFIG`` with the modebar off."""
    from dashboards.ui import CHART_CONFIG

    assert CHART_CONFIG["displayModeBar"] is False
    tree = ast.parse((ROOT / "dashboards" / "ui.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "plotly_chart"]
    assert len(calls) == 1
    kw = {k.arg: k.value for k in calls[0].keywords}
    assert ast.unparse(kw["config"]) == "CHART_CONFIG"  # a second config in **kwargs is a TypeError, not an override
    assert ast.unparse(calls[0]).count("config") == 1


def test_table_toolbar_export_is_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["disableDataExport"] is True


def test_the_server_puts_the_media_gate_in_front():
    from dashboards.server import app

    assert any(m.cls is MediaGate for m in app._user_middleware)
    cli = (ROOT / "data_products" / "cli.py").read_text(encoding="utf-8")
    assert '"server.py"' in cli or "server.py" in cli


def test_ticket_digest_matches_what_is_served():
    data = b"abc"
    t = downloads.issue(data, "b", "u", "a")
    try:
        assert t is not None and t.sha256 == hashlib.sha256(data).hexdigest()
    finally:
        downloads._tickets.clear()


def test_streamlits_compression_does_not_break_or_bypass_the_gate(media):
    """The real server gzips a CSV response inside this middleware: the ticket is for the file's bytes."""
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware

    storage, _ = media
    data = b"facility,patients\n" + b"F0301,7008\n" * 200
    url = _put(storage, data)
    app = MediaGate(Starlette(routes=create_media_routes(storage, None), middleware=[Middleware(GZipMiddleware)]))
    downloads.issue(data, "browser-a", "u", "a.csv")

    def fetch_gzip():
        scope_headers = [(b"host", b"x"), (b"accept-encoding", b"gzip"),
                         (b"cookie", f"{BINDING_COOKIE}=browser-a".encode())]
        out = {"body": b""}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
                out["headers"] = dict(message["headers"])
            else:
                out["body"] += message.get("body", b"")

        asyncio.run(app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                         "scheme": "http", "path": url, "raw_path": url.encode(), "query_string": b"",
                         "root_path": "", "headers": scope_headers, "client": ("127.0.0.1", 1),
                         "server": ("127.0.0.1", 2)}, receive, send))
        return out

    first = fetch_gzip()
    import gzip

    assert first["status"] == 200 and first["headers"][b"content-encoding"] == b"gzip"
    assert gzip.decompress(first["body"]) == data
    assert fetch_gzip()["status"] == 404
