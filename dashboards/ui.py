"""What every page shares: the language, the synthetic-data label, and the signed-in user."""

from __future__ import annotations

import streamlit as st

from data_products.i18n import LANG_LABELS, LANGS, t


def lang() -> str:
    """The UI language, kept in the URL (``?lang=en``) so a shared link opens in the same language."""
    value = st.query_params.get("lang", "zh")
    return value if value in LANGS else "zh"


def language_switch() -> str:
    current = lang()
    choice = st.sidebar.radio(
        t("app.language", current),
        LANGS,
        index=LANGS.index(current),
        format_func=LANG_LABELS.__getitem__,
        horizontal=True,
        key="ui_lang",
    )
    if choice != current:
        st.query_params["lang"] = choice
        st.rerun()
    return choice


def synthetic_banner(lng: str) -> None:
    st.info(t("app.synthetic", lng), icon=":material/science:")
