"""One grant per use: view functions take a grant only the gate mints; a page open writes one ledger
entry, a download one more, reruns none; exports run under a service principal's own scenario; the
role decisions (approve, catalog names, apply) come from the store, not the session's copy."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_products.governance import GrantError, entries
from data_products.governance.gate import GRANT_TTL, Grant, open_product, renew, use
from data_products.governance.store import utcnow
from data_products.products import registry
from data_products.products.pneumonia import views as pneumonia

ROOT = Path(__file__).resolve().parents[2]


def signed_in(username: str):
    from data_products.governance import demo_passwords, sign_in

    result = sign_in(username, demo_passwords()[username])
    assert result.ok, result.reason
    return result.principal
APP = str(ROOT / "dashboards" / "app.py")


def head() -> int:
    latest = entries(limit=1)
    return latest[0].seq if latest else 0


def since(seq: int):
    return [e for e in entries(limit=1000, newest_first=False) if e.seq > seq]


# --- the grant is a type only the gate mints -------------------------------------------------------------


def test_a_grant_cannot_be_made_outside_the_gate(demo):
    real = open_product(signed_in("official"), "pneumonia_atlas")
    with pytest.raises(GrantError):
        Grant(real.decision, real.release)
    with pytest.raises(GrantError):
        dataclasses.replace(real, _seal=object())
    # A hospital cannot widen its row scope by copying its grant with the commission's scope.
    hospital = open_product(signed_in("hospital_f0301"), "pneumonia_atlas")
    with pytest.raises(GrantError):
        Grant(dataclasses.replace(hospital.decision, row_scope=real.row_scope), hospital.release)
    widened = dataclasses.replace(hospital, decision=dataclasses.replace(hospital.decision, row_scope=real.row_scope))
    with pytest.raises(GrantError):
        pneumonia.facility_table(widened)
    assert set(pneumonia.facility_table(hospital)["facility_id"]) == {"F0301"}  # peers' rows are not there


def test_views_refuse_a_user_another_products_grant_and_an_expired_grant(demo):
    official = signed_in("official")
    with pytest.raises(GrantError):
        pneumonia.months(official)
    tumor_grant = open_product(official, "tumor_distribution")
    with pytest.raises(GrantError):
        pneumonia.months(tumor_grant)
    grant = open_product(official, "pneumonia_atlas")
    assert pneumonia.months(grant)
    with pytest.raises(GrantError):
        use(grant, "pneumonia_atlas", now=grant.issued_at + GRANT_TTL + timedelta(seconds=1))
    # A view grant is not an export grant.
    with pytest.raises(GrantError):
        use(grant, "pneumonia_atlas", ("export",))


def test_every_view_function_refuses_a_principal(demo):
    """Enforced for every view of every product, not by habit: each public function taking ``grant``
    raises GrantError when handed a signed-in user instead."""
    import inspect

    official = signed_in("official")
    checked = 0
    for definition in registry.all_products().values():
        for name, fn in inspect.getmembers(definition.views, inspect.isfunction):
            params = list(inspect.signature(fn).parameters)
            if name.startswith("_") or fn.__module__ != definition.views.__name__ or params[:1] != ["grant"]:
                continue
            args = [official] + ["x"] * sum(1 for p in inspect.signature(fn).parameters.values()
                                            if p.default is inspect.Parameter.empty and p.name != "grant")
            with pytest.raises(GrantError):
                fn(*args)
            checked += 1
    assert checked >= 40, checked


def test_renew_keeps_the_grant_until_the_scenario_changes(demo):
    from data_products.governance import list_scenarios, revoke
    from data_products.governance.store import resolve

    user = signed_in("company_jaundice")
    grant = open_product(user, "jaundice_report")
    assert renew(grant) is grant
    before = head()
    assert renew(grant) is grant
    assert head() == before  # a rerun under the grant writes nothing
    # Revocation wins at the next rerun (done on a copy of the store so the shared demo stays as built).
    import sqlite3
    import tempfile

    from data_products.governance.store import GovernanceStore

    official = signed_in("official")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "governance.sqlite"
        src, dst = sqlite3.connect(resolve(None).path), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()
        (Path(tmp) / "keys").mkdir(mode=0o700)
        key = Path(tmp) / "keys" / "ledger.key"
        key.write_bytes(resolve(None).key_path.read_bytes())
        key.chmod(0o600)
        store = GovernanceStore(copy)
        scenario = next(s for s in list_scenarios(product_id="jaundice_report", state="approved", store=store)
                        if s.kind == "applied")
        revoke(official, scenario.id, "test", store=store)
        assert renew(grant, store=store) is None
        assert renew(grant) is grant  # the untouched store still holds it


# --- one ledger entry per page open; a download one more; reruns none -------------------------------------

PAGES = {
    "pneumonia_atlas": "pneumonia.py",
    "tumor_distribution": "tumor.py",
    "wait_times": "wait_times.py",
    "jaundice_report": "jaundice.py",
    "elderly_weight_atlas": "elderly_weight.py",
}
ROLES = ("official", "analyst", "hospital_f0301", "company_jaundice")


def page(product_id: str, username: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboards" / "views" / PAGES[product_id]), default_timeout=120)
    at.query_params["lang"] = "en"
    at.session_state["principal"] = signed_in(username)
    return at


@pytest.mark.parametrize("username", ROLES)
@pytest.mark.parametrize("product_id", list(PAGES))
def test_rendering_a_product_page_once_writes_exactly_one_ledger_entry(demo, product_id, username):
    at = page(product_id, username)
    before = head()
    at.run()
    assert not at.exception, at.exception
    new = since(before)
    assert len(new) == 1, [(e.action, e.target) for e in new]
    (entry,) = new
    assert entry.target == product_id and entry.action in ("gate.allow", "gate.deny")
    if entry.action == "gate.allow":
        assert entry.detail["release_id"] == registry.product(product_id).release().release_id
        # A rerun (what a filter change does) under the same grant writes nothing.
        at.run()
        assert not at.exception
        assert head() == entry.seq


def test_the_atlas_records_the_opening_filters_and_a_download_is_one_more_entry(demo):
    at = page("pneumonia_atlas", "official")
    at.query_params["metric"] = "cases"
    before = head()
    at.run()
    (opened,) = since(before)
    assert opened.action == "gate.allow" and opened.detail["filters"]["metric"] == "cases"
    at.selectbox(key="age").set_value("lt1").run()  # a filter change: nothing new
    assert head() == opened.seq
    # The download button hands its callable to the browser (AppTest runs no JavaScript): call what a
    # click calls, under the page's own grant.
    grant = at.session_state["_grants"]["pneumonia_atlas"]
    pneumonia.download(grant, "cases", *pneumonia.months(grant)[:1] * 2)
    (download,) = since(opened.seq)
    assert download.action == "download" and download.target == "pneumonia_atlas"
    assert download.detail["artifact"].startswith("pneumonia_cases_") and len(download.detail["sha256"]) == 64
    assert download.detail["release_id"] == opened.detail["release_id"]


def test_the_atlas_through_the_app_writes_one_entry_and_the_month_player_none(demo):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "en"
    at.session_state["principal"] = signed_in("official")
    at.run()
    before = head()
    at.switch_page("views/pneumonia.py").run()
    assert not at.exception
    (opened,) = since(before)
    assert (opened.action, opened.target) == ("gate.allow", "pneumonia_atlas")
    at.toggle(key="play").set_value(True).run()
    assert not at.exception
    assert head() == opened.seq


def test_my_hospital_writes_one_entry_for_all_its_products(demo):
    at = AppTest.from_file(str(ROOT / "dashboards" / "views" / "my_hospital.py"), default_timeout=120)
    at.query_params["lang"] = "en"
    at.session_state["principal"] = signed_in("hospital_f0602")
    before = head()
    at.run()
    assert not at.exception, at.exception
    (entry,) = since(before)
    assert entry.action == "gate.page"
    shown = {pid for pid, d in entry.detail["decisions"].items() if d["allowed"]}
    assert {"pneumonia_atlas", "elderly_weight_atlas", "supplier_quality"} <= shown


def test_a_denied_page_open_is_one_deny_entry(demo):
    at = page("pneumonia_atlas", "company_none")
    before = head()
    at.run()
    (entry,) = since(before)
    assert entry.action == "gate.deny" and entry.detail["reason"] in ("no_scenario", "not_eligible")
    assert not at.dataframe


# --- exports under a service principal ------------------------------------------------------------------


def run_cli(*args: str):
    from typer.testing import CliRunner

    from data_products.cli import app

    return CliRunner().invoke(app, list(args))


def test_export_runs_under_the_demo_service_principal(demo, tmp_path):
    before = head()
    result = run_cli("export", "wait-times", "--out", str(tmp_path / "feed.json"))
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "feed.json").read_text(encoding="utf-8"))
    # In the demo space the demo's feed service acts without a token (as the demo's officials do).
    signed = [e for e in since(before) if e.action == "auth.sign_in"]
    assert [(e.actor, e.detail["via"]) for e in signed] == [("wait_times_feed", "demo")]
    (entry,) = [e for e in since(before) if e.action == "export"]
    assert (entry.actor, entry.action, entry.target) == ("wait_times_feed", "export", "wait_times")
    assert entry.detail["release_id"] == doc["release_id"]
    import hashlib

    assert entry.detail["sha256"] == hashlib.sha256((tmp_path / "feed.json").read_bytes()).hexdigest()


@pytest.mark.parametrize("service", ["nobody_feed", "official", "hospital_f0301"])
def test_export_is_refused_without_a_service_scenario(demo_copy, tmp_path, service, monkeypatch):
    # A copy: the token it issues must not reach the session's shared demo space (other tests count tokens).
    from data_products.governance.accounts import issue_token

    if service != "nobody_feed":  # a real user, proved by their own token, who holds no export scenario
        monkeypatch.setenv("DATASPACE_TOKEN", issue_token(service, actor="test")[1])
    before = head()
    result = run_cli("export", "wait-times", "--out", str(tmp_path / "feed.json"), "--service", service)
    assert result.exit_code == 2
    assert not (tmp_path / "feed.json").exists()
    if service == "nobody_feed":  # nobody can prove to be a service that does not exist
        assert "refused" in result.stderr and "no password for nobody_feed" in result.stderr
        assert not [e for e in since(before) if e.action == "export"]
        return
    assert "refused" in result.stderr and "service principal" in result.stderr
    (entry,) = [e for e in since(before) if e.action in ("gate.deny", "export")]
    assert entry.action == "gate.deny" and entry.detail["action"] == "export"


def test_export_is_refused_once_the_service_scenario_is_revoked(home, tmp_path, monkeypatch):
    from data_products.governance import list_scenarios, revoke, seed_demo
    from data_products.governance.accounts import issue_token

    seed_demo()
    scenario = next(s for s in list_scenarios(product_id="wait_times", state="approved") if s.kind == "applied")
    revoke(signed_in("official"), scenario.id, "feed retired")
    monkeypatch.setenv("DATASPACE_TOKEN", issue_token("wait_times_feed", actor="test")[1])
    result = run_cli("export", "wait-times", "--out", str(tmp_path / "feed.json"))
    assert result.exit_code == 2 and "revoked" in result.stderr


# --- role decisions come from the store, not the session's copy ----------------------------------------------


def test_catalog_names_and_applications_follow_the_store_not_the_session(demo):
    from data_products import catalog

    hospital = signed_in("hospital_f0301")
    forged = dataclasses.replace(hospital, org_type="commission", role="commission_official")
    assert all(d["facility_names"] is None for d in catalog.datasets(forged))
    assert any(d["facility_names"] for d in catalog.datasets(signed_in("analyst")))
    # The jaundice report: F0301 may apply; posing as its producer (F0602) does not make it standing.
    assert catalog.can_apply(dataclasses.replace(hospital, facility_id="F0602"), "jaundice_report")
    company = signed_in("company_none")
    assert not catalog.can_apply(dataclasses.replace(company, role="hospital", org_type="hospital"), "supplier_quality")
    # "My applications" lists the store's organisation of the session, whatever org id the session's copy says.
    assert any(s.product_id == "jaundice_report" for s in catalog.my_applications(hospital))
    posing = dataclasses.replace(company, org_id=hospital.org_id)
    assert all(s.org_id != hospital.org_id for s in catalog.my_applications(posing))


def test_the_role_policy_reads_the_store(home):
    from data_products.governance import allowed, seed_demo, set_disabled

    seed_demo()
    assert allowed("official", "release.approve") and allowed("official", "scenario.decide")
    for who in ("analyst", "hospital_f0602", "wait_times_feed", "nobody"):
        assert not allowed(who, "release.approve"), who
    set_disabled("official", True)
    assert not allowed("official", "release.approve")


def test_grants_expire_with_the_scenario_window(demo):
    grant = open_product(signed_in("company_jaundice"), "jaundice_report")
    assert grant.expires_at <= grant.issued_at + GRANT_TTL
    assert grant.expires_at > utcnow()
