"""Kind 1: pediatric pneumonia episodes (children under 14 admitted with pneumonia), 2023-2024.

Calibrated to reference/FACTS.md "Children's pneumonia". Each episode gets latent infections
(Mycoplasma, RSV, influenza A/B, adenovirus, typical bacteria) whose probabilities depend on age,
month and sex; its markers (CRP, PCT, WBC, neutrophil %, IL-6) are drawn from the distribution of
its dominant pathogen class. The typical-bacterial class is latent: no test column reveals it,
as in a real extract, but its markers do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from data_products.contracts.person import completed_months
from data_products.contracts.pneumonia import AGE_BANDS, COLUMNS, KIND, MARKERS, PATHOGENS, age_band
from data_products.hospital import identity
from data_products.hospital.kinds import Chunk, Kind, TruthAccumulator, apportion
from data_products.reference import districts, facilities

MONTHS = pd.period_range("2023-01", "2024-12", freq="M")
SIZES = {"demo": 30_000, "city": 300_000}


# Published figures the generated data should reproduce (FACTS.md, Children's pneumonia).
TARGETS = {
    "age_band_share": {"lt1": 0.208, "1to5": 0.593, "6to13": 0.199},
    "mp_positivity": 0.274,
    "mp_positivity_6_13": 0.4864,
    "mp_peak_month": "2023-11",
    "mp_positivity_2023_11": 0.3667,
    "rsv_positivity": 0.153,
    "rsv_positivity_under_6_months": 0.245,
    "rsv_peak_calendar_month": 2,
    "adv_peak_age_year": 3,
    "pct_median": {"bacterial": 6.10, "mycoplasma": 0.10, "viral": 0.33},
    "pct_iqr": {"bacterial": [0.84, 22.79], "mycoplasma": [0.06, 0.39], "viral": [0.12, 1.35]},
    "crp_mean": {"adenovirus": 41.0, "influenza": 23.0, "rsv": 17.0, "bacterial": 133.0},
    "wbc_median": {"bacterial": 16.0, "viral": 14.5, "mycoplasma": 12.0},
}

# --- generating parameters -------------------------------------------------------------------

AGE_BAND_SHARE = np.array([0.208, 0.593, 0.199])
YEAR_WEIGHTS_1_5 = np.array([0.25, 0.24, 0.20, 0.17, 0.14])
YEAR_WEIGHTS_6_13 = np.array([0.20, 0.17, 0.14, 0.12, 0.11, 0.10, 0.08, 0.08])
MALE_SHARE = 0.58

# Admissions per month (relative); the autumn-2023 Mycoplasma wave also filled the wards.
VOLUME = np.array([1.15, 1.0, 1.05, 1.0, 0.95, 0.9, 0.85, 0.8, 0.9, 1.1, 1.3, 1.2,
                   1.1, 1.0, 1.0, 0.95, 0.9, 0.9, 0.85, 0.8, 0.85, 0.95, 1.05, 1.1])

# Probability of infection by completed year of age (index 0..13), before season and sex.
MP_BY_AGE = np.array([0.08, 0.17, 0.22, 0.28, 0.34, 0.40, 0.45, 0.48, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50])
RSV_UNDER_6M = 0.245
RSV_BY_AGE = np.array([0.22, 0.19, 0.165, 0.145, 0.12, 0.11] + [0.075] * 8)  # age 0 = 6-11 months
FLUA_BY_AGE = np.array([0.04] + [0.07] * 5 + [0.10] * 8)
FLUB_BY_AGE = np.array([0.015] + [0.03] * 5 + [0.05] * 8)
ADV_BY_AGE = np.array([0.02, 0.05, 0.08, 0.10, 0.085, 0.07, 0.05] + [0.035] * 7)
BACTERIAL_ALONE = 0.15      # when no virus or Mycoplasma is present
BACTERIAL_COINFECTION = 0.02

# Season multipliers by position in MONTHS (MP: per year-month, Nov 2023 the peak) or calendar
# month (the others). Normalised below so the admission-weighted mean is 1.
MP_SEASON = np.array([0.80, 0.70, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 1.05, 1.22, 1.30, 1.10,
                      0.95, 0.80, 0.75, 0.75, 0.80, 0.85, 0.90, 0.90, 1.00, 1.10, 1.15, 1.05])
RSV_SEASON = np.array([1.35, 1.65, 1.40, 1.15, 1.0, 0.9, 0.85, 0.8, 0.8, 0.75, 0.8, 1.0])
FLUA_SEASON = np.array([1.6, 1.5, 1.8, 1.2, 0.7, 0.8, 0.7, 0.5, 0.4, 0.4, 0.7, 1.4])
FLUB_SEASON = np.array([0.8, 1.6, 2.0, 1.6, 1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.5, 0.8])
ADV_SEASON = np.array([0.9, 0.9, 1.0, 1.1, 1.2, 1.2, 1.2, 1.1, 1.0, 0.9, 0.8, 0.8])
RSV_MALE = 1.06
RSV_FEMALE = (1 - MALE_SHARE * RSV_MALE) / (1 - MALE_SHARE)

# Share of children tested for each pathogen / marker (influenza A and B are one panel).
TESTED = {"mp": 0.90, "rsv": 0.80, "flu": 0.70, "adv": 0.60}
MEASURED = {"crp_mg_l": 0.97, "pct_ng_ml": 0.85, "wbc_10e9_l": 0.99, "il6_pg_ml": 0.60}

CLASSES = ("bacterial", "adenovirus", "influenza", "mycoplasma", "rsv", "other")
_Z75 = 0.6744897501960817


def _quartiles(q1: float, med: float, q3: float) -> tuple[float, float, float]:
    return med, float(np.log(med / q1) / _Z75), float(np.log(q3 / med) / _Z75)


def _from_mean(mean: float, sigma: float) -> tuple[float, float, float]:
    return float(mean / np.exp(sigma**2 / 2)), sigma, sigma


# (median, sigma below the median, sigma above) of a two-piece log-normal: reproduces a published
# median and IQR exactly, or (equal sigmas) a published mean.
_VIRAL_PCT = _quartiles(0.12, 0.33, 1.35)
LOG_MARKERS: dict[str, dict[str, tuple[float, float, float]]] = {
    "pct_ng_ml": {
        "bacterial": _quartiles(0.84, 6.10, 22.79), "mycoplasma": _quartiles(0.06, 0.10, 0.39),
        "adenovirus": _VIRAL_PCT, "influenza": _VIRAL_PCT, "rsv": _VIRAL_PCT, "other": _VIRAL_PCT,
    },
    "crp_mg_l": {
        "bacterial": _from_mean(133.0, 0.6), "adenovirus": _from_mean(41.0, 0.8),
        "influenza": _from_mean(23.0, 0.8), "rsv": _from_mean(17.0, 0.8),
        "mycoplasma": _from_mean(22.0, 0.8), "other": _from_mean(10.0, 0.9),
    },
    "wbc_10e9_l": {
        "bacterial": (16.0, 0.3, 0.3), "adenovirus": (14.5, 0.3, 0.3), "influenza": (14.5, 0.3, 0.3),
        "rsv": (14.5, 0.3, 0.3), "other": (14.5, 0.3, 0.3), "mycoplasma": (12.0, 0.3, 0.3),
    },
    "il6_pg_ml": {
        "bacterial": (55.0, 1.0, 1.0), "adenovirus": (25.0, 0.9, 0.9), "influenza": (18.0, 0.9, 0.9),
        "mycoplasma": (16.0, 0.9, 0.9), "rsv": (10.0, 0.9, 0.9), "other": (8.0, 0.9, 0.9),
    },
}
# Neutrophil % is roughly normal: (mean, sd). RSV is lymphocyte-dominant; influenza, adenovirus neutrophil-dominant.
NEUT = {"bacterial": (74.0, 10.0), "adenovirus": (66.0, 12.0), "influenza": (62.0, 12.0),
        "mycoplasma": (60.0, 12.0), "rsv": (38.0, 12.0), "other": (45.0, 14.0)}
# Reporting limits (assay floor reported as the floor, a few extreme values capped) and decimals.
LIMITS = {"crp_mg_l": (0.5, 400.0, 1), "pct_ng_ml": (0.02, 500.0, 2), "wbc_10e9_l": (1.5, 60.0, 2),
          "neut_pct": (5.0, 97.0, 1), "il6_pg_ml": (1.5, 5000.0, 1)}

# Facility pull: local weight within its district; the two tertiary children's centres also draw
# TRAVEL of every district's children, and a few go to any other hospital (work, relatives).
FACILITY_WEIGHT = {("tertiary", "childrens"): 8.0, ("tertiary", "maternal_child"): 6.0,
                   ("secondary", "maternal_child"): 2.5, ("tertiary", "general"): 3.0,
                   ("secondary", "general"): 1.5, ("tertiary", "tcm"): 0.6}
TRAVEL = 0.20
ELSEWHERE = 0.04


def _normalised(mult: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return mult / (np.sum(mult * weights) / np.sum(weights))


def _calendar_weights() -> np.ndarray:
    return np.array([VOLUME[MONTHS.month == m].sum() for m in range(1, 13)])


MP_SEASON_N = _normalised(MP_SEASON, VOLUME)
RSV_SEASON_N = _normalised(RSV_SEASON, _calendar_weights())
FLUA_SEASON_N = _normalised(FLUA_SEASON, _calendar_weights())
FLUB_SEASON_N = _normalised(FLUB_SEASON, _calendar_weights())
ADV_SEASON_N = _normalised(ADV_SEASON, _calendar_weights())


def calendar_age(birth: pd.Series, on: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Completed years and completed months between two date series (as a registrar counts them)."""
    months = completed_months(birth, on)
    return months // 12, months


