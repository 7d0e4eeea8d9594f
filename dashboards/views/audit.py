"""The audit ledger, read only: filter by actor, action family and time; check the hash chain.

There is nothing here that changes an entry (the ledger module has no such function). Exporting the
filtered view is itself written to the ledger, with the filters and the file's hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

import pandas as pd
import streamlit as st

from dashboards.ui import download_button, lang, require_principal, show_table, synthetic_banner
from data_products.governance import entries, get_store, governance_role, verify
from data_products.governance import ledger as ledger_module
from data_products.governance.cli import published_heads
from data_products.governance.ledger import VerifyResult
from data_products.governance.report import admin_report
from data_products.governance.store import LOCAL, LedgerKeyError, as_utc
from data_products.i18n import t

FAMILIES = ("auth.", "gate.", "download", "scenario.", "order.", "release.", "user.", "org.", "audit.")
PAGE_SIZES = (100, 500, 2000)

MESSAGES = {
    "aud.title": {"zh": "审计日志", "en": "Audit ledger"},
    "aud.guarantee_title": {"zh": "本日志保证什么、不保证什么", "en": "What this ledger guarantees, and what not"},
    "aud.not_commission": {"zh": "本页仅供广州市卫生健康委员会使用。", "en": "This page is for the Guangzhou Health Commission only."},
    "aud.intro": {
        "zh": "审计日志只可追加，本页只读。每条记录含前一条记录的哈希（SHA-256 链），并带有以独立密钥文件计算的"
              "消息认证码（HMAC-SHA256）；每次批准数据发布时，当时的日志头（序号与哈希）写入该发布的元数据并追加到"
              "公开的锚点文件。",
        "en": "The ledger is append-only and this page is read only. Each entry carries the previous entry's hash "
              "(a SHA-256 chain) and a MAC (HMAC-SHA256) under a key kept in its own file, outside the store; every "
              "release approval writes the ledger head (sequence and hash) into the release's metadata and appends "
              "it to a published anchor file.",
    },
    "aud.guarantee": {
        "zh": "**保证：** 无密钥者对日志的任何修改、删除、插入或重算都会使校验失败；持有密钥者也无法在不被发现的"
              "情况下改写、删除或截断最近一次公开日志头之前的任何记录（以锚点文件副本核对：`dataspace audit verify"
              " --anchor 文件`）。\n\n**不保证：** 同时持有数据库文件写权限和密钥的人，可以删除或伪造最近一次公开日志头"
              "**之后**的记录，直到下一次公开（每次批准发布、以及定期运行 `dataspace audit anchor` 时）；锚点文件"
              "必须复制到本机之外才能防范本机管理员；日志记录的是系统所做的决定，不能证明操作者的意图；密钥丢失后旧记录"
              "无法再校验消息认证码。",
        "en": "**Guaranteed:** any change, removal, insertion or recomputation by someone without the key fails "
              "verification; even the key's holder cannot rewrite, remove or truncate entries up to the newest "
              "published head without detection (check against a copy of the anchor file: `dataspace audit verify "
              "--anchor FILE`).\n\n**Not guaranteed:** someone holding both write access to the store and the key "
              "can drop or forge entries written **after** the newest published head, until the next one is "
              "published (every release approval, and `dataspace audit anchor` run regularly); the anchor file "
              "protects against this machine's administrators only once copied off the machine; the ledger records "
              "what the system decided, not anyone's intent; if the key is lost, old entries' MACs can no longer be "
              "checked.",
    },
    "aud.verify_ok": {"zh": "哈希链校验通过：共 {n} 条记录；每条记录的消息认证码及 {a} 个已公开日志头均一致。",
                      "en": "Hash chain verified: {n} entries; every entry's MAC and {a} published head(s) agree."},
    "aud.after_head": {"zh": "第 {first}–{n} 条记录在最近一次公开日志头之后，尚未受锚点保护。",
                       "en": "Entries {first}–{n} come after the newest published head and are not yet anchored."},
    "aud.report": {"zh": "管理员审计报告（近 30 天）：谁、何时、对什么、依据何种授权",
                   "en": "Administrators' audit report (last 30 days): who touched what, when, under which authorization"},
    "aud.report_note": {"zh": "完整报告：`dataspace audit report --days N`。",
                        "en": "Full report: `dataspace audit report --days N`."},
    "aud.verify_bad": {"zh": "哈希链校验失败（第 {seq} 条）：{problem}",
                       "en": "Hash chain broken at entry {seq}: {problem}"},
    "aud.actor": {"zh": "操作者（用户名，精确匹配）", "en": "Actor (username, exact)"},
    "aud.family": {"zh": "操作类别", "en": "Action family"},
    "aud.family.all": {"zh": "全部", "en": "All"},
    "aud.family.auth.": {"zh": "登录与退出", "en": "Sign-in and sign-out"},
    "aud.family.gate.": {"zh": "访问决定（允许/拒绝）", "en": "Access decisions (allow/deny)"},
    "aud.family.download": {"zh": "下载", "en": "Downloads"},
    "aud.family.scenario.": {"zh": "使用场景", "en": "Scenarios"},
    "aud.family.order.": {"zh": "订单", "en": "Orders"},
    "aud.family.release.": {"zh": "数据发布", "en": "Releases"},
    "aud.family.user.": {"zh": "用户管理", "en": "Users"},
    "aud.family.org.": {"zh": "机构管理", "en": "Organisations"},
    "aud.family.audit.": {"zh": "审计日志导出", "en": "Ledger exports"},
    "aud.since": {"zh": "起始日期（含）", "en": "From (inclusive)"},
    "aud.until": {"zh": "截止日期（含）", "en": "To (inclusive)"},
    "aud.limit": {"zh": "显示条数上限", "en": "Show at most"},
    "aud.shown": {"zh": "显示 {n} 条记录（最新在前）。", "en": "{n} entries shown, newest first."},
    "aud.capped": {"zh": "已达上限，请缩小筛选范围或提高上限。", "en": "Limit reached: narrow the filters or raise the limit."},
    "aud.empty": {"zh": "没有符合条件的记录。", "en": "No entry matches."},
    "aud.bad_range": {"zh": "截止日期早于起始日期。", "en": "The end date is before the start date."},
    "aud.export": {"zh": "导出当前筛选结果（CSV）", "en": "Export the filtered view (CSV)"},
    "aud.col.seq": {"zh": "序号", "en": "Seq"},
    "aud.col.time": {"zh": "时间（北京时间）", "en": "Time (Beijing)"},
    "aud.col.actor": {"zh": "操作者", "en": "Actor"},
    "aud.col.action": {"zh": "操作", "en": "Action"},
    "aud.col.target": {"zh": "对象", "en": "Target"},
    "aud.col.detail": {"zh": "详情", "en": "Detail"},
    "aud.col.hash": {"zh": "哈希（前 12 位）", "en": "Hash (first 12)"},
    # Dotted actions (gate.allow, scenario.approve, ...) are identifiers and stay as recorded; the two
    # bare ones read as words, so they are shown in the page's language (the export keeps the identifier).
    "aud.act.download": {"zh": "下载", "en": "download"},
    "aud.act.export": {"zh": "导出", "en": "export"},
}


def param_date(name: str) -> date | None:
    try:
        return date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return None


def sync_param(name: str, value: str | None) -> None:
    """Filters live in the URL so a filtered view can be shared."""
    if value:
        if st.query_params.get(name) != value:
            st.query_params[name] = value
    elif name in st.query_params:
        del st.query_params[name]


def record_export(username: str, filters: dict, rows: int, digest: str) -> None:
    ledger_module.record(username, "audit.export", "ledger", {"filters": filters, "rows": rows, "sha256": digest})


lng = lang()
user = require_principal()
st.title(t("aud.title", lng))
synthetic_banner(lng)

if governance_role(user, "audit") is None:
    st.error(t("aud.not_commission", lng), icon=":material/block:")
    st.stop()

st.caption(t("aud.intro", lng))
with st.expander(t("aud.guarantee_title", lng)):
    st.markdown(t("aud.guarantee", lng))
store = get_store()
try:
    result = verify(anchors=published_heads(store))
except (LedgerKeyError, ValueError) as exc:
    result = VerifyResult(False, 0, None, str(exc))
if result.ok:
    st.success(t("aud.verify_ok", lng, n=result.entries, a=result.anchors_checked), icon=":material/verified:")
    if result.entries > result.newest_anchor:
        st.caption(t("aud.after_head", lng, first=result.newest_anchor + 1, n=result.entries))
else:
    st.error(t("aud.verify_bad", lng, seq=result.first_bad_seq, problem=result.problem), icon=":material/gpp_bad:")

# Computed only when asked for: it reads a month of the ledger.
if st.toggle(t("aud.report", lng), key="aud_report_on"):
    report = admin_report(store=store, check=False)
    show_table(pd.DataFrame(report["rows"]).iloc[::-1].head(500) if report["rows"] else pd.DataFrame(),
                 hide_index=True, width="stretch", key="aud_report")
    st.caption(t("aud.report_note", lng))

families = ("all", *FAMILIES)
family_param = st.query_params.get("family", "all")
cols = st.columns([2, 2, 1, 1, 1])
actor = cols[0].text_input(t("aud.actor", lng), value=st.query_params.get("actor", ""), max_chars=256,
                           key="aud_actor").strip()
family = cols[1].selectbox(t("aud.family", lng), families, index=families.index(family_param) if family_param in families else 0,
                           format_func=lambda f: t(f"aud.family.{f}", lng), key="aud_family")
since = cols[2].date_input(t("aud.since", lng), value=param_date("since"), key="aud_since")
until = cols[3].date_input(t("aud.until", lng), value=param_date("until"), key="aud_until")
limit_param = st.query_params.get("limit", "")
limit = cols[4].selectbox(t("aud.limit", lng), PAGE_SIZES,
                          index=PAGE_SIZES.index(int(limit_param)) if limit_param.isdigit() and int(limit_param) in PAGE_SIZES else 1,
                          key="aud_limit")

sync_param("actor", actor or None)
sync_param("family", None if family == "all" else family)
sync_param("since", since.isoformat() if isinstance(since, date) else None)
sync_param("until", until.isoformat() if isinstance(until, date) else None)
sync_param("limit", None if limit == 500 else str(limit))

if isinstance(since, date) and isinstance(until, date) and until < since:
    st.error(t("aud.bad_range", lng))
    st.stop()

# "download" is a single action; the other families are prefixes.
action = None if family == "all" else family
found = entries(
    actor=actor or None,
    action=action,
    since=as_utc(since) if isinstance(since, date) else None,
    until=as_utc(until, end_of_day=True) if isinstance(until, date) else None,
    limit=limit,
)

if not found:
    st.info(t("aud.empty", lng))
    st.stop()

st.caption(t("aud.shown", lng, n=len(found)))
if len(found) >= limit:
    st.warning(t("aud.capped", lng))

columns = ("seq", "time", "actor", "action", "target", "detail", "hash")
table = pd.DataFrame(
    [{
        "seq": e.seq,
        "time": e.time.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S"),
        "actor": e.actor,
        "action": e.action,
        "target": e.target or "",
        "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
        "hash": e.hash[:12],
    } for e in found],
    columns=columns,
)
shown = table.assign(action=[t(f"aud.act.{a}", lng) if a in ("download", "export") else a for a in table["action"]])
show_table(shown.rename(columns={c: t(f"aud.col.{c}", lng) for c in columns}), hide_index=True, width="stretch",
           key="aud_table")


def export_ledger() -> bytes:
    """Made on the click, not on every page load: the ledger goes to the media store only when asked for,
    and the role is decided again at that moment."""
    if governance_role(user, "audit") is None:
        raise PermissionError("the audit ledger export needs a commission role")
    export = table.assign(hash=[e.hash for e in found], prev_hash=[e.prev_hash for e in found])
    payload = export.to_csv(index=False).encode("utf-8-sig")
    filters = {"actor": actor or None, "family": None if family == "all" else family,
               "since": since.isoformat() if isinstance(since, date) else None,
               "until": until.isoformat() if isinstance(until, date) else None, "limit": limit}
    record_export(user.username, filters, len(export), hashlib.sha256(payload).hexdigest())
    return payload


stamp = datetime.now(LOCAL).strftime("%Y%m%d-%H%M%S")
download_button(t("aud.export", lng), export_ledger, f"audit-ledger-{stamp}.csv", "text/csv", key="aud_export")
