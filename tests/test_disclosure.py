"""Disclosure control: properties checked against an independent brute-force model of each release.

The oracle below rebuilds every relation from the cell keys with plain loops and decides whether a
hidden cell is recoverable with ``numpy.linalg.matrix_rank`` on the whole system (cell i is
recoverable iff appending e_i to the relation rows restricted to hidden columns keeps the rank).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_products import disclosure as D
from data_products.disclosure import ALL


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASPACE_HOME", str(tmp_path))
    monkeypatch.delenv("DATASPACE_MIN_CELL", raising=False)


# ---------------------------------------------------------------- independent oracle


def oracle_relations(frame: pd.DataFrame, dims: list[str], offset: int = 0) -> list[tuple[int, list[int]]]:
    rows = [tuple(str(frame[d].iloc[i]) for d in dims) for i in range(len(frame))]
    where = {key: i for i, key in enumerate(rows)}
    groups: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(rows):
        for j in range(len(dims)):
            if key[j] != ALL:
                parent = key[:j] + (ALL,) + key[j + 1:]
                groups.setdefault((where[parent], j), []).append(i)
    return [(t + offset, [c + offset for c in comps]) for (t, _), comps in groups.items()]


def oracle_matrix(n: int, relations) -> np.ndarray:
    a = np.zeros((len(relations), n))
    for r, (t, comps) in enumerate(relations):
        a[r, t] = 1
        a[r, comps] = -1
    return a


def oracle_recoverable(a: np.ndarray, hidden: np.ndarray) -> list[int]:
    cols = np.flatnonzero(hidden)
    if cols.size == 0:
        return []
    sub = a[:, cols]
    base = np.linalg.matrix_rank(sub) if sub.size else 0
    out = []
    for k, i in enumerate(cols):
        unit = np.zeros((1, cols.size))
        unit[0, k] = 1
        if np.linalg.matrix_rank(np.vstack([sub, unit])) == base:
            out.append(int(i))
    return out


def oracle_small_residuals(a: np.ndarray, values: np.ndarray, hidden: np.ndarray, min_cell: int) -> list[int]:
    """Relations with a released total whose hidden components add up to less than min_cell."""
    bad = []
    for r in range(a.shape[0]):
        t = int(np.flatnonzero(a[r] > 0)[0])
        comps = np.flatnonzero(a[r] < 0)
        hidden_comps = comps[hidden[comps]]
        if not hidden[t] and hidden_comps.size and values[hidden_comps].sum() < min_cell:
            bad.append(r)
    return bad


# ---------------------------------------------------------------- strategies


@st.composite
def tables(draw, max_dims: int = 3):
    n_dims = draw(st.integers(1, max_dims))
    dims = [f"d{j}" for j in range(n_dims)]
    levels = [draw(st.integers(2, 4)) for _ in dims]
    keys = list(itertools.product(*[[f"v{k}" for k in range(n)] for n in levels]))
    small = st.one_of(st.integers(0, 9), st.integers(0, 30))
    counts = draw(st.lists(small, min_size=len(keys), max_size=len(keys)))
    base = pd.DataFrame(keys, columns=dims)
    base["n"] = counts
    base["m"] = draw(st.lists(st.integers(0, 14), min_size=len(keys), max_size=len(keys)))
    return dims, base


def released_frame(base, dims, min_cell):
    cube = D.add_margins(base, dims, ["n", "m"])
    return cube, D.protect(cube, dims, ["n", "m"], min_cell=min_cell)


# ---------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(10, 13))
def test_release_is_safe_and_faithful(table, min_cell):
    dims, base = table
    cube, out = released_frame(base, dims, min_cell)
    a = oracle_matrix(len(cube), oracle_relations(cube, dims))
    for m in ("n", "m"):
        truth = cube[m].to_numpy()
        assert (a @ truth == 0).all()  # the margins themselves are exact
        hidden = out[m].isna().to_numpy()
        shown = out[m].to_numpy(dtype=float, na_value=np.nan)
        flags = out[m + "_flag"].to_numpy()
        assert not ((shown >= 1) & (shown < min_cell)).any()
        assert (shown[~hidden] == truth[~hidden]).all()
        assert (flags[hidden] != "").all() and (flags[~hidden] == "").all()
        small = (truth >= 1) & (truth < min_cell)
        assert (flags[small] == "primary").all()
        assert set(flags[hidden & ~small]) <= {"secondary"}
        assert oracle_recoverable(a, hidden) == []
        assert oracle_small_residuals(a, truth, hidden, min_cell) == []
    assert D.check(out, dims, ["n", "m"], min_cell=min_cell) == []


@settings(max_examples=40, deadline=None)
@given(tables(), st.integers(10, 12), st.integers(1, 6))
def test_raising_min_cell_never_releases_more(table, low, step):
    dims, base = table
    cube = D.add_margins(base, dims, ["n"])
    lo = D.protect(cube, dims, ["n"], min_cell=low)["n"].isna().to_numpy()
    hi = D.protect(cube, dims, ["n"], min_cell=low + step)["n"].isna().to_numpy()
    assert (lo <= hi).all()  # every cell hidden at the lower threshold stays hidden


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_core_arrays_with_small_threshold(data):
    # The array core is generic: threshold 3 and counts 0..6 make suppression the rule, not the exception.
    rows, cols = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))
    inner = np.array(data.draw(st.lists(st.integers(0, 6), min_size=rows * cols, max_size=rows * cols)))
    grid = inner.reshape(rows, cols)
    full = np.zeros((rows + 1, cols + 1), dtype=int)
    full[:rows, :cols] = grid
    full[rows, :cols] = grid.sum(axis=0)
    full[:rows, cols] = grid.sum(axis=1)
    full[rows, cols] = grid.sum()
    idx = np.arange(full.size).reshape(full.shape)
    relations = [(int(idx[r, cols]), tuple(int(x) for x in idx[r, :cols])) for r in range(rows + 1)]
    relations += [(int(idx[rows, c]), tuple(int(x) for x in idx[:rows, c])) for c in range(cols + 1)]
    values = full.ravel()
    res = D.suppress(values, relations, 3)
    a = oracle_matrix(values.size, [(t, list(c)) for t, c in relations])
    assert not ((values >= 1) & (values < 3) & ~res.mask).any()
    assert oracle_recoverable(a, res.mask) == []
    assert (D.recoverable(res.mask, relations) == False).all()  # noqa: E712
    assert set(res.reason[res.mask]) <= {"primary", "secondary"}
    assert (res.reason[~res.mask] == "").all()


@settings(max_examples=60, deadline=None)
@given(tables(), st.data(), st.sampled_from(["dense", "lsqr per cell", "lsqr then dense"]))
def test_rank_test_matches_oracle_on_random_masks(table, data, path):
    # Random hiding patterns, most of them leaky, through the dense path, the LSQR path settling each
    # doubtful cell alone, and the LSQR path handing many doubts to one dense SVD.
    dims, base = table
    cube = D.add_margins(base, dims, ["n"])
    rels = D.cube_relations(cube, dims)
    hidden = np.array(data.draw(st.lists(st.booleans(), min_size=len(cube), max_size=len(cube))))
    with pytest.MonkeyPatch.context() as mp:
        if path != "dense":
            mp.setattr(D, "_DENSE_LIMIT", 0)
            mp.setattr(D, "_DOUBT_LIMIT", 10**9 if path == "lsqr per cell" else 0)
        got = np.flatnonzero(D.recoverable(hidden, rels)).tolist()
    assert got == oracle_recoverable(oracle_matrix(len(cube), oracle_relations(cube, dims)), hidden)


@settings(max_examples=25, deadline=None)
@given(tables(max_dims=2))
def test_iterative_path_protects_too(table):
    dims, base = table
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(D, "_DENSE_LIMIT", 0)
        cube, out = released_frame(base, dims, 10)
    a = oracle_matrix(len(cube), oracle_relations(cube, dims))
    assert oracle_recoverable(a, out["n"].isna().to_numpy()) == []


def test_exact_test_catches_what_singleton_rule_misses():
    # 4x4 table with margins. Hidden: two 2x2 blocks (rows 0-1 x cols 0-1, rows 2-3 x cols 2-3)
    # and the bridge cell (1, 2). Every row and column holds two or three hidden cells, so no
    # relation has a lone unknown, yet (rows 0+1 totals) - (cols 0+1 totals) - released = bridge.
    size = 4
    idx = np.arange((size + 1) ** 2).reshape(size + 1, size + 1)
    rel = [(int(idx[r, size]), tuple(int(x) for x in idx[r, :size])) for r in range(size + 1)]
    rel += [(int(idx[size, c]), tuple(int(x) for x in idx[:size, c])) for c in range(size + 1)]
    hidden = np.zeros(idx.size, dtype=bool)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        hidden[idx[r, c]] = True
    a = oracle_matrix(idx.size, [(t, list(c)) for t, c in rel])
    assert ((np.abs(a) @ hidden) != 1).all()
    assert oracle_recoverable(a, hidden) == [int(idx[1, 2])]
    assert np.flatnonzero(D.recoverable(hidden, rel)).tolist() == [int(idx[1, 2])]
    # suppress() starting from the same kind of pattern closes it
    values = np.full(idx.size, 0)
    inner = np.array([[3, 3, 20, 20], [3, 3, 4, 20], [20, 20, 3, 3], [20, 20, 3, 3]])
    full = np.zeros((size + 1, size + 1), dtype=int)
    full[:size, :size] = inner
    full[size, :size], full[:size, size], full[size, size] = inner.sum(0), inner.sum(1), inner.sum()
    values = full.ravel()
    res = D.suppress(values, rel, 5)
    assert res.mask[idx[1, 2]] and oracle_recoverable(a, res.mask) == []


# ---------------------------------------------------------------- several tables


def _facility_release(counts: list[int], facility_district: list[str], months: int = 3):
    fac = [f"F{i:02d}" for i in range(len(facility_district))]
    rows = []
    k = 0
    for f, d in zip(fac, facility_district, strict=True):
        for mth in range(months):
            rows.append({"facility": f, "district": d, "month": f"2024-{mth + 1:02d}", "cases": counts[k]})
            k += 1
    base = pd.DataFrame(rows)
    facility = D.add_margins(base, ["facility", "month"], ["cases"], carry={"district": "facility"})
    district = D.add_margins(base, ["district", "month"], ["cases"])
    tables = [D.Table("district", district, ("district", "month"), ("cases",)),
              D.Table("facility", facility, ("facility", "month"), ("cases",))]
    links = [D.Link(total="district", component="facility", on={"district": "district", "month": "month"},
                    over=("facility",))]
    return tables, links


def oracle_cross_matrix(district: pd.DataFrame, facility: pd.DataFrame) -> np.ndarray:
    n_d = len(district)
    rels = oracle_relations(district, ["district", "month"])
    rels += oracle_relations(facility, ["facility", "month"], offset=n_d)
    for i in range(n_d):
        d, mth = district["district"].iloc[i], district["month"].iloc[i]
        if d == ALL or mth == ALL:
            continue
        comps = [n_d + j for j in range(len(facility))
                 if facility["district"].iloc[j] == d and facility["month"].iloc[j] == mth
                 and facility["facility"].iloc[j] != ALL]
        rels.append((i, comps))
    return oracle_matrix(n_d + len(facility), rels)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_facility_and_district_tables_protected_together(data):
    n_fac = data.draw(st.integers(2, 5))
    fd = data.draw(st.lists(st.sampled_from(["Tianhe", "Yuexiu", "Haizhu"]), min_size=n_fac, max_size=n_fac))
    counts = data.draw(st.lists(st.integers(0, 25), min_size=3 * n_fac, max_size=3 * n_fac))
    tables, links = _facility_release(counts, fd)
    out = D.protect_tables(tables, links, min_cell=10)
    district, facility = out["district"], out["facility"]
    a = oracle_cross_matrix(district, facility)
    hidden = np.concatenate([district["cases"].isna().to_numpy(), facility["cases"].isna().to_numpy()])
    truth = np.concatenate([tables[0].frame["cases"].to_numpy(), tables[1].frame["cases"].to_numpy()])
    assert (a @ truth == 0).all()
    assert oracle_recoverable(a, hidden) == []
    shown = truth[~hidden]
    assert not ((shown >= 1) & (shown < 10)).any()
    released = [D.Table(t.name, out[t.name], t.dims, t.measures) for t in tables]
    assert D.check_tables(released, links, min_cell=10) == []


def test_separate_protection_would_leak_a_facility():
    # F00 (3 cases in the first month) shares Tianhe with F01; F02 is in Yuexiu. Protected alone,
    # the facility table pairs F00 with F02 (the smaller complement) and the district table shows
    # Tianhe in full, so F00 = Tianhe - F01. Protected together that subtraction is blocked.
    tables, links = _facility_release([3, 40, 50, 40, 45, 50, 30, 35, 20], ["Tianhe", "Tianhe", "Yuexiu"])
    alone = {t.name: D.protect(t.frame, t.dims, t.measures, min_cell=10) for t in tables}
    a = oracle_cross_matrix(alone["district"], alone["facility"])
    hidden = np.concatenate([alone["district"]["cases"].isna(), alone["facility"]["cases"].isna()])
    assert oracle_recoverable(a, hidden)  # the leak the link exists to prevent
    released = [D.Table(t.name, alone[t.name], t.dims, t.measures) for t in tables]
    assert any("recovered" in p for p in D.check_tables(released, links, min_cell=10))
    joint = D.protect_tables(tables, links, min_cell=10)
    hidden = np.concatenate([joint["district"]["cases"].isna(), joint["facility"]["cases"].isna()])
    assert oracle_recoverable(oracle_cross_matrix(joint["district"], joint["facility"]), hidden) == []


# ---------------------------------------------------------------- approval check


def _small_release():
    base = pd.DataFrame({"district": ["A", "A", "B", "B", "C", "C"], "sex": ["F", "M"] * 3,
                         "cases": [4, 30, 25, 18, 12, 40]})
    cube = D.add_margins(base, ["district", "sex"], ["cases"])
    return cube, D.protect(cube, ["district", "sex"], ["cases"])


def _row(frame, district, sex):
    return int(np.flatnonzero((frame["district"] == district) & (frame["sex"] == sex))[0])


def test_check_passes_a_clean_release():
    cube, out = _small_release()
    assert out["cases"].isna().sum() >= 2  # the 4 and at least one complement
    assert D.check(out, ["district", "sex"], ["cases"]) == []


def test_check_catches_a_hand_unsuppressed_cell():
    cube, out = _small_release()
    i = _row(out, "A", "F")
    out.loc[i, "cases"] = cube.loc[i, "cases"]
    out.loc[i, "cases_flag"] = ""
    problems = D.check(out, ["district", "sex"], ["cases"])
    assert any("district=A, sex=F" in p and "below min_cell" in p and "cases" in p for p in problems)


def test_check_catches_a_missing_flag_and_a_flagged_value():
    cube, out = _small_release()
    hidden = np.flatnonzero(out["cases"].isna())
    out.loc[hidden[0], "cases_flag"] = ""
    shown = np.flatnonzero(out["cases"].notna())
    out.loc[shown[0], "cases_flag"] = "secondary"
    problems = D.check(out, ["district", "sex"], ["cases"])
    assert any("without a flag" in p for p in problems)
    assert any("is released" in p for p in problems)


def test_check_catches_a_singleton_suppression_in_a_margin():
    cube, _ = _small_release()
    out = cube.copy()
    out["cases"] = out["cases"].astype("Int64")
    out["cases_flag"] = ""
    i = _row(out, "B", ALL)  # hide only the B margin: B = B,F + B,M gives it back
    out.loc[i, "cases"] = pd.NA
    out.loc[i, "cases_flag"] = "secondary"
    out.loc[_row(out, "A", "F"), "cases"] = pd.NA  # and the 4, alone in its row
    out.loc[_row(out, "A", "F"), "cases_flag"] = "primary"
    problems = D.check(out, ["district", "sex"], ["cases"])
    assert any("district=B, sex=ALL" in p and "recovered" in p for p in problems)
    assert any("district=A, sex=F" in p and "recovered" in p for p in problems)


def test_check_catches_a_primary_paired_only_with_a_zero():
    base = pd.DataFrame({"g": ["a", "b", "c"], "cases": [5, 0, 30]})
    cube = D.add_margins(base, ["g"], ["cases"])
    out = cube.copy()
    out["cases"] = out["cases"].astype("Int64")
    out["cases_flag"] = ""
    for g, flag in (("a", "primary"), ("b", "secondary")):
        i = int(np.flatnonzero(out["g"] == g)[0])
        out.loc[i, "cases"] = pd.NA
        out.loc[i, "cases_flag"] = flag
    problems = D.check(out, ["g"], ["cases"])
    assert any("add up to 5" in p for p in problems)
    protected = D.protect(cube, ["g"], ["cases"])
    hidden = protected["cases"].isna().to_numpy()
    a = oracle_matrix(len(cube), oracle_relations(cube, ["g"]))
    assert hidden[np.flatnonzero(cube["g"] == "a")[0]]
    assert oracle_small_residuals(a, cube["cases"].to_numpy(), hidden, 10) == []


# ---------------------------------------------------------------- configuration and inputs


def test_min_cell_below_floor_is_refused(monkeypatch):
    cube, _ = _small_release()
    monkeypatch.setenv("DATASPACE_MIN_CELL", "5")
    with pytest.raises(ValueError, match="floor"):
        D.protect(cube, ["district", "sex"], ["cases"])
    with pytest.raises(ValueError, match="floor"):
        D.check(cube, ["district", "sex"], ["cases"])
    monkeypatch.delenv("DATASPACE_MIN_CELL")
    with pytest.raises(ValueError, match="floor"):
        D.protect(cube, ["district", "sex"], ["cases"], min_cell=9)


def test_min_cell_from_config_is_applied(monkeypatch):
    cube, _ = _small_release()
    monkeypatch.setenv("DATASPACE_MIN_CELL", "15")
    out = D.protect(cube, ["district", "sex"], ["cases"])
    shown = out["cases"].dropna().to_numpy()
    assert not ((shown >= 1) & (shown < 15)).any()
    assert (cube["cases"] == 12).any() and out.loc[cube["cases"] == 12, "cases"].isna().all()


def test_add_margins_sums_every_subset():
    rng = np.random.default_rng(7)
    base = pd.DataFrame({"a": rng.choice(["x", "y", "z"], 200), "b": rng.choice(["p", "q"], 200),
                         "n": rng.integers(0, 5, 200)})
    cube = D.add_margins(base, ["a", "b"], ["n"])
    assert len(cube) == (3 + 1) * (2 + 1)
    for _, row in cube.iterrows():
        sel = np.ones(len(base), dtype=bool)
        for d in ("a", "b"):
            if row[d] != ALL:
                sel &= (base[d] == row[d]).to_numpy()
        assert row["n"] == base.loc[sel, "n"].sum()
    rels = D.cube_relations(cube, ["a", "b"])
    assert sorted((t, tuple(sorted(c))) for t, c in rels) == sorted(
        (t, tuple(sorted(c))) for t, c in oracle_relations(cube, ["a", "b"]))


@settings(max_examples=30, deadline=None)
@given(tables())
def test_relations_of_tables_too_wide_for_one_key_match_the_oracle(table):
    # Beyond 2**62 combinations of dimension values a cell's key is its tuple of values, not one integer;
    # that path is forced on small tables and must give the brute-force relations and the same refusals.
    dims, base = table
    cube = D.add_margins(base, dims, ["n"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(D, "_KEY_LIMIT", 1)
        rels = D.cube_relations(cube, dims)
        with pytest.raises(ValueError, match=f"no margin row with {dims[-1]}={ALL}"):
            D.cube_relations(cube[cube[dims[-1]] != ALL], dims)
        with pytest.raises(ValueError, match="appears twice"):
            D.cube_relations(pd.concat([cube, cube.iloc[[0]]]), dims)
    assert sorted((t, tuple(sorted(c))) for t, c in rels) == sorted(
        (t, tuple(sorted(c))) for t, c in oracle_relations(cube, dims))


def test_bad_inputs_name_row_and_field():
    base = pd.DataFrame({"a": ["x", "y"], "n": [3, -1]})
    with pytest.raises(ValueError, match=r"row 1, field 'n'"):
        D.add_margins(base, ["a"], ["n"])
    cube = D.add_margins(pd.DataFrame({"a": ["x", "y"], "n": [3, 1]}), ["a"], ["n"])
    with pytest.raises(ValueError, match="no margin row"):
        D.cube_relations(cube[cube["a"] != ALL], ["a"])
    broken = cube.copy()
    broken.loc[broken["a"] == ALL, "n"] = 99
    with pytest.raises(ValueError, match="does not add up"):
        D.protect(broken, ["a"], ["n"])


def test_flags_summary_counts_flags():
    cube, out = _small_release()
    summary = D.flags_summary(out).set_index("measure")
    flags = out["cases_flag"]
    assert summary.loc["cases", "primary"] == (flags == "primary").sum() == (
        (cube["cases"] >= 1) & (cube["cases"] < 10)).sum()
    assert summary.loc["cases", "secondary"] == (flags == "secondary").sum()
    assert D.releasable(out, ["cases"]).equals(out["cases"].notna())


@pytest.mark.slow
def test_pneumonia_sized_cube_is_safe():
    rng = np.random.default_rng(3)
    keys = pd.MultiIndex.from_product(
        [[f"D{i}" for i in range(11)], [f"M{i:02d}" for i in range(24)], ["0-1", "1-5", "5-14"], ["F", "M"]],
        names=["district", "month", "age_band", "sex"]).to_frame(index=False)
    measures = [f"m{j}" for j in range(25)]
    for j, m in enumerate(measures):
        keys[m] = rng.poisson([1, 4, 12, 40, 120][j % 5], len(keys))
    dims = ["district", "month", "age_band", "sex"]
    cube = D.add_margins(keys, dims, measures)
    assert len(cube) == 12 * 25 * 4 * 3
    # Speed is measured by `dataspace bench`, never asserted: a timed test fails on a busy machine.
    out = D.protect(cube, dims, measures)
    assert D.check(out, dims, measures) == []
