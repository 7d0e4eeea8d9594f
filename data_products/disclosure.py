"""Disclosure control for every released table: minimum cell size and secondary suppression.

Every product builder runs its count tables through :func:`protect` (one table) or
:func:`protect_tables` (several tables released together), and approval re-runs :func:`check`
(or :func:`check_tables`) on exactly what will be published; approval refuses on any violation.

Rules
-----
* No released count in ``1 .. min_cell-1`` (``min_cell`` from :func:`data_products.config.min_cell`,
  at least 10). Zero is releasable.
* Secondary suppression: no suppressed cell may be recoverable from the totals and margins released
  with it. Recoverable is tested exactly: with suppressed cells as unknowns and released cells as
  knowns, cell ``i`` is recoverable iff the unit vector ``e_i`` lies in the row space of the relation
  matrix restricted to the unknown columns (a rank test per connected component of unknowns:
  dense SVD for small components, LSQR null-space sampling for large ones, doubt counting as
  recoverable). Complements come first from cheap rules (a relation with one hidden cell; prefer the
  smallest non-zero cell that is not a total of many relations, zeros last); any leak the exact test
  still finds is closed by hiding the released cells of the cheapest table perturbation through the
  leaking cell (an L1 linear programme).
* Interval protection beyond the exact test: in a relation whose total is released, the hidden
  components must add up to at least ``min_cell``. Otherwise ``total - released`` would tell a reader
  that every hidden cell there is small (the classic "primary paired with a zero" leak), or, when
  the hidden cells add to 0, that they are all zero.
* The release as one system: all measures, tables and links, and the identities between measures
  that share a denominator (:class:`Identity`), form one linear system. With released cells fixed and
  hidden cells non-negative, no hidden cell's feasible range (linear programming, HiGHS, per connected
  component of hidden cells) may be narrower than ``min_cell`` while reaching below it
  (:func:`feasible_ranges`, :func:`exposed`); protection hides more until it holds. Components of more
  than ``_LP_DIRECT`` hidden cells get the exact rank test over the joint system instead.
* Every suppressed value is ``<NA>`` and carries a reason in ``<measure>_flag``: ``'primary'``
  (a count in 1..min_cell-1) or ``'secondary'`` (hidden to protect one); released cells have ``''``.
  Nothing is ever silently zeroed.
* Rates, percentages and quantiles are the builder's business; it must compute them only where the
  counts they rest on are released (:func:`releasable` gives that mask).

Tables and relations
--------------------
A table is a frame with string dimension columns and integer count columns (measures). Margin rows
carry :data:`ALL` in a dimension; :func:`add_margins` makes them for every subset of the dimensions.
:func:`cube_relations` derives the exact linear relations: for each cell and each dimension ``d`` with
a value other than ``ALL``, the cell with ``d = ALL`` (the other dimensions fixed) is the sum over ``d``.

Several tables released together are protected jointly. Relations between them are declared with
:class:`Link`: *each cell of table ``total`` whose dimensions outside ``on`` are ALL equals the sum of
the cells of table ``component`` that match it on ``on``, have a real value in every ``over``
dimension and ALL in their remaining dimensions*. Example: a district table (dims district, month)
and a facility table (dims facility, month, with a ``district`` column carried by
``add_margins(..., carry={"district": "facility"})``):
``Link(total="district", component="facility", on={"district": "district", "month": "month"},
over=("facility",))`` says district x month = sum of its facilities' months, so one facility's figure
cannot be had by subtracting the others from a district total.

Each measure is protected on its own over the same relations (cases, positives and negatives of each
pathogen, counts above and below each cut-off...). Cells are chosen to keep the result monotone:
raising ``min_cell`` never releases a cell that a lower ``min_cell`` hid (the suppression for ``k``
extends the one for ``k-1``).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse import csgraph
from scipy.sparse.linalg import lsqr

from data_products import config

ALL = "ALL"
PRIMARY = "primary"
SECONDARY = "secondary"
FLAG_SUFFIX = "_flag"
_FLAGS = ("", PRIMARY, SECONDARY)

# A null-space row norm below this counts as "determined". Erring low only hides more cells.
_DETERMINED_TOL = 1e-7
# A sampled null-space entry above this certifies the cell as free (undetermined).
_CERTAIN_TOL = 1e-6
# Components with more hidden cells than this are tested iteratively rather than by dense SVD.
_DENSE_LIMIT = 120
# ...unless the random samples leave more than this many cells in doubt: each doubt costs one LSQR solve
# (measured: 785 of them took 70 s on one 980-cell component, where one dense SVD takes under a second),
# so below _DENSE_MAX hidden cells one SVD settles them all. Above it the SVD's cubic cost wins again.
_DOUBT_LIMIT = 16
_DENSE_MAX = 2500

Relation = tuple[int, tuple[int, ...]]


class _CellError(ValueError):
    """A core error about one cell, so the frame layer can name its table and keys."""

    def __init__(self, cell: int, message: str):
        super().__init__(message)
        self.cell = cell


# --------------------------------------------------------------------------------------------
# Generic core: arrays of cells and exact linear relations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suppression:
    mask: np.ndarray  # bool, True = suppressed
    reason: np.ndarray  # object array of '' | 'primary' | 'secondary'


class _System:
    """The relation matrix of one release: row r says ``x[total_r] - sum(x[components_r]) = 0``."""

    def __init__(self, n: int, relations: Sequence[Relation]):
        self.n = int(n)
        tot = np.fromiter((t for t, _ in relations), dtype=np.int64, count=len(relations))
        lens = np.fromiter((len(c) for _, c in relations), dtype=np.int64, count=len(relations))
        comp = (np.fromiter(itertools.chain.from_iterable(c for _, c in relations), dtype=np.int64,
                            count=int(lens.sum())) if len(relations) else np.zeros(0, np.int64))
        m = len(relations)
        for r, (t, c) in enumerate(relations):
            if len(c) == 0:
                raise ValueError(f"relation {r}: total cell {t} has no component cells")
            if len(set(c)) != len(c) or t in c:
                raise ValueError(f"relation {r}: total {t} with components {tuple(c)} repeats a cell")
        allcells = np.concatenate([tot, comp])
        if allcells.size and (allcells.min() < 0 or allcells.max() >= self.n):
            raise ValueError(f"relations refer to cells outside 0..{self.n - 1}")
        self.m = m
        self.tot = tot
        rows = np.concatenate([np.arange(m), np.repeat(np.arange(m), lens)])
        data = np.concatenate([np.ones(m), -np.ones(comp.size)])
        self.A = sparse.csr_matrix((data, (rows, allcells)), shape=(m, self.n))
        self.absA = abs(self.A).astype(np.int64).tocsr()
        self.compA = (self.A < 0).astype(np.int64).tocsr()
        csc = self.A.tocsc()
        self.cell_ptr, self.cell_rel, self.cell_sign = csc.indptr, csc.indices, csc.data
        self.rel_ptr, self.rel_cell = self.absA.indptr, self.absA.indices
        self.total_degree = np.bincount(tot, minlength=self.n)
        # Determinedness depends only on which cells of a connected component are hidden.
        self._cache: dict[bytes, np.ndarray] = {}

    # ---- exact test -------------------------------------------------------------------------

    def _components(self, mask: np.ndarray):
        """Yield (global unknown cells, relation rows, dense block) per connected component."""
        unknown = np.flatnonzero(mask)
        if unknown.size == 0 or self.m == 0:
            return
        rows = np.flatnonzero(self.absA @ mask.astype(np.int64))
        if rows.size == 0:
            return
        sub = self.A[rows][:, unknown].tocoo()
        nr, nu = rows.size, unknown.size
        graph = sparse.coo_matrix((np.ones(sub.nnz), (sub.row, sub.col + nr)), shape=(nr + nu, nr + nu))
        ncomp, lab = csgraph.connected_components(graph, directed=False)
        lab_r, lab_u = lab[:nr], lab[nr:]
        loc_r = _local_rank(lab_r, ncomp)
        loc_u = _local_rank(lab_u, ncomp)
        size_r = np.bincount(lab_r, minlength=ncomp)
        order_u = np.argsort(lab_u, kind="stable")
        bounds_u = np.concatenate([[0], np.cumsum(np.bincount(lab_u, minlength=ncomp))])
        order_r = np.argsort(lab_r, kind="stable")
        bounds_r = np.concatenate([[0], np.cumsum(size_r)])
        ent_lab = lab_r[sub.row]
        ent_order = np.argsort(ent_lab, kind="stable")
        ent_bounds = np.concatenate([[0], np.cumsum(np.bincount(ent_lab, minlength=ncomp))])
        for c in range(ncomp):
            if size_r[c] == 0:
                continue  # a hidden cell in no relation at all
            cells = unknown[order_u[bounds_u[c]:bounds_u[c + 1]]]
            crow = rows[order_r[bounds_r[c]:bounds_r[c + 1]]]
            e = ent_order[ent_bounds[c]:ent_bounds[c + 1]]
            yield cells, crow, (loc_r[sub.row[e]], loc_u[sub.col[e]], sub.data[e])

    def determined(self, mask: np.ndarray, free: np.ndarray | None = None) -> list[_Found]:
        """Components holding a recoverable hidden cell.

        ``free`` marks hidden cells already shown to be unrecoverable under a smaller mask; hiding
        more never makes a cell recoverable again, so they need no new proof.
        """
        out = []
        for cells, crow, (lr, lc, val) in self._components(mask):
            key = cells.tobytes()
            hit = self._cache.get(key)
            if hit is not None and not hit.any():
                continue
            block = sparse.csr_matrix((val, (lr, lc)), shape=(crow.size, cells.size))
            if hit is None:
                hit = _determined_columns(block, None if free is None else free[cells])
                self._cache[key] = hit
            if hit.any():
                out.append(_Found(cells, crow, block, hit))
        return out

    def recoverable(self, mask: np.ndarray) -> np.ndarray:
        rec = np.zeros(self.n, dtype=bool)
        for f in self.determined(mask):
            rec[f.cells[f.hit]] = True
        return rec

    # ---- suppression ------------------------------------------------------------------------

    def suppress(self, values: np.ndarray, min_cell: int, forced: np.ndarray | None = None,
                 fixed: np.ndarray | None = None) -> Suppression:
        return self.start(values, min_cell, forced, fixed).result(min_cell)

    def start(self, values: np.ndarray, min_cell: int, forced: np.ndarray | None = None,
              fixed: np.ndarray | None = None) -> _Run:
        """``forced`` cells are hidden whatever their value (the joint check of several measures, tables
        or products asked for them); they and their complements are flagged secondary unless primary.
        ``fixed`` cells are never hidden: another release publishes them (they must not be 1..k-1)."""
        v = np.asarray(values, dtype=np.int64)
        if v.shape != (self.n,):
            raise ValueError(f"expected {self.n} values, got shape {v.shape}")
        if (v < 0).any():
            raise ValueError(f"cell {int(np.flatnonzero(v < 0)[0])} has a negative count")
        if min_cell < 1:
            raise ValueError(f"min_cell must be at least 1, got {min_cell}")
        bad = np.flatnonzero(self.A @ v.astype(np.float64))
        if bad.size:
            t = int(self.tot[bad[0]])
            raise _CellError(t, f"total cell {t} does not add up: it differs from the sum of its components")
        run = _Run(self, v)
        if fixed is not None:
            run.fixed[:] = fixed
            small = np.flatnonzero(fixed & (v >= 1) & (v < min_cell))
            if small.size:
                raise _CellError(int(small[0]), f"cell {int(small[0])} is published elsewhere but below min_cell")
        pending = forced is not None and run.hide(np.flatnonzero(forced))
        # The result for k extends the result for k-1, which makes raising min_cell monotone.
        for k in range(2, min_cell + 1):
            grew = run.hide(np.flatnonzero((v == k - 1) & ~run.hidden)) or pending
            pending = False
            grew |= run.close_cheap(k)
            if grew:
                run.close_exact(k)
        if pending:
            run.close_cheap(min_cell)
            run.close_exact(min_cell)
        return run


class _Run:
    """Mutable state of one measure's suppression over a :class:`_System`."""

    def more(self, cells: np.ndarray, k: int) -> None:
        """Hide further cells (asked for by the joint check) and close the pattern again."""
        if self.hide(cells[~self.fixed[cells]]):
            self.close_cheap(k)
            self.close_exact(k)

    def result(self, min_cell: int) -> Suppression:
        v = self.v
        run = self
        reason = np.full(self.s.n, "", dtype=object)
        primary = run.hidden & (v >= 1) & (v < min_cell)
        reason[primary] = PRIMARY
        reason[run.hidden & ~primary] = SECONDARY
        return Suppression(run.hidden.copy(), reason)

    def __init__(self, system: _System, v: np.ndarray):
        self.s = system
        self.v = v
        self.hidden = np.zeros(system.n, dtype=bool)
        self.free = np.zeros(system.n, dtype=bool)  # hidden and proven unrecoverable
        self.fixed = np.zeros(system.n, dtype=bool)  # published elsewhere: never hidden here
        self.unknowns = np.zeros(system.m, dtype=np.int64)  # hidden cells per relation
        self.hidden_comps = np.zeros(system.m, dtype=np.int64)
        self.hidden_sum = np.zeros(system.m, dtype=np.int64)  # of hidden components' values

    def hide(self, cells: np.ndarray) -> bool:
        cells = cells[~self.hidden[cells]]
        if cells.size == 0:
            return False
        self.hidden[cells] = True
        if cells.size > 8:
            one = np.zeros(self.s.n, dtype=np.int64)
            one[cells] = 1
            self.unknowns += self.s.absA @ one
            self.hidden_comps += self.s.compA @ one
            self.hidden_sum += self.s.compA @ (one * self.v)
            return True
        for c in cells:
            lo, hi = self.s.cell_ptr[c], self.s.cell_ptr[c + 1]
            rel, sign = self.s.cell_rel[lo:hi], self.s.cell_sign[lo:hi]
            self.unknowns[rel] += 1
            comp = rel[sign < 0]
            self.hidden_comps[comp] += 1
            self.hidden_sum[comp] += self.v[c]
        return True

    def _violations(self, k: int) -> np.ndarray:
        total_known = ~self.hidden[self.s.tot]
        small = total_known & (self.hidden_comps > 0) & (self.hidden_sum < k)
        return np.flatnonzero((self.unknowns == 1) | small)

    def _cost(self, c: int) -> tuple:
        lo, hi = self.s.cell_ptr[c], self.s.cell_ptr[c + 1]
        new_singletons = int(np.count_nonzero(self.unknowns[self.s.cell_rel[lo:hi]] == 0))
        # Zeros last (hiding a zero next to a small count protects little), then cells that are not
        # totals of many relations, then cells that start few new chains, then small values.
        return (self.v[c] == 0, int(self.s.total_degree[c]), new_singletons, int(self.v[c]), c)

    def _candidates(self, r: int, k: int) -> np.ndarray:
        cells = self.s.rel_cell[self.s.rel_ptr[r]:self.s.rel_ptr[r + 1]]
        t = self.s.tot[r]
        if not self.hidden[t] and self.hidden_comps[r] > 0 and self.hidden_sum[r] < k:
            # Only a non-zero component or the total itself lifts the hidden sum out of reach.
            keep = ~self.hidden[cells] & ((self.v[cells] > 0) | (cells == t))
        else:
            keep = ~self.hidden[cells]
        return cells[keep & ~self.fixed[cells]]

    def _hide_best(self, cands: np.ndarray, why: str) -> int:
        if cands.size == 0:
            raise ValueError(f"cannot protect: {why} and no released cell is left to hide with it")
        best = min(cands.tolist(), key=self._cost)
        self.hide(np.array([best], dtype=np.int64))
        return best

    def close_cheap(self, k: int) -> bool:
        """Fix single-unknown relations and small hidden sums until none is left."""
        grew = False
        while True:
            bad = self._violations(k)
            if bad.size == 0:
                return grew
            for r in bad.tolist():
                total_known = not self.hidden[self.s.tot[r]]
                small = total_known and self.hidden_comps[r] > 0 and self.hidden_sum[r] < k
                if self.unknowns[r] == 1 or small:
                    self._hide_best(self._candidates(r, k), f"relation {r} exposes a hidden cell")
                    grew = True

    def close_exact(self, k: int) -> None:
        """Hide complements until no hidden cell is recoverable by the exact rank test."""
        while True:
            found = self.s.determined(self.hidden, self.free)
            leaked = np.zeros(self.s.n, dtype=bool)
            for f in found:
                leaked[f.cells[f.hit]] = True
            self.free |= self.hidden & ~leaked
            if not found:
                return
            covered = np.zeros(self.s.n, dtype=bool)
            for cell in np.flatnonzero(leaked).tolist():
                if covered[cell]:
                    continue
                z = self._perturbation(cell)
                moved = np.abs(z) > 1e-7
                covered |= moved
                self.hide(np.flatnonzero(moved & ~self.hidden))
            self.close_cheap(k)

    def _perturbation(self, cell: int) -> np.ndarray:
        """The cheapest change of the table that keeps every relation and moves ``cell``.

        An L1 linear programme: minimise the cost of the released cells that move, subject to
        ``A z = 0`` and ``z[cell] = 1``. Hiding the cells it moves makes ``z`` a null vector of the
        hidden system with a non-zero entry at ``cell``, so ``cell`` is no longer recoverable.
        """
        v = self.v
        w = np.where(self.hidden, 0.0, np.where(self.fixed, 1e6, 0.0) +
                     1.0 + (v == 0) * 50.0 + self.s.total_degree * 4.0 + v / (v.max() + 1.0))
        # First look near the leak (cells sharing a relation with its hidden neighbourhood); only
        # if no change fits there, search the whole release.
        near = self.hidden.copy()
        rows = np.flatnonzero(self.s.absA @ near.astype(np.int64))
        near[self.s.absA[rows].indices] = True
        for cols in (np.flatnonzero(near), np.arange(self.s.n)):
            z = self._l1_null_vector(cols, w, cell)
            if z is not None:
                return z
        raise _CellError(cell, f"cannot protect: hidden cell {cell} is fixed by the relations themselves")

    def _l1_null_vector(self, cols: np.ndarray, w: np.ndarray, cell: int) -> np.ndarray | None:
        a = self.s.A[:, cols]
        a = a[np.flatnonzero(abs(a).sum(axis=1).A1)]
        k = cols.size
        pin = np.zeros(k)
        pin[np.searchsorted(cols, cell)] = 1.0
        a_eq = sparse.vstack([sparse.hstack([a, -a]), sparse.csr_matrix(np.concatenate([pin, -pin])[None, :])])
        b_eq = np.zeros(a_eq.shape[0])
        b_eq[-1] = 1.0
        res = linprog(np.concatenate([w[cols], w[cols]]), A_eq=a_eq.tocsr(), b_eq=b_eq, bounds=(0, None),
                      method="highs")
        if res.status != 0:
            return None
        z = np.zeros(self.s.n)
        z[cols] = res.x[:k] - res.x[k:]
        return z


