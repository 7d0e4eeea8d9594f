"""Headline first: every product page opens with its latest period's key figures, the change against the
previous period and when the figures were updated (Beijing time), before any filter or detail.

``number`` is the one formatter of figures by kind, so a count never shows decimals, a share always
carries its % sign and minutes always have one decimal, whichever page shows them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from data_products.i18n import t

MESSAGES = {
    "hl.unit.min": {"zh": "{v} 分钟", "en": "{v} min"},
    "hl.vs": {"zh": "较 {prev}", "en": "vs {prev}"},
    "hl.latest": {"zh": "最新周期：{period}", "en": "Latest period: {period}"},
    "hl.compared": {"zh": "与上一周期 {prev} 相比", "en": "compared with the previous period, {prev}"},
    "hl.no_previous": {"zh": "本发布只有一个周期，无可比较的上一周期", "en": "one period in this release: no previous period to compare"},
    "hl.updated": {"zh": "更新于 {at}（北京时间）", "en": "updated {at} (Beijing time)"},
    "hl.hidden": {"zh": "已隐藏", "en": "hidden"},
    "hl.pp": {"zh": "{v} 个百分点", "en": "{v} pp"},
}

KINDS = ("count", "share", "minutes", "rate", "ratio")


def number(value, kind: str, lang: str, *, decimals: int | None = None) -> str:
    """A figure as people read it: counts without decimals, shares with %, minutes with one decimal,
    rates and ratios with one (or ``decimals``). A missing or hidden value is a dash, never 0."""
    if kind not in KINDS:
        raise ValueError(f"unknown figure kind {kind!r}; one of {KINDS}")
    if _missing(value):
        return "—"
    v = float(value)
    if kind == "count":
        return f"{round(v):,}"
    places = 1 if decimals is None else decimals
    if kind == "share":
        return f"{v:,.{places}f}%"
    if kind == "minutes":
        return t("hl.unit.min", lang, v=f"{v:,.{places}f}")
    return f"{v:,.{places}f}"


def _missing(value) -> bool:
    """None or NaN: nothing to show or compare."""
    return value is None or math.isnan(float(value))


def change(current, previous) -> float | None:
    """Relative change in % (None when either value is missing or the previous one is 0)."""
    if _missing(current) or _missing(previous) or float(previous) == 0:
        return None
    c, p = float(current), float(previous)
    return (c - p) / abs(p) * 100.0


def delta(f: Figure, vs: str | None, lang: str) -> str | None:
    """The change shown under a figure: a share's in percentage points (20% to 25% is +5.0 pp, not +25%),
    anything else's relative, in %; None without a previous period or value."""
    if not vs:
        return None
    if f.kind == "share":
        if _missing(f.value) or _missing(f.previous):
            return None
        return f"{t('hl.pp', lang, v=f'{float(f.value) - float(f.previous):+.1f}')} {t('hl.vs', lang, prev=vs)}"
    pct = change(f.value, f.previous)
    return None if pct is None else f"{pct:+.1f}% {t('hl.vs', lang, prev=vs)}"


def beijing(stamp: str | datetime | None) -> str:
    """An ISO time stamp (UTC or with offset) as Beijing wall time, minutes precision."""
    from data_products.governance.store import LOCAL

    if not stamp:
        return "—"
    when = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def updated_at(info: dict) -> str | None:
    """When the figures on the page last changed: the release's approval (its publication), else its build."""
    approval = info.get("approval") or {}
    meta = info.get("meta") or {}
    return approval.get("approved_at") or meta.get("built_at") or info.get("computed_at")


@dataclass(frozen=True)
class Figure:
    label: str
    value: float | int | None
    kind: str
    previous: float | int | None = None
    help: str | None = None
    vs: str | None = None  # this figure's previous period, when it is not the row's


def show(figures: list[Figure], lang: str, *, period: str | None, previous: str | None, updated: str | None) -> None:
    """The headline row: one metric per figure with its change (arrow and %) against ``previous``."""
    cols = st.columns(len(figures))
    for col, f in zip(cols, figures, strict=True):
        # Grey arrows: more cases or a longer wait is not "good" or "bad" by itself.
        col.metric(f.label, number(f.value, f.kind, lang), delta=delta(f, f.vs or previous, lang), delta_color="off",
                   help=f.help, border=True)
    parts = []
    if period:
        parts.append(t("hl.latest", lang, period=period))
    parts.append(t("hl.compared", lang, prev=previous) if previous else t("hl.no_previous", lang))
    parts.append(t("hl.updated", lang, at=beijing(updated)))
    st.caption(" · ".join(parts))
