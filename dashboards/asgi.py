"""The dashboards behind Streamlit's ASGI entry point (``st.App``, Streamlit >= 1.67), with security
response headers that Streamlit's own configuration cannot set. `dataspace serve --security-headers`
runs this instead of app.py; the pages are the same script.

Set here: no MIME sniffing, no framing by other sites (clickjacking), no referrer sent elsewhere, no
cross-origin window sharing, and none of the browser features a dashboard never uses. Not set: a
script/style Content-Security-Policy (Streamlit's front end needs inline styles and its components'
iframes, so a policy strict enough to matter would break pages; untested here), and HSTS, which belongs
to whatever terminates TLS.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware

from dashboards.downloads import MediaGate
from dashboards.session_cookie import ROUTES as SESSION_ROUTES

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response


# The download gate too (dashboards/downloads.py): this entry serves the same downloads as server.py.
app = st.App(str(Path(__file__).with_name("app.py")), routes=SESSION_ROUTES, middleware=[Middleware(SecurityHeaders), Middleware(MediaGate)])
