"""What every page shares: the language, the synthetic-data label, the signed-in user, denials.

Pages render; they never decide access. ``principal()`` only says who is signed in; every product
view function asks the gate itself, and ``guard`` turns a denial into a readable message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from data_products.governance import AccessDenied, Principal, current
from data_products.i18n import LANG_LABELS, LANGS, t

T = TypeVar("T")
SESSION_KEY = "principal"

MESSAGES = {
    "ui.denied_title": {"zh": "无权访问", "en": "Access denied"},
    "ui.no_release": {
        "zh": "该产品尚无已批准的发布版本。",
        "en": "This product has no approved release yet.",
    },
    "ui.session_ended": {"zh": "会话已结束，请重新登录。", "en": "Your session has ended; please sign in again."},
}


def lang() -> str:
    """The UI language, kept in the URL (``?lang=en``) so a shared link opens in the same language."""
    value = st.query_params.get("lang", "zh")
    return value if value in LANGS else "zh"


def language_switch() -> str:
    current_lang = lang()
    choice = st.sidebar.radio(
        t("app.language", current_lang),
        LANGS,
        index=LANGS.index(current_lang),
        format_func=LANG_LABELS.__getitem__,
        horizontal=True,
        key="ui_lang",
    )
    if choice != current_lang:
        st.query_params["lang"] = choice
        st.rerun()
    return choice


def synthetic_banner(lng: str) -> None:
    st.info(t("app.synthetic", lng), icon=":material/science:")


def principal() -> Principal | None:
    """The signed-in user of this browser session, if the session is still live."""
    p = st.session_state.get(SESSION_KEY)
    if p is None:
        return None
    if not current(p).ok:
        # Like signing out: nothing a page kept for this user survives into the next sign-in.
        st.session_state.clear()
        return None
    return p


def require_principal() -> Principal:
    p = st.session_state.get(SESSION_KEY)
    if p is None:
        st.warning(t("ui.session_ended", lang()))
        st.stop()
    return p


def show_denial(exc: AccessDenied, lng: str) -> None:
    st.error(f"**{t('ui.denied_title', lng)}** — {exc.decision.message(lng)}", icon=":material/block:")


def guard(fn: Callable[[], T], lng: str) -> T:
    """Run a product view; on a gate denial show why (and how to apply) and stop the page.

    A page's first call to its product goes through here, so a user who reaches a page by URL
    without a scenario sees the gate's reason instead of a stack trace.
    """
    from data_products.approved import NoRelease

    try:
        return fn()
    except AccessDenied as exc:
        show_denial(exc, lng)
        st.stop()
    except NoRelease:
        st.warning(t("ui.no_release", lng))
        st.stop()


def from_url(key: str, options: list, default, *, parse=None) -> None:
    """Seed a widget's state from the URL the first time the page runs, so a shared link opens the same view.

    The URL holds language-neutral ids (``?metric=mp_positivity``), never display labels; values not
    among ``options`` are ignored. Call before creating the widget with ``key=key``; ``to_url`` after.
    """
    if key in st.session_state:
        return
    raw = st.query_params.get(key)
    value = parse(raw) if (parse and raw is not None) else raw
    st.session_state[key] = value if value is not None and _valid(value, options) else default


def _valid(value, options) -> bool:
    if isinstance(value, tuple):
        return all(v in options for v in value)
    return value in options


def to_url(**values) -> None:
    for key, value in values.items():
        text = "..".join(value) if isinstance(value, tuple) else str(value)
        if st.query_params.get(key) != text:
            st.query_params[key] = text
