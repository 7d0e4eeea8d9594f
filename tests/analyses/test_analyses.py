"""Analyses inside the space (issue 18): refused queries, column control, output checks, two reviewers,
revocation, dummy data and the ledger. One small home: the liver-cancer kind, generated and ingested."""

from __future__ import annotations

import hashlib
import os
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

DS = "ds_liver_cancer"


def _sign(username: str):
    from data_products.governance import demo_passwords, sign_in

    r = sign_in(username, demo_passwords()[username])
    assert r.ok, r.reason
    return r.principal


@pytest.fixture
def env(analyses_space, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(analyses_space["home"]))
    return analyses_space


def _submit(env, sql=None, model=None, user="company_none", **kw):
    from data_products.analyses import service

    return service.submit(_sign(user), env["scenario"], DS, sql=sql, model=model, **kw)


def _failed(a, rule):
    assert a.state == "failed_checks", (a.state, a.message)
    assert a.output is None
    bad = [c for c in a.checks if not c["passed"]]
    assert bad and bad[0]["rule"] == rule, a.checks
    return bad[0]["detail"]


# --- disclosive outputs ---------------------------------------------------------------------------------------

def _value_with_count(frame: pd.DataFrame, column: str, count: int):
    vc = frame[column].value_counts()
    hits = vc[vc == count]
    if hits.empty:
        pytest.skip(f"no {column} value with exactly {count} records in this seed")
    return hits.index[0]


def test_rows_per_pseudonym_are_refused(env):
    from data_products.analyses import checks

    a = _submit(env, "SELECT pseudonym, count(*) FROM ds_liver_cancer GROUP BY pseudonym")
    assert a.state == "refused" and a.checks[0]["rule"] == "column_control" and "pseudonym" in a.message
    report = checks.Report()
    checks.row_level(report, [["3f" * 32, 12]], 3000)
    assert not report.passed and report.checks[0].rule == "row_level" and "pseudonym" in report.checks[0].detail
    report = checks.Report()
    checks.row_level(report, [[i, 1] for i in range(40)], 40)
    assert not report.passed and "as many rows as records" in report.checks[0].detail


def test_a_count_of_three_is_refused(env):
    age = _value_with_count(env["records"], "age_years", 3)
    detail = _failed(_submit(env, f"SELECT count(*) AS n FROM ds_liver_cancer WHERE age_years = {age}"), "threshold")
    assert "3 records" in detail


def test_a_mean_over_two_people_is_refused(env):
    age = _value_with_count(env["records"], "age_years", 2)
    a = _submit(env, f"SELECT avg(los_days) FROM ds_liver_cancer WHERE age_years = {age}")
    _failed(a, "threshold")
    assert any("mean over 2 records" in c["detail"] for c in a.checks)


def test_a_sum_dominated_by_one_record_is_refused(env):
    cost = np.sort(env["records"]["total_cost_cny"].to_numpy())
    cut = float(cost[-2])
    a = _submit(env, f"SELECT sum(CASE WHEN total_cost_cny > {cut} THEN total_cost_cny * 1000000 ELSE total_cost_cny END)"
                     " AS s FROM ds_liver_cancer")
    assert "p-ratio" in _failed(a, "dominance")
    # The same sum without the inflated record passes.
    assert _submit(env, "SELECT hospital_tier, sum(total_cost_cny) AS s, count(*) AS n FROM ds_liver_cancer "
                        "GROUP BY hospital_tier").state == "awaiting_review"


def _ages_summing_to(frame: pd.DataFrame, target: int) -> list[int]:
    counts = frame["age_years"].value_counts().sort_values()
    reach: dict[int, list[int]] = {0: []}
    for age, c in counts.items():
        for total, ages in list(reach.items()):
            if total + c <= target and total + c not in reach:
                reach[total + c] = ages + [int(age)]
    if target not in reach:
        pytest.skip(f"no set of ages with exactly {target} complete records")
    return reach[target]


