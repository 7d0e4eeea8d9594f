"""AppTest: access through the pages — navigation per demo user, pages reached without being in the
navigation, the sign-in form against hostile input, sign-out, and the commission's approval inbox.

Expected navigation comes from the registry and the demo's scenarios as documented (who holds a
standing scenario, who bought what), not from ``visible_products``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.navigation import VIEWS, pages
from data_products.governance import current, decide, demo_passwords, entries, list_scenarios, pending, sign_in, verify
from data_products.governance.store import LOCAL
from data_products.i18n import t
from data_products.products.registry import all_products
from data_products.reference import facilities

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboards" / "app.py")
USERS = ("official", "analyst", "hospital_f0602", "hospital_f0301", "company_jaundice", "company_none")

# The demo as documented (governance/demo.py, products/registry.py): the commission holds every
# product; hospitals hold the facility-level products, F0602 also the jaundice report it produces,
# while F0301's jaundice application is still pending; company_jaundice bought the jaundice report.
FACILITY_LEVEL = {"pneumonia", "tumor", "wait-board", "wait-times", "elderly-weight"}
EXPECTED_URLS = {
    "official": {"overview", "catalog", *FACILITY_LEVEL, "jaundice", "scenarios", "audit", "analysis-review"},
    "analyst": {"overview", "catalog", *FACILITY_LEVEL, "jaundice", "scenarios", "audit", "analysis-review"},
    "hospital_f0602": {"overview", "catalog", *FACILITY_LEVEL, "jaundice", "my-hospital", "analyses"},
    "hospital_f0301": {"overview", "catalog", *FACILITY_LEVEL, "my-hospital", "analyses"},
    "company_jaundice": {"overview", "catalog", "jaundice", "analyses"},
    "company_none": {"overview", "catalog", "analyses"},
}
PAGES = pages()
EXISTING = {p.url for p in PAGES if (VIEWS / p.file).exists()}
FILE_OF = {p.url: p.file for p in PAGES}
TITLE_OF = {p.url: p.title("en") for p in PAGES}
PRODUCT_OF = {p.url: p.product for p in PAGES}


@pytest.fixture(scope="module")
def gov_home(tmp_path_factory):
    """A home with only the demo governance (accounts, standing and demo scenarios): the tests here
    sign in wrongly, approve and revoke, so they must not touch the shared demo space."""
    from data_products.governance import seed_demo

    home = tmp_path_factory.mktemp("gov-pages-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    try:
        (home / "DEMO").write_text("synthetic demonstration space\n", encoding="utf-8")
        seed_demo()
        yield home
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old


@pytest.fixture
def gov(gov_home, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(gov_home))
    return gov_home


_SESSIONS: dict[tuple[str, str], object] = {}


def signed_in(username: str):
    """One live session per user and home: argon2 makes each sign-in cost a noticeable fraction of a second."""
    key = (os.environ["DATASPACE_HOME"], username)
    p = _SESSIONS.get(key)
    if p is None or not current(p).ok:
        result = sign_in(username, demo_passwords()[username])
        assert result.ok, result.reason
        p = _SESSIONS[key] = result.principal
    return p


def app(principal=None, lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = lang
    if principal is not None:
        at.session_state["principal"] = principal
    return at.run()


def nav_urls(at: AppTest) -> set[str]:
    """The pages this session's navigation registered, found with AppTest's public ``switch_page``,
    which refuses a page file that ``st.navigation`` did not register. It probes a fresh run of the same
    session (same principal), so ``at`` itself is left on its page. Before sign-in no page file is
    registered (every URL is the sign-in form, a page with no script): that is "signin"."""
    probe = AppTest.from_file(APP, default_timeout=60)
    probe.query_params["lang"] = "en"
    if "principal" in at.session_state:
        probe.session_state["principal"] = at.session_state["principal"]
    probe.run()
    out = set()
    for url, file in FILE_OF.items():
        if url not in EXISTING:
            continue
        try:
            probe.switch_page(f"views/{file}")
        except ValueError:
            continue
        out.add(url)
    if not out and [e.value for e in probe.title] == [t("auth.title", "en")]:
        return {"signin"}
    return out


def all_text(at: AppTest) -> str:
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "error", "warning", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for frame in at.dataframe:
        parts.append(frame.value.to_string())
    return "\n".join(parts)


# --- navigation per user ---------------------------------------------------------------------------


@pytest.mark.parametrize("username", USERS)
def test_navigation_shows_exactly_the_pages_the_user_may_open(demo, username):
    at = app(signed_in(username))
    assert not at.exception, at.exception
    assert nav_urls(at) == EXPECTED_URLS[username] & EXISTING


def test_signed_out_navigation_is_the_sign_in_page_only(demo):
    at = app()
    assert not at.exception
    assert nav_urls(at) == {"signin"}
    assert at.title[0].value == t("auth.title", "en")
    assert not at.dataframe


@pytest.mark.parametrize("username", USERS)
def test_a_page_outside_the_navigation_is_not_served(demo, username):
    allowed = EXPECTED_URLS[username]
    forbidden = sorted(u for u in EXISTING if u not in allowed)
    at = app(signed_in(username))
    assert not at.exception, at.exception
    text = all_text(at)
    for url in forbidden:
        # The session's navigation holds no such page, so no request reaches it (a typed URL in a real
        # browser: tests/test_access_browser.py); and the page the session opens shows none of it.
        with pytest.raises(ValueError):
            at.switch_page(f"views/{FILE_OF[url]}")
        assert TITLE_OF[url] not in [e.value for e in at.title], url
        if PRODUCT_OF[url]:
            assert all_products()[PRODUCT_OF[url]].name_en not in text, url
        if url in ("scenarios", "audit"):
            assert "Usage scenarios and orders" not in text and "Audit ledger" not in text
            assert "Hash chain" not in text


def test_opening_an_allowed_page_by_url_serves_it(demo):
    # The control for the test above: the same request for a page in the navigation does open it.
    at = app(signed_in("analyst")).switch_page(f"views/{FILE_OF['audit']}").run()
    assert not at.exception
    assert at.title[0].value == "Audit ledger"
    assert any("Hash chain" in s.value for s in at.success)


def test_signed_out_request_for_a_product_page_shows_the_sign_in_form(demo):
    at = app()
    assert not at.exception
    assert at.title[0].value == t("auth.title", "en")
    assert not at.dataframe
    for url in sorted(EXISTING):
        # Before sign-in every URL is the sign-in form: no page file is registered to be reached.
        with pytest.raises(ValueError):
            at.switch_page(f"views/{FILE_OF[url]}")


@pytest.mark.parametrize("page", ["scenarios.py", "audit.py"])
@pytest.mark.parametrize("username", ["hospital_f0602", "company_jaundice"])
def test_governance_pages_refuse_non_commission_users_even_when_reached(demo, page, username):
    # Run the page file on its own, as if the navigation had let it through.
    at = AppTest.from_file(str(ROOT / "dashboards" / "views" / page), default_timeout=60)
    at.query_params["lang"] = "en"
    at.session_state["principal"] = signed_in(username)
    at.run()
    assert not at.exception
    assert any("Commission only" in e.value for e in at.error)
    assert not at.dataframe
    assert not at.button and not at.get("download_button")


# --- sign-in form ----------------------------------------------------------------------------------


def submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_user").input(username)
    at.text_input(key="signin_pass").input(password)
    return at.button[0].click().run()


def test_sign_in_through_the_form_opens_the_navigation(gov):
    at = submit(app(), "company_jaundice", demo_passwords()["company_jaundice"])
    assert not at.exception
    assert at.session_state["principal"].username == "company_jaundice"
    assert nav_urls(at) == EXPECTED_URLS["company_jaundice"] & EXISTING


BAD_SIGN_INS = [
    ("official", "wrong-password-123"),
    ("nobody_here", "whatever-password"),
    ("x" * 64, "p"),
    ("名" * 64, "p" * 1024),
    ("\u202eofficial", "p"),  # right-to-left override
    ("off\u200bicial", "p"),  # zero-width space
    ("👩‍⚕️🏥", "p"),
    ("Ｏｆｆｉｃｉａｌ", "wrong-password"),  # fullwidth letters
    ("' OR '1'='1", "' OR '1'='1"),
    ("official'; DROP TABLE users; --", "x"),
    ("admin\"--", "\" OR 1=1 --"),
    ("\x00official", "p"),
    ("  ", "p"),
    ("", ""),
]


@pytest.mark.parametrize(("username", "password"), BAD_SIGN_INS)
def test_bad_sign_in_shows_an_error_without_crashing(gov, username, password):
    at = submit(app(), username, password)
    assert not at.exception, at.exception
    assert "principal" not in at.session_state
    assert [e.value for e in at.error] == [t("gov.auth.bad_credentials", "en")]
    assert nav_urls(at) == {"signin"}
    assert not at.dataframe


def test_sql_fragments_leave_the_accounts_working_and_the_ledger_intact(gov):
    for username, password in BAD_SIGN_INS[8:11]:
        submit(app(), username, password)
    # Every demo account still signs in, and the injected text was recorded as text.
    for username in USERS:
        assert signed_in(username).username == username
    failed = entries(action="auth.sign_in_failed", limit=10_000)
    assert any(e.actor == "official'; DROP TABLE users; --" for e in failed)
    assert verify().ok


def test_sign_out_clears_the_session(gov):
    user = signed_in("analyst")
    at = app(user)
    assert "audit" in nav_urls(at)
    at.session_state["page_cache"] = "something a page kept for this user"
    at.sidebar.button(key="signout").click().run()
    assert not at.exception
    assert "principal" not in at.session_state
    assert "page_cache" not in at.session_state
    assert nav_urls(at) == {"signin"}
    # The old token is dead: putting the principal back does not sign anyone in.
    again = app(user)
    assert "principal" not in again.session_state
    assert nav_urls(again) == {"signin"}
    assert decide(user, "pneumonia_atlas", "view").reason == "no_session"


# --- the approval inbox ----------------------------------------------------------------------------


def f0301_application():
    (sc,) = [s for s in pending() if s.product_id == "jaundice_report" and s.applied_by == "hospital_f0301"]
    return sc


def scenarios_page(username: str) -> AppTest:
    at = app(signed_in(username))
    return at.switch_page("views/scenarios.py").run()


def test_analyst_sees_the_inbox_but_has_no_decision_controls(gov):
    sc = f0301_application()
    at = scenarios_page("analyst")
    assert not at.exception
    inbox = at.dataframe[0].value
    row = inbox[inbox["ID"] == sc.id].iloc[0]
    # An English page names the organisation in English (the hospital's name from the facility registry).
    names = facilities().set_index("name_zh")["name_en"]
    assert row["Organisation"] == names[sc.org_name] != sc.org_name
    assert row["Product"] == all_products()["jaundice_report"].name_en
    assert row["Purpose"] == sc.purpose
    assert row["Scope"] == "view"
    assert any(t("scn.read_only", "en") == i.value for i in at.info)
    labels = {b.label for b in at.button}
    assert not labels & {t("scn.approve", "en"), t("scn.reject", "en"), t("scn.revoke", "en")}
    assert not at.text_area
    # And the governance function refuses the analyst whatever the page shows.
    from data_products.governance import ScenarioError, approve

    with pytest.raises(ScenarioError):
        approve(signed_in("analyst"), sc.id, "tried by an analyst")
    assert f0301_application().id == sc.id


def test_official_approves_and_the_applicant_gate_flips_to_allow(gov):
    sc = f0301_application()
    applicant = signed_in("hospital_f0301")
    before = decide(applicant, "jaundice_report", "view")
    assert not before.allowed and before.reason == "scenario_pending"
    assert "jaundice" not in nav_urls(app(applicant))

    at = scenarios_page("official")
    assert not at.exception
    at.selectbox(key="scn_decide_id").set_value(sc.id)
    at.text_area(key="scn_decide_reason").input("purpose and period are proportionate (test)")
    next(b for b in at.button if b.label == t("scn.approve", "en")).click().run()
    assert not at.exception, at.exception
    assert any(f"#{sc.id}" in s.value for s in at.success)

    after = decide(applicant, "jaundice_report", "view")
    assert after.allowed and after.reason == "approved_scenario" and after.scenario_id == sc.id
    assert not decide(applicant, "jaundice_report", "download").allowed  # scope was view only
    assert "jaundice" in nav_urls(app(applicant)) or "jaundice" not in EXISTING
    (stored,) = [s for s in list_scenarios(product_id="jaundice_report") if s.id == sc.id]
    assert stored.decided_by == "official" and stored.decision_reason == "purpose and period are proportionate (test)"
    approvals = entries(action="scenario.approve", limit=100)
    assert any(e.detail["scenario_id"] == sc.id and e.detail["via"] == "app" for e in approvals)
    assert sc.id not in {s.id for s in pending()}


def test_official_revokes_only_with_a_reason_and_access_ends(gov):
    from data_products.governance import apply, approve

    applicant = signed_in("company_none")
    start = datetime.now(LOCAL).date()
    sc = apply(applicant, "tumor_distribution", "test: oncology supply planning", start, start + timedelta(days=30))
    approve(signed_in("official"), sc.id, "test")
    assert decide(applicant, "tumor_distribution", "view").allowed

    at = scenarios_page("official")
    at.selectbox(key="scn_revoke_id").set_value(sc.id)
    next(b for b in at.button if b.label == t("scn.revoke", "en")).click().run()
    assert any(t("scn.reason_required", "en") == e.value for e in at.error)
    assert decide(applicant, "tumor_distribution", "view").allowed
    at.text_area(key="scn_revoke_reason").input("test: purpose fulfilled")
    next(b for b in at.button if b.label == t("scn.revoke", "en")).click().run()
    assert not at.exception, at.exception
    assert any(f"#{sc.id}" in m.value for m in at.success)
    denied = decide(applicant, "tumor_distribution", "view")
    assert not denied.allowed and denied.reason == "scenario_revoked"
    (stored,) = [s for s in list_scenarios(product_id="tumor_distribution") if s.id == sc.id]
    assert stored.revoked_by == "official" and stored.revoke_reason == "test: purpose fulfilled"


def test_official_rejects_only_with_a_reason(gov):
    applicant = signed_in("company_none")
    from data_products.governance import apply

    start = datetime.now(LOCAL).date()
    sc = apply(applicant, "wait_times", "test: staffing study", start, start + timedelta(days=30))
    at = scenarios_page("official")
    at.selectbox(key="scn_decide_id").set_value(sc.id)
    next(b for b in at.button if b.label == t("scn.reject", "en")).click().run()
    assert any(t("scn.reason_required", "en") == e.value for e in at.error)
    assert sc.id in {s.id for s in pending()}
    at.text_area(key="scn_decide_reason").input("test: purpose too vague")
    next(b for b in at.button if b.label == t("scn.reject", "en")).click().run()
    assert sc.id not in {s.id for s in pending()}
    denied = decide(applicant, "wait_times", "view")
    assert not denied.allowed and denied.reason == "scenario_rejected"
    orders_tab = at.dataframe[-1].value
    row = orders_tab[orders_tab["Scenario"] == f"#{sc.id}"].iloc[0]
    assert row["Order state"] == "cancelled"


# --- the audit page --------------------------------------------------------------------------------


def audit_page(username: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"lang": "en", **params})
    at.session_state["principal"] = signed_in(username)
    at.run()
    return at.switch_page("views/audit.py").run()


def test_audit_page_verifies_the_chain_and_filters_by_actor_and_family(gov):
    at = audit_page("analyst", actor="official", family="scenario.")
    assert not at.exception, at.exception
    result = verify()
    assert result.ok
    assert any(str(result.entries) in s.value for s in at.success)
    table = at.dataframe[0].value
    assert len(table) > 0
    assert set(table["Actor"]) == {"official"}
    assert all(a.startswith("scenario.") for a in table["Action"])
    truth = entries(actor="official", action="scenario.", limit=10_000)
    assert list(table["Seq"]) == [e.seq for e in truth]
    # Read only: the only control that acts is the export.
    assert not at.main.button
    assert not at.text_area


def test_audit_page_time_range_excludes_everything_before_today(gov):
    tomorrow = (datetime.now(LOCAL) + timedelta(days=2)).date().isoformat()
    at = audit_page("official", since=tomorrow)
    assert not at.exception
    assert not at.dataframe
    assert any(t("aud.empty", "en") == i.value for i in at.info)


@pytest.mark.parametrize("lang,guaranteed,not_guaranteed,heads", [
    ("en", "Guaranteed", "Not guaranteed", "{k} published head(s) agree"),
    ("zh", "保证", "不保证", "{k} 个已公开日志头均一致")])
def test_audit_page_states_what_is_and_is_not_guaranteed(demo, lang, guaranteed, not_guaranteed, heads):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"lang": lang})
    at.session_state["principal"] = signed_in("official")
    at.run()
    at = at.switch_page("views/audit.py").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert guaranteed in text and not_guaranteed in text and "dataspace audit verify --anchor" in text
    # Every approved release's head is among the published heads the page checks.
    k = len(list(demo.glob("approved/*/*.approval.json")))
    assert k >= 6 and any(heads.format(k=k) in s.value for s in at.success)


def test_audit_page_shows_the_administrators_report_on_request(demo):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"lang": "en"})
    at.session_state["principal"] = signed_in("official")
    at.run()
    at = at.switch_page("views/audit.py").run()
    assert len(at.dataframe) == 1  # the report is read only when asked for
    at.toggle(key="aud_report_on").set_value(True).run()
    assert not at.exception, at.exception
    report = next(d.value for d in at.dataframe if "authorization" in d.value.columns)
    approvals = report[report["action"] == "scenario.approve"]
    assert len(approvals) >= 1 and set(approvals["authorization"]) == {"role commission_official"}
    assert set(report[report["action"] == "release.approve"]["authorization"]) == {
        "two sign-offs: official, official2"}


def test_scenario_inbox_names_datasets_and_products_in_the_page_language():
    # A research scenario covers a dataset, not a product: the inbox names it, never its raw id.
    from data_products.catalog import display_name as product_name

    assert product_name("ds_liver_cancer", "en") == "Liver cancer specialty dataset"
    assert product_name("ds_liver_cancer", "zh") == "肝癌专病数据集"
    assert product_name("jaundice_report", "zh") == "新生儿黄疸仪设备测试评估报告"
