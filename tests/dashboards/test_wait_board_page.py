"""The wait-time board: every facility the user may see with its expected wait for the chosen department and
hour, shortest first, each figure equal to the slot view's estimate for that facility, and nothing of a
facility outside the user's scope."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_products.governance.gate import open_product
from data_products.products.wait_times import views
from data_products.reference import facilities

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


def open_board(principal, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "en"
    for k, v in params.items():
        at.query_params[k] = v
    at.session_state["principal"] = principal
    at.run()
    at.switch_page("views/wait_board.py")
    return at.run()


def _cards(at: AppTest) -> list[tuple[str, int | None]]:
    """(facility name, minutes shown) per card, in page order."""
    out = []
    for md in at.markdown:
        if md.value.startswith("**") and md.value.endswith("**"):
            out.append([md.value.strip("*"), None])
        m = re.fullmatch(r"### about (\d+) min", md.value)
        if m and out:
            out[-1][1] = int(m.group(1))
    return [tuple(x) for x in out]


def test_official_sees_every_facility_with_the_department_shortest_first(demo, signed_in):
    user = signed_in("official")
    grant = open_product(user, views.PRODUCT_ID)
    hours = views.hours(grant)
    at = open_board(user, department="internal_medicine", weekday="2", hour=hours[1])
    assert not at.exception, at.exception
    cards = _cards(at)
    names = facilities().set_index("name_en")
    expected = views.board(grant, "internal_medicine", "2", hours[1])
    # Every facility whose estimates hold the department, each once.
    est = views._release(grant)[0].table("estimates")
    having = set(est.loc[est["department"] == "internal_medicine", "facility_id"])
    assert {names.at[n, "facility_id"] for n, _ in cards} == having and len(cards) == len(having)
    # Each figure is the slot view's estimate for that facility, and the list is sorted by it.
    for name, minutes in cards:
        slot = views.estimate(grant, names.at[name, "facility_id"], "internal_medicine", "2", hours[1])
        assert minutes == (round(slot["p50"]) if slot["open"] else None)
    shown = [m for _, m in cards if m is not None]
    assert shown, "the slot chosen should be open somewhere"
    assert shown == sorted(shown) and len(shown) == int(expected["open"].sum())
    assert any("Estimates updated" in c.value and "Beijing time" in c.value for c in at.caption)


@pytest.mark.parametrize("lng", ["en", "zh"])
def test_a_hospital_sees_only_its_own_facility(demo, signed_in, lng):
    # A peer's wait, rank or name would identify it: the view hands out nothing but the hospital's own rows.
    user = signed_in("hospital_f0301")
    grant = open_product(user, views.PRODUCT_ID)
    for dept in views.departments(grant):
        for day in ("1", "6"):
            rows = views.board(grant, dept, day, "09")
            assert set(rows["facility_id"]) <= {"F0301"}, (dept, day)
            assert "district" not in rows.columns
    assert set(views.facility_options(grant)["facility_id"]) == {"F0301"}
    at = open_board(user, department="internal_medicine", lang=lng)
    assert not at.exception, at.exception
    reg = facilities().set_index("facility_id")
    own = reg.at["F0301", "name_en" if lng == "en" else "name_zh"]
    assert [n for n, _ in _cards(at)] == [own]
    others = (set(reg["name_en"]) | set(reg["name_zh"])) - {reg.at["F0301", "name_en"], reg.at["F0301", "name_zh"]}
    text = " ".join(e.value for e in [*at.markdown, *at.caption])
    assert not any(o in text for o in others)


def test_now_is_the_next_clinic_hour_of_the_department(demo, signed_in):
    # Decided by the view, against the release: brute force over the week's hours from a fixed moment.
    from datetime import datetime, timedelta

    from data_products.governance.store import LOCAL

    grant = open_product(signed_in("official"), views.PRODUCT_ID)
    est = views._release(grant)[0].table("estimates")
    dept = "internal_medicine"
    open_slots = set(zip(est.loc[est["department"] == dept, "weekday"], est.loc[est["department"] == dept, "hour"],
                         strict=True))
    for start in (datetime(2026, 12, 5, 23, 30, tzinfo=LOCAL), datetime(2026, 12, 1, 9, 10, tzinfo=LOCAL)):
        day, hour, now = views.current_slot(grant, dept, start)
        first = next(s for s in range(7 * 24) if (str((start + timedelta(hours=s)).isoweekday()),
                                                  f"{(start + timedelta(hours=s)).hour:02d}") in open_slots)
        at = start + timedelta(hours=first)
        assert (day, hour, now) == (str(at.isoweekday()), f"{at.hour:02d}", first == 0)
    # A department without any clinic: today (a Saturday), at the current hour if the release has it, else at
    # its first hour (a slot the board offers), closed.
    offered = views.hours(grant)
    for at_night in (datetime(2026, 12, 5, 3, 30, tzinfo=LOCAL), datetime(2026, 12, 5, int(offered[-1]), 5, tzinfo=LOCAL)):
        day, hour, now = views.current_slot(grant, "no_such_department", at_night)
        want = f"{at_night.hour:02d}" if f"{at_night.hour:02d}" in offered else offered[0]
        assert (day, hour, now) == ("6", want, False) and hour in offered


@pytest.mark.parametrize("username", ["company_none", "company_jaundice"])
def test_a_user_without_the_product_has_no_board(demo, signed_in, username):
    from dashboards.navigation import allowed_pages
    from data_products.governance import visible_products

    user = signed_in(username)
    assert "wait_board.py" not in {p.file for p in allowed_pages(user, set(visible_products(user)))}
