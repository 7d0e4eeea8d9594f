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

from dashboards.navigation import allowed_pages  # noqa: E402
from dashboards.ui import SESSION_KEY, language_switch, principal  # noqa: E402
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
        result = sign_in(username, password)
        if result.ok:
            st.session_state[SESSION_KEY] = result.principal
            st.rerun()
        st.error(result.message(lng))
    if demo_mode():
        st.info(t("auth.demo_hint", lng))


if user is None:
    st.navigation([st.Page(signin_page, title=t("nav.signin", lng), url_path="signin", default=True)], position="hidden").run()
    st.stop()

with st.sidebar:
    st.markdown(t("auth.signed_in_as", lng, user=user.username, org=user.org_name))
    st.caption(t(f"role.{user.role}", lng))
    if st.button(t("auth.signout", lng), key="signout", icon=":material/logout:"):
        sign_out(user)
        # Everything the pages kept for this user (filters, flashes, cached frames) goes with them.
        for key in list(st.session_state.keys()):
            del st.session_state[key]
        st.rerun()

sections: dict[str, list] = {}
for i, spec in enumerate(allowed_pages(user.role, set(visible_products(user)))):
    page = st.Page(f"views/{spec.file}", title=t(spec.title_key, lng), icon=spec.icon, url_path=spec.url, default=i == 0)
    sections.setdefault(t(spec.section, lng), []).append(page)
st.navigation(sections).run()
