"""Issue 13 items 6 and 8: two different officials for every release, the command line proves who acts, the
requester never approves, and recording an approval and publishing it are one step a crash cannot split."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from data_products import approved
from data_products.cli import main
from data_products.config import paths
from data_products.governance import cli as gov_cli
from data_products.governance import demo_passwords, entries, ledger, releases, scenarios, two_person, users
from data_products.governance.store import get_store

PRODUCT = "jaundice_report"


@pytest.fixture
def space(demo, tmp_path, monkeypatch):
    """A writable copy of the demo space."""
    dst = tmp_path / "copy"
    shutil.copytree(demo, dst, ignore=shutil.ignore_patterns("*.log"))
    monkeypatch.setenv("DATASPACE_HOME", str(dst))
    for name in (gov_cli.USER_ENV, gov_cli.PASSWORD_ENV, gov_cli.TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)
    approved._cache.clear()
    return dst


def fresh_candidate(tag: str) -> str:
    """A new candidate of the product (the live content, rebuilt under a new id)."""
    from data_products.pipeline import latest_candidate

    tables, meta = approved.read_release_file(approved.candidate_path(latest_candidate(PRODUCT)))
    rid = f"{PRODUCT}@29991231T235959-{tag}"
    meta.update(release_id=rid, built_at=f"rebuilt for {tag}")
    approved.write_release_file(approved.candidate_path(rid), tables, meta)
    return rid


# --- two different officials ---------------------------------------------------------------------------------


def test_one_official_cannot_publish_a_release_alone(space, signed_in):
    from data_products.pipeline import ApprovalRefused, approve

    before = approved.current_release_id(PRODUCT)
    rid = fresh_candidate("alone")
    first = approve(rid, signed_in("official"))
    assert first["status"] == "awaiting_second_approval" and first["signed_by"] == ["official"]
    assert approved.current_release_id(PRODUCT) == before and releases.approval_of(rid, PRODUCT) is None
    with pytest.raises(ApprovalRefused, match="already approved this"):
        approve(rid, signed_in("official"))
    with pytest.raises(ApprovalRefused, match="commission_analyst"):
        approve(rid, signed_in("analyst"))
    assert approved.current_release_id(PRODUCT) == before
    second = approve(rid, signed_in("official2"))
    assert second["status"] == "published" and second["approvers"] == ["official", "official2"]
    assert approved.current_release_id(PRODUCT) == rid
    meta = json.loads((paths().approved / PRODUCT / f"{rid}.approval.json").read_text())
    assert meta["approved_by"] == "official, official2" and [s["username"] for s in meta["signoffs"]] == ["official",
                                                                                                           "official2"]
    signs = [e for e in entries(action="release.signoff", limit=50) if e.detail["release_id"] == rid]
    assert sorted(e.actor for e in signs) == ["official", "official2"]


def test_two_person_rule_counts_people_not_spellings():
    with pytest.raises(two_person.FourEyesError, match="already approved"):
        two_person.check_approver("OFFICIAL", approved_by=["official"])
    with pytest.raises(two_person.FourEyesError, match="requested"):
        two_person.check_approver("ｏｆｆｉｃｉａｌ".casefold(), requested_by=["Official"])
    assert not two_person.complete(["official", "Official"]) and two_person.complete(["official", "official2"])


def test_the_requester_cannot_approve_their_own_scenario(space, signed_in):
    """Roles already keep officials from applying; the rule holds even for an application recorded under an
    official's name (for example one carried over from another system)."""
    sc = scenarios.pending()[0]
    store = get_store()
    with store.write() as tx:
        tx.execute("UPDATE scenarios SET applied_by = 'official' WHERE id = ?", (sc.id,))
    with pytest.raises(scenarios.ScenarioError, match="requested this and cannot also approve"):
        scenarios.approve(signed_in("official"), sc.id, "my own")
    assert scenarios.approve(signed_in("official2"), sc.id, "someone else's").state == "approved"


# --- the command line proves who acts --------------------------------------------------------------------------


def test_cli_approve_without_the_password_is_refused_and_records_nothing(space, monkeypatch, capsys):
    rid = fresh_candidate("cli")
    assert main(["approve", rid, "--by", "official"]) == 2  # a claimed name, no password
    out, err = capsys.readouterr()
    assert "DATASPACE_PASSWORD" in err and out == ""  # bad input: the message on stderr
    monkeypatch.setenv(gov_cli.PASSWORD_ENV, demo_passwords()["official"])
    assert main(["approve", rid, "--by", "official2"]) == 2  # official's password does not make one official2
    assert releases.signoffs(rid, PRODUCT) == []
    failed = entries(action="auth.sign_in_failed", limit=1)[0]
    assert failed.actor == "official2" and failed.detail["client"] == f"cli:{gov_cli.os_account()}"
    assert main(["approve", rid, "--as", "official"]) == 0
    capsys.readouterr()
    (sign,) = releases.signoffs(rid, PRODUCT)
    assert sign.username == "official" and sign.os_user == gov_cli.os_account()
    logged = entries(action="release.signoff", limit=1)[0]
    assert logged.actor == "official" and logged.detail["os_user"] == gov_cli.os_account()
    assert approved.current_release_id(PRODUCT) != rid


