"""Plain functions behind `dataspace analyses ...`; each returns an exit code (2: bad input).

The acting user signs in: the password is read from ``DATASPACE_PASSWORD`` (or prompted for in a
terminal), never trusted from ``--by``/``--user`` alone. ``list`` and ``show`` without a user print
status and check results only, never an output.
"""

from __future__ import annotations

import getpass
import json as _json
import os
import sys
from pathlib import Path

from data_products.analyses import service
from data_products.analyses.sqlcheck import QueryRefused
from data_products.governance import accounts

PASSWORD_ENV = "DATASPACE_PASSWORD"


def _err(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _principal(username: str) -> accounts.Principal | None:
    password = os.environ.get(PASSWORD_ENV)
    if not password and sys.stdin.isatty():
        password = getpass.getpass(f"Password for {username}: ")
    if not password:
        print(f"error: {username} must sign in: set {PASSWORD_ENV} or run in a terminal", file=sys.stderr)
        return None
    result = accounts.sign_in(username, password)
    if not result.ok:
        print(f"error: sign-in failed for {username}: {result.reason}", file=sys.stderr)
        return None
    return result.principal


def _summary(a: service.Analysis) -> dict:
    return {"id": a.id, "dataset": a.dataset_id, "scenario": a.scenario_id, "requester": a.requester,
            "kind": a.kind, "state": a.state, "message": a.message, "submitted_at": a.submitted_at.isoformat(),
            "reviews": [{k: r[k] for k in ("reviewer", "decision", "reason")} for r in a.reviews],
            "checks": a.checks}


def submit(scenario: int, dataset: str, sql: Path | None, model: Path | None, user: str) -> int:
    if (sql is None) == (model is None):
        return _err("give exactly one of --sql FILE or --model SPEC.json")
    source = sql or model
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _err(f"{source}: cannot read ({exc})")
    who = _principal(user)
    if who is None:
        return 2
    try:
        a = service.submit(who, scenario, dataset, sql=text if sql else None, model=text if model else None)
    except (service.AnalysisError, KeyError, QueryRefused) as exc:
        return _err(str(exc).strip("'\""))
    finally:
        accounts.sign_out(who)
    print(_json.dumps(_summary(a), ensure_ascii=False, indent=1))
    return 0 if a.state in ("awaiting_review", "queued") else 1


def list_(json: bool = False) -> int:  # noqa: A002
    service.ensure_schema()
    rows = [_summary(service.get_for_system(r["id"])) for r in
            service.resolve(None).query("SELECT id FROM analyses ORDER BY id DESC")]
    if json:
        print(_json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print(f"{len(rows)} analyses")
    for r in rows:
        print(f"  #{r['id']:<5} {r['state']:<16} {r['dataset']:<24} scenario {r['scenario']:<4} by {r['requester']}"
              f"{'  ' + r['message'] if r['message'] else ''}")
    return 0


def show(analysis_id: int, user: str | None = None) -> int:
    try:
        if user:
            who = _principal(user)
            if who is None:
                return 2
            try:
                a = service.view(who, analysis_id)
            finally:
                accounts.sign_out(who)
        else:
            service.ensure_schema()
            a = service.get_for_system(analysis_id)
            a = service.Analysis(**{**a.__dict__, "output": None})
    except service.AnalysisError as exc:
        return _err(str(exc))
    doc = _summary(a)
    doc["request"] = a.request
    doc["output"] = a.output
    print(_json.dumps(doc, ensure_ascii=False, indent=1, default=str))
    return 0


def review(analysis_id: int, decision: str, reason: str, by: str) -> int:
    if decision not in ("release", "reject"):
        return _err("--decision must be release or reject")
    who = _principal(by)
    if who is None:
        return 2
    try:
        a = service.review(who, analysis_id, decision, reason)
    except service.AnalysisError as exc:
        return _err(str(exc), 1)
    finally:
        accounts.sign_out(who)
    print(_json.dumps(_summary(a), ensure_ascii=False, indent=1))
    return 0


def run_queued() -> int:
    done = service.run_queued()
    for a in done:
        print(f"#{a.id} {a.state}{': ' + a.message if a.message else ''}")
    return 0


def run_one(analysis_id: int) -> int:
    try:
        a = service.run(analysis_id)
    except service.AnalysisError as exc:
        return _err(str(exc), 1)
    print(f"#{a.id} {a.state}{': ' + a.message if a.message else ''}")
    return 0
