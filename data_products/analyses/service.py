"""Analyses under research scenarios: apply, submit, run, check, review, release, view, download.

A research scenario (一场景一授权) is a row of the governance store's ``scenarios`` table whose
``product_id`` is a usable dataset's id and whose scope is ``analyse``: one organisation, one purpose,
one window, one dataset, approved by a commission official like any scenario. It lets the
organisation download the dataset's dummy data, submit analyses and download their released outputs.

An analysis goes: queued -> running -> awaiting_review (automatic checks passed) -> released (two
different commission reviewers, neither of them the requester, released it) or rejected (any reviewer
rejected it); or refused (the query or model spec broke a rule before running), stopped (time or
memory limit, engine error, or the scenario no longer active) or failed_checks (an automatic check
failed; the output is discarded). Until release the requester sees the status and the check results
only. Every step is a ledger entry, written in the same transaction as the state it records.

The record sets behind each output cell (64-bit hashes of record keys) stay in the restricted zone
(``<home>/analyses/cells/<id>.json``), for the differencing check of later outputs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from data_products.analyses import checks as oc
from data_products.analyses import sqlcheck
from data_products.config import min_cell, paths
from data_products.governance import ledger, two_person
from data_products.governance.accounts import Principal, check_session
from data_products.governance.policy import actor_of, allowed
from data_products.governance.store import GovernanceStore, Tx, as_utc, from_db, resolve, to_db, utcnow
from data_products.private import private_dir
from data_products.specialty import DICTIONARIES, dictionary

SCOPE = "analyse"
REVIEWS_TO_RELEASE = 2
STATES = ("queued", "running", "refused", "stopped", "failed_checks", "awaiting_review", "released", "rejected")
MAX_REQUEST = 20_000


class AnalysisError(ValueError):
    """Not allowed or bad input; the message says which."""


@dataclass(frozen=True)
class Analysis:
    id: int
    scenario_id: int
    dataset_id: str
    org_id: int
    requester: str
    kind: str
    request: str
    state: str
    message: str | None
    checks: list[dict]
    output: dict | None
    output_sha256: str | None
    submitted_at: datetime
    ran_at: datetime | None
    decided_at: datetime | None
    reviews: tuple[dict, ...] = ()


def ensure_schema(store: GovernanceStore | None = None) -> None:
    """The analyses tables are governance migration 2 (``store.MIGRATIONS``): opening the store made them."""
    resolve(store)


def _live(tx: Tx, principal: Principal, now: datetime):
    check = check_session(tx, principal, now, touch=True)
    if not check.ok:
        raise AnalysisError(f"session: {check.reason}; sign in again")
    return check.row


def _text(value: object, field: str, limit: int = 2000) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnalysisError(f"{field}: must not be empty")
    if len(value) > limit:
        raise AnalysisError(f"{field}: {len(value)} characters, at most {limit}")
    return value.strip()


# --- research scenarios ------------------------------------------------------------------------------------

def apply_research(principal: Principal, dataset_id: str, purpose: str, valid_from: date, valid_to: date, *,
                   now: datetime | None = None, store: GovernanceStore | None = None) -> int:
    """Apply for a research scenario on one dataset; it waits in the commission's scenario inbox."""
    store = resolve(store)
    now = now or utcnow()
    dictionary(dataset_id)
    purpose = _text(purpose, "purpose")
    start, end = as_utc(valid_from), as_utc(valid_to, end_of_day=True)
    if end <= start or end <= now:
        raise AnalysisError(f"valid_to: {valid_to} must be after valid_from {valid_from} and in the future")
    with store.write() as tx:
        who = _live(tx, principal, now)
        if not allowed(actor_of(who), "research.apply")[0]:
            raise AnalysisError(f"role: a {who['role']} does not apply for research scenarios")
        if tx.one("SELECT 1 FROM scenarios WHERE org_id = ? AND product_id = ? AND state = 'pending'",
                  (who["org_id"], dataset_id)) is not None:
            raise AnalysisError(f"dataset: {who['org_name']} already has a pending application for {dataset_id}")
        stamp = to_db(now)
        sid = tx.insert(
            "INSERT INTO scenarios (org_id, product_id, kind, purpose, scope, valid_from, valid_to, state,"
            " applied_by, applied_at) VALUES (?, ?, 'applied', ?, ?, ?, ?, 'pending', ?, ?)",
            (who["org_id"], dataset_id, purpose, SCOPE, to_db(start), to_db(end), who["username"], stamp))
        ledger.append(tx, who["username"], "scenario.apply", dataset_id, {
            "scenario_id": sid, "org_id": who["org_id"], "purpose": purpose, "scope": [SCOPE],
            "valid_from": to_db(start), "valid_to": to_db(end), "research": True})
        return sid


