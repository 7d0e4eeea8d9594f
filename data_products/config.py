"""Where everything generated lives, and every setting that shapes a deployment.

One folder, ``DATASPACE_HOME`` (default ``./var``), holds the three zones' stores so that a
deployment is moved, backed up or wiped as a unit, and so that nothing generated is committed.

Every ``DATASPACE_*`` environment variable the project reads is declared once in ``SETTINGS`` and read
through ``settings()``; no other module looks at the environment for them. The README's settings
table lists the same names (a test compares the two and scans the source for any other).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The smallest count a release may show. Configuration can raise it, never lower it:
# a deployment that wants 5 is refused rather than silently weakened.
MIN_CELL_FLOOR = 10
DEFAULT_CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("DATASPACE_HOME", "var", "the data home: every zone's store (hospitals/, restricted.duckdb, candidates/, "
            "approved/, governance.sqlite)"),
    Setting("DATASPACE_MIN_CELL", str(MIN_CELL_FLOOR), f"the smallest count a release shows; may be raised, never "
            f"set below {MIN_CELL_FLOOR}"),
    Setting("DATASPACE_SESSION_IDLE_MINUTES", "30", "a signed-in session ends after this many idle minutes"),
    Setting("DATASPACE_LOCKOUT_FAILURES", "5", "wrong passwords for one username from one client, within the "
            "lockout minutes, that stop that client trying that username (wider limits are multiples)"),
    Setting("DATASPACE_LOCKOUT_MINUTES", "15", "the window the failures are counted in, and how long a stopped "
            "client stays stopped"),
    Setting("DATASPACE_PSEUDONYM_KEY", "(a random key in hospitals/.pseudonym.key)", "the hospital side's HMAC key "
            "for pseudonyms, as hex (at least 32 bytes); never written into any store"),
    Setting("DATASPACE_CJK_FONT", DEFAULT_CJK_FONT, "the TrueType font with Chinese glyphs the PDF report embeds"),
    Setting("DATASPACE_USER", "(--as, else prompted for)", "the commission official a command acts as (`approve`, "
            "`scenarios decide`, `users add`)"),
    Setting("DATASPACE_PASSWORD", "(prompted for)", "the acting user's password when a command signs in (the "
            "official above; the user of `dataspace analyses`)"),
    Setting("DATASPACE_TOKEN", "(none: the password is used)", "the acting user's command-line token (`dataspace users "
            "token NAME` issues one); proves who runs `process`, `approve`, `export`, `scenarios decide` and `users`, "
            "instead of a password"),
    Setting("DATASPACE_NEW_PASSWORD", "(prompted for)", "the new user's password for `dataspace users add`, when no "
            "terminal can prompt"),
    Setting("DATASPACE_LEDGER_KEY_FILE", "(keys/ledger.key in the data home)", "the audit ledger's MAC key; production "
            "keeps it on a separate mount"),
    Setting("DATASPACE_LEDGER_ANCHOR_FILE", "(approved/ledger-anchors.jsonl in the data home)", "the append-only file "
            "of published ledger heads"),
    Setting("DATASPACE_ANALYSIS_SECONDS", "30", "the time limit of one analysis run inside the restricted zone"),
    Setting("DATASPACE_CHROMIUM", "/usr/bin/chromium", "the Chromium the browser tests drive, and that draws charts' PNGs (the png extra)"),
    Setting("DATASPACE_GOVERNANCE_URL", "(governance.sqlite in the data home)", "`postgresql://user@host/db` puts "
            "users, sessions, scenarios, approvals and the ledger on PostgreSQL (needs `.[postgres]`), shared by "
            "several app replicas"),
)}


def _positive_int(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


class Settings:
    """The deployment's settings, read from an environment (default: this process's). Each value is
    parsed and checked when it is read, so a bad value names its variable where it is used."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        if name not in SETTINGS:
            raise KeyError(f"{name} is not a declared setting (config.SETTINGS)")
        return self._env.get(name)

    @property
    def home(self) -> Path:
        return Path(self.raw("DATASPACE_HOME") or SETTINGS["DATASPACE_HOME"].default)

    @property
    def min_cell(self) -> int:
        raw = self.raw("DATASPACE_MIN_CELL")
        if raw is None:
            return MIN_CELL_FLOOR
        try:
            value = int(raw)
        except ValueError as exc:
            raise ValueError(f"DATASPACE_MIN_CELL must be a whole number, got {raw!r}") from exc
        if value < MIN_CELL_FLOOR:
            raise ValueError(f"DATASPACE_MIN_CELL={value} is below the floor of {MIN_CELL_FLOOR}; it can only be raised")
        return value

    @property
    def session_idle_minutes(self) -> int:
        return _positive_int("DATASPACE_SESSION_IDLE_MINUTES", self.raw("DATASPACE_SESSION_IDLE_MINUTES"), 30)

    @property
    def lockout_failures(self) -> int:
        return _positive_int("DATASPACE_LOCKOUT_FAILURES", self.raw("DATASPACE_LOCKOUT_FAILURES"), 5)

    @property
    def lockout_minutes(self) -> int:
        return _positive_int("DATASPACE_LOCKOUT_MINUTES", self.raw("DATASPACE_LOCKOUT_MINUTES"), 15)

    @property
    def pseudonym_key_hex(self) -> str | None:
        """The key as configured (hex), or None to use the key file."""
        return self.raw("DATASPACE_PSEUDONYM_KEY") or None

    @property
    def cjk_font(self) -> Path:
        return Path(self.raw("DATASPACE_CJK_FONT") or DEFAULT_CJK_FONT)

    @property
    def user(self) -> str | None:
        return self.raw("DATASPACE_USER") or None

    @property
    def password(self) -> str | None:
        return self.raw("DATASPACE_PASSWORD") or None

    @property
    def token(self) -> str | None:
        return self.raw("DATASPACE_TOKEN") or None

    @property
    def new_password(self) -> str | None:
        return self.raw("DATASPACE_NEW_PASSWORD") or None

    @property
    def ledger_key_file(self) -> Path | None:
        raw = self.raw("DATASPACE_LEDGER_KEY_FILE")
        return Path(raw) if raw else None

    @property
    def ledger_anchor_file(self) -> Path | None:
        raw = self.raw("DATASPACE_LEDGER_ANCHOR_FILE")
        return Path(raw) if raw else None

    @property
    def analysis_seconds(self) -> float:
        raw = self.raw("DATASPACE_ANALYSIS_SECONDS") or SETTINGS["DATASPACE_ANALYSIS_SECONDS"].default
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"DATASPACE_ANALYSIS_SECONDS must be a number of seconds, got {raw!r}") from None
        if value <= 0:
            raise ValueError("DATASPACE_ANALYSIS_SECONDS must be positive")
        return value

    @property
    def governance_url(self) -> str | None:
        """A PostgreSQL URL, or None for the embedded SQLite store in the data home."""
        raw = (self.raw("DATASPACE_GOVERNANCE_URL") or "").strip()
        if not raw:
            return None
        if not raw.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATASPACE_GOVERNANCE_URL must be a postgresql://… URL (unset it for SQLite in the "
                             f"data home), got {raw.split('://')[0]!r}")
        return raw

    @property
    def chromium(self) -> str:
        return self.raw("DATASPACE_CHROMIUM") or SETTINGS["DATASPACE_CHROMIUM"].default


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings(environ)


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def hospitals(self) -> Path:
        """Hospital domain: raw identified extracts, one folder per facility."""
        return self.home / "hospitals"

    @property
    def truth(self) -> Path:
        """The generator's true parameters, kept beside (not inside) the hospital folders."""
        return self.home / "hospitals" / "_truth"

    @property
    def restricted_db(self) -> Path:
        return self.home / "restricted.duckdb"

    @property
    def candidates(self) -> Path:
        """Candidate releases: built by `dataspace process`, not yet approved."""
        return self.home / "candidates"

    @property
    def approved(self) -> Path:
        """Approved zone: one DuckDB file per published release plus an atomic pointer."""
        return self.home / "approved"

    @property
    def governance_db(self) -> Path:
        return self.home / "governance.sqlite"

    @property
    def pseudonym_key(self) -> Path:
        """The per-deployment HMAC key. It belongs to the hospital side of the boundary and is
        never written into any of the space's stores."""
        return self.home / "hospitals" / ".pseudonym.key"

    def ensure(self) -> Paths:
        from data_products.private import private_dir

        # Owner-only: identified extracts, de-identified records and unreleased tables live below.
        for p in (self.home, self.hospitals, self.candidates, self.approved):
            private_dir(p)
        return self


def paths(home: str | os.PathLike[str] | None = None) -> Paths:
    return Paths(Path(home or settings().home).resolve())


def use_home(home: str | os.PathLike[str]) -> None:
    """Point this process (and the children it starts) at another data home. The benchmark's stages run
    the command line's own code against a scratch home; nothing else changes a setting at run time."""
    os.environ["DATASPACE_HOME"] = str(home)


def min_cell() -> int:
    return settings().min_cell


def demo_mode() -> bool:
    """Demo accounts and the demo banner exist only when the data home was built with --demo."""
    return (paths().home / "DEMO").exists()