def test_a_regression_with_five_residual_degrees_of_freedom_is_refused(env):
    preds = ["age_years", "afp_ng_ml", "max_tumour_size_cm", "child_pugh_score", "ecog_ps", "admission_year",
             "os_months", "total_cost_cny"]
    k = len(preds) + 1  # with the constant
    complete = env["records"].dropna(subset=["los_days", *preds])
    ages = _ages_summing_to(complete, k + 5)
    a = _submit(env, model={"model": "linear", "outcome": "los_days", "predictors": preds,
                            "filters": [{"column": "age_years", "op": "in", "value": ages}]})
    assert "5 residual degrees of freedom" in _failed(a, "residual_df")


def test_two_outputs_that_differ_by_one_person_are_refused(env):
    age = _value_with_count(env["records"], "age_years", 1)
    first = _submit(env, f"SELECT count(*) AS n FROM ds_liver_cancer WHERE age_years >= {age}")
    assert first.state == "awaiting_review", first.message
    second = _submit(env, f"SELECT count(*) AS n FROM ds_liver_cancer WHERE age_years > {age}")
    detail = _failed(second, "differencing")
    assert f"analysis #{first.id}" in detail and "differ by 1 record" in detail


# --- column control and refused queries ----------------------------------------------------------------------

def test_a_column_used_against_its_control_list_is_refused(env):
    a = _submit(env, "SELECT treatment_date, count(*) FROM ds_liver_cancer GROUP BY treatment_date")
    assert a.state == "refused"
    assert a.checks[0]["rule"] == "column_control"
    assert "treatment_date" in a.message and "only inside an aggregate" in a.message
    # Inside an aggregate it is allowed (and the output still goes through the checks).
    ok = _submit(env, "SELECT cnlc_stage, count(treatment_date) AS n FROM ds_liver_cancer GROUP BY cnlc_stage")
    assert ok.state in ("awaiting_review", "failed_checks") and ok.state != "refused"


def _snapshot(home):
    out = {}
    for root, _, files in os.walk(home):
        for f in files:
            path = os.path.join(root, f)
            rel = os.path.relpath(path, home)
            if rel.startswith(("governance.sqlite", "analyses")):
                continue
            with open(path, "rb") as fh:
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.mark.parametrize("sql,rule,words", [
    ("SELECT count(*) FROM read_csv('{target}')", "function", "read_csv"),
    ("COPY (SELECT 1) TO '{target}'", "select_only", "COPY"),
    ("ATTACH '{target}' AS x", "select_only", "ATTACH"),
    ("PRAGMA database_list", "select_only", "PRAGMA"),
    ("INSTALL httpfs", "select_only", "INSTALL"),
    ("SELECT count(*) FROM cerebrovascular_admissions", "dataset", "cerebrovascular_admissions"),
    ("SELECT count(*) FROM restricted.main.liver_cancer_cases", "dataset", "not this analysis's dataset"),
    ("SELECT count(*) FROM ds_liver_cancer; SELECT 1", "single_statement", "one statement"),
    ("SELECT count(*) FROM glob('{target}')", "function", "glob"),
])
def test_forbidden_queries_are_refused_and_write_nothing(env, tmp_path, sql, rule, words):
    target = tmp_path / "leak.csv"
    before = _snapshot(env["home"])
    a = _submit(env, sql.format(target=target))
    assert a.state == "refused" and a.checks[0]["rule"] == rule and words in a.message, (a.state, a.message)
    assert a.ran_at is None
    assert not target.exists() and not list(tmp_path.iterdir())
    assert _snapshot(env["home"]) == before


def test_the_engine_itself_refuses_files_and_writes(env, tmp_path):
    from data_products.analyses import runner
    from data_products.config import paths
    from data_products.specialty import dictionary

    con = runner.connect(paths().restricted_db, dictionary(DS))
    try:
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            con.execute(f"SELECT * FROM read_csv('{tmp_path / 'x.csv'}')")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("CREATE TABLE restricted.main.leak AS SELECT 1")
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()