def _scenario_status(row, now: datetime) -> str:
    if row["state"] != "approved":
        return row["state"]
    if now < from_db(row["valid_from"]):
        return "not_yet_valid"
    if row["valid_to"] is not None and now >= from_db(row["valid_to"]):
        return "expired"
    return "active"


def _active_scenario(tx: Tx, org_id: int, dataset_id: str, now: datetime, scenario_id: int | None = None):
    rows = tx.all("SELECT * FROM scenarios WHERE org_id = ? AND product_id = ? AND scope = ? ORDER BY id DESC",
                  (org_id, dataset_id, SCOPE))
    if scenario_id is not None:
        rows = [r for r in rows if r["id"] == scenario_id]
        if not rows:
            return None, f"scenario {scenario_id} is not a research scenario of your organisation for {dataset_id}"
    for r in rows:
        if _scenario_status(r, now) == "active":
            return r, "active"
    if rows:
        return None, f"research scenario {rows[0]['id']} for {dataset_id} is {_scenario_status(rows[0], now)}"
    return None, f"your organisation holds no research scenario for {dataset_id}; apply in the catalog"


def decide_dataset(principal: Principal, dataset_id: str, action: str, *, scenario_id: int | None = None,
                   now: datetime | None = None, store: GovernanceStore | None = None,
                   detail: dict | None = None) -> int:
    """Allow ``action`` ('dummy' | 'analyse') on a dataset under an active research scenario, audited
    either way; returns the scenario id or raises ``AnalysisError``."""
    store = resolve(store)
    now = now or utcnow()
    # The deny is committed before the error is raised (raising inside the transaction would roll it back).
    with store.write() as tx:
        check = check_session(tx, principal, now, touch=True)
        if not check.ok:
            ledger.append(tx, getattr(principal, "username", "anonymous"), "gate.deny", dataset_id,
                          {"action": action, "reason": check.reason})
            row, why = None, f"session: {check.reason}; sign in again"
        else:
            who = check.row
            row, why = _active_scenario(tx, who["org_id"], dataset_id, now, scenario_id)
            ledger.append(tx, who["username"], "gate.allow" if row is not None else "gate.deny", dataset_id, {
                "action": action, "reason": "research_scenario" if row is not None else why,
                "scenario_id": row["id"] if row is not None else scenario_id, **(detail or {})})
    if row is None:
        raise AnalysisError(why)
    return int(row["id"])


def research_scenarios(principal: Principal, *, store: GovernanceStore | None = None) -> list[dict]:
    """The organisation's research scenarios with their status now (for the analyses page)."""
    store = resolve(store)
    now = utcnow()
    rows = store.query("SELECT * FROM scenarios WHERE org_id = ? AND scope = ? ORDER BY id DESC",
                       (principal.org_id, SCOPE))
    return [{"id": r["id"], "dataset_id": r["product_id"], "purpose": r["purpose"], "status": _scenario_status(r, now),
             "valid_from": from_db(r["valid_from"]), "valid_to": from_db(r["valid_to"])} for r in rows]


# --- submit and run ----------------------------------------------------------------------------------------