def test_cli_scenario_decision_without_the_password_is_refused(space, monkeypatch, capsys):
    sc = scenarios.pending()[0]
    assert main(["scenarios", "decide", str(sc.id), "approve", "--by", "official"]) == 2
    assert scenarios.scenarios(state="pending")[0].id == sc.id
    monkeypatch.setenv(gov_cli.USER_ENV, "official")
    monkeypatch.setenv(gov_cli.PASSWORD_ENV, demo_passwords()["official"])
    assert main(["scenarios", "decide", str(sc.id), "approve", "--reason", "checked"]) == 0
    e = entries(action="scenario.approve", limit=1)[0]
    assert (e.actor, e.detail["via"], e.detail["os_user"]) == ("official", "cli", gov_cli.os_account())


def test_cli_account_changes_need_a_signed_in_official(space, monkeypatch, capsys):
    monkeypatch.setenv(gov_cli.NEW_PASSWORD_ENV, "a long enough password")
    assert main(["users", "add", "intruder", "--role", "commission_official", "--org", "X"]) == 2
    monkeypatch.setenv(gov_cli.USER_ENV, "analyst")
    monkeypatch.setenv(gov_cli.PASSWORD_ENV, demo_passwords()["analyst"])
    assert main(["users", "add", "intruder", "--role", "commission_official", "--org", "X"]) == 2
    assert "intruder" not in {u["username"] for u in users()}


# --- an approval recorded and published together, whatever kills the process --------------------------------

KILL = """
import os, signal, sys
from data_products import approved, pipeline
from data_products.governance import demo_passwords, sign_in

def checkpoint(name):
    if name == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)

approved.checkpoint = checkpoint
principal = sign_in("official2", demo_passwords()["official2"], client="test").principal
pipeline.approve(sys.argv[1], principal)
"""

BEFORE_COMMIT = ("copying", "staged", "recording")
AFTER_COMMIT = ("recorded", "metadata_written", "anchored")


