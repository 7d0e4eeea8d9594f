"""The access gate: every role x product x scenario state x action against an independent table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from data_products.governance import (
    AccessDenied,
    GovernanceStore,
    Policy,
    accounts,
    decide,
    ensure_standing,
    entries,
    ledger,
    record_download,
    require,
    scenarios,
    verify,
    visible_products,
)
from data_products.governance.store import utcnow
from data_products.products.registry import all_products

FAST = Policy(hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
PW = "correct horse battery"

# ---- the independent truth, written out by hand from the issue and products/registry.py's docstring
ALL = ("pneumonia_atlas", "tumor_distribution", "wait_times", "jaundice_report", "elderly_weight_atlas",
       "supplier_quality")
FACILITY_LEVEL = ("pneumonia_atlas", "tumor_distribution", "wait_times", "elderly_weight_atlas", "supplier_quality")
# user -> (role, org kind, facility)
USERS = {
    "official": ("commission_official", "commission", None),
    "analyst": ("commission_analyst", "commission", None),
    "producer": ("hospital", "hospital", "F0602"),
    "peer": ("hospital", "hospital", "F0301"),
    "buyer": ("company", "company", None),
}
STANDING = (
    {(u, p) for u in ("official", "analyst") for p in ALL}
    | {(u, p) for u in ("producer", "peer") for p in FACILITY_LEVEL}
    | {("producer", "jaundice_report")}
)
# Who may apply for what without a standing scenario.
# The supplier report is the hospitals' own quality feedback: nobody outside them and the commission applies.
APPLICANTS = {("buyer", p) for p in ALL if p != "supplier_quality"} | {("peer", "jaundice_report")}
STATES = ("none", "pending", "active_view", "active_full", "expired", "not_yet_valid", "revoked", "rejected",
          "withdrawn", "other_org")
OPENS = {"active_view": {"view"}, "active_full": {"view", "download"}}
DENY_REASON = {
    "none": "no_scenario", "pending": "scenario_pending", "expired": "scenario_expired",
    "not_yet_valid": "scenario_not_yet_valid", "revoked": "scenario_revoked", "rejected": "scenario_rejected",
    "withdrawn": "scenario_withdrawn", "other_org": "no_scenario", "active_view": "action_not_in_scope",
}
SCOPE_NAMES = {"commission": "all", "hospital": "own_only", "company": "none"}


def expected(user: str, product: str, state: str, action: str) -> bool:
    if (user, product) in STANDING:
        return True
    return (user, product) in APPLICANTS and action in OPENS.get(state, set())


@pytest.fixture
def store(governance_target):
    return GovernanceStore(governance_target, policy=FAST)


def signed(store, username, at=None):
    result = accounts.sign_in(username, PW, now=at, store=store)
    assert result.ok, result.reason
    return result.principal


def build_world(store):
    for name, (role, _kind, facility) in USERS.items():
        org = {"official": "Commission", "analyst": "Commission", "buyer": "Buyer Co"}.get(name, f"H-{facility}")
        accounts.add_user(name, PW, role, org, facility=facility, store=store)
    # The "other organisations" whose scenarios must not open anything for ours.
    accounts.add_user("rival", PW, "company", "Rival Co", store=store)
    accounts.add_user("otherhosp", PW, "hospital", "H-F0401", facility="F0401", store=store)


def make_state(store, applicant: str, product: str, state: str) -> None:
    now = utcnow()
    if state == "none":
        return
    if state == "other_org":
        applicant = {"buyer": "rival", "peer": "otherhosp"}[applicant]
        state = "active_full"
    start, end, at = now.date(), (now + timedelta(days=30)).date(), now
    if state == "expired":
        at = now - timedelta(days=60)
        start, end = at.date(), (now - timedelta(days=10)).date()
    elif state == "not_yet_valid":
        start, end = (now + timedelta(days=10)).date(), (now + timedelta(days=40)).date()
    scope = ("view",) if state == "active_view" else ("view", "download")
    sc = scenarios.apply(signed(store, applicant, at), product, "matrix test", start, end, scope, now=at, store=store)
    if state == "pending":
        return
    if state == "withdrawn":
        scenarios.withdraw(signed(store, applicant, at), sc.id, now=at, store=store)
        return
    if state == "rejected":
        scenarios.reject(signed(store, "official", at), sc.id, "not this time", now=at, store=store)
        return
    scenarios.approve(signed(store, "official", at), sc.id, "ok", now=at, store=store)
    if state == "revoked":
        scenarios.revoke(signed(store, "official"), sc.id, "purpose fulfilled", store=store)


def test_table_covers_registry():
    assert set(ALL) == set(all_products()), "a product was added: extend the test's independent table"


@pytest.mark.parametrize("state", STATES)
def test_matrix(store, state):
    build_world(store)
    for user, product in sorted(APPLICANTS):
        make_state(store, user, product, state)
    principals = {u: signed(store, u) for u in USERS}
    wrong, unexpected_allows, checked = [], [], 0
    for user, (_role, kind, facility) in USERS.items():
        for product in ALL:
            for action in ("view", "download"):
                before = ledger.count(store)
                d = decide(principals[user], product, action, store=store)
                checked += 1
                want = expected(user, product, state, action)
                if d.allowed != want:
                    wrong.append((user, product, state, action, d.allowed, d.reason))
                    if d.allowed:
                        unexpected_allows.append((user, product, state, action))
                # Every decision, allow or deny, is exactly one new ledger entry describing it.
                assert d.audit_seq == before + 1 == ledger.count(store)
                entry = entries(limit=1, store=store)[0]
                assert (entry.action, entry.actor, entry.target) == (
                    "gate.allow" if d.allowed else "gate.deny", user, product)
                assert entry.detail["action"] == action and entry.detail["reason"] == d.reason
                assert d.message_zh and d.message_en and d.message_zh != d.message_en
                if d.allowed:
                    assert d.reason == ("standing_scenario" if (user, product) in STANDING else "approved_scenario")
                    assert d.row_scope.facility_names == SCOPE_NAMES[kind]
                    assert d.row_scope.own_facility == (facility if kind == "hospital" else None)
                    own = {s.id for s in scenarios.scenarios(org_id=principals[user].org_id, store=store)}
                    assert d.scenario_id in own
                else:
                    assert d.row_scope.facility_names == "none"
                    if (user, product) in APPLICANTS:
                        want_reason = DENY_REASON["active_view" if state == "active_view" else state]
                        assert d.reason == want_reason, (user, product, action)
    assert unexpected_allows == []
    assert wrong == []
    assert checked == len(USERS) * len(ALL) * 2
    assert verify(store).ok


def test_disabled_user_and_signed_out_and_forged(store):
    build_world(store)
    p = signed(store, "producer")
    assert decide(p, "wait_times", "view", store=store).allowed
    accounts.set_disabled("producer", store=store)
    assert decide(p, "wait_times", "view", store=store).reason == "user_disabled"
    accounts.set_disabled("producer", False, store=store)
    # Re-enabling does not revive the sessions disabling ended.
    assert decide(p, "wait_times", "view", store=store).reason == "no_session"
    q = signed(store, "producer")
    accounts.sign_out(q, store=store)
    assert decide(q, "wait_times", "view", store=store).reason == "no_session"
    forged = accounts.Principal("official", "commission_official", 1, "Commission", "commission", None, 1, "forged")
    d = decide(forged, "wait_times", "view", store=store)
    assert not d.allowed and d.reason == "no_session"
    assert entries(limit=1, store=store)[0].detail.get("claimed_user") is True


def test_session_idle_timeout(store):
    build_world(store)
    t0 = utcnow()
    p = signed(store, "official", t0)
    idle = store.policy.idle
    # Activity restarts the idle clock: two steps just under the limit stay signed in.
    assert decide(p, "wait_times", "view", now=t0 + idle - timedelta(seconds=1), store=store).allowed
    assert decide(p, "wait_times", "view", now=t0 + 2 * idle - timedelta(seconds=2), store=store).allowed
    late = t0 + 3 * idle
    assert decide(p, "wait_times", "view", now=late, store=store).reason == "session_expired"
    assert decide(p, "wait_times", "view", now=late + timedelta(seconds=1), store=store).reason == "session_expired"
    assert not accounts.current(p, store=store).ok


def test_unknown_product_and_action(store):
    build_world(store)
    p = signed(store, "official")
    for product in ("nope", "'; DROP TABLE scenarios; --", "", None, 42):
        d = decide(p, product, "view", store=store)
        assert not d.allowed and d.reason == "unknown_product"
    d = decide(p, "wait_times", "delete", store=store)
    assert not d.allowed and d.reason == "unknown_action"
    assert verify(store).ok and store.one("SELECT COUNT(*) AS n FROM scenarios")["n"] > 0


def test_window_edges_are_half_open(store):
    build_world(store)
    now = utcnow()
    sc = scenarios.apply(signed(store, "buyer"), "wait_times", "edges", now.date(), (now + timedelta(days=3)).date(),
                         "view", store=store)
    sc = scenarios.approve(signed(store, "official"), sc.id, store=store)
    end = sc.valid_to
    assert sc.status(end - timedelta(microseconds=1)) == "active" and sc.status(end) == "expired"
    p = signed(store, "buyer", end - timedelta(minutes=1))
    assert decide(p, "wait_times", "view", now=end - timedelta(microseconds=1), store=store).allowed
    d = decide(p, "wait_times", "view", now=end, store=store)
    assert (d.allowed, d.reason) == (False, "scenario_expired")


def test_revoked_standing_stays_revoked(store):
    build_world(store)
    peer = signed(store, "peer")
    standing = scenarios.scenarios(org_id=peer.org_id, product_id="pneumonia_atlas", kind="standing", store=store)[0]
    scenarios.revoke(signed(store, "official"), standing.id, "audit finding", store=store)
    assert decide(peer, "pneumonia_atlas", "view", store=store).reason == "scenario_revoked"
    assert ensure_standing(store) == 0
    assert decide(peer, "pneumonia_atlas", "view", store=store).reason == "scenario_revoked"


def test_order_lifecycle(store):
    build_world(store)
    buyer, official = signed(store, "buyer"), signed(store, "official")
    now = utcnow()
    sc = scenarios.order(buyer, "jaundice_report", "evaluate our device", now.date(), (now + timedelta(days=9)).date(),
                         ["view", "download"], store=store)
    assert [o.state for o in scenarios.orders(org_id=buyer.org_id, store=store)] == ["pending_approval"]
    assert decide(buyer, "jaundice_report", "view", store=store).reason == "scenario_pending"
    with pytest.raises(scenarios.ScenarioError):
        scenarios.approve(signed(store, "analyst"), sc.id, store=store)  # analysts do not approve
    with pytest.raises(scenarios.ScenarioError):
        scenarios.approve(buyer, sc.id, store=store)
    scenarios.approve(official, sc.id, "fine", store=store)
    assert [o.state for o in scenarios.orders(org_id=buyer.org_id, store=store)] == ["active"]
    assert decide(buyer, "jaundice_report", "download", store=store).allowed
    # Another company's user cannot cancel it; the buyer can, and that closes the product.
    with pytest.raises(scenarios.ScenarioError):
        scenarios.cancel_order(signed(store, "rival"), sc.order_id, store=store)
    scenarios.cancel_order(buyer, sc.order_id, "no longer needed", store=store)
    assert [o.state for o in scenarios.orders(org_id=buyer.org_id, store=store)] == ["cancelled"]
    assert decide(buyer, "jaundice_report", "view", store=store).reason == "scenario_revoked"
    sc2 = scenarios.order(buyer, "jaundice_report", "again", now.date(), (now + timedelta(days=9)).date(), "view",
                          store=store)
    scenarios.reject(official, sc2.id, "duplicate", store=store)
    assert {o.state for o in scenarios.orders(org_id=buyer.org_id, store=store)} == {"cancelled"}
    actions = [e.action for e in entries(newest_first=False, limit=10_000, store=store)]
    for needed in ("order.place", "scenario.apply", "scenario.approve", "order.active", "scenario.withdraw",
                   "order.cancelled", "scenario.reject"):
        assert needed in actions


def test_apply_refuses_bad_input(store):
    build_world(store)
    buyer, peer = signed(store, "buyer"), signed(store, "peer")
    now = utcnow()
    d0, d9 = now.date(), (now + timedelta(days=9)).date()
    bad = [
        (buyer, "nope", "x", d0, d9, "view"),
        (buyer, "wait_times", "  ", d0, d9, "view"),
        (buyer, "wait_times", "x", d9, d0, "view"),
        (buyer, "wait_times", "x", d0 - timedelta(days=9), d0 - timedelta(days=2), "view"),
        (buyer, "wait_times", "x", d0, d9, "delete"),
        (peer, "wait_times", "x", d0, d9, "view"),  # holds a standing scenario already
        (signed(store, "official"), "jaundice_report", "x", d0, d9, "view"),
    ]
    for args in bad:
        with pytest.raises(scenarios.ScenarioError):
            scenarios.apply(*args, store=store)
    scenarios.apply(buyer, "wait_times", "x", d0, d9, "view", store=store)
    with pytest.raises(scenarios.ScenarioError, match="pending"):
        scenarios.apply(buyer, "wait_times", "x", d0, d9, "view", store=store)


def test_require_download_and_visible(store):
    build_world(store)
    buyer, producer = signed(store, "buyer"), signed(store, "producer")
    with pytest.raises(AccessDenied) as info:
        require(buyer, "wait_times", "view", store=store)
    assert info.value.decision.reason == "no_scenario"
    assert "Catalog" in info.value.decision.message_en and "目录" in info.value.decision.message_zh
    assert require(producer, "jaundice_report", "download", store=store).allowed
    d = record_download(producer, "jaundice_report", "report.pdf", sha256="ab" * 32, n_bytes=1234, store=store)
    last = entries(limit=1, store=store)[0]
    assert (last.action, last.detail["artifact"], last.detail["bytes"], last.detail["scenario_id"]) == (
        "download", "report.pdf", 1234, d.scenario_id)
    with pytest.raises(AccessDenied):
        record_download(buyer, "jaundice_report", "report.pdf", store=store)
    assert entries(limit=1, store=store)[0].action == "gate.deny"
    before = ledger.count(store)
    vis = {u: visible_products(signed(store, u), store=store) for u in USERS}
    # Sign-ins write entries; visible_products itself does not.
    assert ledger.count(store) == before + len(USERS)
    for u in USERS:
        assert set(vis[u]) == {p for p in ALL if (u, p) in STANDING}


def test_every_reason_has_both_languages():
    from data_products.governance.gate import ALLOW_REASONS, DENY_REASONS
    from data_products.i18n import t

    for reason in ALLOW_REASONS + DENY_REASONS:
        values = dict(product="P", scenario=7, until="2026-01-01", start="2026-01-01", action="view", action_zh="查看")
        zh, en = t(f"gov.gate.{reason}", "zh", **values), t(f"gov.gate.{reason}", "en", **values)
        assert zh != en and "{" not in zh + en


def test_decisions_from_many_threads(store):
    import threading

    build_world(store)
    who = {u: signed(store, u) for u in USERS}
    results, errors = [], []

    def work(user):
        try:
            for product in ALL:
                results.append((user, product, decide(who[user], product, "view", store=store).allowed))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in USERS for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and len(results) == len(threads) * len(ALL)
    assert all(allowed == ((u, p) in STANDING) for u, p, allowed in results)
    assert verify(store).ok


def test_governance_pages_are_decided_by_the_gate_and_audited(store):
    from data_products.governance import governance_role

    build_world(store)
    for name, (role, _kind, _facility) in USERS.items():
        p = signed(store, name)
        for area in ("scenarios", "audit"):
            got = governance_role(p, area, store=store)
            assert got == (role if role.startswith("commission") else None), (name, area)
    assert governance_role(signed(store, "official"), "no-such-area", store=store) is None
    decisions = ledger.entries(action="gate.governance", store=store)
    assert len(decisions) == 2 * len(USERS) + 1
    assert ledger.verify(store).ok
