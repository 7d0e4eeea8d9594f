"""Write the hospital domain: per-facility identified extracts and the truth beside them.

    generate(paths(), seed=7, scale="demo")  ->  hospitals/<facility_id>/<kind>_<YYYY>.csv
                                                 hospitals/_truth/<kind>.json
    generate(paths(), seed=7, kinds=["visits"], rows=2_000_000, chunk_rows=500_000)   any size

Same seed, same bytes: every kind streams deterministic chunks, files are written in chunk order
with fixed formatting, and the truth JSON is dumped with sorted keys.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from data_products.config import Paths, paths
from data_products.hospital.kinds import SCALES
from data_products.hospital.registry import KINDS, get_kind

logger = logging.getLogger(__name__)

@dataclass
class GenerateReport:
    seed: int
    scale: str
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        per_kind = ", ".join(f"{k}: {n:,} rows" for k, n in self.rows.items())
        scale = self.scale if self.scale.endswith("rows") else f"{self.scale} scale"
        total = sum(self.rows.values())
        rate = f", {total / self.seconds:,.0f} rows/s" if self.seconds > 0 else ""
        return (f"generated {len(self.files)} extracts (seed {self.seed}, {scale}): {per_kind} "
                f"in {self.seconds:.1f} s{rate}")


DEFAULT_CHUNK_ROWS = 500_000


def generate(home_paths: Paths | None = None, seed: int = 7, scale: str = "demo",
             kinds: Iterable[str] | None = None, *, rows: int | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS,
             progress: Callable[[str, int, int], None] | None = None) -> GenerateReport:
    """Write the kinds' extracts; ``rows`` (any positive number) overrides the scale's size.

    ``progress(kind, rows_done, rows_total)`` is called as rows are written (for a progress bar)."""
    p = (home_paths or paths()).ensure()
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of {SCALES}")
    if rows is not None and rows < 1:
        raise ValueError(f"rows must be positive, got {rows}")
    names = list(kinds) if kinds else list(KINDS)
    report = GenerateReport(seed=seed, scale=scale if rows is None else f"{rows:,} rows")
    p.truth.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for name in names:
        kind = get_kind(name)
        n = rows if rows is not None else kind.size(scale)
        # A previous run's files of this kind would mix with this run's: remove them first.
        for old in p.hospitals.glob(f"*/{kind.name}_*.csv"):
            old.unlink()
        done = 0

        def step(k: int, name: str = kind.name, n: int = n) -> None:
            nonlocal done
            done += k
            if progress:
                progress(name, done, n)

        files, total, truth = kind.write(seed, n, p.hospitals, chunk_rows, step)
        (p.truth / f"{kind.name}.json").write_text(
            json.dumps({**truth.result(), "scale": report.scale}, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        report.rows[kind.name] = total
        logger.info("generated %s: %d rows in %d files (seed %d, %s)", kind.name, total, len(files), seed, report.scale)
        report.files.extend(files)
    report.seconds = time.perf_counter() - t0
    return report


def sample(kind: str, n: int, seed: int = 0):
    """n raw rows of a kind as an in-memory frame (all text, as read from an extract); no files."""
    return get_kind(kind).sample(n, seed)


