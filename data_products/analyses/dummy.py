"""Dummy data for a usable dataset, made from its data dictionary alone.

Same columns and types as the analysis view, values drawn independently and uniformly from each field's
code list or range (dates inside the dataset's period), derived columns computed with the dictionary's
own rules. It never opens the restricted zone, so it cannot share a record with it; pseudonyms are
marked ``DUMMY``. Researchers write and test their query against it, then submit it to run on the real
records inside the space.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from data_products.specialty import liver
from data_products.specialty.dictionary import Dictionary

ROWS = 500
NULL_SHARE = 0.05


def _column(rng: np.random.Generator, f, n: int, period: tuple[str, str]) -> pd.Series:
    if f.type == "code" and f.codes:
        s = pd.Series(rng.choice(list(f.codes), size=n), dtype=object)
    elif f.type == "code":  # a code without a list (month): from the period
        days = pd.date_range(*period, freq="D")
        s = pd.Series(pd.Series(rng.choice(days, size=n)).dt.strftime("%Y-%m"), dtype=object)
    elif f.type == "int":
        s = pd.Series(rng.integers(int(f.lo), int(f.hi) + 1, size=n), dtype="Int64")
    elif f.type == "float":
        s = pd.Series(np.round(f.lo + (f.hi - f.lo) * rng.random(n), 2))
    elif f.type == "date":
        days = pd.date_range(*period, freq="D")
        s = pd.Series(rng.choice(days, size=n)).dt.normalize()
    elif f.type == "bool":
        s = pd.Series(rng.random(n) < 0.5, dtype="boolean")
    else:
        s = pd.Series([f"DUMMY{rng.integers(0, 16**12):012x}" for _ in range(n)], dtype=object)
    if f.nullable:
        s = s.mask(rng.random(n) < NULL_SHARE)
    return s


def dummy_frame(d: Dictionary, rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, len(d.dataset_id)])
    out = pd.DataFrame({f.name: _column(rng, f, rows, d.period) for f in d.view_fields()})
    if "admission_date" in out:
        out["admission_year"] = out["admission_date"].dt.year.astype("Int64")
        out["admission_month"] = out["admission_date"].dt.strftime("%Y-%m")
    if d.dataset_id == liver.DATASET_ID:
        cp = liver.child_pugh_class(out["child_pugh_score"].astype(float))
        args = (out["tumour_number"], out["max_tumour_size_cm"], out["vascular_invasion"],
                out["ecog_ps"].astype(float), cp)
        out["child_pugh"] = cp
        out["afp_band"] = liver.afp_band(out["afp_ng_ml"].astype(float))
        out["cnlc_stage"] = liver.cnlc_stage(*args)
        out["bclc_stage"] = liver.bclc_stage(*args)
    return out


def dummy_csv(d: Dictionary, rows: int = ROWS, seed: int = 0) -> bytes:
    buf = io.StringIO()
    buf.write(f"# DUMMY data for {d.dataset_id}: made from the data dictionary only, no real or synthetic "
              "record behind any row\n")
    dummy_frame(d, rows, seed).to_csv(buf, index=False, lineterminator="\n", date_format="%Y-%m-%d")
    return buf.getvalue().encode("utf-8")
