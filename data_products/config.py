"""Where everything generated lives, and the few settings that shape a deployment.

One folder, ``DATASPACE_HOME`` (default ``./var``), holds the three zones' stores so that a
deployment is moved, backed up or wiped as a unit, and so that nothing generated is committed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The smallest count a release may show. Configuration can raise it, never lower it:
# a deployment that wants 5 is refused rather than silently weakened.
MIN_CELL_FLOOR = 10


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
    root = home or os.environ.get("DATASPACE_HOME") or "var"
    return Paths(Path(root).resolve())


def min_cell() -> int:
    raw = os.environ.get("DATASPACE_MIN_CELL")
    if raw is None:
        return MIN_CELL_FLOOR
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"DATASPACE_MIN_CELL must be a whole number, got {raw!r}") from exc
    if value < MIN_CELL_FLOOR:
        raise ValueError(f"DATASPACE_MIN_CELL={value} is below the floor of {MIN_CELL_FLOOR}; it can only be raised")
    return value


def demo_mode() -> bool:
    """Demo accounts and the demo banner exist only when the data home was built with --demo."""
    return (paths().home / "DEMO").exists()
