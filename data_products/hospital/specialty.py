"""What the three specialty kinds (cerebrovascular disease, cerebral infarction, liver cancer) share.

Each admission row carries the identified patient columns a hospital exports, the core fields of
SPECIALTY_FACTS.md §0 and its specialty's fields, all written as text exactly as the data dictionary
(``data_products.specialty``) describes them. A subclass draws the clinical fields; this base draws
who, where and when, and keeps the truth: the generating parameters and every code field's realised
counts, so tests can check the restricted zone against it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from data_products.hospital import identity
from data_products.hospital.kinds import Chunk, Kind, TruthAccumulator, apportion
from data_products.reference import districts, facilities
from data_products.specialty.dictionary import INSURANCE, MAX_AGE, Dictionary

IDENTIFIED = ("facility_id", "admission_id", "patient_name", "id_card", "phone", "address", "birth_date", "sex")
MONTHS = pd.period_range("2022-01", "2024-12", freq="M")
INSURANCE_SHARE = np.array([0.55, 0.35, 0.07, 0.03])
# A patient goes to a hospital of their own district this many times more often than to another.
LOCAL_PULL = 4.0


def raw_columns(d: Dictionary) -> tuple[str, ...]:
    return IDENTIFIED + tuple(f.name for f in d.raw_fields() if f.name != "sex")


def fmt_int(values, missing=None) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    out = np.char.mod("%d", np.nan_to_num(v).astype(np.int64))
    mask = np.isnan(v) if missing is None else (missing | np.isnan(v))
    return np.where(mask, "", out)


def fmt_float(values, digits: int = 1, missing=None) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    out = np.char.mod(f"%.{digits}f", np.nan_to_num(v))
    mask = np.isnan(v) if missing is None else (missing | np.isnan(v))
    return np.where(mask, "", out)


def fmt_bool(values, missing=None) -> np.ndarray:
    out = np.where(np.asarray(values, dtype=bool), "1", "0")
    return out if missing is None else np.where(missing, "", out)


def lognormal(rng: np.random.Generator, median, sigma, n: int) -> np.ndarray:
    return np.asarray(median, dtype=float) * np.exp(np.asarray(sigma, dtype=float) * rng.standard_normal(n))


def categorical(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One draw per row from row-wise probabilities ``p`` (n x k)."""
    p = np.asarray(p, dtype=float)
    p = p / p.sum(axis=1, keepdims=True)
    return (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, p.shape[1] - 1)


class SpecialtyKind(Kind):
    dictionary: Dictionary
    kind_number: int
    tier_share: dict[str, float]
    age_mean: float
    age_sd: float
    male_share: float
    month_weight: np.ndarray | None = None
    facility_kinds: tuple[str, ...] = ("general",)
    date_column = "admission_date"

    def __init__(self) -> None:
        self.name = self.dictionary.kind
        self.columns = raw_columns(self.dictionary)
        fac = facilities()
        fac = fac[fac["tier"].isin(self.tier_share) & fac["kind"].isin(self.facility_kinds)].reset_index(drop=True)
        self._fac = fac
        d = districts()
        self._districts = d["adcode"].to_numpy(dtype=str)
        pop = d["population_2020"].to_numpy(dtype=float)
        self._district_share = pop / pop.sum()
        tier_w = np.array([self.tier_share[t] / (fac["tier"] == t).sum() for t in fac["tier"]])
        local = fac["district"].to_numpy(dtype=str)[None, :] == self._districts[:, None]
        w = tier_w[None, :] * np.where(local, LOCAL_PULL, 1.0)
        # Tiers keep their shares whatever the district: rescale each tier's block per district.
        for t, share in self.tier_share.items():
            cols = (fac["tier"] == t).to_numpy()
            w[:, cols] *= share / w[:, cols].sum(axis=1, keepdims=True)
        self._routing = w / w.sum(axis=1, keepdims=True)

    def producers(self) -> list[str]:
        return list(self._fac["facility_id"])

    def chunks(self, seed: int, n: int) -> Iterator[Chunk]:
        ids = identity.IdAllocator()
        weights = self.month_weight if self.month_weight is not None else np.ones(len(MONTHS))
        for i, (period, count) in enumerate(zip(MONTHS, apportion(n, weights), strict=True)):
            rng = np.random.default_rng([seed, self.kind_number, i])
            yield self._month(rng, period, int(count), ids)

    # --- the subclass's part -------------------------------------------------------------------------

    def clinical(self, rng: np.random.Generator, base: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict]:
        """Text columns of the specialty fields (and los_days, total_cost_cny) for the rows of ``base``
        (columns: age, male, tier, admitted), plus latent columns for the truth."""
        raise NotImplementedError

    def parameters(self) -> dict:
        raise NotImplementedError

    # --- shared ----------------------------------------------------------------------------------------

    def _month(self, rng: np.random.Generator, period: pd.Period, n: int, ids: identity.IdAllocator) -> Chunk:
        di = rng.choice(len(self._districts), size=n, p=self._district_share)
        home = self._districts[di]
        fac_idx = categorical(rng, self._routing[di]) if n else np.zeros(0, dtype=int)
        facility = self._fac["facility_id"].to_numpy(dtype=str)[fac_idx]
        tier = self._fac["tier"].to_numpy(dtype=str)[fac_idx]
        day = rng.integers(0, period.days_in_month, size=n)
        admitted = pd.Series(np.datetime64(f"{period.year:04d}-{period.month:02d}-01") + day.astype("timedelta64[D]"))
        admitted = admitted.astype("datetime64[s]")
        male = rng.random(n) < self.male_share
        age = np.clip(np.round(self.age_mean + self.age_sd * rng.standard_normal(n)), 18, 99).astype(int)
        offset = rng.integers(1, 365, size=n)
        by = admitted.dt.year.to_numpy() - age
        bm, bd = admitted.dt.month.to_numpy(), admitted.dt.day.to_numpy()
        leap = (by % 4 == 0) & ((by % 100 != 0) | (by % 400 == 0))
        bd = np.where((bm == 2) & (bd == 29) & ~leap, 28, bd)
        anniversary = pd.to_datetime(pd.DataFrame({"year": by, "month": bm, "day": bd}))
        birth = (anniversary - pd.to_timedelta(offset, unit="D")).astype("datetime64[s]")
        base = pd.DataFrame({"age": age, "male": male, "tier": tier, "admitted": admitted})
        cols, latent = self.clinical(rng, base)
        insurance = np.array(INSURANCE)[categorical(rng, np.tile(INSURANCE_SHARE, (n, 1)))] if n else []
        raw = pd.DataFrame({
            "facility_id": facility,
            "patient_name": identity.names(rng, n),
            "id_card": ids.issue(rng, birth, male, home),
            "phone": identity.mobiles(rng, n),
            "address": identity.addresses(rng, home),
            "birth_date": birth.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            "sex": np.where(male, "M", "F"),
            "insurance_type": insurance,
            "admission_date": admitted.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            **cols,
        })
        order = np.lexsort((np.arange(n), admitted.to_numpy()))
        raw = raw.iloc[order].reset_index(drop=True)
        seq = raw.groupby("facility_id", sort=False).cumcount() + 1
        prefix = f"{self.name[:2].upper()}{period.year:04d}{period.month:02d}"
        raw.insert(1, "admission_id", prefix + seq.map("{:05d}".format))
        lat = pd.DataFrame({"home_district": home, "age_years": np.minimum(age, MAX_AGE), "tier": tier, **latent})
        return Chunk(raw=raw[list(self.columns)], latent=lat.iloc[order].reset_index(drop=True))

    def truth_accumulator(self, seed: int, n: int) -> TruthAccumulator:
        return SpecialtyTruth(self, seed, n)


