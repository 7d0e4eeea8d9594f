"""What every page shares: the language, the synthetic-data label, the signed-in user, denials.

Pages render; they never decide access. ``principal()`` only says who is signed in. A product page
asks for its grant once (``product_grant``): the gate decides and writes one ledger entry per page
open, and the page hands the grant to every view function. Reruns of the same page (a filter change)
reuse the grant after a pure re-check (``gate.renew``), so they write nothing new; navigating to
another page drops the grants (``app.py``), so coming back is a new page open. ``guard`` turns a
denial (a download the scenario does not cover) into a readable message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from data_products.governance import AccessDenied, Principal, current, resume
from data_products.governance.gate import Grant, GrantError, open_product, open_products, renew
from data_products.i18n import LANG_LABELS, LANGS, t

T = TypeVar("T")
SESSION_KEY = "principal"
GRANTS_KEY = "_grants"

MESSAGES = {
    "ui.denied_title": {"zh": "无权访问", "en": "Access denied"},
    "ui.no_release": {
        "zh": "该产品尚无已批准的发布版本。",
        "en": "This product has no approved release yet.",
    },
    "ui.session_ended": {"zh": "会话已结束，请重新登录。", "en": "Your session has ended; please sign in again."},
    "ui.chart_png": {"zh": "图表图片（PNG）", "en": "Chart image (PNG)"},
    "ui.chart_csv": {"zh": "图表数据（CSV）", "en": "Chart data (CSV)"},
    "ui.png_caption": {"zh": "发布版本 {rid}", "en": "Release {rid}"},
    "ui.png_caption_synthetic": {"zh": "合成演示数据 · 发布版本 {rid}", "en": "Synthetic demonstration data · release {rid}"},
    # A data dictionary as every page shows it (``dictionary_table``).
    "ui.dd.field": {"zh": "字段", "en": "Field"}, "ui.dd.name": {"zh": "名称", "en": "Name"},
    "ui.dd.type": {"zh": "类型", "en": "Type"}, "ui.dd.unit": {"zh": "单位", "en": "Unit"},
    "ui.dd.values": {"zh": "取值（编码）", "en": "Values (codes)"}, "ui.dd.code_system": {"zh": "编码体系", "en": "Code system"},
    "ui.dd.ccl_text": {"zh": "访问级别", "en": "Access level"},
    "ui.dd.type.int": {"zh": "整数", "en": "integer"}, "ui.dd.type.float": {"zh": "小数", "en": "decimal"},
    "ui.dd.type.text": {"zh": "文本", "en": "text"}, "ui.dd.type.bool": {"zh": "是/否", "en": "yes/no"},
    "ui.dd.type.date": {"zh": "日期", "en": "date"}, "ui.dd.type.code": {"zh": "编码", "en": "code"},
    "ui.dd.type.set": {"zh": "编码集合", "en": "set of codes"},
    "ui.dd.unit.years": {"zh": "岁", "en": "years"}, "ui.dd.unit.months": {"zh": "月", "en": "months"},
    "ui.dd.unit.days": {"zh": "天", "en": "days"}, "ui.dd.unit.hours": {"zh": "小时", "en": "hours"},
    "ui.dd.unit.minutes": {"zh": "分钟", "en": "minutes"},
    # One analysis as both analysis pages show it (``analysis_detail``).
    "ui.an.request": {"zh": "请求", "en": "Request"},
    "ui.an.kind.sql": {"zh": "SQL 查询", "en": "SQL query"}, "ui.an.kind.model": {"zh": "模型", "en": "model"},
    "ui.an.checks": {"zh": "自动检查", "en": "Automatic checks"},
    "ui.an.reviews": {"zh": "审核", "en": "Reviews"},
    "ui.an.output": {"zh": "结果", "en": "Output"},
    "ui.an.open": {"zh": "打开结果（记入审计日志）", "en": "Open output (recorded in the ledger)"},
    "ui.an.col.rule": {"zh": "规则", "en": "Rule"}, "ui.an.col.passed": {"zh": "结果", "en": "Result"},
    "ui.an.col.detail": {"zh": "说明", "en": "Detail"}, "ui.an.col.reviewer": {"zh": "审核员", "en": "Reviewer"},
    "ui.an.col.decision": {"zh": "决定", "en": "Decision"}, "ui.an.col.reason": {"zh": "理由", "en": "Reason"},
    "ui.an.col.at": {"zh": "时间（北京时间）", "en": "When (Beijing time)"},
    "ui.an.passed": {"zh": "通过", "en": "passed"}, "ui.an.failed": {"zh": "未通过", "en": "failed"},
    "ui.an.decision.release": {"zh": "放行", "en": "release"}, "ui.an.decision.reject": {"zh": "拒绝", "en": "reject"},
    "ui.an.state.queued": {"zh": "排队中", "en": "queued"},
    "ui.an.state.running": {"zh": "运行中", "en": "running"},
    "ui.an.state.refused": {"zh": "已拒绝（违反规则，未运行）", "en": "refused (broke a rule; did not run)"},
    "ui.an.state.stopped": {"zh": "已停止", "en": "stopped"},
    "ui.an.state.failed_checks": {"zh": "未通过自动检查（结果已丢弃）", "en": "failed the automatic checks (output discarded)"},
    "ui.an.state.awaiting_review": {"zh": "等待审核", "en": "awaiting review"},
    "ui.an.state.released": {"zh": "已放行", "en": "released"},
    "ui.an.state.rejected": {"zh": "审核未通过", "en": "rejected"},
    "ui.an.col.id": {"zh": "编号", "en": "No."}, "ui.an.col.dataset": {"zh": "数据集", "en": "Dataset"},
    "ui.an.col.requester": {"zh": "申请人", "en": "Requester"}, "ui.an.col.kind": {"zh": "方式", "en": "Kind"},
    "ui.an.col.state": {"zh": "状态", "en": "State"}, "ui.an.col.reviews": {"zh": "审核数", "en": "Reviews"},
    "ui.an.col.submitted": {"zh": "提交时间（北京时间）", "en": "Submitted (Beijing time)"},
    "ui.an.col.message": {"zh": "消息", "en": "Message"},
    "ui.an.rule.threshold": {"zh": "最小单元格", "en": "minimum cell count"},
    "ui.an.rule.dominance": {"zh": "优势规则", "en": "dominance"},
    "ui.an.rule.differencing": {"zh": "差分攻击", "en": "differencing"},
    "ui.an.rule.residual_df": {"zh": "残差自由度", "en": "residual degrees of freedom"},
    "ui.an.rule.row_level": {"zh": "逐条记录", "en": "row-level output"},
    "ui.an.rule.rows_limit": {"zh": "行数上限", "en": "row limit"},
    "ui.an.rule.column": {"zh": "列控制规则", "en": "column control list"},
    "ui.an.rule.dataset": {"zh": "数据集", "en": "dataset"}, "ui.an.rule.function": {"zh": "函数", "en": "function"},
    "ui.an.rule.model": {"zh": "模型", "en": "model"}, "ui.an.rule.select_only": {"zh": "仅限 SELECT", "en": "SELECT only"},
    "ui.an.rule.single_statement": {"zh": "单条语句", "en": "one statement"},
    "ui.an.rule.structure": {"zh": "查询结构", "en": "query structure"}, "ui.an.rule.syntax": {"zh": "语法", "en": "syntax"},
}

# Plotly's modebar offers "download plot as a png", made in the browser with no decision and no ledger entry:
# off on every chart (tests/test_download_gate.py); a chart's files come from ``chart`` through the gate.
CHART_CONFIG = {"displayModeBar": False}


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


def org_label(name: str | None, lng: str) -> str:
    """An organisation's name in the page's language: a hospital's from the facility registry, the demo
    organisations' from their English names; any other organisation keeps the one name it registered."""
    if not name or lng == "zh":
        return name or ""
    from data_products.governance.demo import ORG_NAMES_EN
    from data_products.reference import facilities

    if name in ORG_NAMES_EN:
        return ORG_NAMES_EN[name]
    reg = facilities()
    hit = reg.loc[reg["name_zh"] == name, "name_en"]
    return str(hit.iloc[0]) if not hit.empty else name