def _row(tx_or_store, analysis_id: int):
    row = tx_or_store.one("SELECT * FROM analyses WHERE id = ?", (int(analysis_id),))
    if row is None:
        raise AnalysisError(f"analysis: no analysis {analysis_id}")
    return row


def _analysis(row, reviews=()) -> Analysis:
    return Analysis(
        id=row["id"], scenario_id=row["scenario_id"], dataset_id=row["dataset_id"], org_id=row["org_id"],
        requester=row["requester"], kind=row["kind"], request=row["request"], state=row["state"],
        message=row["message"], checks=json.loads(row["checks"]) if row["checks"] else [],
        output=json.loads(row["output"]) if row["output"] else None, output_sha256=row["output_sha256"],
        submitted_at=from_db(row["submitted_at"]), ran_at=from_db(row["ran_at"]),
        decided_at=from_db(row["decided_at"]), reviews=tuple(reviews))


def _reviews(store, analysis_id: int) -> list[dict]:
    return [dict(r) for r in store.query("SELECT reviewer, decision, reason, at FROM analysis_reviews"
                                         " WHERE analysis_id = ? ORDER BY id", (analysis_id,))]


def _precheck(d, kind: str, request: str) -> tuple[str | None, dict | None]:
    """The rewritten SQL (or the model spec) if the request passes the parser and column control list."""
    from data_products.analyses import models, runner
    if kind == "sql":
        return sqlcheck.check(request, d, runner.MAX_ROWS).sql, None
    spec = models.validate(d, models.parse_spec(request))
    if spec["model"] == "summary":
        return sqlcheck.check(models.summary_sql(d, spec), d, runner.MAX_ROWS).sql, spec
    return None, spec


def submit(principal: Principal, scenario_id: int, dataset_id: str, *, sql: str | None = None,
           model: str | dict | None = None, run_now: bool = True, now: datetime | None = None,
           store: GovernanceStore | None = None) -> Analysis:
    """Queue an analysis under the requester's active research scenario (and run it unless ``run_now``
    is False). A request that breaks a rule is stored as refused, with the rule, and never runs."""
    store = resolve(store)
    ensure_schema(store)
    now = now or utcnow()
    if (sql is None) == (model is None):
        raise AnalysisError("give either a SQL query or a model spec")
    d = dictionary(dataset_id)
    kind = "sql" if sql is not None else "model"
    request = sql if sql is not None else (model if isinstance(model, str) else json.dumps(model, ensure_ascii=False))
    request = _text(request, kind, MAX_REQUEST)
    sid = decide_dataset(principal, dataset_id, SCOPE, scenario_id=scenario_id, now=now, store=store)
    refused = None
    try:
        rewritten, _ = _precheck(d, kind, request)
    except sqlcheck.QueryRefused as exc:
        refused, rewritten = exc, None
    with store.write() as tx:
        who = _live(tx, principal, now)
        state = "refused" if refused else "queued"
        checks = [oc.Check(refused.rule, False, str(refused)).as_dict()] if refused else []
        aid = tx.insert(
            "INSERT INTO analyses (scenario_id, dataset_id, org_id, requester, kind, request, state, message, rewritten,"
            " checks, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sid, dataset_id, who["org_id"], who["username"], kind, request, state, str(refused) if refused else None,
             rewritten, json.dumps(checks, ensure_ascii=False), to_db(now)))
        ledger.append(tx, who["username"], "analysis.submit", dataset_id, {
            "analysis_id": aid, "scenario_id": sid, "kind": kind,
            "request_sha256": hashlib.sha256(request.encode("utf-8")).hexdigest()})
        if refused:
            ledger.append(tx, "system", "analysis.refused", dataset_id, {
                "analysis_id": aid, "rule": refused.rule, "column": refused.column, "message": str(refused)[:500]})
    if not refused and run_now:
        return run(aid, store=store)
    return get_for_system(aid, store=store)


