"""Issue 13 item 5: the four ledger rewrites that passed `audit verify` before keyed MACs and published heads.

The attacker can write governance.sqlite or the PostgreSQL store as its owner (drop the triggers, delete, insert, recompute every SHA-256) but not
the key file; the insider also holds the key. Published heads (the anchor file, each release's approval
metadata) left the machine before the rewrite. Each rewrite must fail `dataspace audit verify --anchor FILE`.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from data_products.cli import main
from data_products.governance import GovernanceStore, Policy, accounts, decide, ledger, scenarios
from data_products.governance.gate import record_download
from data_products.governance.ledger import GENESIS, entry_hash, entry_mac
from data_products.governance.store import utcnow

FAST = Policy(hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
PW = "correct horse battery"


@pytest.fixture
def space(governance_target, tmp_path, raw_db):
    """A ledger with sign-ins, a scenario decision, allowed and denied reads and downloads; its head
    published (and copied off the machine) part-way, then more activity."""
    store = GovernanceStore(governance_target, policy=FAST)
    accounts.add_user("official", PW, "commission_official", "Commission", store=store)
    accounts.add_user("buyer", PW, "company", "Buyer Co", store=store)
    accounts.add_user("nosy", PW, "company", "Nosy Co", store=store)
    buyer = accounts.sign_in("buyer", PW, store=store).principal
    nosy = accounts.sign_in("nosy", PW, store=store).principal
    official = accounts.sign_in("official", PW, store=store).principal
    now = utcnow()
    sc = scenarios.apply(buyer, "jaundice_report", "device evaluation", now.date(), (now + timedelta(days=30)).date(),
                         ("view", "download"), store=store)
    scenarios.approve(official, sc.id, "fine", store=store)
    for _ in range(3):
        assert decide(buyer, "jaundice_report", "view", store=store).allowed
        record_download(buyer, "jaundice_report", "report.pdf", n_bytes=1234, store=store)
        assert not decide(nosy, "jaundice_report", "view", store=store).allowed
    published = ledger.publish_head("release.approve", store=store)
    off_site = tmp_path / "anchors-copy.jsonl"
    shutil.copyfile(ledger.anchor_path(store), off_site)
    for _ in range(2):
        decide(buyer, "jaundice_report", "view", store=store)
    assert ledger.verify(store, anchors=ledger.read_anchors(off_site)).ok
    return {"store": store, "anchor": off_site, "published": published, "key": store.ledger_key(),
            "raw": raw_db(store), "target": governance_target}


def _rows(raw):
    return raw.execute("SELECT seq, time, actor, action, target, detail, mac FROM ledger ORDER BY seq").fetchall()


def _rewrite(raw, rows, key: bytes | None) -> None:
    """Replace the whole ledger by ``rows`` (time, actor, action, target, detail, old_mac), renumbered and
    re-chained; with ``key`` every MAC is recomputed, without it the old MAC at that position is reused."""
    conn = raw.drop_triggers()
    old_macs = [r[0] for r in conn.execute("SELECT mac FROM ledger ORDER BY seq")]
    conn.execute("BEGIN")
    conn.execute("DELETE FROM ledger")
    prev = GENESIS
    for seq, (time, actor, action, target, detail, _mac) in enumerate(rows, 1):
        digest = entry_hash(seq, time, actor, action, target, detail, prev)
        mac = entry_mac(key, digest) if key else (old_macs[seq - 1] if seq <= len(old_macs) else None)
        conn.execute("INSERT INTO ledger (seq, time, actor, action, target, detail, prev_hash, hash, mac)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (seq, time, actor, action, target, detail, prev, digest, mac))
        prev = digest
    conn.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (len(rows), prev))
    conn.execute("COMMIT")


def _verify_cli(anchor, capsys) -> tuple[int, str]:
    code = main(["audit", "verify", "--anchor", str(anchor)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _forged_approval(rows) -> tuple:
    time = rows[-1][1]
    return (time, "official", "scenario.approve", "tumor_distribution",
            json.dumps({"scenario_id": 99, "org_id": 3, "reason": "ok", "via": "app"}, separators=(",", ":")), None)


def test_untouched_ledger_verifies_with_its_published_heads(space, capsys):
    code, out = _verify_cli(space["anchor"], capsys)
    assert code == 0 and "MAC checked" in out and "1 published head(s) match" in out


# --- 1. truncation with the head moved back ------------------------------------------------------------------


def test_truncation_with_the_head_moved_back_is_detected(space, capsys):
    store, cut = space["store"], space["published"].seq - 3
    rows = _rows(space["raw"])[:cut]
    _rewrite(space["raw"], [r[1:] for r in rows], key=None)  # the remaining entries keep their own valid MACs
    assert ledger.verify(store).ok  # alone, a clean prefix of a keyed chain still verifies...
    code, out = _verify_cli(space["anchor"], capsys)  # ...but the published head says the ledger was longer
    assert code == 1 and f"ends at entry {cut}" in out and "removed from the end" in out


# --- 2. a forged scenario.approve appended --------------------------------------------------------------------


def test_forged_approval_appended_is_detected(space, capsys):
    rows = [r[1:] for r in _rows(space["raw"])]
    _rewrite(space["raw"], [*rows, _forged_approval(rows)], key=None)
    code, out = _verify_cli(space["anchor"], capsys)
    assert code == 1 and f"entry {len(rows) + 1} carries no valid MAC" in out


# --- 3. a forged entry inserted, the rest recomputed ----------------------------------------------------------


@pytest.mark.parametrize("with_key", [False, True], ids=["outsider", "insider-with-key"])
def test_forged_entry_inserted_and_chain_recomputed_is_detected(space, capsys, with_key):
    rows = [r[1:] for r in _rows(space["raw"])]
    at = 5
    _rewrite(space["raw"], [*rows[:at], _forged_approval(rows), *rows[at:]], key=space["key"] if with_key else None)
    code, out = _verify_cli(space["anchor"], capsys)
    assert code == 1
    if with_key:  # every MAC is valid; the published head no longer matches the chain
        assert f"entry {space['published'].seq} differs from the head published" in out
    else:
        assert f"entry {at + 1} carries no valid MAC" in out


# --- 4. every download and deny entry deleted, the rest recomputed ---------------------------------------------


@pytest.mark.parametrize("with_key", [False, True], ids=["outsider", "insider-with-key"])
def test_downloads_and_denies_deleted_and_chain_recomputed_is_detected(space, capsys, with_key):
    rows = [r[1:] for r in _rows(space["raw"])]
    kept = [r for r in rows if r[2] not in ("download", "gate.deny")]
    assert len(rows) - len(kept) >= 6
    _rewrite(space["raw"], kept, key=space["key"] if with_key else None)
    code, out = _verify_cli(space["anchor"], capsys)
    assert code == 1 and ("carries no valid MAC" in out or "differs from the head published" in out
                          or "removed from the end" in out)
    if not with_key:
        assert "carries no valid MAC" in out


# --- the edge of the guarantee, stated in the README and on the audit page ------------------------------------


def test_what_is_not_guaranteed_entries_after_the_newest_published_head(space, capsys):
    """The key's holder can still drop or forge entries written after the newest published head; publishing
    the head (`dataspace audit anchor`, every approval) closes that window up to the moment it runs."""
    rows = [r[1:] for r in _rows(space["raw"])]
    _rewrite(space["raw"], rows[:-1], key=space["key"])
    assert _verify_cli(space["anchor"], capsys)[0] == 0
    main(["audit", "anchor", "--anchor", str(space["anchor"])])
    capsys.readouterr()
    _rewrite(space["raw"], rows[:-2], key=space["key"])
    code, out = _verify_cli(space["anchor"], capsys)
    assert code == 1 and "removed from the end" in out


def test_key_lives_outside_the_store_owner_only_and_is_never_replaced_silently(space, capsys):
    store = space["store"]
    key_file = store.key_path
    if store.dialect == "sqlite":
        assert key_file.read_text().strip() not in store.path.read_bytes().decode("latin-1")
    else:
        assert space["raw"].execute("SELECT 1 FROM meta WHERE strpos(value, ?) > 0",
                                    (key_file.read_text().strip(),)).fetchone() is None
    assert (key_file.stat().st_mode & 0o777) == 0o600 and (key_file.parent.stat().st_mode & 0o777) == 0o700
    moved = key_file.with_name("elsewhere.key")
    key_file.rename(moved)
    fresh = GovernanceStore(space["target"], policy=FAST)
    with pytest.raises(ledger.LedgerKeyError, match="restore it"):
        ledger.record("x", "test.event", store=fresh)
    assert main(["audit", "verify"]) == 2 and "missing" in capsys.readouterr().err
    # A reader without the key checks the chain and the published heads only, and says so.
    assert main(["audit", "verify", "--without-key", "--anchor", str(space["anchor"])]) == 0
    assert "MACs NOT checked" in capsys.readouterr().out
    # Another key is not this ledger's key.
    key_file.write_text("ab" * 32 + "\n")
    key_file.chmod(0o600)
    other = GovernanceStore(space["target"], policy=FAST)
    with pytest.raises(ledger.LedgerKeyError, match="not the key"):
        other.ledger_key()


def test_administrators_report_lists_who_touched_what_under_which_authorization(space, capsys):
    from data_products.governance.report import admin_report

    report = admin_report(store=space["store"])
    assert report["verified"] is True
    approve = next(r for r in report["rows"] if r["action"] == "scenario.approve")
    assert (approve["actor"], approve["role"], approve["authorization"]) == (
        "official", "commission_official", "role commission_official")
    assert {r["action"] for r in report["rows"] if r["actor"] == "system"} >= {"user.add", "org.add"}
    # A company reading its own product is no administrator's act; sign-ins are not either.
    assert not [r for r in report["rows"] if r["actor"] in ("buyer", "nosy")]
    assert not [r for r in report["rows"] if r["action"].startswith("auth.sign_")]
    assert main(["audit", "report", "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert "scenario.approve" in out and "official" in out and "ledger verifies" in out