class Pneumonia(Kind):
    sizes = SIZES
    date_column = "admission_time"
    name = KIND
    columns = COLUMNS

    def __init__(self) -> None:
        fac = facilities()
        depts = fac["departments"].str.split()
        self._fac = fac[depts.map(lambda d: "pediatrics" in d or "pediatric_respiratory" in d)].reset_index(drop=True)
        self._fac["weight"] = [FACILITY_WEIGHT[(t, k)] for t, k in zip(self._fac["tier"], self._fac["kind"], strict=True)]
        d = districts()
        self._districts = d["adcode"].to_numpy(dtype=str)
        self._district_share = (d["children_0_14_est"] / d["children_0_14_est"].sum()).to_numpy()
        self._routing = self._routing_matrix()

    def producers(self) -> list[str]:
        return list(self._fac["facility_id"])


    def _routing_matrix(self) -> np.ndarray:
        """P(facility | home district): rows follow self._districts, columns self._fac."""
        w = self._fac["weight"].to_numpy()
        centre = ((self._fac["tier"] == "tertiary") & self._fac["kind"].isin(["childrens", "maternal_child"])).to_numpy()
        rows = []
        for adcode in self._districts:
            local = np.where(self._fac["district"].to_numpy() == adcode, w, 0.0)
            p = (1 - TRAVEL - ELSEWHERE) * local / local.sum()
            p += TRAVEL * np.where(centre, w, 0.0) / w[centre].sum()
            p += ELSEWHERE * w / w.sum()
            rows.append(p / p.sum())
        return np.array(rows)

    def routing(self) -> dict[str, dict[str, float]]:
        ids = self._fac["facility_id"]
        return {d: {f: round(float(p), 6) for f, p in zip(ids, row, strict=True) if p > 0}
                for d, row in zip(self._districts, self._routing, strict=True)}

    def month_counts(self, n: int) -> np.ndarray:
        return apportion(n, VOLUME)

    def chunks(self, seed: int, n: int) -> Iterator[Chunk]:
        ids = identity.IdAllocator()
        for i, (period, count) in enumerate(zip(MONTHS, self.month_counts(n), strict=True)):
            rng = np.random.default_rng([seed, 1, i])  # kind 1, chunk i: chunks independent of each other
            yield self._month(rng, i, period, int(count), ids)

    def _month(self, rng: np.random.Generator, mi: int, period: pd.Period, n: int, ids: identity.IdAllocator) -> Chunk:
        cal = period.month - 1
        home = rng.choice(self._districts, size=n, p=self._district_share)
        fac_idx = np.empty(n, dtype=np.int64)
        for di, adcode in enumerate(self._districts):
            sel = np.flatnonzero(home == adcode)
            fac_idx[sel] = rng.choice(len(self._fac), size=len(sel), p=self._routing[di])
        facility = self._fac["facility_id"].to_numpy(dtype=str)[fac_idx]

        day = rng.integers(0, period.days_in_month, size=n)
        hour_w = np.array([2, 2, 1, 1, 1, 1, 2, 3, 6, 8, 8, 7, 5, 6, 7, 7, 6, 5, 5, 5, 5, 4, 3, 2], dtype=float)
        hour = rng.choice(24, size=n, p=hour_w / hour_w.sum())
        secs = hour * 3600 + rng.integers(0, 3600, size=n)
        start = np.datetime64(f"{period.year:04d}-{period.month:02d}-01")
        adm = pd.Series(start + day.astype("timedelta64[D]") + secs.astype("timedelta64[s]")).astype("datetime64[s]")
        adm_date = adm.dt.normalize()

        band = rng.choice(3, size=n, p=AGE_BAND_SHARE)
        year = np.where(band == 0, 0, np.where(band == 1, 1 + rng.choice(5, size=n, p=YEAR_WEIGHTS_1_5),
                                               6 + rng.choice(8, size=n, p=YEAR_WEIGHTS_6_13)))
        lo = np.where(year == 0, 28, np.ceil(365.25 * year) + 1)
        hi = np.where(year == 0, 363, np.floor(365.25 * (year + 1)) - 2)
        days_old = (lo + np.floor(rng.random(n) * (hi - lo + 1))).astype("int64")
        birth = (adm_date - pd.to_timedelta(days_old, unit="D")).astype("datetime64[s]")
        age_y, age_m = calendar_age(birth, adm_date)
        male = rng.random(n) < MALE_SHARE

        a = np.clip(age_y, 0, 13)
        rsv_age = np.where(age_m < 6, RSV_UNDER_6M, RSV_BY_AGE[a])
        p = {
            "mp": MP_BY_AGE[a] * MP_SEASON_N[mi],
            "rsv": rsv_age * RSV_SEASON_N[cal] * np.where(male, RSV_MALE, RSV_FEMALE),
            "flua": FLUA_BY_AGE[a] * FLUA_SEASON_N[cal],
            "flub": FLUB_BY_AGE[a] * FLUB_SEASON_N[cal],
            "adv": ADV_BY_AGE[a] * ADV_SEASON_N[cal],
        }
        inf = {k: rng.random(n) < np.minimum(v, 0.95) for k, v in p.items()}
        any_other = inf["mp"] | inf["rsv"] | inf["flua"] | inf["flub"] | inf["adv"]
        bact = rng.random(n) < np.where(any_other, BACTERIAL_COINFECTION, BACTERIAL_ALONE)
        cls = np.select(
            [bact, inf["adv"], inf["flua"] | inf["flub"], inf["mp"], inf["rsv"]],
            ["bacterial", "adenovirus", "influenza", "mycoplasma", "rsv"], "other",
        )

        markers = _as_text(self._markers(rng, cls))
        flu_tested = rng.random(n) < TESTED["flu"]
        results = {}
        for k in PATHOGENS:
            tested = flu_tested if k in ("flua", "flub") else rng.random(n) < TESTED[k]
            results[k] = np.where(tested, np.where(inf[k], "POS", "NEG"), "")

        order = np.lexsort((np.arange(n), adm.to_numpy()))
        sex = np.where(male, "M", "F")
        raw = pd.DataFrame({
            "facility_id": facility,
            "patient_name": identity.names(rng, n),
            "id_card": ids.issue(rng, birth, male, home),
            "phone": identity.mobiles(rng, n),
            "address": identity.addresses(rng, home),
            "birth_date": birth.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            "sex": sex,
            "admission_time": adm.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=str),
            **{m: markers[m] for m in MARKERS},
            **{f"{k}_result": results[k] for k in PATHOGENS},
        }).iloc[order].reset_index(drop=True)
        seq = raw.groupby("facility_id", sort=False).cumcount() + 1
        raw.insert(1, "episode_id", f"ZY{period.year:04d}{period.month:02d}" + seq.map("{:05d}".format))
        raw = raw[list(COLUMNS)]
        latent = pd.DataFrame({
            "home_district": home, "age_years": age_y, "age_months": age_m, "pathogen_class": cls,
            **{f"infected_{k}": inf[k] for k in PATHOGENS}, "bacterial": bact,
        }).iloc[order].reset_index(drop=True)
        return Chunk(raw=raw, latent=latent)

    def _markers(self, rng: np.random.Generator, cls: np.ndarray) -> dict[str, np.ndarray]:
        n = len(cls)
        out: dict[str, np.ndarray] = {}
        ci = pd.Categorical(cls, categories=CLASSES).codes
        for marker in MARKERS:
            z = rng.standard_normal(n)
            if marker == "neut_pct":
                mean, sd = np.array([NEUT[c] for c in CLASSES])[ci].T
                values = mean + sd * z
                measured = ~np.isnan(out["wbc_10e9_l"])  # the differential comes with the blood count
            else:
                med, s_lo, s_hi = np.array([LOG_MARKERS[marker][c] for c in CLASSES])[ci].T
                values = med * np.exp(z * np.where(z < 0, s_lo, s_hi))
                measured = rng.random(n) < MEASURED[marker]
            lo, hi, dec = LIMITS[marker]
            out[marker] = np.where(measured, np.round(np.clip(values, lo, hi), dec), np.nan)
        return out

    def truth_accumulator(self, seed: int, n: int) -> TruthAccumulator:
        return _PneumoniaTruth(self, seed, n)