class SpecialtyTruth(TruthAccumulator):
    """Parameters, and the realised count of every code value (and of blanks) per field, overall and by
    hospital tier; sums of numeric fields; and the kind's own latent tallies."""

    def __init__(self, kind: SpecialtyKind, seed: int, n: int) -> None:
        self.kind, self.seed, self.n = kind, seed, n
        self.rows = 0
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.by_tier: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.sums: dict[str, float] = defaultdict(float)
        self.present: dict[str, int] = defaultdict(int)
        self.facilities: dict[str, int] = defaultdict(int)

    def add(self, chunk: Chunk) -> None:
        raw, lat = chunk.raw, chunk.latent
        self.rows += len(raw)
        for f, c in raw["facility_id"].value_counts().items():
            self.facilities[str(f)] += int(c)
        for field in self.kind.dictionary.raw_fields():
            if field.name not in raw:
                continue
            col = raw[field.name]
            if field.type in ("code", "bool", "set") or (field.type == "int" and (field.hi or 0) <= 42):
                for v, c in col.replace("", "(blank)").value_counts().items():
                    self.counts[field.name][str(v)] += int(c)
            if field.type in ("int", "float"):
                num = pd.to_numeric(col.replace("", None), errors="coerce")
                self.sums[field.name] += float(num.sum())
                self.present[field.name] += int(num.notna().sum())
        for col in lat.columns:
            if col.startswith("t_"):
                for v, c in lat[col].astype(str).value_counts().items():
                    self.counts[col][str(v)] += int(c)
                for (tier, v), c in lat.groupby(["tier", col]).size().items():
                    self.by_tier[f"{col}|{tier}"][str(v)] += int(c)

    def result(self) -> dict:
        return {
            "kind": self.kind.name,
            "dataset_id": self.kind.dictionary.dataset_id,
            "seed": self.seed,
            "n_requested": self.n,
            "period": [str(MONTHS[0]), str(MONTHS[-1])],
            "parameters": {
                "tier_share": self.kind.tier_share, "age_mean": self.kind.age_mean, "age_sd": self.kind.age_sd,
                "male_share": self.kind.male_share, "insurance_share": dict(zip(INSURANCE, INSURANCE_SHARE.tolist(),
                                                                               strict=True)),
                **self.kind.parameters(),
            },
            "realised": {
                "n_rows": self.rows,
                "counts": {k: dict(sorted(v.items())) for k, v in sorted(self.counts.items())},
                "by_tier": {k: dict(sorted(v.items())) for k, v in sorted(self.by_tier.items())},
                "means": {k: round(self.sums[k] / self.present[k], 6) for k in sorted(self.sums) if self.present[k]},
                "present": dict(sorted(self.present.items())),
                "rows_by_facility": dict(sorted(self.facilities.items())),
            },
        }