NARROW_PX = 640  # Streamlit stacks columns below this width: a phone


def wide_or_narrow(key: str):
    """Two containers for one view: the first shows on wide screens, the second on phones (CSS media query on
    the containers' keys; the server does not know the screen). A heatmap goes in the first, its table in the
    second, so a phone gets readable numbers instead of a shrunken grid."""
    st.html(f"<style>@media (max-width: {NARROW_PX}px) {{ [class*='st-key-wide-'] {{ display: none !important; }} }}"
            f" @media (min-width: {NARROW_PX + 1}px) {{ [class*='st-key-narrow-'] {{ display: none !important; }} }}</style>")
    return st.container(key=f"wide-{key}"), st.container(key=f"narrow-{key}")


def close_sidebar_on_phone() -> None:
    """After navigating on a phone, fold the sidebar away so the page it opened is not hidden under it
    (Streamlit leaves it open). A zero-height component (its iframe shares the page's origin) presses the
    sidebar's own collapse button, only when the screen is narrow and the sidebar is showing. No request
    leaves the page."""
    import streamlit.components.v1 as components

    components.html(f"""<script>
      const w = window.parent, d = w.document;
      if (w.innerWidth <= {NARROW_PX}) {{
        const bar = d.querySelector('[data-testid="stSidebar"]');
        const shown = bar && bar.getBoundingClientRect().right > 1;
        const close = d.querySelector('[data-testid="stSidebarCollapseButton"] button');
        if (shown && close) close.click();
      }}
    </script>""", height=0)


