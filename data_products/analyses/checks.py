"""Output checks run on every analysis output before any person sees it (the rules of SACRO's ACRO).

- threshold: every count, and every count behind a mean, share, quantile or spread, is at least the
  deployment's minimum cell (``DATASPACE_MIN_CELL``, 10 at least); an aggregate over values with at
  most two distinct values (an indicator) is a share, so each value's count must pass as well;
- dominance: for sums, the p-ratio rule (what remains without the two largest contributions is at
  least 10% of the largest) and the (n, k) rule (the two largest are at most 90% of the total);
  a sum's non-zero contributions count as a count;
- residual degrees of freedom: a model keeps at least ``MIN_RESIDUAL_DF`` (and one of each outcome
  class, and each level of a categorical predictor, at the threshold);
- row level: an output with a pseudonym in it, or with as many rows as the records behind it, is refused;
- differencing: no two cells (of this output, or of the organisation's earlier outputs on the same
  dataset that were released or wait for review) cover record sets one inside the other that differ
  by fewer records than the threshold: subtracting them would expose those few records.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

P_RATIO = 0.10
NK = (2, 0.90)
MIN_RESIDUAL_DF = 10
_PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Check:
    rule: str
    passed: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Cell:
    """One released number's record set, kept in the restricted zone only (64-bit hashes of record keys)."""

    label: str
    keys: frozenset


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def fail(self, rule: str, detail: str) -> None:
        self.checks.append(Check(rule, False, detail))

    def ok(self, rule: str, detail: str) -> None:
        self.checks.append(Check(rule, True, detail))

    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.passed), None)


def _count_ok(n: int, threshold: int) -> bool:
    return n == 0 or n >= threshold


def dominance(values: np.ndarray) -> str | None:
    """None if a sum passes both dominance rules, else which rule it breaks."""
    v = np.sort(np.abs(values[~np.isnan(values)]))[::-1]
    total = float(v.sum())
    if total == 0 or len(v) == 0:
        return None
    top1 = float(v[0])
    top2 = float(v[:NK[0]].sum())
    rest = total - top2
    if rest < P_RATIO * top1:
        return f"p-ratio: without its two largest contributions the sum keeps {rest:.4g}, under {P_RATIO:.0%} of the largest"
    if top2 > NK[1] * total:
        return f"(n,k) = ({NK[0]}, {NK[1]:.0%}): its {NK[0]} largest contributions are {top2 / total:.1%} of the total"
    return None


def aggregate_checks(report: Report, label: str, function: str, values: list, threshold: int) -> None:
    v = [x for x in values if x is not None]
    n = len(v)
    if function == "count_distinct":
        n = len(set(v))
    if not _count_ok(n, threshold):
        what = {"count": "a count", "count_distinct": "a distinct count", "sum": "a sum", "mean": "a mean",
                "median": "a median", "quantile": "a quantile", "spread": "a standard deviation or variance"}[function]
        report.fail("threshold", f"{label}: {what} over {n} record{'s' if n != 1 else ''} (minimum {threshold})")
        return
    if function in ("sum", "mean", "spread", "median", "quantile") and n:
        try:
            arr = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            return
        distinct, counts = np.unique(arr, return_counts=True)
        if len(distinct) <= 2 and (counts < threshold).any():
            small = int(counts.min())
            report.fail("threshold", f"{label}: a share of an indicator implies a count of {small} (value "
                                     f"{distinct[counts.argmin()]:g}; minimum {threshold})")
            return
        if function == "sum":
            nonzero = int((arr != 0).sum())
            if not _count_ok(nonzero, threshold):
                report.fail("threshold", f"{label}: a sum with {nonzero} non-zero contributions (minimum {threshold})")
                return
            broken = dominance(arr)
            if broken:
                report.fail("dominance", f"{label}: {broken}")


def row_level(report: Report, rows: list[list], records: int) -> None:
    for r, row in enumerate(rows, start=1):
        for value in row:
            if isinstance(value, str) and _PSEUDONYM.match(value):
                report.fail("row_level", f"row {r} carries a pseudonym: output per person is not released")
                return
    if rows and len(rows) >= records:
        report.fail("row_level", f"{len(rows)} output rows for {records} records: as many rows as records is "
                                 "output per person")


def differencing(report: Report, earlier: dict[str, list[Cell]], threshold: int) -> None:
    """Nested record sets that differ by 1..threshold-1 records, within this output and against earlier ones."""
    mine = [("this output", c) for c in report.cells]
    others = [(src, c) for src, cells in earlier.items() for c in cells]
    pool = mine + others
    pool.sort(key=lambda x: len(x[1].keys))
    sizes = [len(c.keys) for _, c in pool]
    for i, (src_a, a) in enumerate(pool):
        for j in range(i + 1, len(pool)):
            gap = sizes[j] - sizes[i]
            if gap >= threshold:
                break
            src_b, b = pool[j]
            if src_a != "this output" and src_b != "this output":
                continue
            if gap == 0 or not a.keys <= b.keys:
                continue
            report.fail("differencing", f"{src_a} {a.label} (n={len(a.keys)}) and {src_b} {b.label} "
                                        f"(n={len(b.keys)}) differ by {gap} record{'s' if gap != 1 else ''} "
                                        f"(minimum {threshold}): subtracting one from the other would expose them")
            return
    report.ok("differencing", f"no nested pair of cells differs by fewer than {threshold} records "
                              f"({len(mine)} cells here, {len(others)} in earlier outputs)")
