"""The audit ledger: append-only triggers, tamper detection, concurrent appends, listing, releases.
Each test runs on SQLite and on PostgreSQL (``backend``, tests/governance/conftest.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from data_products.governance import GovernanceStore, Policy, ledger, releases
from data_products.governance.ledger import GENESIS, entry_hash, verify
from data_products.governance.store import PG_TRIGGER_NAMES, TRIGGERS, utcnow

FAST = Policy(hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
N = 12


@pytest.fixture
def store(governance_target):
    s = GovernanceStore(governance_target, policy=FAST)
    for i in range(N):
        ledger.record(f"user{i % 3}", "test.event", f"target{i}", {"i": i, "text": "值"}, store=s)
    return s


@pytest.fixture
def raw(raw_db):
    """``raw(store)``: a connection that has removed the append-only triggers, as an attacker with the
    SQLite file or the PostgreSQL owner's credentials could."""
    return lambda store: raw_db(store).drop_triggers()


def rows(conn):
    return conn.execute("SELECT seq, time, actor, action, target, detail, prev_hash, hash FROM ledger ORDER BY seq").fetchall()


def test_chain_links_from_genesis(store, raw_db):
    got = rows(raw_db(store))
    assert [r[0] for r in got] == list(range(1, N + 1))
    prev = GENESIS
    for r in got:
        # Recomputed here from the documented serialisation, not through verify().
        assert r[6] == prev and r[7] == entry_hash(*r[:7])
        prev = r[7]
    assert verify(store) == ledger.VerifyResult(True, N, None, None)


def test_triggers_refuse_update_delete_and_forged_insert(store, raw_db):
    conn = raw_db(store)
    with pytest.raises(conn.Error, match="append-only"):
        conn.execute("UPDATE ledger SET actor = 'x' WHERE seq = 2")
    with pytest.raises(conn.Error, match="append-only"):
        conn.execute("DELETE FROM ledger WHERE seq = 2")
    with pytest.raises(conn.Error, match="head"):
        conn.execute("INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash) VALUES (99, 't', 'a', 'b', 'c', '{}', ?, ?)", (GENESIS, GENESIS))
    with pytest.raises(conn.Error, match="head"):
        conn.execute("UPDATE ledger_head SET seq = 3 WHERE id = 1")
    with pytest.raises(conn.Error, match="head"):
        conn.execute("DELETE FROM ledger_head")
    if store.dialect == "postgresql":  # TRUNCATE skips row triggers; statement triggers refuse it
        with pytest.raises(conn.Error, match="append-only"):
            conn.execute("TRUNCATE ledger")
        with pytest.raises(conn.Error, match="head"):
            conn.execute("TRUNCATE ledger_head")
    assert verify(store).ok and ledger.count(store) == N


@pytest.mark.parametrize("k", [1, 5, N - 1, N])
def test_edit_detected(store, k, raw):
    raw(store).execute("UPDATE ledger SET detail = '{\"i\":999}' WHERE seq = ?", (k,))
    res = verify(store)
    assert (res.ok, res.first_bad_seq, res.entries) == (False, k, k - 1) and "altered" in res.problem


@pytest.mark.parametrize("k", [1, 5, N - 1])
def test_edit_with_recomputed_hash_detected_at_next(store, k, raw):
    conn = raw(store)
    r = conn.execute("SELECT seq, time, actor, action, target, detail, prev_hash FROM ledger WHERE seq = ?", (k,)).fetchone()
    forged = (r[0], r[1], "someone_else", *r[3:])
    conn.execute("UPDATE ledger SET actor = ?, hash = ? WHERE seq = ?", (forged[2], entry_hash(*forged), k))
    res = verify(store, check_macs=False)
    # The chain alone: the forged entry is self-consistent; its successor no longer links to it.
    assert (res.ok, res.first_bad_seq) == (False, k + 1) and "does not follow" in res.problem
    # With the key: the forged entry itself has no valid MAC.
    res = verify(store)
    assert (res.ok, res.first_bad_seq) == (False, k) and "MAC" in res.problem


@pytest.mark.parametrize("k", [1, 5, N - 1])
def test_delete_detected(store, k, raw):
    raw(store).execute("DELETE FROM ledger WHERE seq = ?", (k,))
    res = verify(store)
    assert (res.ok, res.first_bad_seq) == (False, k) and "missing" in res.problem


def test_delete_tail_detected_by_head(store, raw):
    raw(store).execute("DELETE FROM ledger WHERE seq >= ?", (N - 1,))
    res = verify(store)
    assert (res.ok, res.first_bad_seq, res.entries) == (False, N - 1, N - 2)