def synthetic_banner(lng: str) -> None:
    st.info(t("app.synthetic", lng), icon=":material/science:")


def client_label() -> str:
    """Who connects, for the sign-in backoff and the ledger: the connection's address (None when browsing
    from this machine; not text under AppTest, whose runtime is a stand-in)."""
    ip = st.context.ip_address
    return f"app:{ip if isinstance(ip, str) and ip else 'local'}"


def principal() -> Principal | None:
    """The signed-in user of this browser session, if the session is still live."""
    p = st.session_state.get(SESSION_KEY)
    if p is None:
        # A reload or a new tab: the session cookie (HttpOnly, read from this connection's handshake)
        # names a session the store may still hold live; ``resume`` decides, nothing here trusts it.
        from dashboards.session_cookie import COOKIE

        cookie = st.context.cookies.get(COOKIE)
        if not cookie or st.session_state.get("_cookie_refused") == cookie:
            return None  # a dead cookie is asked about once, not on every rerun of the sign-in page
        p = resume(cookie, client=client_label())
        if p is None:
            st.session_state["_cookie_refused"] = cookie
            st.session_state["_end_cookie"] = True  # the sign-in page clears it from the browser
            return None
        st.session_state[SESSION_KEY] = p
        return p
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


def show_table(data, *, key: str | None = None, column_config: dict | None = None, hide_index: bool = True,
          decimals: int = 2, width="stretch", height="auto") -> None:
    """Every table on a page: the browser receives exactly what is shown, nothing to export.

    ``st.dataframe`` ships its data to the browser as Arrow and offers it back as CSV from its toolbar;
    ``client.disableDataExport`` (config.toml) removes that button and the clipboard copy, but the
    numbers are still in the browser. So numbers are rounded here to the precision shown: a column's
    ``NumberColumn(format="%.Nf")`` if it has one, else ``decimals``. Whatever a user can pull out of
    the page is then what the page shows them, which is what their grant allows.
    """
    import re

    import pandas as pd

    frame = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    for i, col in enumerate(frame.columns):
        series = frame.iloc[:, i]
        if not pd.api.types.is_float_dtype(series.dtype):
            continue
        places = decimals
        cfg = (column_config or {}).get(col)
        fmt = (cfg.get("type_config") or {}).get("format") if isinstance(cfg, dict) else None
        match = re.fullmatch(r".*%[,]?\.(\d)f.*", fmt or "")
        if match:
            places = int(match.group(1))
        elif fmt and re.fullmatch(r".*%[,]?d.*", fmt):
            places = 0
        frame.iloc[:, i] = series.round(places)
    if not hide_index and frame.index.dtype.kind == "f":
        frame.index = frame.index.round(decimals)
    st.dataframe(frame, hide_index=hide_index, width=width, height=height, key=key, column_config=column_config)