def run_in_worker(analysis_id: int, *, timeout_s: float | None = None) -> Analysis:
    """Run a queued analysis in a separate process (the command line's ``analyses run``), so the app's
    process never opens the restricted store; the page waits for it."""
    import subprocess
    import sys

    from data_products.analyses.runner import time_limit

    limit = timeout_s or time_limit() + 60
    try:
        subprocess.run([sys.executable, "-m", "data_products", "analyses", "run", str(int(analysis_id))],
                       capture_output=True, timeout=limit, check=False,
                       env={**os.environ, "DATASPACE_HOME": str(paths().home)})
    except subprocess.TimeoutExpired:
        pass
    a = get_for_system(analysis_id)
    if a.state in ("queued", "running"):
        _stop(resolve(None), analysis_id, a.dataset_id, "stopped", f"stopped: the worker did not finish in {limit:g} s")
        a = get_for_system(analysis_id)
    return a


def _cells_dir():
    return paths().home / "analyses" / "cells"


def _save_cells(aid: int, cells: list[oc.Cell]) -> None:
    private_dir(_cells_dir().parent)
    folder = private_dir(_cells_dir())
    path = folder / f"{aid}.json"
    data = json.dumps({c.label: sorted(int(k) for k in c.keys) for c in cells})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)


def _load_cells(aid: int) -> list[oc.Cell]:
    path = _cells_dir() / f"{aid}.json"
    if not path.exists():
        return []
    return [oc.Cell(label, frozenset(keys)) for label, keys in json.loads(path.read_text(encoding="utf-8")).items()]


def _earlier(store, org_id: int, dataset_id: str, aid: int) -> dict[str, list[oc.Cell]]:
    rows = store.query("SELECT id FROM analyses WHERE org_id = ? AND dataset_id = ? AND id != ?"
                       " AND state IN ('released', 'awaiting_review') ORDER BY id", (org_id, dataset_id, aid))
    return {f"analysis #{r['id']}": _load_cells(r["id"]) for r in rows}


def _stop(store, aid: int, dataset_id: str, state: str, message: str, checks: list[dict] | None = None) -> None:
    with store.write() as tx:
        tx.execute("UPDATE analyses SET state = ?, message = ?, checks = COALESCE(?, checks), ran_at = ? WHERE id = ?",
                   (state, message, json.dumps(checks, ensure_ascii=False) if checks is not None else None,
                    to_db(utcnow()), aid))
        ledger.append(tx, "system", f"analysis.{state}", dataset_id, {"analysis_id": aid, "message": message[:500]})


