"""Issue 17 item 2: the governance store on SQLite and PostgreSQL: versioned migrations (an old SQLite file
upgrades in place, concurrent migrators apply each version once), the app's PostgreSQL role unable to
touch the ledger, atomic transitions under concurrent writers, and the setting that picks the engine."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from data_products.cli import main
from data_products.config import paths, settings
from data_products.governance import GovernanceStore, Policy, ScenarioError, accounts, ledger, scenarios
from data_products.governance.store import LATEST, MIGRATIONS, PG_TRIGGER_NAMES, TABLES, utcnow

FAST = Policy(hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
PW = "correct horse battery"


def test_an_sqlite_store_from_before_the_history_upgrades_in_place(home, capsys):
    # The schema as it was before keyed MACs and before the migration history: no `mac`, no history table.
    old = TABLES.replace(",\n    mac TEXT\n", "\n")
    assert old != TABLES
    db = paths().governance_db
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(old)
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO orgs (name, type, created_at) VALUES ('Commission', 'commission', '2025-01-01T00:00:00.000000Z')")
    conn.execute("INSERT INTO users (username, username_key, org_id, role, password_hash, created_at)"
                 " VALUES ('keeper', 'keeper', 1, 'commission_official', ?, '2025-01-01T00:00:00.000000Z')",
                 (FAST.hasher.hash(PW),))
    detail = ledger.canonical_json({"old": True})
    digest = ledger.entry_hash(1, "2025-01-01T00:00:00.000000Z", "keeper", "test.old", None, detail, ledger.GENESIS)
    conn.execute("INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash)"
                 " VALUES (1, '2025-01-01T00:00:00.000000Z', 'keeper', 'test.old', NULL, ?, ?, ?)",
                 (detail, ledger.GENESIS, digest))
    conn.execute("UPDATE ledger_head SET seq = 1, hash = ? WHERE id = 1", (digest,))
    conn.close()

    store = GovernanceStore(db, policy=FAST)
    assert [m["version"] for m in store.migrations()] == [m.version for m in MIGRATIONS]
    assert store.one("SELECT value FROM meta WHERE key = 'schema_version'")["value"] == str(LATEST)
    assert "mac" in {r[1] for r in store.query("PRAGMA table_info(ledger)")}
    # What was there is still there and still works.
    assert accounts.sign_in("keeper", PW, store=store).ok
    assert ledger.verify(store, check_macs=False).ok and ledger.count(store) == 2  # the old entry, the sign-in
    # The old entry was written before keyed MACs and verify says so; the new one carries its MAC.
    keyed = ledger.verify(store)
    assert keyed.first_bad_seq == 1 and "has none" in keyed.problem
    assert ledger.entries(newest_first=False, limit=1, store=store)[0].action == "test.old"
    # Migrating again applies nothing and lists the history.
    assert main(["governance", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "0 migration(s) applied now" in out and all(m.name in out for m in MIGRATIONS)


def test_concurrent_migrators_apply_each_version_once(postgres, monkeypatch, capsys):
    url = postgres.new_schema("migrate")
    child = textwrap.dedent("""
        import sys
        from data_products.governance.store import GovernanceStore
        GovernanceStore(sys.argv[1], home=__import__("pathlib").Path(sys.argv[2]))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", child, url, "/nonexistent"]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    store = GovernanceStore(url, policy=FAST)
    assert [m["version"] for m in store.migrations()] == [m.version for m in MIGRATIONS]
    monkeypatch.setenv("DATASPACE_GOVERNANCE_URL", url)
    assert main(["governance", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "(postgresql): schema version" in out and "0 migration(s) applied now" in out


def test_the_apps_role_can_use_the_store_but_never_alter_the_ledger(postgres, home):
    import psycopg

    url = postgres.new_schema("roles")
    schema = url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(postgres.base, autocommit=True) as conn:
        conn.execute("CREATE ROLE dataspace_app LOGIN")
    owner = GovernanceStore(url, policy=FAST)
    owner.grant_app_role("dataspace_app")
    accounts.add_user("official", PW, "commission_official", "Commission", store=owner)

    app_url = postgres.url_for(schema, user="dataspace_app")
    app = GovernanceStore(app_url, policy=FAST)
    principal = accounts.sign_in("official", PW, store=app).principal
    assert principal is not None and accounts.current(principal, store=app).ok
    assert ledger.verify(app).ok

    with psycopg.connect(app_url, autocommit=True) as conn:
        for sql in ("UPDATE ledger SET actor = 'x'", "DELETE FROM ledger", "TRUNCATE ledger",
                    "DELETE FROM ledger_head", "INSERT INTO schema_migrations VALUES (99, 'x', 'y')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        for sql in ("ALTER TABLE ledger DISABLE TRIGGER ALL", "DROP TRIGGER ledger_no_update ON ledger",
                    "DROP TABLE ledger"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="owner"):
                conn.execute(sql)
        # What the triggers refuse stays refused: the app may advance the head only to the newest entry.
        with pytest.raises(psycopg.errors.RaiseException, match="head"):
            conn.execute("UPDATE ledger_head SET seq = seq + 5")
    live = {r["tgname"] for r in owner.query("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'A'"
                                              " AND tgrelid IN (to_regclass('ledger'), to_regclass('ledger_head'))")}
    assert live == {n for names in PG_TRIGGER_NAMES.values() for n in names}
    assert ledger.verify(owner).ok

    # A trigger the owner disabled or dropped: the app's role refuses to open the store without it; the owner's
    # next open (or `governance migrate`) puts it back, enabled ALWAYS.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE ledger DISABLE TRIGGER ledger_no_delete")
        conn.execute("DROP TRIGGER ledger_no_update ON ledger")
    with pytest.raises(RuntimeError, match="governance migrate"):
        GovernanceStore(app_url, policy=FAST)
    GovernanceStore(url, policy=FAST)
    with psycopg.connect(url, autocommit=True) as conn:
        modes = dict(conn.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = to_regclass('ledger')"
                                  " AND NOT tgisinternal").fetchall())
    assert modes == {name: "A" for name in PG_TRIGGER_NAMES["ledger"]}
    assert GovernanceStore(app_url, policy=FAST).dialect == "postgresql"


@pytest.fixture
def store(governance_target):
    return GovernanceStore(governance_target, policy=FAST)


def test_one_scenario_decision_wins_under_concurrent_officials(store):
    accounts.add_user("official", PW, "commission_official", "Commission", store=store)
    accounts.add_user("buyer", PW, "company", "Buyer Co", store=store)
    buyer = accounts.sign_in("buyer", PW, store=store).principal
    now = utcnow()
    sc = scenarios.apply(buyer, "jaundice_report", "evaluation", now.date(), (now + timedelta(days=9)).date(),
                         store=store)
    officials = [accounts.sign_in("official", PW, client=f"c{i}", store=store).principal for i in range(8)]
    scenarios.approve(officials[0], sc.id, "ok", store=store)
    barrier, outcomes = threading.Barrier(8), []

    def revoke(p):
        barrier.wait()
        try:
            scenarios.revoke(p, sc.id, "done", store=store)
            outcomes.append("revoked")
        except ScenarioError as exc:
            outcomes.append(str(exc))

    pool = [threading.Thread(target=revoke, args=(p,)) for p in officials]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert outcomes.count("revoked") == 1
    assert all("is revoked, only an approved one" in o for o in outcomes if o != "revoked")
    assert len(ledger.entries(action="scenario.revoke", store=store)) == 1
    assert ledger.verify(store).ok


def test_concurrent_wrong_passwords_are_all_counted_and_lock_once(store):
    accounts.add_user("official", PW, "commission_official", "Commission", store=store)
    barrier, results = threading.Barrier(8), []

    def guess(i):
        barrier.wait()
        results.append(accounts.sign_in("official", f"wrong password {i}", client="attacker", store=store).reason)

    pool = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    # The lockout is decided once per attempt inside its write transaction (after the slow password check):
    # the first five to write fail and the fifth sets the lock, the three still in flight are refused by it;
    # none gets in, each is recorded, and the lock is recorded once.
    assert sorted(results) == ["bad_credentials"] * 5 + ["locked"] * 3
    failed = ledger.entries(action="auth.sign_in_failed", store=store)
    assert sorted(e.detail["reason"] for e in failed) == ["throttled"] * 3 + ["wrong_password"] * 5
    assert len(ledger.entries(action="auth.locked", store=store)) == 1
    assert accounts.sign_in("official", PW, client="attacker", store=store).reason == "locked"
    assert accounts.sign_in("official", PW, client="desk", store=store).ok
    assert ledger.verify(store).ok


def test_the_setting_picks_the_engine(monkeypatch, home):
    monkeypatch.delenv("DATASPACE_GOVERNANCE_URL", raising=False)
    assert settings().governance_url is None
    assert GovernanceStore(policy=FAST).dialect == "sqlite"
    monkeypatch.setenv("DATASPACE_GOVERNANCE_URL", "mysql://somewhere/db")
    with pytest.raises(ValueError, match="DATASPACE_GOVERNANCE_URL"):
        GovernanceStore(policy=FAST)  # reads the setting first
    monkeypatch.setenv("DATASPACE_GOVERNANCE_URL", "postgresql://u:secret@db.example/gov")
    assert settings().governance_url == "postgresql://u:secret@db.example/gov"
    from data_products.governance.store import redact

    assert redact(settings().governance_url) == "postgresql://u:***@db.example/gov"
    # The password never reaches a message, however it is written.
    for url, secret in (("postgresql://u:pa/ss@db.example/gov", "pa/ss"), ("postgresql://u:p@ss@db/gov", "p@ss"),
                        ("postgresql://db/gov?user=u&password=s3cret&sslmode=require", "s3cret"),
                        ("postgresql://u:x@db/gov?PASSWORD=y2", "y2")):
        shown = redact(url)
        assert secret not in shown and "***" in shown, shown
    assert redact("postgresql://db.example/gov") == "postgresql://db.example/gov"
    assert redact("postgresql://u@db/gov?sslmode=require") == "postgresql://u@db/gov?sslmode=require"
