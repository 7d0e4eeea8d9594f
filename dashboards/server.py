"""The dashboards as one ASGI app: Streamlit's own routes behind ``MediaGate`` (see ``downloads.py``).

``dataspace serve`` runs ``streamlit run dashboards/server.py``; Streamlit finds ``app`` here and serves
``app.py`` through it, with the same config (``.streamlit/config.toml``) and command-line flags.
``dataspace serve --security-headers`` runs ``asgi.py`` instead: the same gate plus security headers.
Both add the session-cookie routes (``/api/session``, see ``session_cookie.py``): a Streamlit script
cannot set a cookie, a route on this server can.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from dashboards.downloads import MediaGate
from dashboards.session_cookie import ROUTES as SESSION_ROUTES

app = st.App(str(Path(__file__).with_name("app.py")), routes=SESSION_ROUTES, middleware=[Middleware(MediaGate)])
