"""Exact quantiles from histograms: the builders' one pass keeps counts per cell and recorded value,
and every margin and every order statistic is read off those counts instead of re-scanning records.

Values are integer codes on the grid the data are recorded at (seconds of wait, a marker's recorded
decimals); a histogram row is (group, code, count). Quantiles read off it are the same order
statistics and the same interpolation the row-wise SQL uses, so the figures are identical.
"""

from __future__ import annotations

import numpy as np

# Groups x codes counted densely (float64: 400 MB at most); beyond, or where the rows are few, by sorting.
DENSE_BINS = 50_000_000


def group_histogram(group: np.ndarray, code: np.ndarray, n: np.ndarray, groups: int, width: int,
                    presorted: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts per (group, code) for codes in [0, width), sorted by group then code; only non-empty ones.

    ``presorted``: the rows already come sorted by group then code (a table's own finest cells), so equal
    keys are neighbours and only need adding up.
    """
    key = group.astype(np.int64) * width + code
    # Dense counting costs groups x codes, sorting rows x log(rows): each where it is the cheaper.
    dense = groups * width <= min(DENSE_BINS, max(8 * len(key), 1 << 20))
    if presorted or not dense:
        if not presorted:
            order = np.argsort(key, kind="stable")
            key, n = key[order], n[order]
        if len(key) == 0:
            return key, key, key
        starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
        sums = np.add.reduceat(n.astype(np.int64), starts)
        return key[starts] // width, key[starts] % width, sums
    counts = np.bincount(key, weights=n, minlength=groups * width)
    at = np.flatnonzero(counts)
    return at // width, at % width, counts[at].astype(np.int64)


class Ranked:
    """Order statistics of every group of a (group, code, count) histogram sorted by group then code.

    Counts are positive, so their running sum over all groups is strictly increasing: the value at
    0-based rank r of a group is the first of its codes whose running sum exceeds (sum before it) + r.
    """

    def __init__(self, grp: np.ndarray, code: np.ndarray, cnt: np.ndarray, groups: int) -> None:
        self.code = code
        self.run = np.cumsum(cnt)
        if len(grp) == 0:
            self.before = self.n = np.zeros(groups, dtype=np.int64)
            return
        starts = np.searchsorted(grp, np.arange(groups))
        ends = np.r_[starts[1:], len(grp)]
        self.before = np.where(starts > 0, self.run[np.maximum(starts - 1, 0)], 0)
        last = self.run[np.maximum(ends - 1, 0)]
        self.n = np.where(ends > starts, last - self.before, 0).astype(np.int64)

    def at(self, rank: np.ndarray) -> np.ndarray:
        """The code at 0-based ``rank`` of each group (ranks clipped into the group; -1 for an empty group)."""
        if len(self.code) == 0:
            return np.full(len(self.n), -1, dtype=np.int64)
        r = np.clip(rank.astype(np.int64), 0, np.maximum(self.n - 1, 0))
        idx = np.searchsorted(self.run, self.before + r, side="right")
        return np.where(self.n > 0, self.code[np.minimum(idx, len(self.code) - 1)], -1)

    def released(self, q: float, scale: float, offset: int = 0) -> np.ndarray:
        """The disclosure rule's quantile of each group (``disclosure.quantile_blend``: the half-step shifted
        position, so two neighbouring values blended with non-zero weights), value = (code + offset) / scale;
        before the count rule, which the release applies (NaN for an empty group)."""
        from data_products.disclosure import quantile_blend, quantile_rank

        j, f = quantile_rank(q, self.n)
        x_lo = (offset + self.at(j)) / scale
        x_hi = (offset + self.at(j + 1)) / scale
        return np.where(self.n > 0, quantile_blend(x_lo, x_hi, f), np.nan)
