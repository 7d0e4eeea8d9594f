"""The headline row's figures and changes: formatted by kind, a share's change in percentage points."""

from __future__ import annotations

from dashboards.headline import Figure, beijing, change, delta, number


def test_numbers_are_formatted_by_kind_and_missing_is_a_dash():
    assert number(4377.0, "count", "en") == "4,377"
    assert number(27.3456, "share", "en") == "27.3%"
    assert number(12.04, "minutes", "en") == "12.0 min" and number(12.04, "minutes", "zh") == "12.0 分钟"
    assert number(float("nan"), "count", "en") == number(None, "share", "en") == "—"


def test_a_share_changes_in_points_anything_else_relatively():
    share = Figure("Mycoplasma positive", 25.0, "share", previous=20.0)
    assert delta(share, "2024-10", "en") == "+5.0 pp vs 2024-10"  # not "+25.0%"
    cases = Figure("Cases", 120, "count", previous=100)
    assert delta(cases, "2024-10", "en") == "+20.0% vs 2024-10"
    assert change(120, 100) == 20.0 and change(1, 0) is None
    assert delta(cases, None, "en") is None  # no previous period: no arrow
    assert delta(Figure("x", 25.0, "share", previous=float("nan")), "2024-10", "en") is None


def test_times_read_in_beijing():
    assert beijing("2026-12-01T16:05:00+00:00") == "2026-12-02 00:05"
    assert beijing(None) == "—"