def _as_text(markers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Markers as a laboratory system writes them: fixed decimals, blank when not measured."""
    out = {}
    for marker, v in markers.items():
        text = np.char.mod(f"%.{LIMITS[marker][2]}f", np.nan_to_num(v))
        out[marker] = np.where(np.isnan(v), "", text)
    return out


def numeric(raw: pd.DataFrame, column: str) -> np.ndarray:
    """A marker column of a raw extract as floats (blank = NaN)."""
    return pd.to_numeric(raw[column].replace("", None), errors="raise").to_numpy(dtype=float)


class _PneumoniaTruth(TruthAccumulator):
    def __init__(self, kind: Pneumonia, seed: int, n: int) -> None:
        self.kind, self.seed, self.n = kind, seed, n
        self.counts: dict[str, defaultdict] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        self.sizes: dict[str, defaultdict] = defaultdict(lambda: defaultdict(int))
        self.values: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)

    def add(self, chunk: Chunk) -> None:
        raw, lat = chunk.raw, chunk.latent
        dims = {
            "overall": pd.Series("all", index=raw.index),
            "by_age_band": pd.Series(age_band(lat["age_years"]), index=raw.index),
            "by_age_year": lat["age_years"].astype(str),
            "by_month": raw["admission_time"].str.slice(0, 7),
            "by_calendar_month": raw["admission_time"].str.slice(5, 7),
            "by_sex": raw["sex"],
            "by_home_district": lat["home_district"],
            "by_facility": raw["facility_id"],
            "under_6_months": pd.Series(np.where(lat["age_months"] < 6, "yes", "no"), index=raw.index),
        }
        results = {p: raw[f"{p}_result"].to_numpy(dtype=str) for p in PATHOGENS}
        for dim, key in dims.items():
            codes, uniques = pd.factorize(key)
            k = len(uniques)
            for u, c in zip(uniques, np.bincount(codes, minlength=k), strict=True):
                self.sizes[dim][str(u)] += int(c)
            for p, res in results.items():
                tested = np.bincount(codes, weights=res != "", minlength=k)
                pos = np.bincount(codes, weights=res == "POS", minlength=k)
                for u, t, n_pos in zip(uniques, tested, pos, strict=True):
                    cell = self.counts[f"{p}|{dim}"][str(u)]
                    cell[0] += int(n_pos)
                    cell[1] += int(t)
        for c in CLASSES:
            sel = lat["pathogen_class"].to_numpy() == c
            self.sizes["by_pathogen_class"][c] += int(sel.sum())
            for m in MARKERS:
                v = numeric(raw, m)[sel]
                self.values[(c, m)].append(v[~np.isnan(v)])

    def result(self) -> dict:
        positivity: dict[str, dict] = defaultdict(dict)
        for name, cells in self.counts.items():
            p, dim = name.split("|")
            table = {k: {"pos": pos, "tested": t, "rate": round(pos / t, 6) if t else None}
                     for k, (pos, t) in sorted(cells.items())}
            positivity[p][dim] = table["all"] if dim == "overall" else table
        markers = {}
        for c in CLASSES:
            markers[c] = {"n_episodes": self.sizes["by_pathogen_class"][c]}
            for m in MARKERS:
                v = np.concatenate(self.values[(c, m)]) if self.values[(c, m)] else np.array([])
                markers[c][m] = {
                    "n": int(v.size),
                    "mean": round(float(v.mean()), 4) if v.size else None,
                    "median": round(float(np.median(v)), 4) if v.size else None,
                    "q1": round(float(np.quantile(v, 0.25)), 4) if v.size else None,
                    "q3": round(float(np.quantile(v, 0.75)), 4) if v.size else None,
                }
        total = sum(self.sizes["overall"].values())
        k = self.kind
        return {
            "kind": "pneumonia",
            "seed": self.seed,
            "n_requested": self.n,
            "period": [str(MONTHS[0]), str(MONTHS[-1])],
            "targets": TARGETS,
            "parameters": {
                "age_band_share": dict(zip(AGE_BANDS, AGE_BAND_SHARE.tolist(), strict=True)),
                "male_share": MALE_SHARE,
                "district_share": {d: round(float(s), 6) for d, s in zip(k._districts, k._district_share, strict=True)},
                "routing": k.routing(),
                "monthly_volume": {str(m): float(v) for m, v in zip(MONTHS, VOLUME, strict=True)},
                "infection_by_age_year": {
                    "mp": MP_BY_AGE.tolist(), "rsv": RSV_BY_AGE.tolist(), "rsv_under_6_months": RSV_UNDER_6M,
                    "flua": FLUA_BY_AGE.tolist(), "flub": FLUB_BY_AGE.tolist(), "adv": ADV_BY_AGE.tolist(),
                },
                "season_multiplier": {
                    "mp_by_month": {str(m): round(float(v), 6) for m, v in zip(MONTHS, MP_SEASON_N, strict=True)},
                    "rsv_by_calendar_month": np.round(RSV_SEASON_N, 6).tolist(),
                    "flua_by_calendar_month": np.round(FLUA_SEASON_N, 6).tolist(),
                    "flub_by_calendar_month": np.round(FLUB_SEASON_N, 6).tolist(),
                    "adv_by_calendar_month": np.round(ADV_SEASON_N, 6).tolist(),
                },
                "rsv_sex_multiplier": {"M": RSV_MALE, "F": round(RSV_FEMALE, 6)},
                "bacterial": {"alone": BACTERIAL_ALONE, "with_other_pathogen": BACTERIAL_COINFECTION},
                "tested_share": TESTED,
                "measured_share": {**MEASURED, "neut_pct": "with wbc_10e9_l"},
                "marker_log_params": {m: {c: {"median": round(v[0], 6), "sigma_below": round(v[1], 6),
                                              "sigma_above": round(v[2], 6)} for c, v in t.items()}
                                      for m, t in LOG_MARKERS.items()},
                "neut_pct_normal": {c: {"mean": v[0], "sd": v[1]} for c, v in NEUT.items()},
                "reporting_limits": {m: {"min": lo, "max": hi, "decimals": d} for m, (lo, hi, d) in LIMITS.items()},
                "class_priority": list(CLASSES),
            },
            "realised": {
                "n_episodes": total,
                "episodes": {dim: dict(sorted(v.items())) for dim, v in self.sizes.items() if dim != "overall"},
                "age_band_share": {b: round(self.sizes["by_age_band"][b] / total, 6) for b in AGE_BANDS},
                "positivity": dict(positivity),
                "markers_by_class": markers,
            },
        }


GENERATOR = PNEUMONIA = Pneumonia()
