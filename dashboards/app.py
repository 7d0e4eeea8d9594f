"""Entry point: `streamlit run dashboards/app.py` (or `dataspace serve`).

The page folder is `views/`, never `pages/`: Streamlit would serve files in a `pages/` folder by
URL before sign-in. Before sign-in the only page is the sign-in form; after it, navigation
registers only the pages the user's role and scenarios open (see ``navigation``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit puts this file's folder on sys.path, not the project root; the dashboards package
# needs the root so `dashboards.*` and `data_products.*` import the same way in tests and in serving.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboards import session_cookie  # noqa: E402
from dashboards.navigation import allowed_pages, pages  # noqa: E402
from dashboards.ui import (  # noqa: E402
    SESSION_KEY,
    client_label,
    close_sidebar_on_phone,
    forget_grants,
    language_switch,
    org_label,
    principal,
)
from data_products.config import demo_mode  # noqa: E402
from data_products.governance import sign_in, sign_out, visible_products  # noqa: E402
from data_products.i18n import t  # noqa: E402

st.set_page_config(page_title="广州卫生健康可信数据空间", page_icon=str(ROOT / "dashboards" / "static" / "favicon.png"), layout="wide")

lng = language_switch()
st.sidebar.caption(t("app.synthetic_short", lng))
user = principal()


def signin_page() -> None:
    st.title(t("auth.title", lng))
    st.caption(t("app.title", lng))
    with st.form("signin", clear_on_submit=False):
        username = st.text_input(t("auth.username", lng), max_chars=64, key="signin_user")
        password = st.text_input(t("auth.password", lng), type="password", max_chars=1024, key="signin_pass")
        submitted = st.form_submit_button(t("auth.submit", lng), type="primary")
    if submitted:
        result = sign_in(username, password, client=client_label())  # the address keys the backoff
        if result.ok:
            st.session_state[SESSION_KEY] = result.principal
            # The browser collects the session cookie on the next run (session_cookie.draw below).
            session_cookie.offer(st.context.cookies.get(session_cookie.BINDING_COOKIE), result.principal.token)
            st.rerun()
        st.error(result.message(lng))
    if demo_mode():
        st.info(t("auth.demo_hint", lng))
    if st.session_state.pop("_end_cookie", False):
        session_cookie.draw("api/session/end")


if user is None:
    # Every page's URL shows the sign-in form before sign-in (no page, and so nothing of it, exists yet);
    # the page and filters a shared link asked for are remembered and opened once signed in.
    def signin_at(url: str):
        def page() -> None:
            st.session_state.setdefault("_requested", (url, {k: st.query_params.get(k) for k in st.query_params}))
            signin_page()

        page.__name__ = f"signin_{url.replace('-', '_')}"
        return page

    entry = [st.Page(signin_page, title=t("nav.signin", lng), url_path="signin", default=True)]
    entry += [st.Page(signin_at(spec.url), title=t("nav.signin", lng), url_path=spec.url) for spec in pages()]
    st.navigation(entry, position="hidden").run()
    st.stop()

with st.sidebar:
    st.markdown(t("auth.signed_in_as", lng, user=user.username, org=org_label(user.org_name, lng)))
    st.caption(t(f"role.{user.role}", lng))
    if st.button(t("auth.signout", lng), key="signout", icon=":material/logout:"):
        sign_out(user)
        # Everything the pages kept for this user (filters, flashes, cached frames) goes with them.
        for key in list(st.session_state.keys()):
            del st.session_state[key]
        # The store has ended the session everywhere; this only tidies the dead cookie away.
        st.session_state["_end_cookie"] = True
        st.rerun()
    if session_cookie.pending(st.context.cookies.get(session_cookie.BINDING_COOKIE)):
        session_cookie.draw("api/session")

sections: dict[str, list] = {}
by_url = {}
for i, spec in enumerate(allowed_pages(user, set(visible_products(user)))):
    # A product's page file is relative to views/ (or absolute, for a product kept elsewhere).
    script = spec.file if Path(spec.file).is_absolute() else f"views/{spec.file}"
    page = st.Page(script, title=spec.title(lng), icon=spec.icon, url_path=spec.url, default=i == 0)
    sections.setdefault(t(spec.section, lng), []).append(page)
    by_url[spec.url] = page
current_page = st.navigation(sections)
if st.session_state.get("_page") != current_page.url_path:
    # Arriving on a page is a page open: it asks the gate again (one ledger entry); reruns on it do not.
    forget_grants()
    if "_page" in st.session_state:
        close_sidebar_on_phone()
    st.session_state["_page"] = current_page.url_path
requested = st.session_state.pop("_requested", None)
if requested and requested[0] in by_url and requested[0] != current_page.url_path:
    # A shared link opened before sign-in: go where it pointed, with its filters. A page this user
    # may not open is simply not in by_url, so the link cannot reach past the gate.
    st.switch_page(by_url[requested[0]], query_params=requested[1])
# The user's place: each page's filters are its URL parameters. Streamlit drops them when the user moves
# to another page, so coming back through the navigation puts back the ones this session last had there
# (a URL that already names filters, a shared link, wins). A reload or a new tab keeps them in the URL.
kept = st.session_state.setdefault("_filters", {})
here = current_page.url_path
if kept.get(here) and not any(k != "lang" for k in st.query_params):
    st.query_params.update(kept[here])
try:
    current_page.run()
finally:
    kept[here] = {k: st.query_params.get(k) for k in st.query_params if k != "lang"}