def test_a_query_past_the_time_limit_is_stopped(env, monkeypatch):
    from data_products.analyses import service

    a = _submit(env, "SELECT cnlc_stage, count(*) AS n FROM ds_liver_cancer GROUP BY cnlc_stage", run_now=False)
    assert a.state == "queued"
    stopped = service.run(a.id, limit_s=1e-9)
    assert stopped.state == "stopped" and "time limit" in stopped.message and stopped.output is None


# --- review ---------------------------------------------------------------------------------------------------

def test_a_safe_output_needs_two_different_reviewers(env):
    from data_products.analyses import service
    from data_products.governance import ledger

    company = _sign("company_none")
    a = _submit(env, "SELECT bclc_stage, count(*) AS n, median(os_months) AS os FROM ds_liver_cancer "
                     "GROUP BY bclc_stage")
    assert a.state == "awaiting_review", a.message
    mine = service.view(company, a.id)
    assert mine.output is None and mine.checks  # status and checks only
    with pytest.raises(service.AnalysisError, match="released"):
        service.download(company, a.id)
    with pytest.raises(service.AnalysisError, match="only commission reviewers"):
        service.review(company, a.id, "release", "my own output")
    official = _sign("official")
    assert service.view(official, a.id).output is not None  # reviewers see what they review
    assert service.review(official, a.id, "release", "counts and medians over large groups").state == "awaiting_review"
    with pytest.raises(service.AnalysisError, match="already reviewed"):
        service.review(official, a.id, "release", "again")
    assert service.get_for_system(a.id).state == "awaiting_review"
    released = service.review(_sign("analyst"), a.id, "release", "agree")
    assert released.state == "released"
    assert service.view(company, a.id).output["rows"]
    name, data = service.download(company, a.id)
    assert name.endswith(".csv") and b"bclc_stage" in data
    actions = [e.action for e in ledger.entries(target=DS, limit=2000, newest_first=False)
               if e.detail.get("analysis_id") == a.id]
    for step in ("analysis.submit", "analysis.run", "analysis.checks", "analysis.review", "analysis.released",
                 "analysis.view", "analysis.download"):
        assert step in actions, step
    assert actions.count("analysis.review") == 2


def test_a_commission_requester_cannot_review_their_own_output(env):
    from data_products.analyses import service

    a = _submit(env, "SELECT sex, count(*) AS n FROM ds_liver_cancer GROUP BY sex")
    assert a.state == "awaiting_review"
    with pytest.raises(service.AnalysisError):
        service.review(_sign("company_none"), a.id, "release", "x")
    service.review(_sign("official"), a.id, "reject", "not needed for the stated purpose")
    assert service.get_for_system(a.id).state == "rejected"
    with pytest.raises(service.AnalysisError, match="not awaiting review"):
        service.review(_sign("analyst"), a.id, "release", "late")


def test_a_revoked_scenario_stops_a_queued_analysis(env):
    from data_products.analyses import service
    from data_products.governance import approve, revoke

    company = _sign("company_none")
    sid = service.apply_research(company, "ds_cerebrovascular", "revocation test", date.today(),
                                 date.today() + timedelta(days=10))
    approve(_sign("official"), sid, "ok")
    a = service.submit(company, sid, "ds_cerebrovascular", sql="SELECT count(*) AS n FROM ds_cerebrovascular",
                       run_now=False)
    assert a.state == "queued"
    revoke(_sign("official"), sid, "purpose changed")
    stopped = service.run(a.id)
    assert stopped.state == "stopped" and f"scenario {sid} is revoked" in stopped.message
    with pytest.raises(service.AnalysisError, match="revoked"):
        service.submit(company, sid, "ds_cerebrovascular", sql="SELECT count(*) FROM ds_cerebrovascular")


def test_no_scenario_no_analysis_and_no_dummy(env):
    from data_products.analyses import service
    from data_products.governance import ledger

    other = _sign("company_jaundice")
    with pytest.raises(service.AnalysisError, match="no research scenario"):
        service.dummy_download(other, DS)
    with pytest.raises(service.AnalysisError):
        service.submit(other, env["scenario"], DS, sql="SELECT count(*) FROM ds_liver_cancer")
    denied = ledger.entries(actor="company_jaundice", action="gate.deny", target=DS)
    assert len(denied) >= 2