def run(analysis_id: int, *, limit_s: float | None = None, store: GovernanceStore | None = None) -> Analysis:
    """Run a queued analysis in the restricted zone and check its output. The scenario must still be
    active: a revoked or expired one stops the analysis before it reads anything."""
    # The engine is loaded only where an analysis runs (the command line's worker), not by pages that list.
    from data_products.analyses import models, runner

    store = resolve(store)
    ensure_schema(store)
    now = utcnow()
    with store.write() as tx:
        row = _row(tx, analysis_id)
        if row["state"] != "queued":
            raise AnalysisError(f"analysis {analysis_id}: is {row['state']}, only a queued one runs")
        sc = tx.one("SELECT * FROM scenarios WHERE id = ?", (row["scenario_id"],))
        status = _scenario_status(sc, now)
        if status != "active":
            message = f"stopped: research scenario {sc['id']} is {status}"
            tx.execute("UPDATE analyses SET state = 'stopped', message = ?, ran_at = ? WHERE id = ?",
                       (message, to_db(now), analysis_id))
            ledger.append(tx, "system", "analysis.stopped", row["dataset_id"],
                          {"analysis_id": analysis_id, "message": message})
            return _analysis(_row(tx, analysis_id))
        tx.execute("UPDATE analyses SET state = 'running', ran_at = ? WHERE id = ?", (to_db(now), analysis_id))
        ledger.append(tx, "system", "analysis.run", row["dataset_id"], {
            "analysis_id": analysis_id, "scenario_id": row["scenario_id"],
            "sql_sha256": hashlib.sha256((row["rewritten"] or row["request"]).encode("utf-8")).hexdigest()})
    d = dictionary(row["dataset_id"])
    threshold = min_cell()
    try:
        con = runner.connect(paths().restricted_db, d)
        try:
            if row["rewritten"]:
                checked = sqlcheck.check(row["request"] if row["kind"] == "sql"
                                         else models.summary_sql(d, models.parse_spec(row["request"])),
                                         d, runner.MAX_ROWS)
                output, report = runner.run_sql(con, checked, threshold, limit_s)
            else:
                spec = models.validate(d, models.parse_spec(row["request"]))
                output, report = models.run_model(con, d, spec, threshold, limit_s)
        finally:
            con.close()
    except runner.Stopped as exc:
        _stop(store, analysis_id, row["dataset_id"], "stopped", str(exc))
        return get_for_system(analysis_id, store=store)
    oc.differencing(report, _earlier(store, row["org_id"], row["dataset_id"], analysis_id), threshold)
    checks = [c.as_dict() for c in report.checks]
    if not report.passed:
        failure = report.first_failure()
        _stop(store, analysis_id, row["dataset_id"], "failed_checks", f"{failure.rule}: {failure.detail}", checks)
        return get_for_system(analysis_id, store=store)
    _save_cells(analysis_id, report.cells)
    body = json.dumps(output.as_dict(), ensure_ascii=False, sort_keys=True, default=str)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    with store.write() as tx:
        tx.execute("UPDATE analyses SET state = 'awaiting_review', checks = ?, output = ?, output_sha256 = ?,"
                   " message = NULL WHERE id = ?", (json.dumps(checks, ensure_ascii=False), body, digest, analysis_id))
        ledger.append(tx, "system", "analysis.checks", row["dataset_id"], {
            "analysis_id": analysis_id, "passed": True, "rules": sorted({c["rule"] for c in checks}),
            "output_sha256": digest, "rows": len(output.rows)})
    return get_for_system(analysis_id, store=store)


def run_queued(*, store: GovernanceStore | None = None) -> list[Analysis]:
    store = resolve(store)
    ensure_schema(store)
    done = []
    for r in store.query("SELECT id FROM analyses WHERE state = 'queued' ORDER BY id"):
        try:
            done.append(run(r["id"], store=store))
        except AnalysisError:
            continue  # another worker took it meanwhile
    return done


# --- review and release -------------------------------------------------------------------------------------

