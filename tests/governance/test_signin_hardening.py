"""Issue 13 item 7: sign-in backoff that cannot lock someone else out, no difference between existing and
unknown usernames, lookalike usernames refused, owner-only store files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from data_products.config import paths
from data_products.governance import GovernanceStore, Policy, accounts, entries, verify
from data_products.governance import cli as gov_cli
from data_products.governance.store import utcnow

PW = "correct horse battery"
OFFICE, ATTACKER = "app:10.1.1.7", "app:203.0.113.66"


class CountingHasher(PasswordHasher):
    """Real argon2id (cheap parameters) that counts verifications."""

    calls = 0

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        CountingHasher.calls += 1
        return super().verify(hash, password)


@pytest.fixture
def store(governance_target):
    s = GovernanceStore(governance_target,
                        policy=Policy(hasher=CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)))
    accounts.add_user("official", PW, "commission_official", "Commission", store=s)
    return s


def attempt(store, name, password, client, at):
    return accounts.sign_in(name, password, client=client, now=at, store=store)


# --- lockout that cannot be used against someone else -------------------------------------------------------


def test_an_attacker_cannot_lock_the_official_out(store):
    t0 = utcnow()
    assert attempt(store, "official", PW, OFFICE, t0).ok  # the office is a known client
    n = store.policy.lockout_failures
    for i in range(n * 3):
        attempt(store, "official", "wrong password!", ATTACKER, t0 + timedelta(seconds=i))
    # The attacker's own client is stopped, even with the right password...
    assert attempt(store, "official", PW, ATTACKER, t0 + timedelta(minutes=1)).reason == "locked"
    # ...while the official still signs in from the office.
    assert attempt(store, "official", PW, OFFICE, t0 + timedelta(minutes=1)).ok
    # From a client never used before too: one attacker client is not enough for the account-wide backoff.
    assert attempt(store, "official", PW, "app:198.51.100.9", t0 + timedelta(minutes=1)).ok


def test_many_attacking_clients_slow_new_clients_only_and_an_official_unlocks(store, monkeypatch):
    t0 = utcnow()
    assert attempt(store, "official", PW, OFFICE, t0).ok
    limit = store.policy.lockout_failures * accounts.ACCOUNT_WIDE
    for i in range(limit):
        attempt(store, "official", "wrong password!", f"app:203.0.113.{i}", t0 + timedelta(seconds=i))
    later = t0 + timedelta(minutes=2)
    assert attempt(store, "official", PW, "app:198.51.100.9", later).reason == "locked"  # a new client waits
    assert attempt(store, "official", PW, OFFICE, later).ok  # the official's own client does not
    accounts.add_user("official2", PW, "commission_official", "Commission", store=store)
    monkeypatch.setenv(gov_cli.USER_ENV, "official2")
    monkeypatch.setenv(gov_cli.PASSWORD_ENV, PW)
    assert gov_cli.users_unlock("official", store=store) == 0
    assert attempt(store, "official", PW, "app:198.51.100.9", later).ok
    unlock = entries(action="auth.unlock", store=store)[0]
    assert unlock.actor == "official2" and unlock.detail["failures_cleared"] == limit


def test_one_client_spraying_many_names_is_stopped_for_all_of_them(store):
    t0 = utcnow()
    for i in range(store.policy.lockout_failures * accounts.CLIENT_WIDE):
        attempt(store, f"guess{i}", "wrong password!", ATTACKER, t0 + timedelta(seconds=i))
    assert attempt(store, "official", PW, ATTACKER, t0 + timedelta(minutes=1)).reason == "locked"
    assert attempt(store, "official", PW, OFFICE, t0 + timedelta(minutes=1)).ok
    assert verify(store).ok


# --- no difference between existing and unknown users -------------------------------------------------------


def test_existing_and_unknown_usernames_answer_alike_in_every_state(store):
    t0 = utcnow()

    def answer(name, at):
        before = CountingHasher.calls
        r = attempt(store, name, "wrong password!", ATTACKER, at)
        return r.ok, r.reason, r.message("en"), r.message("zh"), CountingHasher.calls - before

    for i in range(store.policy.lockout_failures + 2):
        at = t0 + timedelta(seconds=i)
        known, unknown = answer("official", at), answer("nobody_here", at)
        # Same verdict, same words, and exactly one argon2 verification each, locked or not.
        assert known == unknown and known[4] == 1
    assert known[1] == "locked"


# --- lookalike usernames ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["оfficial",  # Cyrillic о
                                  "οfficial",  # Greek omicron
                                  "0fficial", "officia1", "OFFICIAL", "ｏｆｆｉｃｉａｌ", "offіcial"])  # Ukrainian і
def test_lookalikes_of_an_existing_username_are_refused(store, name):
    with pytest.raises(accounts.AccountError, match="looks like|exists"):
        accounts.add_user(name, PW, "commission_official", "Commission", store=store)
    assert [u["username"] for u in accounts.users(store)] == ["official"]


def test_distinct_names_are_still_accepted(store):
    for name in ("official2", "analyst", "张伟", "hospital_f0602", "hospital_f0301"):
        accounts.add_user(name, PW, "company", f"Co {name}", store=store)
    assert accounts.skeleton("оfficial") == accounts.skeleton("official")


# --- owner-only store files ---------------------------------------------------------------------------------


def test_governance_store_and_key_are_owner_only_whatever_the_umask(home):
    import os

    old = os.umask(0o022)
    try:
        s = GovernanceStore(paths().governance_db, policy=Policy(hasher=PasswordHasher(time_cost=1, memory_cost=1024,
                                                                                           parallelism=1)))
        accounts.add_user("someone", PW, "company", "Co", store=s)
    finally:
        os.umask(old)
    db = paths().governance_db
    for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), s.key_path):
        assert f.exists() and (f.stat().st_mode & 0o777) == 0o600, f