# --- dummy data -----------------------------------------------------------------------------------------------

def test_dummy_data_comes_from_the_dictionary_and_shares_no_row(env):
    import io

    from data_products.analyses import service
    from data_products.specialty import dictionary

    name, data = service.dummy_download(_sign("company_none"), DS)
    dummy = pd.read_csv(io.BytesIO(data), comment="#", dtype=str, keep_default_na=False)
    d = dictionary(DS)
    assert list(dummy.columns) == [f.name for f in d.view_fields()]
    for f in d.view_fields():
        col = dummy[f.name][dummy[f.name] != ""]
        if f.codes:
            assert set(col) <= set(f.codes), f.name
        if f.type in ("int", "float") and f.lo is not None:
            v = col.astype(float)
            assert v.min() >= f.lo and v.max() <= f.hi, f.name
    real = env["records"]
    key = ["age_years", "sex", "admission_date", "los_days", "total_cost_cny"]
    real_rows = set(map(tuple, real[key].astype(str).assign(admission_date=real["admission_date"].dt.strftime(
        "%Y-%m-%d")).to_numpy()))
    dummy_rows = set(map(tuple, dummy[key].to_numpy()))
    assert not real_rows & dummy_rows
    assert not set(dummy["pseudonym"]) & set(real["pseudonym"])


# --- command line ---------------------------------------------------------------------------------------------

def test_cli_submit_list_show_review(env, tmp_path, monkeypatch, capsys):
    import json

    from data_products.cli import main
    from data_products.governance import demo_passwords

    q = tmp_path / "q.sql"
    q.write_text("SELECT child_pugh, count(*) AS n FROM ds_liver_cancer GROUP BY child_pugh", encoding="utf-8")
    monkeypatch.delenv("DATASPACE_PASSWORD", raising=False)
    assert main(["analyses", "submit", "--scenario", str(env["scenario"]), "--dataset", DS, "--sql", str(q),
                 "--user", "company_none"]) == 2  # no password: no sign-in, nothing submitted
    monkeypatch.setenv("DATASPACE_PASSWORD", demo_passwords()["company_none"])
    capsys.readouterr()
    assert main(["analyses", "submit", "--scenario", str(env["scenario"]), "--dataset", DS, "--sql", str(q),
                 "--user", "company_none"]) == 0
    aid = json.loads(capsys.readouterr().out)["id"]
    assert main(["analyses", "list", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[aid]["state"] == "awaiting_review" and "output" not in listed[aid]
    assert main(["analyses", "show", str(aid)]) == 0
    assert json.loads(capsys.readouterr().out)["output"] is None
    # --by is not trusted: the reviewer must sign in with their own password.
    assert main(["analyses", "review", str(aid), "--decision", "release", "--reason", "ok", "--by", "official"]) == 2
    monkeypatch.setenv("DATASPACE_PASSWORD", demo_passwords()["official"])
    assert main(["analyses", "review", str(aid), "--decision", "release", "--reason", "ok", "--by", "official"]) == 0
    monkeypatch.setenv("DATASPACE_PASSWORD", demo_passwords()["analyst"])
    assert main(["analyses", "review", str(aid), "--decision", "release", "--reason", "ok", "--by", "analyst"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("DATASPACE_PASSWORD", demo_passwords()["company_none"])
    assert main(["analyses", "show", str(aid), "--user", "company_none"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "released" and shown["output"]["rows"]


def test_arithmetic_between_aggregates_is_refused(env):
    age = _value_with_count(env["records"], "age_years", 3)
    a = _submit(env, f"SELECT count(*) - count(CASE WHEN age_years <> {age} THEN 1 END) AS few FROM ds_liver_cancer")
    assert a.state == "refused" and "combines 2 aggregates" in a.message
    # As two columns, the nested record sets differ by those 3 records: the differencing check refuses.
    b = _submit(env, f"SELECT count(*) AS n, count(CASE WHEN age_years <> {age} THEN 1 END) AS m FROM ds_liver_cancer")
    assert "differ by 3 records" in _failed(b, "differencing")