def review(reviewer: Principal, analysis_id: int, decision: str, reason: str, *, now: datetime | None = None,
           store: GovernanceStore | None = None) -> Analysis:
    """One commission reviewer's decision. Two different reviewers, neither the requester, release; one reject
    rejects. A reviewer decides once; the scenario must still be active to release."""
    store = resolve(store)
    ensure_schema(store)
    now = now or utcnow()
    if decision not in ("release", "reject"):
        raise AnalysisError("decision: release or reject")
    reason = _text(reason, "reason")
    with store.write() as tx:
        who = _live(tx, reviewer, now)
        row = _row(tx, analysis_id)
        if not allowed(actor_of(who), "analysis.review")[0]:
            raise AnalysisError(f"reviewer: {who['username']} is a {who['role']}; only commission reviewers review")
        if row["state"] != "awaiting_review":
            raise AnalysisError(f"analysis {analysis_id}: is {row['state']}, not awaiting review")
        earlier = [r["reviewer"] for r in tx.all("SELECT reviewer FROM analysis_reviews WHERE analysis_id = ?",
                                                 (analysis_id,))]
        try:
            two_person.check_approver(who["username"], approved_by=earlier, requested_by=[row["requester"]])
        except two_person.FourEyesError as exc:
            raise AnalysisError(f"reviewer: {exc} (analysis {analysis_id}: already reviewed, or submitted, "
                                "by this reviewer)") from None
        tx.insert("INSERT INTO analysis_reviews (analysis_id, reviewer, decision, reason, at) VALUES (?, ?, ?, ?, ?)",
                  (analysis_id, who["username"], decision, reason, to_db(now)))
        ledger.append(tx, who["username"], "analysis.review", row["dataset_id"], {
            "analysis_id": analysis_id, "decision": decision, "reason": reason, "output_sha256": row["output_sha256"]})
        if decision == "reject":
            tx.execute("UPDATE analyses SET state = 'rejected', decided_at = ? WHERE id = ?", (to_db(now), analysis_id))
            ledger.append(tx, who["username"], "analysis.rejected", row["dataset_id"], {"analysis_id": analysis_id})
        else:
            releases = [r["reviewer"] for r in tx.all(
                "SELECT reviewer FROM analysis_reviews WHERE analysis_id = ? AND decision = 'release' ORDER BY id",
                (analysis_id,))]
            if two_person.complete(releases, REVIEWS_TO_RELEASE):
                sc = tx.one("SELECT * FROM scenarios WHERE id = ?", (row["scenario_id"],))
                status = _scenario_status(sc, now)
                if status != "active":
                    raise AnalysisError(f"analysis {analysis_id}: research scenario {sc['id']} is {status}; "
                                        "nothing is released under it")
                tx.execute("UPDATE analyses SET state = 'released', decided_at = ? WHERE id = ?",
                           (to_db(now), analysis_id))
                ledger.append(tx, who["username"], "analysis.released", row["dataset_id"], {
                    "analysis_id": analysis_id, "reviewers": two_person.distinct(releases),
                    "output_sha256": row["output_sha256"]})
        row = _row(tx, analysis_id)
    return _analysis(row, _reviews(store, analysis_id))


# --- what each person may see --------------------------------------------------------------------------------

def get_for_system(analysis_id: int, *, store: GovernanceStore | None = None) -> Analysis:
    store = resolve(store)
    return _analysis(_row(store, analysis_id), _reviews(store, analysis_id))


def _redact(a: Analysis, reviewer: bool) -> Analysis:
    if reviewer or a.state == "released":
        return a
    return Analysis(**{**a.__dict__, "output": None})


def view(principal: Principal, analysis_id: int, *, now: datetime | None = None,
         store: GovernanceStore | None = None) -> Analysis:
    """An analysis as this person may see it (audited): the requester's organisation sees the output only
    once released; commission reviewers see it to review it; anyone else sees nothing."""
    store = resolve(store)
    ensure_schema(store)
    now = now or utcnow()
    with store.write() as tx:
        who = _live(tx, principal, now)
        row = _row(tx, analysis_id)
        reviewer = allowed(actor_of(who), "analysis.review")[0]
        denied = not reviewer and row["org_id"] != who["org_id"]
        if denied:
            ledger.append(tx, who["username"], "analysis.view_denied", row["dataset_id"], {"analysis_id": analysis_id})
    if denied:
        raise AnalysisError(f"analysis {analysis_id}: not an analysis of your organisation")
    with store.write() as tx:
        a = _analysis(row)
        shown = reviewer or a.state == "released"
        ledger.append(tx, who["username"], "analysis.view", row["dataset_id"],
                      {"analysis_id": analysis_id, "state": a.state, "output_shown": bool(shown and a.output)})
    return _redact(_analysis(row, _reviews(store, analysis_id)), reviewer)