def download_button(label: str, make: Callable[[], bytes], file_name: str, mime: str, *, key: str,
                    artifact: str | None = None, container=None) -> None:
    """One click, one download: ``make`` runs only when the button is clicked (it asks the gate and
    writes the one ledger entry), and the file it returns can be fetched once, by this browser, within
    a minute (``dashboards.downloads``). Nothing goes to Streamlit's media store before the click, and
    the page does not rerun."""
    from dashboards import downloads

    user = require_principal()
    binding = st.context.cookies.get(downloads.BINDING_COOKIE)
    (container or st).download_button(
        label, data=downloads.deferred(make, binding, user.username, artifact or file_name), file_name=file_name,
        mime=mime, key=key, on_click="ignore", icon=":material/download:")


def chart(fig, *, key: str, grant: Grant | None = None, name: str | None = None, lng: str | None = None,
          container=None, **kwargs):
    """Every chart on a page: drawn with Plotly's modebar off (``CHART_CONFIG``), and, given the page's
    ``grant`` and a file ``name``, followed by its own CSV download: exactly the figures the chart draws
    (``charts.figure_table``, read from the figure itself), made on the click, decided by the gate and
    recorded in the ledger once per download, like every other file (``download_button``). Returns what
    ``st.plotly_chart`` returns (a selection, for a map that opens a district)."""
    from dashboards import png

    box = container or st
    kwargs.setdefault("width", "stretch")
    event = box.plotly_chart(fig, config=CHART_CONFIG, key=key, **kwargs)
    if grant is not None and name is not None:
        lng = lng or lang()
        row = box.container(horizontal=True, key=f"{key}__files")
        download_button(t("ui.chart_csv", lng), lambda: chart_csv(grant, fig, f"{name}.csv"),
                        f"{name}.csv", "text/csv", key=f"{key}__csv", container=row)
        if png.available():
            download_button(t("ui.chart_png", lng), lambda: chart_png(grant, fig, f"{name}.png", lng),
                            f"{name}.png", "image/png", key=f"{key}__png", container=row)
    return event


def chart_csv(grant: Grant, fig, file_name: str) -> bytes:
    """A chart's CSV through the gate: the download decided for the grant's user on the grant's release and
    recorded (file name, hash, size) before a byte leaves; UTF-8 with BOM so spreadsheets read the Chinese.
    The release and the synthetic flag ride along on every row."""
    import io

    from dashboards.charts import figure_table
    from data_products.governance.gate import deliver

    def make(dl: Grant) -> bytes:
        table = figure_table(fig)
        table["release_id"] = dl.release_id
        table["synthetic"] = bool(dl.release.meta.get("synthetic"))
        buf = io.StringIO()
        table.to_csv(buf, index=False)
        return buf.getvalue().encode("utf-8-sig")

    return deliver(grant, file_name, make)


def chart_png(grant: Grant, fig, file_name: str, lng: str) -> bytes:
    """A chart's PNG through the gate, drawn on the server (``dashboards.png``), its release (and, for a
    synthetic one, that it is synthetic) written above the chart: one decision and one ledger entry."""
    from dashboards import png
    from data_products.governance.gate import deliver

    def make(dl: Grant) -> bytes:
        key = "ui.png_caption_synthetic" if dl.release.meta.get("synthetic") else "ui.png_caption"
        return png.render(fig, caption=t(key, lng, rid=dl.release_id))

    return deliver(grant, file_name, make)