@pytest.mark.parametrize("point", BEFORE_COMMIT + AFTER_COMMIT)
def test_a_kill_at_any_step_leaves_approval_and_publication_both_or_neither(space, point, capsys, signed_in):
    from data_products.pipeline import approve, reconcile

    before = approved.current_release_id(PRODUCT)
    rid = fresh_candidate(point.replace("_", ""))
    approve(rid, signed_in("official"))  # the first sign-off; the second one publishes
    proc = subprocess.run([sys.executable, "-c", KILL, rid, point], env=dict(os.environ), capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    recorded = releases.approval_of(rid, PRODUCT) is not None
    assert recorded == (point in AFTER_COMMIT)
    # Until the next start the old release is still served, complete and readable.
    assert approved.current_release_id(PRODUCT) == before
    approved._cache.clear()
    assert approved.current(PRODUCT).tables

    switched = reconcile()  # what `dataspace serve`, `approve` and `build` run first
    assert switched == ([rid] if recorded else [])
    assert (approved.current_release_id(PRODUCT) == rid) == recorded
    assert not list(paths().approved.rglob("*.tmp"))
    if recorded:
        meta = json.loads((paths().approved / PRODUCT / f"{rid}.approval.json").read_text())
        a = releases.approval_of(rid, PRODUCT)
        assert meta["ledger_head"] == {"seq": a.audit_seq, "hash": a.audit_hash}
        assert any(x.seq == a.audit_seq for x in ledger.read_anchors(ledger.anchor_path()))
        assert approved.current(PRODUCT).release_id == rid
    else:
        assert not [e for e in entries(action="release.approve", limit=100) if e.detail["release_id"] == rid]
        # The interrupted approval is simply given again.
        assert approve(rid, signed_in("official2"))["status"] == "published"
        assert approved.current_release_id(PRODUCT) == rid
    assert gov_cli.audit_verify() == 0, capsys.readouterr().err


def test_store_files_of_a_built_space_are_owner_only(demo):
    files = [demo / "governance.sqlite", demo / "restricted.duckdb", demo / "keys" / "ledger.key",
             *demo.glob("approved/*/*.duckdb"), *demo.glob("approved/*/*.json"), *demo.glob("approved/*/CURRENT"),
             *demo.glob("candidates/*/*.duckdb")]
    assert len(files) > 10
    loose = [f"{f.relative_to(demo)} {f.stat().st_mode & 0o777:o}" for f in files if f.stat().st_mode & 0o077]
    assert loose == []


# --- per-user command-line tokens: process, approve and export prove who acts ----------------------------------


def _issue(monkeypatch, capsys, username: str, *, as_user: str = "official") -> str:
    """`dataspace users token USERNAME`, run by ``as_user`` signed in with the password; the token printed."""
    monkeypatch.delenv(gov_cli.TOKEN_ENV, raising=False)
    monkeypatch.setenv(gov_cli.USER_ENV, as_user)
    monkeypatch.setenv(gov_cli.PASSWORD_ENV, demo_passwords()[as_user])
    capsys.readouterr()
    assert main(["users", "token", username]) == 0
    out, err = capsys.readouterr()
    monkeypatch.delenv(gov_cli.USER_ENV)
    monkeypatch.delenv(gov_cli.PASSWORD_ENV)
    assert "shown once" in err
    return out.strip()


def test_cli_tokens_not_claimed_names_decide_who_processes_approves_and_exports(space, monkeypatch, capsys, tmp_path):
    """Outside a demo space: `process`, `approve` and `export` run only for a user who proves who they are
    and whom the gate allows; a wrong, revoked or other user's token, or a bare name, gets nothing."""
    import hashlib

    from data_products.governance.accounts import tokens

    (space / "DEMO").unlink()  # a real deployment: no demo fallback
    os_user = gov_cli.os_account()

    def process_as(*extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["process", "--product", "no_such_product", *extra])
        return code, capsys.readouterr().err

    def logged(action: str):
        found = entries(action=action, limit=1)
        return found[0] if found else None

    # No credential, a bare claimed name, a made-up token: refused before anything is built or logged.
    code, err = process_as()
    assert code == 2 and "who is acting" in err
    code, err = process_as("--as", "official")
    assert code == 2 and "no password for official" in err
    monkeypatch.setenv(gov_cli.TOKEN_ENV, "dst_" + "A" * 43)
    code, err = process_as()
    assert code == 2 and "token refused" in err
    assert logged("auth.sign_in_failed").detail["reason"] == "unknown_token"
    assert logged("release.process") is None and logged("release.process_failed") is None

    # A token is shown once and stored only as its hash.
    token = _issue(monkeypatch, capsys, "official")
    assert token.startswith("dst_") and len(token) > 40
    rows = tokens("official")
    assert len(rows) == 1 and rows[0]["revoked_at"] is None
    raw = get_store().one("SELECT token_hash FROM cli_tokens WHERE id = ?", (rows[0]["id"],))["token_hash"]
    assert raw == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token.encode() in f.read_bytes() for f in space.glob("governance.sqlite*"))
    issued = logged("auth.token_issued")
    assert (issued.actor, issued.target, issued.detail["os_user"]) == ("official", "official", os_user)

    # The official's token: the gate allows, and the ledger has the official and the OS account.
    monkeypatch.setenv(gov_cli.TOKEN_ENV, token)
    code, err = process_as()
    assert code == 2 and "no_such_product" in err  # authenticated; the product name is what fails
    failed = logged("release.process_failed")
    assert (failed.actor, failed.detail["os_user"], failed.detail["via"]) == ("official", os_user, "cli")
    policy = logged("gate.policy")
    assert (policy.actor, policy.detail["action"], policy.detail["allowed"]) == ("official", "pipeline.process", True)
    # ... but it does not make its holder anyone else.
    code, err = process_as("--as", "official2")
    assert code == 2 and "'official''s, not 'official2'" in err
    rid = fresh_candidate("token")
    assert main(["approve", rid, "--as", "official2"]) == 2
    assert releases.signoffs(rid, PRODUCT) == []
    assert main(["approve", rid]) == 0  # the token's own user approves (first sign-off)
    (sign,) = releases.signoffs(rid, PRODUCT)
    assert (sign.username, sign.os_user) == ("official", os_user)

    # A token of a user the gate does not allow to process (a hospital): refused, the refusal logged.
    monkeypatch.setenv(gov_cli.TOKEN_ENV, _issue(monkeypatch, capsys, "hospital_f0301"))
    code, err = process_as()
    assert code == 2 and "may not pipeline.process" in err
    policy = logged("gate.policy")
    assert (policy.actor, policy.detail["allowed"]) == ("hospital_f0301", False)

    # Revoked: the same token no longer works.
    monkeypatch.delenv(gov_cli.TOKEN_ENV)
    monkeypatch.setenv(gov_cli.USER_ENV, "official")
    monkeypatch.setenv(gov_cli.PASSWORD_ENV, demo_passwords()["official"])
    assert main(["users", "token", "official", "--revoke", "all"]) == 0
    monkeypatch.delenv(gov_cli.USER_ENV)
    monkeypatch.delenv(gov_cli.PASSWORD_ENV)
    monkeypatch.setenv(gov_cli.TOKEN_ENV, token)
    code, err = process_as()
    assert code == 2 and "token refused" in err
    assert logged("auth.sign_in_failed").detail["reason"] == "revoked_token"

    # The feed runs as its service, proved by the service's own token; nothing else writes it.
    feed = tmp_path / "feed.json"
    monkeypatch.delenv(gov_cli.TOKEN_ENV)
    assert main(["export", "wait-times", "--out", str(feed)]) == 2 and not feed.exists()
    monkeypatch.setenv(gov_cli.TOKEN_ENV, _issue(monkeypatch, capsys, "official2"))
    assert main(["export", "wait-times", "--out", str(feed)]) == 2 and not feed.exists()  # another user's token
    monkeypatch.setenv(gov_cli.TOKEN_ENV, _issue(monkeypatch, capsys, "wait_times_feed"))
    assert main(["export", "wait-times", "--out", str(feed)]) == 0 and feed.exists()
    export = logged("export")
    assert (export.actor, export.detail["os_user"]) == ("wait_times_feed", os_user)