def _shift_up(conn, k):
    # Make room at seq k without tripping the primary key: move the tail out of the way and back.
    conn.execute("UPDATE ledger SET seq = -seq WHERE seq >= ?", (k,))
    conn.execute("UPDATE ledger SET seq = 1 - seq WHERE seq < 0")


@pytest.mark.parametrize("k", [1, 5, N])
def test_insert_detected(store, k, raw):
    conn = raw(store)
    _shift_up(conn, k)
    prev = conn.execute("SELECT hash FROM ledger WHERE seq = ?", (k - 1,)).fetchone()
    prev_hash = prev[0] if prev else GENESIS
    conn.execute("INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, 'forger', 'test.event', 't', '{}', ?, ?)",
                 (k, "2026-01-01T00:00:00.000000Z", prev_hash, "f" * 64))
    res = verify(store)
    assert (res.ok, res.first_bad_seq) == (False, k)


@pytest.mark.parametrize("k", [1, 5])
def test_insert_with_valid_hash_detected_at_next(store, k, raw):
    conn = raw(store)
    _shift_up(conn, k)
    prev = conn.execute("SELECT hash FROM ledger WHERE seq = ?", (k - 1,)).fetchone()
    fields = (k, "2026-01-01T00:00:00.000000Z", "forger", "test.event", "t", "{}", prev[0] if prev else GENESIS)
    conn.execute("INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*fields, entry_hash(*fields)))
    res = verify(store, check_macs=False)
    # The chain alone: the old entry k, now at k+1, carries a hash over its old seq.
    assert (res.ok, res.first_bad_seq) == (False, k + 1)
    res = verify(store)
    assert (res.ok, res.first_bad_seq) == (False, k) and "MAC" in res.problem


@pytest.mark.parametrize("k", [1, 5, N - 1])
def test_reorder_detected(store, k, raw):
    conn = raw(store)
    conn.execute("UPDATE ledger SET seq = -1 WHERE seq = ?", (k,))
    conn.execute("UPDATE ledger SET seq = ? WHERE seq = ?", (k, k + 1))
    conn.execute("UPDATE ledger SET seq = ? WHERE seq = -1", (k + 1,))
    res = verify(store)
    assert (res.ok, res.first_bad_seq) == (False, k)


def test_store_reinstalls_triggers(store, raw, raw_db, governance_target):
    assert raw(store).triggers() == set()
    GovernanceStore(governance_target, policy=FAST)
    if store.dialect == "sqlite":
        expected = {line.split()[5] for line in TRIGGERS.splitlines() if line.startswith("CREATE TRIGGER")}
    else:
        expected = {n for names in PG_TRIGGER_NAMES.values() for n in names}
    assert raw_db(store).triggers() == expected


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from argon2 import PasswordHasher
    from data_products.governance import GovernanceStore, Policy, ledger
    store = GovernanceStore(sys.argv[1], policy=Policy(hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)))
    Path(sys.argv[2]).write_text("ready")
    for i in range(int(sys.argv[3])):
        ledger.record("process", "test.child", str(i), {"i": i}, store=store)
