"""Plain functions behind `dataspace analyses ...`; each returns an exit code (2: bad input or no sign-in).

The acting user signs in like every other command (``governance.cli.authenticated``: the name from the
option or ``DATASPACE_USER``, the password from ``DATASPACE_PASSWORD`` or a prompt); ``--by``/``--user``
alone is never trusted. ``list`` and ``show`` without a user print status and check results only.
"""

from __future__ import annotations

import json as _json
import sys
from pathlib import Path

from data_products.analyses import service
from data_products.analyses.sqlcheck import QueryRefused
from data_products.governance.cli import CliAuthError, authenticated


def _err(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


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
    try:
        with authenticated(user) as (who, _):
            a = service.submit(who, scenario, dataset, sql=text if sql else None, model=text if model else None)
    except CliAuthError as exc:
        return _err(str(exc))
    except (service.AnalysisError, KeyError, QueryRefused) as exc:
        return _err(str(exc).strip("'\""))
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
            with authenticated(user) as (who, _):
                a = service.view(who, analysis_id)
        else:
            service.ensure_schema()
            a = service.get_for_system(analysis_id)
            a = service.Analysis(**{**a.__dict__, "output": None})
    except CliAuthError as exc:
        return _err(str(exc))
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
    try:
        with authenticated(by) as (who, _):
            a = service.review(who, analysis_id, decision, reason)
    except CliAuthError as exc:
        return _err(str(exc))
    except service.AnalysisError as exc:
        return _err(str(exc), 1)
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