@dataclass
class _Found:
    cells: np.ndarray  # hidden cells of one connected component (global indices)
    rows: np.ndarray  # relations touching them
    block: sparse.csr_matrix  # rows x cells
    hit: np.ndarray  # recoverable, per cell


def _local_rank(labels: np.ndarray, n: int) -> np.ndarray:
    """Position of each element among the elements with the same label (stable)."""
    order = np.argsort(labels, kind="stable")
    start = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=n))])[:-1]
    out = np.empty(labels.size, dtype=np.int64)
    out[order] = np.arange(labels.size) - start[labels[order]]
    return out


def _determined_columns(block: sparse.csr_matrix, free: np.ndarray | None) -> np.ndarray:
    """Columns j with e_j in the row space of ``block``, i.e. every null vector is zero at j."""
    if block.shape[1] <= _DENSE_LIMIT:
        return _determined_dense(block.toarray())
    return _determined_iterative(block, free)


def _determined_dense(block: np.ndarray) -> np.ndarray:
    if block.shape[0] < block.shape[1]:
        # Zero rows leave the row space alone and let the thin SVD return the whole of V.
        block = np.vstack([block, np.zeros((block.shape[1] - block.shape[0], block.shape[1]))])
    _, s, vt = np.linalg.svd(block, full_matrices=False)
    tol = max(block.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    rank = int(np.count_nonzero(s > tol))
    null = vt[rank:]
    if null.shape[0] == 0:
        return np.ones(block.shape[1], dtype=bool)
    return np.sqrt((null * null).sum(axis=0)) < _DETERMINED_TOL


def _lsqr(mt: sparse.csr_matrix, rhs: np.ndarray) -> np.ndarray | None:
    """Least-squares ``mt @ y ~ rhs``; None when it did not converge (the caller goes dense)."""
    # Scaling columns to unit norm speeds LSQR up; the residual (what callers use) is unchanged.
    scale = 1.0 / np.sqrt(np.asarray(mt.multiply(mt).sum(axis=0)).ravel())
    res = lsqr(mt @ sparse.diags(scale), rhs, atol=1e-12, btol=1e-12, iter_lim=20 * sum(mt.shape))
    return None if res[1] == 7 else res[0] * scale


def _determined_iterative(block: sparse.csr_matrix, free: np.ndarray | None) -> np.ndarray:
    """Large components: dense SVD grows cubically, so sample the null space with LSQR instead.

    Random vectors projected onto the null space are non-zero, with probability one, at every
    unrecoverable cell (cell i is unrecoverable iff its null-space projection ``P_ii`` > 0). Cells
    those samples leave in doubt are settled one by one by projecting ``e_i``, or all at once by a
    dense SVD when there are many of them and the component is not too large. Doubt counts as
    recoverable, which only ever hides more.
    """
    u = block.shape[1]
    mt = block.T.tocsr()
    rng = np.random.default_rng(20240601)
    sure = np.zeros(u, dtype=bool) if free is None else free.copy()
    for _ in range(3):
        if sure.all():
            break
        w = rng.standard_normal(u)
        y = _lsqr(mt, w)
        if y is None:
            return _determined_dense(block.toarray())
        sure |= np.abs(w - mt @ y) > _CERTAIN_TOL
    det = ~sure
    if np.count_nonzero(det) > _DOUBT_LIMIT and u <= _DENSE_MAX:
        return _determined_dense(block.toarray())
    for i in np.flatnonzero(det).tolist():
        e = np.zeros(u)
        e[i] = 1.0
        y = _lsqr(mt, e)
        if y is None:
            return _determined_dense(block.toarray())
        det[i] = (e - mt @ y)[i] < _DETERMINED_TOL
    return det


def suppress(values: Sequence[int] | np.ndarray, relations: Sequence[Relation], min_cell: int) -> Suppression:
    """Primary and secondary suppression of one vector of counts under exact linear relations.

    ``relations`` lists ``(total_index, (component_index, ...))``: ``values[total]`` equals the sum of
    ``values[components]``. The values must satisfy them exactly.
    """
    v = np.asarray(values, dtype=np.int64)
    return _System(v.size, relations).suppress(v, min_cell)


def recoverable(mask: Sequence[bool] | np.ndarray, relations: Sequence[Relation]) -> np.ndarray:
    """Which hidden cells (``mask`` True) the released cells and the relations determine exactly."""
    m = np.asarray(mask, dtype=bool)
    return _System(m.size, relations).recoverable(m)


# --------------------------------------------------------------------------------------------
# The interval guarantee: linear programming over everything a reader can relate
# --------------------------------------------------------------------------------------------

# A variable bound standing in for "unbounded": any hidden cell that can reach it is wide open.
_LP_CAP = 1e9


def feasible_ranges(a: sparse.spmatrix, values: np.ndarray, hidden: np.ndarray, k: int,
                    certify_only: bool = True, cache: dict | None = None,
                    exact_rest: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of every hidden cell's feasible range, as far as the guarantee needs them.

    The reader's system: ``a @ x = 0`` over all cells, released cells fixed at their values, hidden
    cells free and non-negative. For each hidden cell the range is [min x_i, max x_i] by linear
    programming (HiGHS), solved per connected component of hidden cells. With ``certify_only`` a cell
    already shown not :func:`exposed` (by feasible points found on the way: the true values, and the
    optima of a few aggregate objectives) is not solved exactly; the returned ends are then an inner
    bound, which is all the guarantee needs. Released cells get NaN. ``cache`` (a dict kept by the
    caller) reuses the ranges of components that did not change.
    """
    a = sparse.csr_matrix(a, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    hidden = np.asarray(hidden, dtype=bool)
    n = v.size
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    lo[hidden] = np.inf
    hi[hidden] = -np.inf
    truth_known = hidden & ~np.isnan(v)
    lo[truth_known] = v[truth_known]
    hi[truth_known] = v[truth_known]
    cols_h = np.flatnonzero(hidden)
    if cols_h.size == 0:
        return lo, hi
    rows = np.flatnonzero(abs(a)[:, cols_h].sum(axis=1).A1)
    # A hidden cell in no relation at all is unconstrained above.
    free = np.ones(n, dtype=bool)
    if rows.size:
        free[abs(a[rows]).sum(axis=0).A1 > 0] = False
    lone = hidden & free
    lo[lone], hi[lone] = 0.0, np.inf
    if rows.size == 0:
        return lo, hi
    sub = a[rows][:, cols_h].tocoo()
    nr, nu = rows.size, cols_h.size
    graph = sparse.coo_matrix((np.ones(sub.nnz), (sub.row, sub.col + nr)), shape=(nr + nu, nr + nu))
    ncomp, lab = csgraph.connected_components(graph, directed=False)
    lab_r, lab_u = lab[:nr], lab[nr:]
    known = ~hidden
    rhs_all = -(a[rows][:, np.flatnonzero(known)] @ np.nan_to_num(v[known]))
    a_rows_h = a[rows][:, cols_h].tocsc()
    order_u = np.argsort(lab_u, kind="stable")
    bounds_u = np.concatenate([[0], np.cumsum(np.bincount(lab_u, minlength=ncomp))])
    order_r = np.argsort(lab_r, kind="stable")
    bounds_r = np.concatenate([[0], np.cumsum(np.bincount(lab_r, minlength=ncomp))])
    for c in range(ncomp):
        uc = order_u[bounds_u[c]:bounds_u[c + 1]]
        rc = order_r[bounds_r[c]:bounds_r[c + 1]]
        if uc.size == 0 or rc.size == 0:
            continue
        key = None
        if cache is not None:
            key = (cols_h[uc].tobytes(), np.round(rhs_all[rc], 6).tobytes(), k)
            if key in cache:
                lo[cols_h[uc]], hi[cols_h[uc]] = cache[key]
                continue
        block = a_rows_h[:, uc].tocsr()[rc]
        clo, chi = _component_ranges(block, rhs_all[rc], lo[cols_h[uc]], hi[cols_h[uc]], k, certify_only,
                                     exact_rest)
        lo[cols_h[uc]], hi[cols_h[uc]] = clo, chi
        if key is not None:
            cache[key] = (clo, chi)
    return lo, hi


class _LP:
    """One component's reader system in HiGHS, re-solved for each objective from the previous basis."""

    def __init__(self, block: sparse.csr_matrix, rhs: np.ndarray):
        import highspy

        # highspy.Highs prints a banner on stdout; its core class does not (only the CLI prints).
        make = getattr(getattr(highspy, "_core", None), "_Highs", None) or highspy.Highs
        self.h = make()
        self.h.setOptionValue("output_flag", False)
        # Each solve starts from the previous optimal basis; presolve would discard it.
        self.h.setOptionValue("presolve", "off")
        self.h.setOptionValue("solver", "simplex")
        csc = sparse.csc_matrix(block)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = csc.shape[1], csc.shape[0]
        lp.col_cost_ = np.zeros(csc.shape[1])
        lp.col_lower_ = np.zeros(csc.shape[1])
        lp.col_upper_ = np.full(csc.shape[1], _LP_CAP)
        lp.row_lower_ = np.asarray(rhs, dtype=np.float64)
        lp.row_upper_ = np.asarray(rhs, dtype=np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(np.float64)
        self.h.passModel(lp)
        self.n = csc.shape[1]
        self.idx = np.arange(self.n, dtype=np.int32)
        self.optimal = highspy.HighsModelStatus.kOptimal

    def bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self.h.changeColsBounds(self.n, self.idx, np.asarray(lower, dtype=np.float64),
                                np.asarray(upper, dtype=np.float64))

    def solve(self, cost: np.ndarray) -> np.ndarray | None:
        """A minimiser of ``cost @ x``; None when the system has no solution."""
        self.h.changeColsCost(self.n, self.idx, np.asarray(cost, dtype=np.float64))
        self.h.run()
        if self.h.getModelStatus() != self.optimal:
            return None
        return np.asarray(self.h.getSolution().col_value, dtype=np.float64)


def exposed(lo: np.ndarray, hi: np.ndarray, k: int) -> np.ndarray:
    """Hidden cells the guarantee fails for, given their exact ranges: narrower than ``k`` and reaching
    below ``k``. (A range lying wholly at ``k`` or above says only that the count is at least ``k``,
    which a released count would say too.) An empty range (lo > hi) counts as exposed."""
    with np.errstate(invalid="ignore"):
        return (lo > hi) | ((hi - lo < k) & (lo < k))


def _unsettled(lo: np.ndarray, hi: np.ndarray, lo_exact: np.ndarray, k: int) -> np.ndarray:
    """Cells not yet shown safe from the points seen so far: a seen spread of ``k`` settles a cell, so
    does a seen value of ``2k`` (an exposed range lies below ``2k``), so does an exact minimum of ``k``."""
    with np.errstate(invalid="ignore"):
        return ~((hi - lo >= k) | (hi >= 2 * k) | (lo_exact >= k))


# Components with more hidden cells than this get the exact test only (a solve per cell over a few
# thousand cells took minutes): the pneumonia district cube's large components.
_LP_DIRECT = 400


def _rounds(model: _LP, lo: np.ndarray, hi: np.ndarray, lo_exact: np.ndarray, k: int, seen, rounds: int = 16) -> None:
    """Settle many cells per solve. Each round pushes the unsettled cells up, each capped k above the
    lowest value seen (so none soaks up all the slack), and down, each floored k below the highest
    seen; later rounds push random halves up and down at once."""
    u = lo.size
    zeros, caps = np.zeros(u), np.full(u, _LP_CAP)
    rng = np.random.default_rng(20261201)
    for round_ in range(rounds):
        open_ = _unsettled(lo, hi, lo_exact, k)
        n_open = int(open_.sum())
        if n_open == 0:
            break
        up = open_ if round_ < 2 else open_ & (rng.random(u) < 0.5)
        if round_ < 2 or up.any():
            model.bounds(zeros, np.where(up, lo + k, _LP_CAP))
            seen(model.solve(-(up.astype(np.float64))))
        down = _unsettled(lo, hi, lo_exact, k) if round_ < 2 else open_ & ~up
        if down.any():
            model.bounds(np.where(down, np.maximum(hi - k, 0.0), 0.0), np.where(down, np.maximum(hi, lo), _LP_CAP))
            seen(model.solve(down.astype(np.float64)))
        model.bounds(zeros, caps)
        if round_ >= 3 and int(_unsettled(lo, hi, lo_exact, k).sum()) >= n_open:
            break
    model.bounds(zeros, caps)


def _component_ranges(block: sparse.csr_matrix, rhs: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int,
                      certify_only: bool, exact_rest: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Ranges of one component's hidden cells; ``lo``/``hi`` start at the true values when the caller
    knows them (protection), at +inf/-inf otherwise (approval). An empty range (lo > hi) means the
    released figures contradict the relations. A component of more than ``_LP_DIRECT`` cells gets
    the exact test only: its determined cells come back as [0, 0], the others as [0, inf)."""
    u = lo.size
    lo, hi = lo.copy(), hi.copy()

    def seen(x: np.ndarray | None) -> None:
        if x is not None:
            np.minimum(lo, x, out=lo)
            np.maximum(hi, x, out=hi)

    if u > _LP_DIRECT:
        # Too large for a solve per cell: the exact test only (no hidden cell determined by the
        # relations, identities and links together); the interval guarantee is not checked here.
        det = _determined_columns(block, None)
        return np.zeros(u), np.where(det, 0.0, np.inf)
    model = _LP(block, rhs)
    if not np.isfinite(lo).all():
        seen(model.solve(np.zeros(u)))
        if not np.isfinite(lo).all():
            return lo, hi  # infeasible: the caller reports it
    lo_exact = np.full(u, -np.inf)
    if certify_only:
        _rounds(model, lo, hi, lo_exact, k, seen)
    todo = np.flatnonzero(_unsettled(lo, hi, lo_exact, k)) if certify_only else np.arange(u)
    for i in todo.tolist():
        if certify_only and not _unsettled(lo[i:i + 1], hi[i:i + 1], lo_exact[i:i + 1], k)[0]:
            continue
        e = np.zeros(u)
        e[i] = 1.0
        x = model.solve(e)
        seen(x)
        if x is not None:
            lo_exact[i] = x[i]
        if certify_only and not _unsettled(lo[i:i + 1], hi[i:i + 1], lo_exact[i:i + 1], k)[0]:
            continue
        seen(model.solve(-e))
    hi[hi >= _LP_CAP * 0.999] = np.inf
    return lo, hi


# --------------------------------------------------------------------------------------------
# Hypercubes: margins and their relations
# --------------------------------------------------------------------------------------------


def _where(table: str | None) -> str:
    return f"table {table!r}" if table else "table"


def _validate_counts(df: pd.DataFrame, measures: Sequence[str], table: str | None = None) -> None:
    for m in measures:
        if m not in df.columns:
            raise ValueError(f"{_where(table)}: measure column {m!r} is missing")
        col = df[m]
        na = col.isna().to_numpy()
        if na.any():
            raise ValueError(f"{_where(table)}, row {int(np.flatnonzero(na)[0])}, field {m!r}: count is missing")
        num = pd.to_numeric(col, errors="coerce")
        arr = num.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(arr) | (arr < 0) | (arr != np.floor(arr)))
        if bad.size:
            raise ValueError(f"{_where(table)}, row {int(bad[0])}, field {m!r}: {col.iloc[bad[0]]!r} "
                             "is not a non-negative whole count")


def _validate_dims(df: pd.DataFrame, dims: Sequence[str], table: str | None = None) -> None:
    for d in dims:
        if d not in df.columns:
            raise ValueError(f"{_where(table)}: dimension column {d!r} is missing")
        na = df[d].isna().to_numpy()
        if na.any():
            raise ValueError(f"{_where(table)}, row {int(np.flatnonzero(na)[0])}, field {d!r}: dimension is missing")


def add_margins(df: pd.DataFrame, dims: Sequence[str], measures: Sequence[str],
                carry: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Sum ``measures`` over every subset of ``dims``, marking summed-out dimensions with :data:`ALL`.

    Rows with the same dimensions are summed first, so the result has one row per cell. ``carry`` maps
    an attribute column to the dimension that determines it (``{"district": "facility"}``): it is kept
    on rows where that dimension is real and set to ALL where it is summed out. Dimension and carried
    columns come back as strings, measures as int64.
    """
    dims, measures = list(dims), list(measures)
    carry = dict(carry or {})
    _validate_dims(df, dims)
    _validate_counts(df, measures)
    for attr, dim in carry.items():
        if dim not in dims:
            raise ValueError(f"carried column {attr!r} depends on {dim!r}, which is not a dimension")
        if attr not in df.columns:
            raise ValueError(f"carried column {attr!r} is missing")
        n_values = df.groupby(dim, sort=False)[attr].nunique(dropna=False)
        if (n_values > 1).any():
            raise ValueError(f"column {attr!r} is not determined by {dim!r}: "
                             f"{dim}={n_values[n_values > 1].index[0]!r} has several values")
    base = df[dims + list(carry) + measures].copy()
    for c in dims + list(carry):
        base[c] = base[c].astype(str)
        hit = (base[c] == ALL).to_numpy()
        if hit.any():
            raise ValueError(f"row {int(np.flatnonzero(hit)[0])}, field {c!r}: the value {ALL!r} is reserved for margins")
    for m in measures:
        base[m] = base[m].astype(np.int64)
    parts = []
    for size in range(len(dims), -1, -1):
        for kept in itertools.combinations(dims, size):
            keys = list(kept) + [a for a, d in carry.items() if d in kept]
            if keys:
                part = base.groupby(keys, sort=True, observed=True)[measures].sum().reset_index()
            else:
                part = base[measures].sum().to_frame().T.reset_index(drop=True)
            for c in dims + list(carry):
                if c not in keys:
                    part[c] = ALL
            parts.append(part[dims + list(carry) + measures])
    out = pd.concat(parts, ignore_index=True)
    for c in dims + list(carry):
        out[c] = out[c].astype(str)
    for m in measures:
        out[m] = out[m].astype(np.int64)
    return out


def _cell_labels(df: pd.DataFrame, dims: Sequence[str], table: str | None) -> list[str]:
    cols = [df[d].astype(str).to_numpy() for d in dims]
    prefix = f"{table}: " if table else ""
    return [prefix + ", ".join(f"{d}={v}" for d, v in zip(dims, vals, strict=True)) for vals in zip(*cols, strict=True)]


def _dim_index(df: pd.DataFrame, dims: Sequence[str], table: str | None) -> pd.MultiIndex:
    idx = pd.MultiIndex.from_frame(df[list(dims)].astype(str))
    dup = idx.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{_where(table)}, row {i}: cell ({_cell_labels(df.iloc[[i]], dims, None)[0]}) appears twice")
    return idx


# Cells are keyed by one int64 while their dimensions' combinations stay below this.
_KEY_LIMIT = 2**62


def cube_relations(df: pd.DataFrame, dims: Sequence[str], *, table: str | None = None) -> list[Relation]:
    """Exact relations of a table with margins, by row position.

    For each row and each dimension ``d`` whose value is not ALL, the row with ``d = ALL`` and the
    other dimensions equal must exist; it is the sum of those rows. A missing margin row is an error
    (a relation left underived could hide a leak).
    """
    dims = list(dims)
    _validate_dims(df, dims, table)
    frame = df[dims].astype(str).reset_index(drop=True)
    # Each row's dimension values as one integer (mixed radix over each dimension's distinct values, ALL
    # among them): the parent row of a cell is found by swapping one digit for ALL's, by integer lookup.
    codes, alls, weights, radix = [], [], [], 1
    key = np.zeros(len(frame), dtype=np.int64)
    for d in dims:
        c, uniq = pd.factorize(frame[d])
        codes.append(c.astype(np.int64))
        hit = np.flatnonzero(np.asarray(uniq, dtype=object) == ALL)
        alls.append(int(hit[0]) if hit.size else -1)
        weights.append(radix)
        radix *= max(len(uniq), 1)
        if radix >= _KEY_LIMIT:  # too many combinations for one integer: the tuples themselves
            return _cube_relations_by_tuples(frame, dims, _dim_index(df, dims, table), table)
        key += codes[-1] * weights[-1]
    idx = pd.Index(key)
    dup = idx.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{_where(table)}, row {i}: cell ({_cell_labels(df.iloc[[i]], dims, None)[0]}) appears twice")
    relations: list[Relation] = []
    for d, c, a, w in zip(dims, codes, alls, weights, strict=True):
        child = np.flatnonzero(c != a) if a >= 0 else np.arange(len(frame))
        if child.size == 0:
            continue
        parent = (idx.get_indexer(key[child] + (a - c[child]) * w) if a >= 0
                  else np.full(child.size, -1, dtype=np.int64))
        _require_margins(frame, dims, d, parent, child, table)
        relations += _grouped(parent, child)
    return relations


def _cube_relations_by_tuples(frame: pd.DataFrame, dims: list[str], idx: pd.MultiIndex,
                              table: str | None) -> list[Relation]:
    relations: list[Relation] = []
    for d in dims:
        child = np.flatnonzero((frame[d] != ALL).to_numpy())
        if child.size == 0:
            continue
        parent_keys = frame.iloc[child].copy()
        parent_keys[d] = ALL
        parent = idx.get_indexer(pd.MultiIndex.from_frame(parent_keys))
        _require_margins(frame, dims, d, parent, child, table)
        relations += _grouped(parent, child)
    return relations


def _require_margins(frame: pd.DataFrame, dims: list[str], d: str, parent: np.ndarray, child: np.ndarray,
                     table: str | None) -> None:
    """Every cell ``child`` has its margin over ``d`` (``parent`` >= 0), or a ValueError naming the first that has none."""
    if (parent < 0).any():
        i = int(child[np.flatnonzero(parent < 0)[0]])
        raise ValueError(f"{_where(table)}, row {i} ({_cell_labels(frame.iloc[[i]], dims, None)[0]}): "
                         f"no margin row with {d}={ALL}; build the table with add_margins")


def _grouped(total: np.ndarray, component: np.ndarray) -> list[Relation]:
    """Relations from (total, component) pairs: one per total in ascending order, its components in the
    order given (the order np.split over a stable sort gave; Python lists, which are much cheaper to cut)."""
    order = np.argsort(total, kind="stable")
    t_sorted, c_sorted = total[order].tolist(), component[order].tolist()
    bounds = [0, *(np.flatnonzero(np.diff(total[order])) + 1).tolist(), len(t_sorted)]
    return [(t_sorted[a], tuple(c_sorted[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


# --------------------------------------------------------------------------------------------
# Releases: one or several tables protected together
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One table of a release: its name, its frame (margins included), dimensions and count columns."""

    name: str
    frame: pd.DataFrame
    dims: tuple[str, ...]
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Link:
    """Cells of table ``total`` that are sums of cells of table ``component`` (see module docstring).

    ``on`` maps component columns (dimensions or carried columns) to total-table dimensions;
    ``over`` names the component dimensions summed over.
    """

    total: str
    component: str
    on: Mapping[str, str]
    over: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Identity:
    """Counts of one row that share a denominator: in every row of ``table``,
    ``sum(left) == sum(right)``.

    Example: ``crp_gt10_above + crp_gt10_below == crp_ge40_above + crp_ge40_below`` (both sides are the
    children with a CRP result). A reader can form it from any released row, so a hidden count on one
    side must not follow from the other side.
    """

    table: str
    left: tuple[str, ...]
    right: tuple[str, ...]


def _resolve_min_cell(min_cell: int | None) -> int:
    if min_cell is None:
        return config.min_cell()
    if min_cell < config.MIN_CELL_FLOOR:
        raise ValueError(f"min_cell={min_cell} is below the floor of {config.MIN_CELL_FLOOR}")
    return int(min_cell)


class _CellLabels:
    """``"<table>: dim=value, ..."`` of a release's cells, made only for the cells a message names (making
    every cell's label took longer than much of the protection's own bookkeeping)."""

    def __init__(self) -> None:
        self._parts: list[tuple[int, pd.DataFrame, tuple[str, ...], str]] = []
        self._n = 0

    def add(self, frame: pd.DataFrame, dims: Sequence[str], table: str) -> None:
        self._parts.append((self._n, frame, tuple(dims), table))
        self._n += len(frame)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> str:
        i = int(i)
        if not 0 <= i < self._n:
            raise IndexError(i)
        for start, frame, dims, table in reversed(self._parts):
            if i >= start:
                return _cell_labels(frame.iloc[[i - start]], dims, table)[0]
        raise IndexError(i)


class _JointLabels:
    """``"[<cell label>] <measure>"`` of joint cell ``j`` (measure blocks laid end to end)."""

    def __init__(self, labels: _CellLabels, blocks: list[tuple[int, str, np.ndarray]], n: int) -> None:
        self._labels, self._blocks, self._n = labels, blocks, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, j: int) -> str:
        j = int(j)
        for at, m, cells in reversed(self._blocks):
            if j >= at:
                return f"[{self._labels[int(cells[j - at])]}] {m}"
        raise IndexError(j)


class _Release:
    """Tables laid end to end as one vector of cells, with all their relations."""

    def __init__(self, tables: Sequence[Table], links: Sequence[Link], identities: Sequence[Identity] = ()):
        names = [t.name for t in tables]
        if len(set(names)) != len(names):
            raise ValueError(f"table names repeat: {names}")
        self.tables = {t.name: t for t in tables}
        self.offset: dict[str, int] = {}
        self.labels = _CellLabels()
        self.cell_table: list[str] = []
        self.relations: list[Relation] = []
        n = 0
        for t in tables:
            self.offset[t.name] = n
            rel = cube_relations(t.frame, t.dims, table=t.name)
            self.relations += rel if n == 0 else [(a + n, tuple(c + n for c in comps)) for a, comps in rel]
            self.labels.add(t.frame, t.dims, t.name)
            self.cell_table += [t.name] * len(t.frame)
            n += len(t.frame)
        self.n = n
        for link in links:
            self.relations += self._link_relations(link)
        for ident in identities:
            t = self.tables.get(ident.table)
            if t is None:
                raise ValueError(f"identity refers to unknown table {ident.table!r}")
            missing = [m for m in (*ident.left, *ident.right) if m not in t.measures]
            if missing:
                raise ValueError(f"identity on table {ident.table!r}: {missing} are not its measures")
        self.identities = tuple(identities)
        self._systems: dict[tuple[str, ...], tuple[_System, np.ndarray]] = {}
        self._joint = None
        self.groups: list[np.ndarray] = []

    def _link_relations(self, link: Link) -> list[Relation]:
        for name in (link.total, link.component):
            if name not in self.tables:
                raise ValueError(f"link refers to unknown table {name!r}")
        tot, comp = self.tables[link.total], self.tables[link.component]
        for c, t in link.on.items():
            if c not in comp.frame.columns:
                raise ValueError(f"link {link.component}->{link.total}: column {c!r} is not in table {comp.name!r}")
            if t not in tot.dims:
                raise ValueError(f"link {link.component}->{link.total}: {t!r} is not a dimension of {tot.name!r}")
        for o in link.over:
            if o not in comp.dims:
                raise ValueError(f"link {link.component}->{link.total}: {o!r} is not a dimension of {comp.name!r}")
        tf = tot.frame.reset_index(drop=True)
        cf = comp.frame.reset_index(drop=True)
        t_sel = np.ones(len(tf), dtype=bool)
        for d in tot.dims:
            real = (tf[d].astype(str) != ALL).to_numpy()
            t_sel &= real if d in link.on.values() else ~real
        c_sel = np.ones(len(cf), dtype=bool)
        for d in comp.dims:
            real = (cf[d].astype(str) != ALL).to_numpy()
            c_sel &= real if (d in link.over or d in link.on) else ~real
        on_c, on_t = list(link.on.keys()), list(link.on.values())
        left = tf.loc[t_sel, on_t].astype(str).reset_index(names="_t")
        right = cf.loc[c_sel, on_c].astype(str).reset_index(names="_c")
        right.columns = ["_c", *on_t]
        pairs = left.merge(right, on=on_t, how="inner")
        t0, c0 = self.offset[tot.name], self.offset[comp.name]
        return _grouped(pairs["_t"].to_numpy(dtype=np.int64) + t0, pairs["_c"].to_numpy(dtype=np.int64) + c0)

    def system(self, measure: str) -> tuple[_System, np.ndarray]:
        """The relations among the cells of the tables that hold ``measure``, and those cells."""
        holders = tuple(name for name, t in self.tables.items() if measure in t.measures)
        if holders not in self._systems:
            active = np.zeros(self.n, dtype=bool)
            for name in holders:
                o = self.offset[name]
                active[o:o + len(self.tables[name].frame)] = True
            cells = np.flatnonzero(active)
            pos = np.full(self.n, -1, dtype=np.int64)
            pos[cells] = np.arange(cells.size)
            if active.all():  # every table holds the measure: positions are the release's own
                rels = self.relations
            else:
                rels = [(int(pos[t]), tuple(int(pos[c]) for c in comps)) for t, comps in self.relations
                        if active[t] and active[list(comps)].all()]
            self._systems[holders] = (_System(cells.size, rels), cells)
        return self._systems[holders]

    def joint(self):
        """Every measure's cells as one vector, with every measure's relations and the identities
        between measures: ``(A, start, labels)`` where measure ``m``'s local cell ``j`` is joint cell
        ``start[m] + j``."""
        if self._joint is None:
            blocks, start, labels, at = [], {}, [], 0
            for m in self.measures():
                system, cells = self.system(m)
                start[m] = at
                blocks.append(system.A if system.m else sparse.csr_matrix((0, system.n)))
                labels.append((at, m, cells))
                at += system.n
            parts = [sparse.block_diag(blocks, format="csr")] if blocks else []
            r_idx, c_idx, val, row = [], [], [], 0
            groups = []
            for ident in self.identities:
                base = self.offset[ident.table]
                n = len(self.tables[ident.table].frame)
                members = []
                for sign, side in ((1.0, ident.left), (-1.0, ident.right)):
                    for m in side:
                        _, cells = self.system(m)
                        local = np.searchsorted(cells, base + np.arange(n))
                        r_idx.append(row + np.arange(n))
                        c_idx.append(start[m] + local)
                        val.append(np.full(n, sign))
                        members.append(start[m] + local)
                groups.append(np.stack(members, axis=1))
                row += n
            self.groups = groups
            if row:
                parts.append(sparse.csr_matrix((np.concatenate(val), (np.concatenate(r_idx), np.concatenate(c_idx))),
                                               shape=(row, at)))
            a = sparse.vstack(parts, format="csr") if parts else sparse.csr_matrix((0, at))
            self._joint = (a, start, _JointLabels(self.labels, labels, at))
        return self._joint

    def measures(self) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.tables.values():
            for m in t.measures:
                seen[m] = None
        return list(seen)

    def values(self, measure: str) -> np.ndarray:
        parts = [t.frame[measure].to_numpy(dtype=np.int64) for t in self.tables.values() if measure in t.measures]
        return np.concatenate(parts)


def protect_tables(tables: Sequence[Table], links: Sequence[Link] = (), identities: Sequence[Identity] = (), *,
                   min_cell: int | None = None,
                   forced: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                   fixed: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> dict[str, pd.DataFrame]:
    """Protect tables released together; returns each table with Int64 measures and flag columns.

    Each measure is first protected on its own (exact test over its relations); then the release is
    checked as one system (every measure, the identities between measures, non-negativity) by linear
    programming, and cells are hidden until no hidden cell's feasible range is narrower than
    ``min_cell``. ``forced`` (table -> measure -> row mask) hides cells for reasons outside the
    release (other products, earlier releases); they are flagged secondary unless primary. ``fixed``
    (same shape) marks cells another release already publishes: never hidden, known to the reader.
    """
    k = _resolve_min_cell(min_cell)
    for t in tables:
        _validate_dims(t.frame, t.dims, t.name)
        _validate_counts(t.frame, t.measures, t.name)
    forced = _or_masks(_forced_from_keys(tables), forced or {})
    # A deployment may raise the threshold; it must then never show a cell the lower one hid. The
    # secondary pattern of a greedy search is not monotone in the threshold by itself (a higher one can
    # settle on a different, smaller pattern), so the run climbs from the floor: each level starts
    # from everything the level below hid. At the default threshold this is a single run.
    out: dict[str, pd.DataFrame] = {}
    for level in range(config.MIN_CELL_FLOOR, k + 1):
        below = {name: {m: frame[m].isna().to_numpy() for m in t.measures}
                 for t in tables for name, frame in out.items() if name == t.name}
        out = _protect_at(tables, links, identities, level, _or_masks(forced, below), fixed)
    return out


def _or_masks(*given: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """Table -> measure -> row mask, the union of several such mappings."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for g in given:
        for name, per in g.items():
            for m, mask in per.items():
                mask = np.asarray(mask, dtype=bool)
                prev = out.setdefault(name, {}).get(m)
                out[name][m] = mask if prev is None else prev | mask
    return out


def _protect_at(tables: Sequence[Table], links: Sequence[Link], identities: Sequence[Identity], k: int,
                forced: Mapping[str, Mapping[str, np.ndarray]],
                fixed: Mapping[str, Mapping[str, np.ndarray]] | None) -> dict[str, pd.DataFrame]:
    release = _Release(tables, links, identities)
    out = {t.name: t.frame.reset_index(drop=True).copy() for t in tables}
    measures = release.measures()
    a, start, _ = release.joint()
    values = {m: release.values(m) for m in measures}
    force = {m: np.zeros(values[m].size, dtype=bool) for m in measures}
    fix = {m: np.zeros(values[m].size, dtype=bool) for m in measures}
    for target, given in ((force, forced), (fix, fixed)):
        for name, per_measure in (given or {}).items():
            for m, mask in per_measure.items():
                if name in release.tables and m in release.tables[name].measures:
                    _, cells = release.system(m)
                    o = release.offset[name]
                    local = np.searchsorted(cells, o + np.arange(len(release.tables[name].frame)))
                    target[m][local[np.asarray(mask, dtype=bool)]] = True
    joint_v = np.concatenate([values[m] for m in measures]).astype(np.float64) if measures else np.zeros(0)
    owner = np.concatenate([np.full(values[m].size, i) for i, m in enumerate(measures)]) if measures else np.zeros(0, int)
    runs: dict[str, _Run] = {}
    new_cells: dict[str, np.ndarray] = {}
    lp_cache: dict = {}
    for measure in measures:
        system, cells = release.system(measure)
        try:
            runs[measure] = system.start(values[measure], k, force[measure], fix[measure])
        except _CellError as exc:
            raise ValueError(f"measure {measure!r}, [{release.labels[int(cells[exc.cell])]}]: {exc}") from exc
    for _ in range(100):
        for measure, cells_more in new_cells.items():
            system, cells = release.system(measure)
            try:
                runs[measure].more(cells_more, k)
            except (_CellError, ValueError) as exc:
                raise ValueError(f"measure {measure!r}: {exc}") from exc
        hidden = np.concatenate([runs[m].hidden & ~fix[m] for m in measures]) if measures else np.zeros(0, bool)
        fixed_j = np.concatenate([fix[m] for m in measures]) if measures else np.zeros(0, bool)
        extra = _widen(a, joint_v, hidden, k, release.groups, fixed_j, lp_cache)
        if extra.size == 0:
            break
        grouped: dict[str, list[int]] = {}
        for j in extra.tolist():
            m = measures[int(owner[j])]
            grouped.setdefault(m, []).append(j - start[m])
        new_cells = {m: np.array(v, dtype=np.int64) for m, v in grouped.items()}
    else:
        raise ValueError("cannot protect: the joint interval check does not settle")
    for measure in measures:
        result = runs[measure].result(k)
        result = Suppression(result.mask & ~fix[measure], np.where(fix[measure], "", result.reason))
        at = 0
        for name, t in release.tables.items():
            if measure not in t.measures:
                continue
            n = len(t.frame)
            mask, reason = result.mask[at:at + n], result.reason[at:at + n]
            col = pd.array(out[name][measure].to_numpy(dtype=np.int64), dtype="Int64")
            col[mask] = pd.NA
            out[name][measure] = col
            out[name][measure + FLAG_SUFFIX] = pd.array(reason.astype(str), dtype="str")
            at += n
    return out


# Cells to hide by their dimension values, set by the pipeline around a build (see :func:`hide_also`).
_EXTRA_HIDDEN: contextvars.ContextVar[Mapping[str, Mapping[str, set[tuple[str, ...]]]] | None] = \
    contextvars.ContextVar("extra_hidden", default=None)


@contextlib.contextmanager
def hide_also(keys: Mapping[str, Mapping[str, set[tuple[str, ...]]]]):
    """Within the block, :func:`protect_tables` also hides these cells: table -> measure -> set of
    dimension-value tuples (in the table's dimension order). The pipeline uses it to keep a candidate
    from showing a small change against what is already published, without each builder knowing."""
    token = _EXTRA_HIDDEN.set(keys)
    try:
        yield
    finally:
        _EXTRA_HIDDEN.reset(token)


def _forced_from_keys(tables: Sequence[Table]) -> dict[str, dict[str, np.ndarray]]:
    keys = _EXTRA_HIDDEN.get()
    if not keys:
        return {}
    out: dict[str, dict[str, np.ndarray]] = {}
    for t in tables:
        per = keys.get(t.name)
        if not per:
            continue
        frame_keys = list(zip(*[t.frame[d].astype(str) for d in t.dims], strict=True))
        for m, wanted in per.items():
            if m in t.measures and wanted:
                out.setdefault(t.name, {})[m] = np.array([k in wanted for k in frame_keys], dtype=bool)
    return out


def _widen(a: sparse.csr_matrix, v: np.ndarray, hidden: np.ndarray, k: int,
           groups: Sequence[np.ndarray] = (), fixed: np.ndarray | None = None,
           cache: dict | None = None) -> np.ndarray:
    """Released cells to hide so that the joint system comes closer to the interval guarantee.

    First, in a row where one count of an identity is hidden, every count of that identity (one
    side alone would give the other side's hidden part away); then any relation with exactly one
    hidden cell; then, for every hidden cell whose feasible range is narrower than ``k``, the smallest
    non-zero released cell sharing a relation with it.
    """
    if a.shape[0] == 0 or not hidden.any():
        return np.zeros(0, dtype=np.int64)
    extra = []
    for g in groups:
        hid = hidden[g]
        partial = hid.any(axis=1) & ~hid.all(axis=1)
        if partial.any():
            cells = g[partial]
            keep = ~hidden[cells] if fixed is None else ~hidden[cells] & ~fixed[cells]
            extra.append(cells[keep])
    if extra:
        return np.unique(np.concatenate(extra)).astype(np.int64)
    absa = abs(a).tocsr()
    absc = absa.tocsc()
    hideable = ~hidden if fixed is None else ~hidden & ~fixed

    def best(rows: np.ndarray) -> list[int]:
        out = []
        for r in rows.tolist():
            cells = absa.indices[absa.indptr[r]:absa.indptr[r + 1]]
            cand = cells[hideable[cells]]
            if cand.size:
                key = np.where(v[cand] > 0, v[cand], np.inf)
                out.append(int(cand[np.argmin(key)]))
        return out

    per_row = absa @ hidden.astype(np.float64)
    single = np.flatnonzero(per_row == 1)
    if single.size:
        picks = set(best(single))
        if picks:
            return np.array(sorted(picks), dtype=np.int64)
    lo, hi = feasible_ranges(a, v, hidden, k, cache=cache, exact_rest=False)
    narrow = np.flatnonzero(hidden & exposed(lo, hi, k))
    picks = set()
    for i in narrow.tolist():
        # The relations through the cell; where all their cells are hidden already, the relations
        # of those hidden cells, and so on outwards, until a released cell can be hidden.
        frontier, seen_rows = np.array([i]), set()
        for _ in range(6):
            rows = np.unique(np.concatenate([absc.indices[absc.indptr[c]:absc.indptr[c + 1]] for c in frontier]))
            rows = np.array([r for r in rows.tolist() if r not in seen_rows], dtype=np.int64)
            if rows.size == 0:
                break
            seen_rows.update(rows.tolist())
            got = best(rows)
            if got:
                picks.update(got)
                break
            frontier = np.unique(np.concatenate([absa.indices[absa.indptr[r]:absa.indptr[r + 1]] for r in rows]))
    return np.array(sorted(picks), dtype=np.int64)


def protect(frame: pd.DataFrame, dims: Sequence[str], measures: Sequence[str], *,
            min_cell: int | None = None) -> pd.DataFrame:
    """Protect one table with margins (see :func:`add_margins`)."""
    return protect_tables([Table("table", frame, tuple(dims), tuple(measures))], min_cell=min_cell)["table"]


# --------------------------------------------------------------------------------------------
# Approval: re-derive everything from the release itself
# --------------------------------------------------------------------------------------------


def check_tables(tables: Sequence[Table], links: Sequence[Link] = (), identities: Sequence[Identity] = (), *,
                 min_cell: int | None = None) -> list[str]:
    """Violations in a release as it would be published; approval refuses unless this is empty.

    Besides the per-cell rules, the whole release is one linear system (every measure's margins and
    links, the identities between measures, non-negativity): a hidden cell whose feasible range is
    narrower than ``min_cell`` is a violation, named with its range.
    """
    k = _resolve_min_cell(min_cell)
    problems: list[str] = []
    try:
        release = _Release(tables, links, identities)
    except ValueError as exc:
        return [f"relations cannot be derived: {exc}"]
    joint_ok = True
    joint_v: dict[str, np.ndarray] = {}
    for measure in release.measures():
        system, cells = release.system(measure)
        vals, present, ok = [], [], True
        for t in release.tables.values():
            if measure not in t.measures:
                continue
            if measure not in t.frame.columns:
                problems.append(f"table {t.name!r}: measure {measure!r} is missing")
                ok = False
                continue
            f = t.frame.reset_index(drop=True)
            col = pd.to_numeric(f[measure], errors="coerce").astype("Float64")
            labels = _cell_labels(f, t.dims, t.name)
            flag_col = measure + FLAG_SUFFIX
            flags = (f[flag_col].astype(object).where(f[flag_col].notna(), "").astype(str).to_numpy()
                     if flag_col in f.columns else np.full(len(f), "", dtype=object))
            if flag_col not in f.columns:
                problems.append(f"table {t.name!r}: flag column {flag_col!r} is missing")
            na = col.isna().to_numpy()
            raw_na = f[measure].isna().to_numpy()
            for i in np.flatnonzero(na & ~raw_na):
                problems.append(f"[{labels[i]}] {measure}: {f[measure].iloc[i]!r} is not a count")
            arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
            for i in np.flatnonzero(~na & ((arr < 0) | (arr != np.floor(arr)))):
                problems.append(f"[{labels[i]}] {measure}: released value {arr[i]:g} is not a non-negative count")
            for i in np.flatnonzero(~na & (arr >= 1) & (arr < k)):
                problems.append(f"[{labels[i]}] {measure}: released count {int(arr[i])} is below min_cell {k}")
            for i in np.flatnonzero(na & (flags == "")):
                problems.append(f"[{labels[i]}] {measure}: value is suppressed without a flag")
            for i in np.flatnonzero(~na & (flags != "")):
                problems.append(f"[{labels[i]}] {measure}: flagged {flags[i]!r} but the value {arr[i]:g} is released")
            for i in np.flatnonzero(~np.isin(flags, _FLAGS)):
                problems.append(f"[{labels[i]}] {measure}: unknown flag {flags[i]!r}")
            vals.append(np.nan_to_num(arr, nan=0.0))
            present.append(~na)
        if not ok or not vals:
            joint_ok = False
            continue
        v = np.concatenate(vals)
        known = np.concatenate(present)
        joint_v[measure] = np.where(known, v, np.nan)
        hidden = ~known
        for c in np.flatnonzero(system.recoverable(hidden)):
            problems.append(f"[{release.labels[cells[c]]}] {measure}: suppressed value can be recovered exactly from released cells")
        # Per relation: what a reader computes from the released cells alone.
        a = system.A
        comp_hidden = system.compA @ hidden.astype(np.int64)
        total_known = known[system.tot]
        residual = v[system.tot] - system.compA @ (v * known)
        for r in np.flatnonzero(total_known & (comp_hidden > 0) & (residual < k)):
            problems.append(f"[{release.labels[cells[system.tot[r]]]}] {measure}: its hidden components add up to "
                            f"{residual[r]:g}, below min_cell {k}, so each is known to be small")
        unknowns = abs(a) @ hidden.astype(np.int64)
        for r in np.flatnonzero((unknowns == 0) & (np.abs(a @ v) > 0)):
            problems.append(f"[{release.labels[cells[system.tot[r]]]}] {measure}: released total differs from the sum "
                            "of its released components")
    if joint_ok and joint_v:
        problems += interval_problems(release, joint_v, k)
    return problems


def interval_problems(release: _Release, values: Mapping[str, np.ndarray], k: int) -> list[str]:
    """The interval guarantee on a release's joint system (released values, NaN where hidden)."""
    a, _, labels = release.joint()
    v = np.concatenate([values[m] for m in release.measures()])
    hidden = np.isnan(v)
    lo, hi = feasible_ranges(a, v, hidden, k)
    out = []
    for j in np.flatnonzero(hidden & (lo > hi)):
        out.append(f"{labels[j]}: the released figures contradict the relations around this hidden cell")
    for j in np.flatnonzero(hidden & (lo <= hi) & exposed(lo, hi, k)):
        out.append(f"{labels[j]}: hidden value's feasible range [{lo[j]:.4g}, {hi[j]:.4g}] is narrower "
                   f"than min_cell {k}")
    return out


def check(frame: pd.DataFrame, dims: Sequence[str], measures: Sequence[str], *,
          min_cell: int | None = None) -> list[str]:
    """:func:`check_tables` for a single table."""
    return check_tables([Table("table", frame, tuple(dims), tuple(measures))], min_cell=min_cell)


# --------------------------------------------------------------------------------------------
# Quantiles that cannot pin a person
# --------------------------------------------------------------------------------------------


# The position rule every released quantile follows, as releases state it in their metadata (approval
# refuses a release of quantiles that does not state this one).
QUANTILE_POSITIONS = ("type 7 moved by half a step: position q(n-1) + 1/(2d) for q = c/d, 0-based; at least min_cell "
                      "values below and above the two values blended")


def _level_fraction(q: float) -> tuple[int, int]:
    """Level ``q`` as a fraction num/den (P90 = 9/10): positions are computed from these integers."""
    from fractions import Fraction

    f = Fraction(q).limit_denominator(1000)
    return f.numerator, f.denominator


def quantile_rank(q: float, n):
    """Where the released quantile at level ``q`` sits among ``n`` sorted values: (j, f), the value at 0-based
    rank j blended with the one at j + 1 as ``x[j] + f * (x[j+1] - x[j])``, 0 < f < 1.

    Linear interpolation (type 7, position ``q(n-1)``) moved by half a position step, so the position is
    never a whole number: every released quantile blends two neighbouring values with non-zero weights and
    never equals one person's value (the shift is at most a quarter of one rank, at P50). Computed in
    integers (position = (2·num·(n−1) + 1) / (2·den) for q = num/den), so numpy and
    :func:`quantile_position_sql` pick the same neighbours and the same weight to the bit. ``n``: a count,
    an integer array, or an integer column expression (the benchmark's Polars baseline uses this rule too).
    """
    j, a, d = quantile_rank_fraction(q, n)
    return j, a / d


def quantile_rank_fraction(q: float, n):
    """:func:`quantile_rank` with the weight as a fraction of integers: (j, a, d), f = a / d. A released
    quantile times ``d`` is then ``d·x[j] + a·(x[j+1] − x[j])``, exact in integers for values on a grid."""
    num, den = _level_fraction(q)
    if isinstance(n, int | np.integer | np.ndarray | list | tuple):
        n = np.asarray(n, dtype=np.int64)
    top = (n - 1) * (2 * num) + 1
    j = top // (2 * den)
    return j, top - j * (2 * den), 2 * den


def quantile_blend(lo, hi, f):
    """The released quantile from the two values it blends (``lo`` at rank j, ``hi`` at j + 1, ``f`` the
    weight :func:`quantile_rank` gave), unrounded and before the count rule: the one definition every
    builder uses (:func:`safe_quantile`, the histograms, the benchmark's baselines; :func:`quantile_blend_sql`
    in DuckDB, in the same double arithmetic)."""
    return lo + f * (hi - lo)


# How released wait quantiles meet recorded values (seconds), as wait-time releases state it in their
# metadata (approval refuses a release of wait quantiles that does not state this one).
QUANTILE_TIES = ("a quantile is given to the second unless that second is the wait of 1 to min_cell-1 visits of its "
                 "cell; then to the whole minute, if at least min_cell of the cell's waits round to that minute; "
                 "else withheld. A value on a whole minute stands for that minute and needs no wait or at least "
                 "min_cell waits in it")


def shared_ok(count, k: int) -> np.ndarray:
    """A released value may stand for a recorded value (or a bucket of them) that no one or at least ``k``
    people share: a share of 1..k-1 would be a small count, like a released count below ``k``."""
    c = np.nan_to_num(np.asarray(count, dtype=np.float64), nan=-1.0)
    return (c == 0) | (c >= k)


def quantile_ok(q: float, n: int, k: int) -> bool:
    """The release rule: at least ``k`` measured values lie below the lower and above the upper of the
    two values the quantile blends, so no order statistic, and no minimum or maximum, is determined."""
    return bool(quantile_ok_many(q, np.asarray([n]), k)[0])


def quantile_ok_many(q: float, n: np.ndarray, k: int) -> np.ndarray:
    """:func:`quantile_ok` over an array of value counts (NaN counts: not released)."""
    n = np.nan_to_num(np.asarray(n, dtype=np.float64), nan=0.0).astype(np.int64)
    j, _ = quantile_rank(q, n)
    return (n >= 2) & (j >= k) & (n - 2 - j >= k)


def quantile_min_n(q: float, k: int) -> int:
    """Smallest number of measured values from which :func:`quantile_ok` releases level ``q``."""
    n = 2
    while not quantile_ok(q, n, k):
        n += 1
    return n


def round_half_away(x, decimals: int):
    """Half away from zero, as DuckDB's round() (Python's round() goes to even)."""
    scale = 10.0 ** decimals
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) * scale + 0.5) / scale


def safe_quantile(values: np.ndarray, q: float, k: int, decimals: int | None = None) -> float:
    """The released quantile of ``values`` (NaN ignored), or NaN where the rule withholds it."""
    x = np.asarray(values, dtype=np.float64)
    x = np.sort(x[~np.isnan(x)])
    if not quantile_ok(q, x.size, k):
        return float("nan")
    j, f = quantile_rank(q, x.size)
    out = quantile_blend(x[j], x[j + 1], f)
    return float(out if decimals is None else round_half_away(out, decimals))


def quantile_sql(column: str, levels: Mapping[str, float], k: int,
                 decimals: int | None) -> tuple[str, dict[str, str]]:
    """DuckDB for :func:`safe_quantile`: an aggregate (sorted values of the group) and one expression
    per level over it. ``column`` must be a trusted identifier; the aggregate is named ``<column>__l``."""
    agg = (f"count({column})::BIGINT AS {column}__n, "
           f"list_sort(list({column}) FILTER (WHERE {column} IS NOT NULL)) AS {column}__l")
    exprs = {}
    for name, q in levels.items():
        _, j = quantile_position_sql(q, f"{column}__n")
        exprs[name] = quantile_value_sql(q, f"{column}__n", f"{column}__l[{j} + 1]", f"{column}__l[{j} + 2]", k,
                                         decimals)
    return agg, exprs


def quantile_position_sql(q: float, n: str) -> tuple[str, str]:
    """:func:`quantile_rank` in DuckDB, in the same integer arithmetic: the weight ``f`` of the upper value
    and ``j`` (0-based); the released quantile blends the values at 1-based positions j + 1 and j + 2.
    ``n`` is trusted SQL."""
    num, den = _level_fraction(q)
    top = f"(2 * {num} * (({n})::BIGINT - 1) + 1)"
    j = f"({top} // {2 * den})"
    return f"(({top} - {2 * den} * {j})::DOUBLE / {2 * den})", j


def quantile_blend_sql(q: float, n: str, lo: str, hi: str) -> str:
    """:func:`quantile_blend` in DuckDB (trusted SQL in): the same double arithmetic, no rule, no rounding."""
    f, _ = quantile_position_sql(q, n)
    return f"(({lo})::DOUBLE + {f} * (({hi})::DOUBLE - ({lo})::DOUBLE))"


def quantile_value_sql(q: float, n: str, lo: str, hi: str, k: int, decimals: int | None) -> str:
    """The released quantile from the two values it blends (``lo`` at position j + 1, ``hi`` at j + 2, as
    trusted SQL): NULL unless :func:`safe_quantile`'s rule holds; rounded to ``decimals`` unless None.
    Builders that find the two values another way (from a histogram an engine counted) use this same
    expression, so the figures are the same."""
    _, j = quantile_position_sql(q, n)
    ok = f"({n} >= 2 AND {j} >= {int(k)} AND {n} - 2 - {j} >= {int(k)})"
    value = quantile_blend_sql(q, n, lo, hi)
    if decimals is not None:
        value = f"round({value}, {int(decimals)})"
    return f"CASE WHEN {ok} THEN {value} END"


# --------------------------------------------------------------------------------------------
# Small helpers for builders and reports
# --------------------------------------------------------------------------------------------


def releasable(frame: pd.DataFrame, measures: Sequence[str]) -> pd.Series:
    """Rows where every listed count is released: the only rows a rate or quantile may use."""
    ok = pd.Series(True, index=frame.index)
    for m in measures:
        ok &= frame[m].notna()
    return ok


def flags_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Primary and secondary suppressions per measure of a protected frame."""
    rows = []
    for col in frame.columns:
        if col.endswith(FLAG_SUFFIX) and col[: -len(FLAG_SUFFIX)] in frame.columns:
            flags = frame[col].astype(str)
            rows.append({"measure": col[: -len(FLAG_SUFFIX)], "cells": len(frame),
                         PRIMARY: int((flags == PRIMARY).sum()), SECONDARY: int((flags == SECONDARY).sum())})
    return pd.DataFrame(rows, columns=["measure", "cells", PRIMARY, SECONDARY])