def test_tokens_are_minted_only_with_a_password_by_whom_the_policy_allows_and_die_with_the_password(
        space, monkeypatch, capsys):
    """The ways a credential could outlive or outgrow its owner: a token minting more tokens, a user minting
    one for someone else, a token surviving a password reset, a token minted before any official exists, and
    the gate's export taking a service's name without its session."""
    from data_products.governance import AccessDenied, accounts, gate
    from data_products.governance.accounts import sign_in_token, tokens

    (space / "DEMO").unlink()

    def users_token(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["users", "token", *args])
        return code, capsys.readouterr().err

    token = _issue(monkeypatch, capsys, "official")
    # A token does not mint: not the official's own, not anyone else's.
    monkeypatch.setenv(gov_cli.TOKEN_ENV, token)
    for name in ("official", "hospital_f0301"):
        code, err = users_token(name)
        assert code == 2 and "a token cannot do this" in err
    monkeypatch.delenv(gov_cli.TOKEN_ENV)
    assert [t["username"] for t in tokens()] == ["official"]

    # A hospital user signed in with the password: its own token yes, another user's no (the gate says so).
    monkeypatch.setenv(gov_cli.USER_ENV, "hospital_f0301")
    monkeypatch.setenv(gov_cli.PASSWORD_ENV, demo_passwords()["hospital_f0301"])
    code, err = users_token("official2")
    assert code == 2 and "may not users.manage" in err
    policy = entries(action="gate.policy", limit=1)[0]
    assert (policy.actor, policy.detail["action"], policy.detail["allowed"]) == ("hospital_f0301", "users.manage", False)
    assert users_token("hospital_f0301")[0] == 0
    monkeypatch.delenv(gov_cli.USER_ENV)
    monkeypatch.delenv(gov_cli.PASSWORD_ENV)
    assert sorted(t["username"] for t in tokens()) == ["hospital_f0301", "official"]

    # A new password retires the old tokens.
    accounts.set_password("official", "a-brand-new-password-2026", actor="test")
    assert not sign_in_token(token, client="test").ok
    assert entries(action="auth.sign_in_failed", limit=1)[0].detail["reason"] == "revoked_token"
    assert all(t["revoked_at"] for t in tokens("official"))

    # The gate's export: a service name without its live session, or a signed-in non-service, gets nothing.
    feed = accounts.session_without_credential("wait_times_feed", client="test", via="test")
    accounts.sign_out(feed)
    official = accounts.sign_in("official", "a-brand-new-password-2026", client="test").principal
    for who, reason in ((feed, "no_session"), (official, "no_service")):
        with pytest.raises(AccessDenied) as denied:
            gate.export(who, "wait_times", "feed.json", lambda grant: b"{}")
        assert denied.value.decision.reason == reason
        deny = entries(action="gate.deny", limit=1)[0]
        assert (deny.actor, deny.detail["action"]) == (who.username, "export")

    # Before any official exists, nobody mints a token from the shell.
    for name in ("official", "official2"):
        accounts.set_disabled(name, actor="test")
    code, err = users_token("wait_times_feed")
    assert code == 2 and "no commission official exists yet" in err

