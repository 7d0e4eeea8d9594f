"""A signed-in user stays signed in across a reload or a new tab, until the idle timeout, sign-out or revocation.

The server-side session is the governance store's ``sessions`` row (``accounts.sign_in``); the browser holds
only its random token, in a cookie no script can read (``HttpOnly``), sent only to this site and only from
its own pages (``SameSite=Strict``, ``Secure``: browsers accept it on https and on loopback). The token is
never in a URL. A reload presents the cookie on the WebSocket handshake, ``st.context.cookies`` reads it and
``accounts.resume`` turns it back into the principal if, and only if, the store says the session is still
live; signing out or revoking (disabling the user, changing the password, the idle timeout) ends the row,
so every tab and every later reload holding the cookie is signed out.

A Streamlit script cannot set a cookie: it talks to the browser over the WebSocket. So the sign-in leaves a
*handoff* (``dashboards.handoff``, the store the download tickets use: the token, the browser it is for and
a deadline a minute away) and the next page run draws
a one-pixel image from ``/api/session``. That request carries the browser's ``_streamlit_xsrf`` cookie (the
same binding the download gate uses); the route spends the handoff made for that browser and answers with
the ``Set-Cookie``. Another browser, a second fetch or a late one gets nothing. ``/api/session/end`` only
clears the cookie (the session itself is ended in the store by the sign-out that draws it).
"""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboards.handoff import BINDING_COOKIE, Handoffs

log = logging.getLogger(__name__)

COOKIE = "dsp_session"
HANDOFF_SECONDS = 60.0
# The smallest transparent GIF: the image the page draws to fetch the cookie.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")

_handoffs: Handoffs[str] = Handoffs(HANDOFF_SECONDS)


def offer(binding: str | None, token: str, *, now: float | None = None) -> bool:
    """Leave ``token`` for the browser holding cookie value ``binding`` to collect once, within a minute
    (a later sign-in in the same browser replaces it)."""
    if not binding or not token:
        log.warning("session cookie not offered: no browser binding")
        return False
    _handoffs.put(COOKIE, binding, token, replace=True, now=now)
    return True


def collect(binding: str | None, *, now: float | None = None) -> str | None:
    return _handoffs.take(COOKIE, binding, now=now)


def pending(binding: str | None, *, now: float | None = None) -> bool:
    """Whether a handoff waits for this browser (the page keeps drawing the image until it is collected)."""
    return _handoffs.waiting(COOKIE, binding, now=now)


def _pixel(headers: dict | None = None) -> Response:
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store", **(headers or {})})


async def set_cookie(request: Request) -> Response:
    token = collect(request.cookies.get(BINDING_COOKIE))
    response = _pixel()
    if token is None:
        return response
    # No Max-Age: the browser keeps it while it runs; the store's idle timeout decides how long it is worth anything.
    response.set_cookie(COOKIE, token, path="/", secure=True, httponly=True, samesite="strict")
    return response


async def end_cookie(request: Request) -> Response:
    response = _pixel()
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


ROUTES = [Route("/api/session", set_cookie, methods=["GET"]), Route("/api/session/end", end_cookie, methods=["GET"])]


def draw(path: str) -> None:
    """Draw the one-pixel image that makes the browser fetch ``path`` (relative: works under any base path)."""
    import streamlit as st

    st.html(f'<img src="{path}?n={time.monotonic_ns()}" alt="" width="1" height="1" '
            'style="position:absolute;opacity:0;pointer-events:none">')