def listing(principal: Principal, *, store: GovernanceStore | None = None) -> list[Analysis]:
    """The organisation's analyses (reviewers: all of them), newest first, outputs redacted as in ``view``."""
    store = resolve(store)
    ensure_schema(store)
    with store.read() as tx:
        who = check_session(tx, principal, utcnow(), touch=False)
        if not who.ok:
            raise AnalysisError(f"session: {who.reason}; sign in again")
        reviewer = allowed(actor_of(who.row), "analysis.review")[0]
        rows = (tx.all("SELECT * FROM analyses ORDER BY id DESC") if reviewer else
                tx.all("SELECT * FROM analyses WHERE org_id = ? ORDER BY id DESC", (who.row["org_id"],)))
    return [_redact(_analysis(r, _reviews(store, r["id"])), reviewer) for r in rows]


def inbox(principal: Principal, *, store: GovernanceStore | None = None) -> list[Analysis]:
    """Outputs waiting for this reviewer: awaiting review, not theirs, not yet reviewed by them."""
    return [a for a in listing(principal, store=store) if a.state == "awaiting_review"
            and a.requester != principal.username and all(r["reviewer"] != principal.username for r in a.reviews)]


def download(principal: Principal, analysis_id: int, *, now: datetime | None = None,
             store: GovernanceStore | None = None) -> tuple[str, bytes]:
    """A released output as CSV for its organisation (under an active research scenario), audited."""
    store = resolve(store)
    ensure_schema(store)
    now = now or utcnow()
    row = _row(store, analysis_id)
    if row["org_id"] != principal.org_id:
        with store.write() as tx:
            ledger.append(tx, principal.username, "analysis.download_denied", row["dataset_id"],
                          {"analysis_id": analysis_id, "reason": "other organisation"})
        raise AnalysisError(f"analysis {analysis_id}: not an analysis of your organisation")
    if row["state"] != "released":
        with store.write() as tx:
            ledger.append(tx, principal.username, "analysis.download_denied", row["dataset_id"],
                          {"analysis_id": analysis_id, "reason": row["state"]})
        raise AnalysisError(f"analysis {analysis_id}: is {row['state']}; only a released output can be downloaded")
    decide_dataset(principal, row["dataset_id"], "download_output", now=now, store=store,
                   detail={"analysis_id": analysis_id})
    out = json.loads(row["output"])
    import pandas as pd

    buf = io.StringIO()
    buf.write(f"# analysis {analysis_id}, dataset {row['dataset_id']}, synthetic demonstration data; "
              f"checked and released by two commission reviewers\n")
    pd.DataFrame(out["rows"], columns=out["columns"]).to_csv(buf, index=False, lineterminator="\n")
    data = buf.getvalue().encode("utf-8")
    name = f"analysis_{analysis_id}_{row['dataset_id']}.csv"
    with store.write() as tx:
        ledger.append(tx, principal.username, "analysis.download", row["dataset_id"], {
            "analysis_id": analysis_id, "artifact": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return name, data


def history(org_id: int, dataset_id: str, *, store: GovernanceStore | None = None) -> list[dict[str, Any]]:
    """The requester organisation's analyses on a dataset, for the reviewer's inbox."""
    store = resolve(store)
    ensure_schema(store)
    return [dict(r) for r in store.query(
        "SELECT id, requester, kind, state, submitted_at, message FROM analyses WHERE org_id = ? AND dataset_id = ?"
        " ORDER BY id DESC", (org_id, dataset_id))]


def usable_datasets() -> list[str]:
    return sorted(DICTIONARIES)


def dummy_download(principal: Principal, dataset_id: str, *, now: datetime | None = None,
                   store: GovernanceStore | None = None) -> tuple[str, bytes]:
    """The dataset's dummy data for a holder of an active research scenario on it (gate decision and
    download both in the ledger)."""
    from data_products.analyses.dummy import dummy_csv

    store = resolve(store)
    d = dictionary(dataset_id)
    sid = decide_dataset(principal, dataset_id, "dummy", now=now, store=store)
    data = dummy_csv(d)
    name = f"{dataset_id}_dummy.csv"
    with store.write() as tx:
        ledger.append(tx, principal.username, "download", dataset_id, {
            "artifact": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "scenario_id": sid,
            "dummy": True})
    return name, data
