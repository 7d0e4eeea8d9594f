"""The wait-time board (候诊看板): every facility the user may see, with its expected wait now for one
department, shortest first, and when the estimates were updated. Phone-first, in the style of the Hong
Kong Hospital Authority's A&E waiting-time page; the detailed slot view (wait_times.py) is one tap away.

Renders the approved release through the product's view functions, under this page open's grant.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboards import headline
from dashboards.ui import guard, lang, product_grant, synthetic_banner
from data_products.governance.store import LOCAL
from data_products.i18n import pick, t
from data_products.products.wait_times import views
from data_products.products.wait_times.spec import LEVEL_SLOT, WEEKDAYS

MESSAGES = {
    "wb.title": {"zh": "各院候诊看板", "en": "Waiting times now"},
    "wb.intro": {"zh": "所选科室在各医疗机构的预计候诊时间（从签到到就诊），候诊最短者在前。",
                 "en": "Expected wait (check-in to consultation) for the chosen department at each facility, "
                       "shortest first."},
    "wb.department": {"zh": "科室", "en": "Department"},
    "wb.now": {"zh": "现在（{day} {hour}:00）", "en": "Now ({day} {hour}:00)"},
    "wb.weekday": {"zh": "星期", "en": "Day"},
    "wb.hour": {"zh": "时段", "en": "Hour"},
    "wb.usually": {"zh": "约 {n} 分钟", "en": "about {n} min"},
    "wb.p90": {"zh": "十人中九人不超过 {m} 分钟", "en": "9 in 10 within {m} min"},
    "wb.coarse": {"zh": "该时段就诊人次少，按本科室的一般情况估计", "en": "few visits in this slot: estimated from the department's usual pattern"},
    "wb.closed": {"zh": "该时段无门诊", "en": "no clinic at this time"},
    "wb.none": {"zh": "您可查看的机构中没有该科室。", "en": "None of the facilities you may see has this department."},
    "wb.updated": {"zh": "估计更新于 {at}（北京时间），依据 {span} 的就诊记录。",
                   "en": "Estimates updated {at} (Beijing time), from visits {span}."},
    "wb.details": {"zh": "查看详细时段", "en": "Slot details"},
    "wb.closed_hour": {"zh": "现在不在门诊时段，显示下一个门诊时段。", "en": "Outside clinic hours now: showing the next clinic hour."},
    "wb.day.1": {"zh": "周一", "en": "Mon"}, "wb.day.2": {"zh": "周二", "en": "Tue"}, "wb.day.3": {"zh": "周三", "en": "Wed"},
    "wb.day.4": {"zh": "周四", "en": "Thu"}, "wb.day.5": {"zh": "周五", "en": "Fri"}, "wb.day.6": {"zh": "周六", "en": "Sat"},
    "wb.day.7": {"zh": "周日", "en": "Sun"},
}

lng = lang()
grant = product_grant(views.PRODUCT_ID, lng)
st.title(t("wb.title", lng))
synthetic_banner(lng)
st.caption(t("wb.intro", lng))

info = guard(lambda: views.release_info(grant), lng)
depts = guard(lambda: views.departments(grant), lng)
hours = guard(lambda: views.hours(grant), lng)
if not depts or not hours:
    st.warning(t("wb.none", lng))
    st.stop()


def _choice(key: str, values: list[str], default: str) -> str:
    v = st.query_params.get(key, default)
    return v if v in values else default


c1, c2, c3 = st.columns([2, 1, 1])
department = c1.selectbox(t("wb.department", lng), depts,
                          index=depts.index(_choice("department", depts, "internal_medicine" if "internal_medicine" in depts
                                                    else depts[0])),
                          format_func=lambda d: views.department_name(d, lng), key="wb_department")
now_day, now_hour, open_now = guard(lambda: views.current_slot(grant, department, datetime.now(LOCAL)), lng)
weekday = c2.selectbox(t("wb.weekday", lng), list(WEEKDAYS), index=WEEKDAYS.index(_choice("weekday", list(WEEKDAYS), now_day)),
                       format_func=lambda d: t(f"wb.day.{d}", lng), key="wb_weekday")
hour = c3.selectbox(t("wb.hour", lng), hours, index=hours.index(_choice("hour", hours, now_hour)),
                    format_func=lambda h: f"{h}:00", key="wb_hour")
# "Now" stays now: a slot goes into the URL (and so survives navigation) only when the user picked another one.
st.query_params["department"] = department
for key, value, default in (("weekday", weekday, now_day), ("hour", hour, now_hour)):
    if value == default:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = value
if (weekday, hour) == (now_day, now_hour):
    st.caption(t("wb.now", lng, day=t(f"wb.day.{now_day}", lng), hour=now_hour)
               + ("" if open_now else " · " + t("wb.closed_hour", lng)))

st.caption(t("wb.updated", lng, at=headline.beijing(headline.updated_at(info)),
             span=" – ".join(info["meta"].get("time_span", []))))

rows = guard(lambda: views.board(grant, department, weekday, hour), lng)
if rows.empty:
    st.info(t("wb.none", lng))
    st.stop()

for r in rows.itertuples(index=False):
    with st.container(border=True):
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.markdown(f"**{pick(lng, r.name_zh, r.name_en)}**")
        if r.open and not pd.isna(r.p50):
            right.markdown(f"### {t('wb.usually', lng, n=round(r.p50))}")
            right.caption(t("wb.p90", lng, m=round(r.p90)))
            if r.level != LEVEL_SLOT:
                left.caption(t("wb.coarse", lng))
        else:
            right.caption(t("wb.closed", lng))
        left.page_link("views/wait_times.py", label=t("wb.details", lng), icon=":material/schedule:",
                       query_params={"facility": r.facility_id, "department": department, "weekday": weekday,
                                     "hour": hour, "lang": lng})
