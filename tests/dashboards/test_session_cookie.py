"""The session cookie's handoff and route, and resuming a session from its token: only the browser the sign-in
was made in collects the cookie, once, within the minute; the cookie is HttpOnly, SameSite=Strict and Secure;
a token resumes its session only while the store holds it live (signed out, disabled or garbage: nothing)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from dashboards import session_cookie as sc
from data_products.governance import demo_passwords, entries, resume, seed_demo, set_disabled, sign_in, sign_out


def _request(path: str, cookies: dict[str, str]) -> Request:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()
    return Request({"type": "http", "method": "GET", "path": path, "headers": [(b"cookie", header)] if cookies else [],
                    "query_string": b""})


def _set_cookie_headers(response) -> list[str]:
    return [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]


def test_the_handoff_goes_once_to_the_browser_it_was_made_for():
    assert sc.offer("browser-a", "token-1", now=100.0)
    assert sc.pending("browser-a", now=100.0) and not sc.pending("browser-b", now=100.0)
    assert sc.collect("browser-b", now=101.0) is None  # another browser: nothing (and a's stays)
    assert sc.collect(None, now=101.0) is None
    assert sc.collect("browser-a", now=101.0) == "token-1"
    assert sc.collect("browser-a", now=102.0) is None  # spent
    sc.offer("browser-a", "token-2", now=200.0)
    assert sc.collect("browser-a", now=200.0 + sc.HANDOFF_SECONDS + 1) is None  # too late
    assert not sc.offer(None, "token-3")


def test_the_route_sets_a_cookie_scripts_cannot_read_only_for_the_right_browser():
    sc.offer("xsrf-of-a", "the-session-token")
    other = asyncio.run(sc.set_cookie(_request("/api/session", {"_streamlit_xsrf": "xsrf-of-b"})))
    assert _set_cookie_headers(other) == [] and other.body == sc.PIXEL
    none = asyncio.run(sc.set_cookie(_request("/api/session", {})))
    assert _set_cookie_headers(none) == []
    ok = asyncio.run(sc.set_cookie(_request("/api/session", {"_streamlit_xsrf": "xsrf-of-a"})))
    (cookie,) = _set_cookie_headers(ok)
    assert cookie.startswith("dsp_session=the-session-token;")
    flags = {p.strip().lower() for p in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags
    assert not any(f.startswith(("max-age", "expires")) for f in flags)  # the store's idle timeout decides
    assert ok.headers["cache-control"] == "no-store"
    again = asyncio.run(sc.set_cookie(_request("/api/session", {"_streamlit_xsrf": "xsrf-of-a"})))
    assert _set_cookie_headers(again) == []
    end = asyncio.run(sc.end_cookie(_request("/api/session/end", {"dsp_session": "the-session-token"})))
    (gone,) = _set_cookie_headers(end)
    assert gone.startswith('dsp_session="";') or gone.startswith("dsp_session=;")
    assert "max-age=0" in gone.lower()


def test_a_token_resumes_its_session_only_while_it_is_live(home):

    seed_demo()
    first = sign_in("analyst", demo_passwords()["analyst"]).principal
    back = resume(first.token)
    assert back is not None and (back.username, back.role, back.user_id) == (first.username, first.role, first.user_id)
    assert back.token == first.token
    for junk in (None, "", "x" * 43, first.token + "x", 12345):
        assert resume(junk) is None
    sign_out(first)
    assert resume(first.token) is None
    second = sign_in("analyst", demo_passwords()["analyst"]).principal
    assert resume(second.token) is not None
    set_disabled("analyst", True, actor="official")
    assert resume(second.token) is None
    set_disabled("analyst", False, actor="official")
    assert resume(second.token) is None  # re-enabled: a new sign-in, not the old cookie


def test_a_resumed_session_is_on_record_and_an_idle_one_is_not_resumed(home):
    # A cookie used from another machine must leave a trace; an idle session must not come back.
    from datetime import timedelta

    from data_products.governance import store as gstore
    from data_products.governance.store import utcnow

    seed_demo()
    first = sign_in("analyst", demo_passwords()["analyst"]).principal
    before = len(entries(action="auth.session_resumed"))
    assert resume(first.token, client="app:203.0.113.7") is not None
    got = entries(action="auth.session_resumed")
    assert len(got) == before + 1
    assert got[0].actor == "analyst" and got[0].detail["client"] == "app:203.0.113.7"
    assert resume("y" * 43, client="app:203.0.113.7") is None
    assert len(entries(action="auth.session_resumed")) == before + 1  # a refused token resumes nothing
    idle = gstore.resolve(None).policy.idle
    assert resume(first.token, now=utcnow() + idle + timedelta(seconds=1)) is None
    assert resume(first.token) is None  # once idle, gone for good
