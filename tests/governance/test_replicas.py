"""Issue 17 item 3: several app replicas on one PostgreSQL governance store and one approved zone.

Each replica is its own process running the app (AppTest sessions of dashboards/app.py, pages and forms
as a browser would drive them) against the shared store; the test talks to both over pipes. A scenario
revoked through one replica is denied in the other at its next rerun, a user locked out through one is
locked out in the other, eight writers across the two processes append to one unforked chain, and the
ledger verifies afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from data_products.governance import GovernanceStore, ledger, list_scenarios, seed_demo
from data_products.i18n import t

ROOT = Path(__file__).resolve().parents[2]
REPORT = "Neonatal jaundice device evaluation report"  # the jaundice page's title in English

REPLICA = textwrap.dedent(r'''
    import json, sys, threading, time
    from pathlib import Path
    from streamlit.testing.v1 import AppTest
    from data_products.governance import ledger
    from data_products.governance.store import get_store

    APP, NAME = sys.argv[1], sys.argv[2]
    sessions, writers = {}, []

    def state(at):
        return {"exception": [str(e.value) for e in at.exception], "errors": [e.value for e in at.error],
                "success": [m.value for m in at.success], "titles": [x.value for x in at.title],
                "user": getattr(at.session_state["principal"], "username", None)
                        if "principal" in at.session_state else None}

    def handle(cmd):
        op = cmd["op"]
        if op == "signin":  # the sign-in form, as a browser submits it
            at = AppTest.from_file(APP, default_timeout=180)
            at.query_params["lang"] = "en"
            at.run()
            at.text_input(key="signin_user").input(cmd["user"])
            at.text_input(key="signin_pass").input(cmd["password"])
            at.button[0].click().run()
            sessions[cmd["sid"]] = at
            return state(at)
        at = sessions[cmd.get("sid")] if "sid" in cmd else None
        if op == "open":
            return state(at.switch_page(cmd["page"]).run())
        if op == "rerun":  # what any interaction (a filter change, a click) does
            return state(at.run())
        if op == "revoke":  # the officials' scenarios page, revoke form
            at.switch_page("views/scenarios.py").run()
            at.selectbox(key="scn_revoke_id").set_value(cmd["scenario"])
            at.text_area(key="scn_revoke_reason").input(cmd["reason"])
            next(b for b in at.button if b.label == cmd["label"]).click().run()
            return state(at)
        if op == "arm":  # writer threads that start appending when the go file appears
            store, go = get_store(), Path(cmd["go"])
            def write(w):
                while not go.exists():
                    time.sleep(0.001)
                for i in range(cmd["n"]):
                    ledger.record(f"{NAME}-w{w}", "test.replica", str(i), {"replica": NAME, "i": i}, store=store)
            writers[:] = [threading.Thread(target=write, args=(w,)) for w in range(cmd["writers"])]
            for th in writers:
                th.start()
            return {"armed": len(writers)}
        if op == "join":
            for th in writers:
                th.join()
            return {"joined": len(writers)}
        raise ValueError(op)

    print("@@" + json.dumps({"ready": NAME}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            out = handle(cmd)
        except Exception as exc:  # reported to the test, which fails on it
            out = {"failed": f"{type(exc).__name__}: {exc}"}
        print("@@" + json.dumps(out, default=str), flush=True)
''')


class Replica:
    """One app replica process; ``send`` a command, get its JSON answer."""

    def __init__(self, name: str, env: dict[str, str]):
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-c", REPLICA, str(ROOT / "dashboards" / "app.py"), name],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        assert self.read() == {"ready": name}

    def read(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"replica {self.name} exited ({self.proc.wait()})")
            if line.startswith("@@"):
                return json.loads(line[2:])

    def post(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def send(self, **cmd) -> dict:
        out = self.attempt(**cmd)
        assert "failed" not in out, out
        return out

    def attempt(self, **cmd) -> dict:
        self.post(**cmd)
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.post(op="quit")
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def replicas(demo_copy, postgres, monkeypatch, tmp_path):
    """Two replicas sharing one PostgreSQL store (the demo's accounts and scenarios seeded into it) and one
    approved zone (a copy of the session's demo space), and a store handle for the test itself."""
    import os

    url = postgres.new_schema("replicas")
    monkeypatch.setenv("DATASPACE_GOVERNANCE_URL", url)
    store = GovernanceStore(url)
    seed_demo(store)
    env = {**os.environ, "DATASPACE_HOME": str(demo_copy), "DATASPACE_GOVERNANCE_URL": url,
           "PYTHONPATH": str(ROOT)}
    pair = []
    try:
        pair.append(Replica("a", env))
        pair.append(Replica("b", env))
        yield pair[0], pair[1], store
    finally:
        for r in pair:
            r.close()
        store.close()


def _pw(user: str) -> str:
    from data_products.governance import demo_passwords

    return demo_passwords()[user]


@pytest.mark.slow
def test_two_replicas_share_revocation_lockout_and_one_unforked_ledger(replicas, tmp_path):
    a, b, store = replicas

    # A company reads its product through replica a.
    assert a.send(op="signin", sid="buyer", user="company_jaundice", password=_pw("company_jaundice"))["user"] \
        == "company_jaundice"
    opened = a.send(op="open", sid="buyer", page="views/jaundice.py")
    assert opened["exception"] == [] and opened["errors"] == [] and REPORT in opened["titles"], opened
    assert REPORT in a.send(op="rerun", sid="buyer")["titles"]

    # An official revokes the company's scenario through replica b.
    (scenario,) = [s for s in list_scenarios(product_id="jaundice_report", state="approved", store=store)
                   if s.kind == "applied" and s.org_name.startswith("粤康")]
    assert b.send(op="signin", sid="official", user="official", password=_pw("official"))["user"] == "official"
    revoked = b.send(op="revoke", sid="official", scenario=scenario.id, reason="test: replicas share revocation",
                     label="Revoke")
    assert any(f"#{scenario.id}" in m for m in revoked["success"]), revoked
    assert ledger.entries(action="scenario.revoke", store=store)[0].detail["scenario_id"] == scenario.id

    # Replica a, at the company's very next interaction, no longer shows the report: the navigation it builds
    # from the shared store has lost the page, so the rerun lands elsewhere and the page cannot be opened.
    after = a.send(op="rerun", sid="buyer")
    assert after["exception"] == [] and REPORT not in after["titles"], after
    again = a.attempt(op="open", sid="buyer", page="views/jaundice.py")
    assert "failed" in again or (REPORT not in again["titles"]), again
    # The gate itself, asked in this process, refuses for the same reason.
    from data_products.governance import decide, sign_in

    buyer = sign_in("company_jaundice", _pw("company_jaundice"), store=store).principal
    assert decide(buyer, "jaundice_report", "view", store=store).reason == "scenario_revoked"

    # Wrong passwords through replica a lock the name out; replica b refuses even the right password.
    for _ in range(5):
        wrong = a.send(op="signin", sid="guess", user="analyst", password="not-the-password-1")
        assert wrong["user"] is None and wrong["errors"] == [t("gov.auth.bad_credentials", "en")]
    locked = b.send(op="signin", sid="analyst", user="analyst", password=_pw("analyst"))
    assert locked["user"] is None and locked["errors"][0].startswith("Too many failed sign-ins"), locked
    assert ledger.entries(action="auth.locked", target="analyst", store=store)

    # Eight writers, four in each replica process, append at once: no entry lost, none forked.
    before, n = ledger.count(store), 60
    go = tmp_path / "go"
    for r in (a, b):
        assert r.send(op="arm", writers=4, n=n, go=str(go)) == {"armed": 4}
    go.touch()
    for r in (a, b):
        assert r.send(op="join") == {"joined": 4}
    rows = store.query("SELECT seq, actor, target FROM ledger WHERE seq > ? ORDER BY seq", (before,))
    assert len(rows) == 8 * n == ledger.count(store) - before
    for name in ("a", "b"):
        for w in range(4):
            mine = [int(r["target"]) for r in rows if r["actor"] == f"{name}-w{w}"]
            assert mine == list(range(n)), (name, w)
    seqs = {name: [r["seq"] for r in rows if r["actor"].startswith(f"{name}-")] for name in ("a", "b")}
    # The two processes really wrote at the same time: their entries interleave.
    assert any(min(seqs["b"]) < s < max(seqs["b"]) for s in seqs["a"])

    result = ledger.verify(store)
    assert result.ok and result.macs_checked and result.entries == ledger.count(store), result