def zipped(stem: str, csv_bytes: bytes, meta_bytes: bytes) -> bytes:
    """A table and its metadata in one file, so one click is one download (and one ledger entry)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in ((f"{stem}.csv", csv_bytes), (f"{stem}.metadata.json", meta_bytes)):
            # A fixed time stamp: the same view gives the same bytes on every download.
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def from_url(key: str, options: list, default, *, parse=None, param: str | None = None) -> None:
    """Seed a widget's state from the URL the first time the page runs, so a shared link opens the same view.

    The URL holds language-neutral ids (``?metric=mp_positivity``), never display labels; values not
    among ``options`` are ignored. Call before creating the widget with ``key=key``; ``to_url`` after.
    ``param`` names the URL parameter when it differs from the state key.
    """
    if key in st.session_state:
        return
    raw = st.query_params.get(param or key)
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


def _opening_filters() -> dict[str, str]:
    """The filters a page opened with: its URL parameters (a shared link's view), language aside."""
    return {k: st.query_params.get(k) for k in st.query_params if k != "lang"}


def _kept(key: str, user: Principal) -> Grant | None:
    grant = st.session_state.get(GRANTS_KEY, {}).get(key)
    if grant is None or getattr(grant.principal, "token", None) != getattr(user, "token", None):
        return None
    try:
        return renew(grant)
    except GrantError:
        return None


def product_grant(product_id: str, lng: str) -> Grant:
    """This page open's grant for ``product_id``: decided (and written to the ledger) once per page
    open; on a denial or a product without a release, say why and stop the page."""
    from data_products.approved import NoRelease

    user = require_principal()
    grant = _kept(product_id, user)
    if grant is None:
        try:
            grant = open_product(user, product_id, filters=_opening_filters(), page=product_id)
        except AccessDenied as exc:
            show_denial(exc, lng)
            st.stop()
        except NoRelease:
            st.warning(t("ui.no_release", lng))
            st.stop()
        st.session_state.setdefault(GRANTS_KEY, {})[product_id] = grant
    return grant


def page_grants(page: str, product_ids: list[str]) -> dict[str, Grant]:
    """One page showing several products (My hospital): one ledger entry for all of their decisions per
    page open; the grants of the products allowed and released."""
    user = require_principal()
    kept = st.session_state.get(GRANTS_KEY, {}).get(f"page:{page}")
    if kept is not None:
        renewed = {pid: _kept(f"page:{page}:{pid}", user) for pid in kept}
        if all(g is not None for g in renewed.values()):
            return renewed
    grants = open_products(user, product_ids, page=page, filters=_opening_filters())
    store = st.session_state.setdefault(GRANTS_KEY, {})
    store[f"page:{page}"] = list(grants)
    for pid, g in grants.items():
        store[f"page:{page}:{pid}"] = g
    return grants


def forget_grants() -> None:
    """A new page open: the grants of the page left behind are not reused."""
    st.session_state.pop(GRANTS_KEY, None)


# --- shared by the catalog and the two analysis pages ----------------------------------------------------------

_DD_TYPES = ("int", "float", "text", "bool", "date", "code", "set")
_DD_UNITS = ("years", "months", "days", "hours", "minutes")


def dictionary_table(d, lng: str, *, key: str, code_system: bool = True, height="auto") -> None:
    """A specialty dataset's data dictionary (``specialty.Dictionary``) as every page shows it: headers, types,
    units and code-system notes in the page's language (the notes from the dictionary's declared messages);
    the field names and the codes stay as the data holds them."""
    from data_products.specialty.dictionary import code_system_key

    cols = ["field", "name", "type", "unit", "values", *(["code_system"] if code_system else []), "ccl_text"]
    frame = d.frame(lng)[cols].copy()
    frame["type"] = frame["type"].map(lambda v: t(f"ui.dd.type.{v}", lng) if v in _DD_TYPES else v)
    frame["unit"] = frame["unit"].map(lambda v: t(f"ui.dd.unit.{v}", lng) if v in _DD_UNITS else v)
    if code_system:
        frame["code_system"] = frame["code_system"].map(lambda v: t(code_system_key(v), lng) if v else "")
    show_table(frame.rename(columns={c: t(f"ui.dd.{c}", lng) for c in frame.columns}), hide_index=True,
               width="stretch", height=height, key=key)


def _rule_label(rule: str, lng: str) -> str:
    from data_products.i18n import keys

    return t(f"ui.an.rule.{rule}", lng) if f"ui.an.rule.{rule}" in keys() else rule


def analysis_detail(user: Principal, a, lng: str, *, page: str, can_open: bool = True) -> None:
    """One analysis as both analysis pages show it (the requester's "My analyses", the commission's review
    inbox): its request, its automatic checks and its reviews under headers in the page's language, and,
    where ``can_open``, a button that opens the output (``service.view``: the gate's decision and a ledger
    entry) and shows it. ``page`` prefixes the widgets' keys ("an", "rv")."""
    import pandas as pd

    from dashboards.headline import beijing
    from data_products.analyses import service

    st.markdown(f"**{t('ui.an.request', lng)}** ({t(f'ui.an.kind.{a.kind}', lng)})")
    st.code(a.request, language="sql" if a.kind == "sql" else "json")
    if a.checks:
        st.markdown(f"**{t('ui.an.checks', lng)}**")
        st.table(pd.DataFrame({
            t("ui.an.col.rule", lng): [_rule_label(c["rule"], lng) for c in a.checks],
            t("ui.an.col.passed", lng): [t("ui.an.passed" if c["passed"] else "ui.an.failed", lng) for c in a.checks],
            t("ui.an.col.detail", lng): [c["detail"] for c in a.checks],
        }))
    if a.reviews:
        st.markdown(f"**{t('ui.an.reviews', lng)}**")
        st.table(pd.DataFrame({
            t("ui.an.col.reviewer", lng): [r["reviewer"] for r in a.reviews],
            t("ui.an.col.decision", lng): [t(f"ui.an.decision.{r['decision']}", lng) for r in a.reviews],
            t("ui.an.col.reason", lng): [r["reason"] or "" for r in a.reviews],
            t("ui.an.col.at", lng): [beijing(r["at"]) for r in a.reviews],
        }))
    if not can_open:
        return
    if st.button(t("ui.an.open", lng), key=f"{page}_open_{a.id}"):
        st.session_state[f"{page}_out_{a.id}"] = service.view(user, a.id)
    shown = st.session_state.get(f"{page}_out_{a.id}")
    if shown is not None and shown.output:
        st.markdown(f"**{t('ui.an.output', lng)}**")
        st.table(pd.DataFrame(shown.output["rows"], columns=shown.output["columns"]))
        if shown.output.get("notes"):
            st.caption(", ".join(f"{k}: {v}" for k, v in shown.output["notes"].items()))



def analysis_list(rows: list[dict], lng: str, *, key: str) -> None:
    """Analyses as rows (the review inbox's history of a requester and its list of all analyses), each column
    headed and each state and kind named in the page's language. A row may lack a column: the column is left out."""
    import pandas as pd

    from dashboards.headline import beijing

    shown = {
        "id": ("ui.an.col.id", lambda v: v), "dataset": ("ui.an.col.dataset", lambda v: v),
        "requester": ("ui.an.col.requester", lambda v: v),
        "kind": ("ui.an.col.kind", lambda v: t(f"ui.an.kind.{v}", lng)),
        "state": ("ui.an.col.state", lambda v: t(f"ui.an.state.{v}", lng)),
        "reviews": ("ui.an.col.reviews", lambda v: v),
        "submitted_at": ("ui.an.col.submitted", beijing), "message": ("ui.an.col.message", lambda v: v or ""),
    }
    cols = [c for c in shown if rows and c in rows[0]]
    show_table(pd.DataFrame({t(shown[c][0], lng): [shown[c][1](r[c]) for r in rows] for c in cols}),
               hide_index=True, width="stretch", key=key)
