"""Protection of a release against what is already published: the differencing attack.

Subtracting one release from the one before it shows the records that came in between. Each release
is protected on its own (:mod:`data_products.disclosure`); this module protects the *difference*:

* **No small change.** A count released both in the candidate and in an earlier release of the same
  product may not differ from it by 1 to ``min_cell``-1: that difference counts a handful of people
  and names their cell. ``approve`` refuses a candidate that breaks this against any release
  published before (:func:`problems`); ``process`` avoids it (:func:`plan`).
* **Hold small updates.** When nothing changed by ``min_cell`` or more (a few records arrived,
  say one patient), ``process`` republishes the current figures unchanged (the candidate is *held*):
  the difference between the two releases is then zero everywhere and says nothing about the new
  records. Otherwise the cells that changed by 1 to ``min_cell``-1 are hidden in the candidate (as
  secondary suppressions, and disclosure control hides their complements), so the difference shows
  only changes of at least ``min_cell`` people.

Cells are matched across releases by table name and dimension values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from data_products.disclosure import Table

Keys = dict[str, dict[str, set[tuple[str, ...]]]]


@dataclass
class Comparison:
    small: Keys  # released in both, changed by 1..k-1: table -> measure -> cell keys
    small_count: int
    large: bool  # a released change of at least k, or a new released cell of at least k
    labels: list[str]  # readable description of the small changes


def _released(t: Table, m: str) -> pd.Series:
    keys = pd.MultiIndex.from_frame(t.frame[list(t.dims)].astype(str))
    vals = pd.to_numeric(pd.Series(t.frame[m].to_numpy(), index=keys), errors="coerce")
    return vals[vals.notna()].astype(float)


def compare(before: Sequence[Table], after: Sequence[Table], k: int) -> Comparison:
    """Changes of the released counts from ``before`` to ``after``."""
    prev = {t.name: t for t in before}
    small: Keys = {}
    labels: list[str] = []
    count, large = 0, False
    for t in after:
        p = prev.get(t.name)
        for m in t.measures:
            new = _released(t, m)
            if p is None or m not in p.measures or tuple(p.dims) != tuple(t.dims):
                large |= bool((new >= k).any())
                continue
            old = _released(p, m)
            both = new.index.intersection(old.index)
            d = (new.loc[both] - old.loc[both]).abs()
            large |= bool((d >= k).any())
            fresh = new.index.difference(old.index)
            large |= bool((new.loc[fresh] >= k).any())
            hit = d[(d >= 1) & (d < k)]
            if len(hit):
                small.setdefault(t.name, {})[m] = {tuple(map(str, key if isinstance(key, tuple) else (key,)))
                                                   for key in hit.index}
                count += len(hit)
                for key in hit.index[:3]:
                    labels.append(f"[{t.name}: {key}] {m} changed by {int(new.loc[key] - old.loc[key]):+d}")
    return Comparison(small, count, large, labels)


def problems(published: Sequence[tuple[str, Sequence[Table]]], candidate: Sequence[Table], k: int) -> list[str]:
    """Approval's check: the candidate against every release published before it."""
    out = []
    for release_id, tables in published:
        c = compare(tables, candidate, k)
        if c.small_count:
            out.append(f"against {release_id}: {c.small_count} released count(s) changed by 1 to {k - 1} "
                       f"(a difference of a few people): " + "; ".join(c.labels[:5]))
    return out


def merge(a: Keys, b: Keys) -> Keys:
    out: Keys = {t: {m: set(v) for m, v in ms.items()} for t, ms in a.items()}
    for t, ms in b.items():
        for m, v in ms.items():
            out.setdefault(t, {}).setdefault(m, set()).update(v)
    return out


def empty(keys: Keys) -> bool:
    return not any(v for ms in keys.values() for v in ms.values())


__all__ = ["Comparison", "Keys", "compare", "empty", "merge", "problems"]
