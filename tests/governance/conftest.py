"""Governance fixtures: the store on each backend. ``backend`` runs a test on SQLite (a file in the
test's data home) and on a real PostgreSQL that this test session starts once (Debian's initdb and
pg_ctl in a temporary folder, a free loopback port, stopped at session end); each PostgreSQL test gets
a schema of its own. Without the PostgreSQL binaries the PostgreSQL cases are skipped with a note,
except under CI, where they fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

BACKENDS = ("sqlite", "postgresql")


def pg_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if os.access(Path(candidate) / "pg_ctl", os.X_OK):
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """One throwaway cluster: trust authentication on loopback only, fsync off (nothing here must
    survive a crash), its socket in its own folder."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="dataspace-pg-"))
        self._as = []
        if os.geteuid() == 0:  # initdb and the server refuse to run as root
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(self.root / "data"), "-A", "trust", "-U", "dataspace", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c max_connections=300", "start")
        self.base = f"postgresql://dataspace@127.0.0.1:{self.port}/postgres"
        self._n = itertools.count(1)

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}\n{done.stderr}")

    def new_schema(self, prefix: str = "t") -> str:
        """A URL whose connections work in a new, empty schema."""
        import psycopg

        name = f"{prefix}{next(self._n)}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.url_for(name)

    def url_for(self, schema: str, user: str = "dataspace") -> str:
        return (f"postgresql://{user}@127.0.0.1:{self.port}/postgres?options="
                + quote(f"-csearch_path={schema}", safe=""))

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server (started on first use)."""
    bindir = pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are missing in CI: .ci/run installs `postgresql`")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql "
                    "to run the governance suite on PostgreSQL too")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install '.[postgres]'")
    server = PostgresServer(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def governance_target(backend, home, request, monkeypatch):
    """Where this test's governance store lives: the SQLite file of its data home, or a fresh
    PostgreSQL schema, which DATASPACE_GOVERNANCE_URL then names (so ``get_store()`` finds it too)."""
    from data_products.config import paths
    from data_products.governance import store as store_module

    if backend == "sqlite":
        monkeypatch.delenv("DATASPACE_GOVERNANCE_URL", raising=False)
        yield str(paths().governance_db)
        return
    url = request.getfixturevalue("postgres").new_schema()
    monkeypatch.setenv("DATASPACE_GOVERNANCE_URL", url)
    yield url
    # Every store this test opened on its schema lets go of its connections.
    for key in [k for k in store_module._STORES if isinstance(k, str) and k.startswith(url)]:
        store_module._STORES.pop(key).close()


class RawDb:
    """A direct connection to a store's database, outside the store's API, as someone holding the
    SQLite file or the PostgreSQL owner's credentials has. ``?`` placeholders on both."""

    def __init__(self, store):
        self.dialect = store.dialect
        if store.dialect == "sqlite":
            import sqlite3

            self.conn = sqlite3.connect(store.path, isolation_level=None)
            self.Error = sqlite3.DatabaseError
        else:
            import psycopg

            self.conn = psycopg.connect(store.url, autocommit=True)
            self.Error = psycopg.Error

    def execute(self, sql: str, params=()):
        if self.dialect == "sqlite":
            return self.conn.execute(sql, params)
        from data_products.governance.store import _pg_sql

        return self.conn.execute(_pg_sql(sql), tuple(params)) if params else self.conn.execute(sql)

    def triggers(self) -> set[str]:
        if self.dialect == "sqlite":
            return {r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        return {r[0] for r in self.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid IN (to_regclass('ledger'), to_regclass('ledger_head'))"
            " AND NOT tgisinternal AND tgenabled = 'A'")}

    def drop_triggers(self) -> RawDb:
        if self.dialect == "sqlite":
            for name in self.triggers():
                self.execute(f'DROP TRIGGER "{name}"')
        else:
            from data_products.governance.store import PG_TRIGGER_NAMES

            for table, names in PG_TRIGGER_NAMES.items():
                for name in names:
                    self.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        return self

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def raw_db():
    """``raw_db(store)``: a ``RawDb`` on the store's database, closed after the test."""
    opened: list[RawDb] = []

    def make(store) -> RawDb:
        opened.append(RawDb(store))
        return opened[-1]

    yield make
    for r in opened:
        r.close()