""")


def test_concurrent_appends_threads_and_process(store, tmp_path, governance_target):
    threads_n, per_thread, child_n = 8, 150, 400
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", CHILD, governance_target, str(ready), str(child_n)])
    # Start the threads once the process is writing, and keep them writing until it has finished,
    # so the writers overlap however the machine schedules them.
    deadline = time.monotonic() + 60
    while store.one("SELECT 1 FROM ledger WHERE actor = 'process'") is None and time.monotonic() < deadline:
        time.sleep(0.005)
    errors: list[BaseException] = []
    written = [0] * threads_n

    def work(t):
        try:
            while written[t] < per_thread or child.poll() is None:
                ledger.record(f"thread{t}", "test.thread", str(written[t]), {"t": t}, store=store)
                written[t] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert child.wait(timeout=120) == 0
    assert errors == []
    res = verify(store)
    assert res.ok and res.entries == N + sum(written) + child_n
    seq_actor = store.query("SELECT seq, actor FROM ledger WHERE seq > ? ORDER BY seq", (N,))
    process_seqs = [r["seq"] for r in seq_actor if r["actor"] == "process"]
    thread_seqs = [r["seq"] for r in seq_actor if r["actor"].startswith("thread")]
    assert len(process_seqs) == child_n
    # The writers really overlapped: the process wrote between the threads' first and last entries.
    assert any(min(thread_seqs) < s < max(thread_seqs) for s in process_seqs)
    # Every writer's own entries keep their order.
    for t in range(threads_n):
        mine = [int(r["target"]) for r in store.query("SELECT target FROM ledger WHERE actor = ? ORDER BY seq",
                                                       (f"thread{t}",))]
        assert mine == list(range(written[t]))


def test_listing_filters(store):
    all_entries = ledger.entries(limit=1000, newest_first=False, store=store)
    assert [e.seq for e in all_entries] == list(range(1, N + 1))
    by_actor = ledger.entries(actor="user1", store=store)
    assert sorted(e.seq for e in by_actor) == [i + 1 for i in range(N) if i % 3 == 1]
    assert ledger.entries(action="test.", store=store) and not ledger.entries(action="gate.", store=store)
    assert len(ledger.entries(action="test.event", limit=5, store=store)) == 5
    cut = all_entries[4].time
    later = ledger.entries(since=cut, limit=1000, store=store)
    assert {e.seq for e in later} == {e.seq for e in all_entries if e.time >= cut}
    assert ledger.entries(until=utcnow() - timedelta(days=1), store=store) == []
    assert all_entries[0].detail == {"i": 0, "text": "值"}


def test_release_approvals(store):
    from data_products.governance import accounts

    for name in ("official", "official2"):
        accounts.add_user(name, "correct horse battery", "commission_official", "Commission", store=store)
    two = tuple(accounts.sign_in(n, "correct horse battery", store=store).principal for n in ("official", "official2"))
    a = releases.record_approval("r1", "wait_times", "h1", two, {"inputs": ["x"]}, store=store)
    assert releases.record_approval("r1", "wait_times", "h1", two, {"inputs": ["x"]}, store=store).id == a.id
    with pytest.raises(releases.ReleaseError, match="r1"):
        releases.record_approval("r1", "wait_times", "h2", two, {}, store=store)
    with pytest.raises(releases.ReleaseError, match="product_id"):
        releases.record_approval("r2", "nope", "h2", two, {}, store=store)
    b = releases.record_approval("r2", "wait_times", "h2", two, {"inputs": ["y"]}, store=store)
    assert [x.release_id for x in releases.approvals("wait_times", store=store)] == ["r2", "r1"]
    assert releases.approvals("pneumonia_atlas", store=store) == []
    assert [e.detail["release_id"] for e in ledger.entries(action="release.approve", store=store)] == ["r2", "r1"]
    assert b.audit_seq == ledger.count(store) and verify(store).ok


def test_bench_small(home):
    from data_products.governance.bench import bench_gate

    out = bench_gate(n_decisions=50, n_appends=200, n_verify=20_000, home=home / "bench")
    assert out["verify_entries"] == 20_000 and out["verify_ok"]
    assert out["gate_median_ms"] > 0 and out["appends_per_s"] > 0 and out["gate_no_audit_median_ms"] > 0


ODD = "a\x00b\n\t\x1f\u2028\ufeff😀\"\\/值</x>"


def test_odd_text_verifies_on_both_paths(store, monkeypatch, raw, raw_db):
    ledger.record(ODD, ODD, ODD, {ODD: [ODD, None, 1.5, True]}, store=store)
    ledger.record("\ud800lone", "test.event", None, {"k": "\udfff"}, store=store)
    # PostgreSQL's text holds no NUL: on both engines it becomes U+FFFD, the rest is kept as sent.
    assert [e.actor for e in ledger.entries(limit=2, store=store)][1] == ODD.replace("\x00", "\ufffd")
    if store.dialect == "postgresql":
        # Its JSON functions space their output differently: verify serialises in Python there.
        assert verify(store).ok
        raw(store).execute("UPDATE ledger SET target = 'x' WHERE seq = ?", (N + 1,))
        assert verify(store).first_bad_seq == N + 1
        return
    conn = sqlite3.connect(store.path)
    for r in rows(conn):
        fast = conn.execute("SELECT json_array(seq, time, actor, action, target, detail, prev_hash) FROM ledger"
                            " WHERE seq = ?", (r[0],)).fetchone()[0]
        # The SQLite shortcut reproduces the documented serialisation exactly.
        assert sha256_hex(fast) == entry_hash(*r[:7]) == r[7]
    assert verify(store).ok
    monkeypatch.setattr(ledger, "_VERIFY_SQL", ledger._VERIFY_SQL_PLAIN)
    assert verify(store).ok
    raw(store).execute("UPDATE ledger SET target = 'x' WHERE seq = ?", (N + 1,))
    assert verify(store).first_bad_seq == N + 1


def sha256_hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
