"""Entry point: `streamlit run dashboards/app.py` (or `dataspace serve`).

The page folder is `views/`, never `pages/`: Streamlit would serve files in a `pages/` folder by
URL before sign-in. Navigation registers only the pages the signed-in role may open.
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

from dashboards.ui import language_switch  # noqa: E402
from data_products.i18n import t  # noqa: E402

st.set_page_config(page_title="广州卫生健康可信数据空间", page_icon="🏥", layout="wide")

lng = language_switch()
st.sidebar.caption(t("app.synthetic_short", lng))

pages = [st.Page("views/overview.py", title=t("nav.overview", lng), default=True)]
st.navigation(pages).run()
