"""Users, passwords, lockout, sessions, hostile input, the CLI functions and the demo seed; on SQLite
and on PostgreSQL (``backend``, tests/governance/conftest.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from argon2 import PasswordHasher, Type
from argon2.profiles import RFC_9106_LOW_MEMORY

from data_products.config import paths
from data_products.governance import (
    GovernanceStore,
    Policy,
    accounts,
    cli,
    decide,
    demo,
    entries,
    ledger,
    releases,
    scenarios,
    verify,
)
from data_products.governance.store import utcnow
from data_products.products.registry import all_products

FAST = Policy(hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
PW = "correct horse battery"
SQL = "x'); DROP TABLE users; --\" OR 1=1; /*"


@pytest.fixture
def store(governance_target):
    return GovernanceStore(governance_target, policy=FAST)


def test_default_policy_is_real(monkeypatch):
    for name in ("DATASPACE_SESSION_IDLE_MINUTES", "DATASPACE_LOCKOUT_FAILURES", "DATASPACE_LOCKOUT_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    policy = Policy.from_env()
    assert (policy.idle_minutes, policy.lockout_failures, policy.lockout_minutes) == (30, 5, 15)
    h = policy.hasher
    # argon2-cffi's defaults are RFC 9106's low-memory profile of argon2id.
    assert h.type is Type.ID
    assert (h.time_cost, h.memory_cost, h.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism)
    monkeypatch.setenv("DATASPACE_SESSION_IDLE_MINUTES", "7")
    assert Policy.from_env().idle == timedelta(minutes=7)
    monkeypatch.setenv("DATASPACE_LOCKOUT_FAILURES", "zero")
    with pytest.raises(ValueError, match="DATASPACE_LOCKOUT_FAILURES"):
        Policy.from_env()


def test_password_stored_only_as_argon2id(store, raw_db):
    accounts.add_user("alice", PW, "commission_official", "Commission", store=store)
    row = store.one("SELECT password_hash FROM users WHERE username = 'alice'")
    assert row["password_hash"].startswith("$argon2id$") and PW not in row["password_hash"]
    if store.dialect == "sqlite":
        raw = paths().governance_db.read_bytes() + paths().governance_db.with_name("governance.sqlite-wal").read_bytes()
        assert PW.encode() not in raw
    else:  # every text column of every table
        conn = raw_db(store)
        columns = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                               " WHERE table_schema = current_schema() AND data_type = 'text'").fetchall()
        assert len(columns) > 40
        for table, column in columns:
            assert conn.execute(f'SELECT 1 FROM "{table}" WHERE strpos("{column}", ?) > 0', (PW,)).fetchone() is None
    with pytest.raises(accounts.AccountError, match="password"):
        accounts.add_user("bob", "short", "company", "Co", store=store)


def test_sign_in_wrong_unknown_and_audit(store):
    accounts.add_user("alice", PW, "company", "Co", store=store)
    assert not accounts.sign_in("alice", PW + "!", store=store).ok
    unknown = accounts.sign_in("mallory", PW, store=store)
    assert (unknown.ok, unknown.reason) == (False, "bad_credentials")
    ok = accounts.sign_in("ALICE", PW, store=store)  # usernames are case-insensitive
    assert ok.ok and ok.principal.username == "alice" and ok.principal.org_type == "company"
    log = [(e.action, e.actor, e.detail.get("reason")) for e in entries(action="auth.", newest_first=False, store=store)]
    assert log == [("auth.sign_in_failed", "alice", "wrong_password"),
                   ("auth.sign_in_failed", "mallory", "unknown_user"),
                   ("auth.sign_in", "alice", None)]
    assert accounts.sign_out(ok.principal, store=store) and not accounts.sign_out(ok.principal, store=store)
    assert entries(limit=1, store=store)[0].action == "auth.sign_out"


def test_lockout(store):
    accounts.add_user("alice", PW, "company", "Co", store=store)
    n, t0 = store.policy.lockout_failures, utcnow()
    for i in range(n - 1):
        assert accounts.sign_in("alice", "wrong password!", now=t0 + timedelta(seconds=i), store=store).reason == "bad_credentials"
    assert accounts.sign_in("alice", PW, now=t0 + timedelta(seconds=n), store=store).ok  # success resets the count
    for i in range(n):
        accounts.sign_in("alice", "wrong password!", now=t0 + timedelta(seconds=10 + i), store=store)
    locked = accounts.sign_in("alice", PW, now=t0 + timedelta(minutes=1), store=store)
    assert (locked.ok, locked.reason) == (False, "locked")
    assert "再试" in locked.message("zh") and "try again" in locked.message("en")
    assert entries(action="auth.locked", store=store)[0].target == "alice"
    still = t0 + timedelta(seconds=10 + n) + store.policy.lockout - timedelta(seconds=5)
    assert accounts.sign_in("alice", PW, now=still, store=store).reason == "locked"
    after = t0 + timedelta(seconds=10 + n) + store.policy.lockout + timedelta(seconds=5)
    assert accounts.sign_in("alice", PW, now=after, store=store).ok


def test_disabled_user_cannot_sign_in(store):
    accounts.add_user("alice", PW, "company", "Co", store=store)
    accounts.set_disabled("alice", store=store)
    res = accounts.sign_in("alice", PW, store=store)
    assert (res.ok, res.reason) == (False, "disabled")
    assert not accounts.sign_in("alice", "wrong password!", store=store).reason == "disabled"  # no oracle


@pytest.mark.parametrize("name", ["a" * 10_000, "\ud800bad", "ad\u200bmin", "x\u202eevil", "tab\tname", "", "  ",
                                  "\x00nul", "line\nbreak"])
def test_hostile_usernames_refused_without_crash(store, name):
    with pytest.raises(accounts.AccountError, match="username"):
        accounts.add_user(name, PW, "company", "Co", store=store)
    res = accounts.sign_in(name, PW, store=store)
    assert not res.ok and res.reason == "bad_credentials"
    e = entries(limit=1, store=store)[0]
    assert e.action == "auth.sign_in_failed" and len(e.actor) <= ledger.MAX_FIELD + 30
    assert verify(store).ok


def test_odd_unicode_usernames(store):
    names = ["张伟", "Zoë-🙂", "e\u0301tienne", "ق_user", "x" * accounts.MAX_USERNAME]
    for i, name in enumerate(names):
        accounts.add_user(name, PW, "company", f"Co{i}", store=store)
        assert accounts.sign_in(name, PW, store=store).ok
    # NFKC: the composed form and the full-width form name the same account.
    assert accounts.sign_in("\u00e9tienne", PW, store=store).ok
    accounts.add_user("demo", PW, "company", "Co9", store=store)
    with pytest.raises(accounts.AccountError, match="exists"):
        accounts.add_user("ｄｅｍｏ", PW, "company", "Co9", store=store)
    stored = {u["username"] for u in accounts.users(store)}
    assert "Zoë-🙂" in stored and "张伟" in stored


def test_sql_fragments_stored_verbatim(store):
    accounts.add_user(SQL.replace(" ", "_"), SQL + " long enough", "company", SQL, store=store)
    user = SQL.replace(" ", "_")
    p = accounts.sign_in(user, SQL + " long enough", store=store).principal
    assert p.org_name == SQL
    now = utcnow()
    sc = scenarios.apply(p, "wait_times", SQL, now.date(), (now + timedelta(days=5)).date(), "view", store=store)
    accounts.add_user("boss", PW, "commission_official", "Commission", store=store)
    boss = accounts.sign_in("boss", PW, store=store).principal
    scenarios.reject(boss, sc.id, SQL, store=store)
    accounts.add_user(SQL.replace(" ", "_")[:40] + "_2", PW, "commission_official", "Commission", store=store)
    second = accounts.sign_in(SQL.replace(" ", "_")[:40] + "_2", PW, store=store).principal
    rel = releases.record_approval(SQL, "wait_times", SQL, (boss, second), {"note": SQL}, store=store)
    assert releases.approvals("wait_times", store=store)[0] == rel.__class__(
        **{**rel.__dict__, "audit_seq": None, "audit_hash": None})
    assert rel.approvers == ["boss", SQL.replace(" ", "_")[:40] + "_2"]
    got = scenarios.scenarios(org_id=p.org_id, store=store)[0]
    assert (got.purpose, got.decision_reason, got.org_name) == (SQL, SQL, SQL)
    assert entries(actor=SQL.replace(" ", "_")[:40] + "_2", store=store)[0].action == "release.approve"
    assert entries(actor="' OR 1=1 --", store=store) == []
    assert decide(p, SQL, SQL, store=store).reason == "unknown_action"
    assert [u["username"] for u in accounts.users(store)] == [user, "boss", SQL.replace(" ", "_")[:40] + "_2"]
    tables = {r[0] for r in store.query(
        "SELECT name FROM sqlite_master WHERE type = 'table'" if store.dialect == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    assert {"users", "orgs", "scenarios", "ledger", "sessions"} <= tables
    with pytest.raises(accounts.AccountError, match="facility"):
        accounts.add_user("h", PW, "hospital", "H", facility=SQL, store=store)
    assert verify(store).ok


def test_role_org_consistency(store):
    accounts.add_user("h1", PW, "hospital", "H-F0602", facility="F0602", store=store)
    accounts.add_user("h2", PW, "hospital", "H-F0602", store=store)  # joins the existing hospital
    with pytest.raises(accounts.AccountError, match="org"):
        accounts.add_user("c1", PW, "company", "H-F0602", store=store)
    with pytest.raises(accounts.AccountError, match="facility"):
        accounts.add_user("h3", PW, "hospital", "Another name", facility="F0602", store=store)
    with pytest.raises(accounts.AccountError, match="role"):
        accounts.add_user("z", PW, "admin", "X", store=store)


def test_cli_functions(store, monkeypatch, capsys, raw_db):
    monkeypatch.setenv(cli.NEW_PASSWORD_ENV, PW)
    # The first official is the bootstrap (no official exists to sign in); after that an official signs in.
    assert cli.users_add("carol", "commission_official", "Commission", store=store) == 0
    assert entries(action="user.add", store=store)[0].detail["bootstrap"] is True
    assert cli.users_add("dave", "hospital", "H-F0301", facility="F0301", store=store) == 2  # nobody signed in
    monkeypatch.setenv(cli.USER_ENV, "carol")
    monkeypatch.setenv(cli.PASSWORD_ENV, PW)
    assert cli.users_add("dave", "hospital", "H-F0301", facility="F0301", store=store) == 0
    assert entries(action="user.add", store=store)[0].actor == "carol"
    assert entries(action="user.add", store=store)[0].detail["os_user"] == cli.os_account()
    assert cli.users_add("dave", "hospital", "H-F0301", store=store) == 2
    assert cli.users_add("erin", "hospital", "H-X", facility="F9999", store=store) == 2
    capsys.readouterr()
    assert cli.users_list(json=True, store=store) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["username"], u["facility_id"], u["disabled"]) for u in listed] == [("carol", None, False),
                                                                                   ("dave", "F0301", False)]
    assert cli.users_disable("dave", store=store) == 0 and cli.users_disable("nobody", store=store) == 2
    assert [u["disabled"] for u in accounts.users(store)] == [False, True]
    assert entries(action="user.disable", store=store)[0].actor == "carol"
    # A command-line decision needs a commission official.
    accounts.set_disabled("dave", False, store=store)
    p = accounts.sign_in("dave", PW, store=store).principal
    now = utcnow()
    sc = scenarios.apply(p, "jaundice_report", "compare", now.date(), (now + timedelta(days=5)).date(), "view",
                         store=store)
    monkeypatch.setenv(cli.USER_ENV, "dave")
    assert cli.scenario_decide(sc.id, "approve", None, store=store) == 1
    monkeypatch.setenv(cli.PASSWORD_ENV, "not carol's password")
    assert cli.scenario_decide(sc.id, "approve", "carol", "ok", store=store) == 2
    monkeypatch.setenv(cli.PASSWORD_ENV, PW)
    assert cli.scenario_decide(sc.id, "approve", "carol", "ok", store=store) == 0
    assert decide(p, "jaundice_report", "view", store=store).allowed
    assert cli.scenario_list(state=None, json=True, store=store) == 0
    assert cli.audit_verify(store=store) == 0
    capsys.readouterr()
    raw = raw_db(store).drop_triggers()
    raw.execute("UPDATE ledger SET actor = 'nobody' WHERE seq = 3")
    assert cli.audit_verify(store=store) == 1
    assert "entry 3" in capsys.readouterr().err


def test_seed_demo(store):
    created = demo.seed_demo(store)
    assert set(created) == set(demo.demo_passwords())
    roles = set(created.values())
    # Every role a person holds; the service role is the wait-time feed's principal, with its own scenario.
    assert roles == set(accounts.ROLES) - {"service"}
    feed = next(u for u in accounts.users(store) if u["username"] == demo.FEED_SERVICE)
    assert feed["role"] == "service" and feed["org_type"] == "service"
    from data_products.governance import scenarios

    (sc,) = scenarios.scenarios(product_id="wait_times", kind="applied", store=store)
    assert sc.state == "approved" and sc.scope == ("export",)
    n = ledger.count(store)
    demo.seed_demo(store)  # idempotent
    assert ledger.count(store) == n
    pw = demo.demo_passwords()
    who = {u: accounts.sign_in(u, pw[u], store=store).principal for u in pw}
    facilities = {u["username"]: u["facility_id"] for u in accounts.users(store)}
    assert {facilities["hospital_f0602"], facilities["hospital_f0301"]} == {"F0602", "F0301"}
    assert all_products()["jaundice_report"].producer_facility == "F0602"

    def can(u, p, a="view"):
        return decide(who[u], p, a, store=store).allowed

    assert can("company_jaundice", "jaundice_report") and can("company_jaundice", "jaundice_report", "download")
    assert not any(can("company_jaundice", p) for p in all_products() if p != "jaundice_report")
    assert not any(can("company_none", p) for p in all_products())
    assert can("hospital_f0602", "jaundice_report") and not can("hospital_f0301", "jaundice_report")
    assert all(can("official", p) and can("analyst", p) for p in all_products())
    assert scenarios.pending(store)[0].org_name != scenarios.scenarios(state="approved", kind="applied",
                                                                       store=store)[0].org_name
    assert verify(store).ok
