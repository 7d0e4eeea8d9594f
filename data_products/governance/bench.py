"""Governance benchmark: gate decision latency, audit append rate, verify time on a large ledger.

    python -m data_products.governance.bench      (or `dataspace bench`)

Targets: a gate decision under 1 ms (with its audit write; the decision alone is reported too),
more than 1,000 audit appends per second, and ``verify`` over one million entries in under 10 s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from data_products.governance import demo, ledger
from data_products.governance.accounts import sign_in
from data_products.governance.gate import decide, evaluate
from data_products.governance.ledger import canonical_json
from data_products.governance.store import GENESIS, TABLES, TRIGGERS, GovernanceStore, _statements, to_db, utcnow


def _bulk_ledger(path: Path, n: int, key: bytes) -> None:
    """A valid chain of ``n`` entries written in bulk: indexes and triggers go on after the load,
    and the few distinct detail texts are serialised once."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    statements = _statements(TABLES)
    for statement in statements:
        if not statement.startswith("CREATE INDEX"):
            conn.execute(statement)
    stamp = to_db(utcnow())
    details = [canonical_json({"action": "view", "reason": "approved_scenario", "scenario_id": k}) for k in range(97)]
    quoted = [json.dumps(d, ensure_ascii=False) for d in details]
    sha256 = hashlib.sha256
    mac_of = hmac.digest
    state = {"prev": GENESIS}

    def gen():
        prev = state["prev"]
        for seq in range(1, n + 1):
            actor = f"user{seq % 50}"
            # The same text as entry_hash's json.dumps for these plain-ASCII fields (the test checks).
            payload = f'[{seq},"{stamp}","{actor}","gate.allow","jaundice_report",{quoted[seq % 97]},"{prev}"]'
            digest = sha256(payload.encode()).hexdigest()
            mac = mac_of(key, digest.encode(), "sha256").hex()
            yield seq, stamp, actor, "gate.allow", "jaundice_report", details[seq % 97], prev, digest, mac
            prev = digest
        state["prev"] = prev

    conn.execute("BEGIN")
    conn.executemany("INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash, mac)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", gen())
    conn.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (n, state["prev"]))
    conn.execute("COMMIT")
    for statement in statements + _statements(TRIGGERS):
        conn.execute(statement)
    conn.close()


def bench_gate(n_decisions: int = 2000, n_appends: int = 5000, n_verify: int = 1_000_000,
               home: str | Path | None = None) -> dict[str, float]:
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="dataspace-bench-")
        home = tmp.name
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    try:
        store = GovernanceStore(home / "governance.sqlite")  # real argon2id defaults
        demo.seed_demo(store)
        t0 = time.perf_counter()
        result = sign_in("company_jaundice", demo.demo_passwords()["company_jaundice"], store=store)
        sign_in_ms = (time.perf_counter() - t0) * 1000
        buyer = result.principal

        times = []
        for _ in range(n_decisions):
            t0 = time.perf_counter()
            d = decide(buyer, "jaundice_report", "view", store=store)
            times.append(time.perf_counter() - t0)
        assert d.allowed, d.reason
        bare = []
        for _ in range(n_decisions):
            t0 = time.perf_counter()
            with store.read() as tx:
                evaluate(tx, buyer, "jaundice_report", "view", utcnow(), touch=False)
            bare.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        for i in range(n_appends):
            ledger.record("bench", "bench.append", str(i), {"i": i}, store=store)
        appends_per_s = n_appends / (time.perf_counter() - t0)
        chain_ok = ledger.verify(store).ok

        big = home / "ledger-bench.sqlite"
        t0 = time.perf_counter()
        # Beside the main store, so both use the same key file (keys/ledger.key).
        _bulk_ledger(big, n_verify, store.ledger_key())
        generate_s = time.perf_counter() - t0
        big_store = GovernanceStore(big)
        t0 = time.perf_counter()
        res = ledger.verify(big_store)
        verify_s = time.perf_counter() - t0
        big_store.close()
        store.close()
        out = {
            "gate_median_ms": statistics.median(times) * 1000,
            "gate_p95_ms": sorted(times)[int(0.95 * (len(times) - 1))] * 1000,
            "gate_no_audit_median_ms": statistics.median(bare) * 1000,
            "appends_per_s": appends_per_s,
            "sign_in_ms": sign_in_ms,
            "verify_entries": res.entries,
            "verify_ok": bool(res.ok and chain_ok),
            "verify_s": verify_s,
            "generate_s": generate_s,
        }
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"gate decision (with audit write): median {out['gate_median_ms']:.3f} ms, p95 {out['gate_p95_ms']:.3f} ms"
          "  [target < 1 ms]")
    print(f"gate decision alone (no audit):   median {out['gate_no_audit_median_ms']:.3f} ms")
    print(f"audit appends:                    {out['appends_per_s']:,.0f} per second  [target > 1,000]")
    print(f"verify:                           {out['verify_entries']:,} entries in {out['verify_s']:.2f} s"
          f" (ok={out['verify_ok']}; generated in {out['generate_s']:.1f} s)  [target < 10 s for 1,000,000]")
    print(f"sign-in (argon2id defaults):      {out['sign_in_ms']:.0f} ms")
    return out


if __name__ == "__main__":
    bench_gate()
