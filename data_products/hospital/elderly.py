"""Kind: body-weight measurements of residents aged 65+ at community health centres, 2023-2024.

The annual health check of the national basic public-health service (老年人健康管理) measures height
and weight at the resident's community health centre (tier 'chc'). Each row is one measurement; its
BMI category (Chinese cut-offs, see ``contracts.elderly_weight``) is drawn from probabilities that
depend on age band, sex and home district, then a BMI inside the category, a height by sex and age,
and the weight that gives that BMI (rounded as a scale reads). The truth records both the generating
probabilities and the categories the written values realise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from data_products.contracts.elderly_weight import AGE_BANDS, CATEGORIES, COLUMNS, KIND, age_band, classify
from data_products.hospital import identity
from data_products.hospital.kinds import Chunk, Kind, TruthAccumulator, apportion
from data_products.reference import districts, facilities

MONTHS = pd.period_range("2023-01", "2024-12", freq="M")
SIZES = {"demo": 20_000, "city": 400_000}

AGE_BAND_SHARE = np.array([0.36, 0.28, 0.19, 0.17])
# Single years inside 80+ (80..94), falling with age.
OLDEST_YEARS = np.arange(80, 95)
OLDEST_WEIGHTS = np.exp(-0.12 * (OLDEST_YEARS - 80))
MALE_SHARE = 0.47
# P(category | age band), both sexes, before the sex and district shifts (rows follow AGE_BANDS).
CATEGORY_BY_AGE = np.array([
    [0.040, 0.440, 0.370, 0.150],
    [0.050, 0.460, 0.350, 0.140],
    [0.070, 0.490, 0.320, 0.120],
    [0.120, 0.530, 0.260, 0.090],
])
# Additive shifts that sum to zero, so each row stays a distribution.
SEX_SHIFT = {"M": np.array([-0.005, 0.015, 0.010, -0.020]), "F": np.array([0.005, -0.015, -0.010, 0.020])}
URBAN_CORE = ("440103", "440104", "440105", "440106")
OUTER = ("440114", "440117", "440118")
DISTRICT_SHIFT = {
    **{d: np.array([-0.010, -0.030, 0.015, 0.025]) for d in URBAN_CORE},
    **{d: np.array([0.020, 0.010, -0.010, -0.020]) for d in OUTER},
}
# Old-town districts hold more of the city's older residents.
ELDER_FACTOR = {"440103": 1.5, "440104": 1.5, "440105": 1.2, "440106": 0.8, "440115": 0.9}
ELSEWHERE = 0.03  # measured at a centre outside the home district
MONTH_WEIGHT = np.array([0.6, 0.5, 1.0, 1.4, 1.6, 1.5, 1.1, 0.9, 1.0, 1.1, 1.0, 0.7] * 2)
HEIGHT = {"M": (164.5, 6.0), "F": (153.0, 5.8)}
SHRINK_PER_YEAR = 0.15  # cm of height lost per year over 65
BMI_RANGE = {"underweight": (15.0, 18.5), "normal": (18.5, 24.0), "overweight": (24.0, 28.0), "obese": (28.0, 36.0)}
MISSING = {"height_cm": 0.004, "weight_kg": 0.010}


def probabilities(band: int, sex: str, district: str) -> np.ndarray:
    p = CATEGORY_BY_AGE[band] + SEX_SHIFT[sex] + DISTRICT_SHIFT.get(district, 0.0)
    return p / p.sum()


class Elderly(Kind):
    sizes = SIZES
    date_column = "measure_date"
    name = KIND
    columns = COLUMNS

    def __init__(self) -> None:
        fac = facilities()
        self._fac = fac[fac["tier"] == "chc"].reset_index(drop=True)
        d = districts()
        self._districts = d["adcode"].to_numpy(dtype=str)
        w = d["population_2020"].to_numpy(dtype=float) * np.array([ELDER_FACTOR.get(a, 1.0) for a in self._districts])
        self._district_share = w / w.sum()
        fac_d = self._fac["district"].to_numpy(dtype=str)
        missing = set(self._districts) - set(fac_d)
        if missing:
            raise ValueError(f"facilities.csv: no community health centre in district(s) {sorted(missing)}")
        rows = []
        for a in self._districts:
            local = (fac_d == a).astype(float)
            p = (1 - ELSEWHERE) * local / local.sum() + ELSEWHERE * (1 - local) / (1 - local).sum()
            rows.append(p)
        self._routing = np.array(rows)
        # P(category | band, sex, district) as an array [band, sex, district, category].
        self._p = np.array([[[probabilities(b, s, a) for a in self._districts] for s in ("M", "F")]
                            for b in range(len(AGE_BANDS))])

    def producers(self) -> list[str]:
        return list(self._fac["facility_id"])

    def month_counts(self, n: int) -> np.ndarray:
        return apportion(n, MONTH_WEIGHT)

    def chunks(self, seed: int, n: int) -> Iterator[Chunk]:
        ids = identity.IdAllocator()
        for i, (period, count) in enumerate(zip(MONTHS, self.month_counts(n), strict=True)):
            rng = np.random.default_rng([seed, 5, i])  # kind 5, chunk i
            yield self._month(rng, period, int(count), ids)

    def _month(self, rng: np.random.Generator, period: pd.Period, n: int, ids: identity.IdAllocator) -> Chunk:
        di = rng.choice(len(self._districts), size=n, p=self._district_share)
        home = self._districts[di]
        fac_idx = np.empty(n, dtype=np.int64)
        for k in range(len(self._districts)):
            sel = np.flatnonzero(di == k)
            fac_idx[sel] = rng.choice(len(self._fac), size=len(sel), p=self._routing[k])
        facility = self._fac["facility_id"].to_numpy(dtype=str)[fac_idx]
        day = rng.integers(0, period.days_in_month, size=n)
        measured = pd.Series(np.datetime64(f"{period.year:04d}-{period.month:02d}-01") + day.astype("timedelta64[D]"))
        measured = measured.astype("datetime64[s]")

        band = rng.choice(len(AGE_BANDS), size=n, p=AGE_BAND_SHARE)
        years = np.where(band < 3, 65 + 5 * band + rng.integers(0, 5, size=n),
                         rng.choice(OLDEST_YEARS, size=n, p=OLDEST_WEIGHTS / OLDEST_WEIGHTS.sum()))
        # A birthday between 1 and 364 days before the measurement's anniversary keeps the completed age exact.
        offset = rng.integers(1, 365, size=n)
        by = measured.dt.year.to_numpy() - years
        bm, bd = measured.dt.month.to_numpy(), measured.dt.day.to_numpy()
        leap = (by % 4 == 0) & ((by % 100 != 0) | (by % 400 == 0))
        bd = np.where((bm == 2) & (bd == 29) & ~leap, 28, bd)
        anniversary = pd.to_datetime(pd.DataFrame({"year": by, "month": bm, "day": bd}))
        birth = (anniversary - pd.to_timedelta(offset, unit="D")).astype("datetime64[s]")
        male = rng.random(n) < MALE_SHARE
        sex = np.where(male, "M", "F")

        p = self._p[band, np.where(male, 0, 1), di]
        cat = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, 3)
        lo = np.array([BMI_RANGE[c][0] for c in CATEGORIES])[cat]
        hi = np.array([BMI_RANGE[c][1] for c in CATEGORIES])[cat]
        target = lo + (hi - lo) * rng.beta(1.6, 1.6, size=n)
        mean_h = np.where(male, HEIGHT["M"][0], HEIGHT["F"][0]) - SHRINK_PER_YEAR * (years - 65)
        sd_h = np.where(male, HEIGHT["M"][1], HEIGHT["F"][1])
        height = np.round(mean_h + sd_h * rng.standard_normal(n), 1)
        weight = np.round(target * (height / 100) ** 2, 1)
        h_text = np.char.mod("%.1f", height)
        w_text = np.char.mod("%.1f", weight)
        h_text = np.where(rng.random(n) < MISSING["height_cm"], "", h_text)
        w_text = np.where(rng.random(n) < MISSING["weight_kg"], "", w_text)

        order = np.lexsort((np.arange(n), measured.to_numpy()))
        raw = pd.DataFrame({
            "facility_id": facility,
            "patient_name": identity.names(rng, n),
            "id_card": ids.issue(rng, birth, male, home),
            "phone": identity.mobiles(rng, n),
            "address": identity.addresses(rng, home),
            "birth_date": birth.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            "sex": sex,
            "measure_date": measured.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            "height_cm": h_text,
            "weight_kg": w_text,
        }).iloc[order].reset_index(drop=True)
        seq = raw.groupby("facility_id", sort=False).cumcount() + 1
        raw.insert(1, "record_id", f"TJ{period.year:04d}{period.month:02d}" + seq.map("{:05d}".format))
        raw = raw[list(COLUMNS)]
        latent = pd.DataFrame({"home_district": home, "age_years": years, "drawn_category": np.array(CATEGORIES)[cat]})
        return Chunk(raw=raw, latent=latent.iloc[order].reset_index(drop=True))

    def truth_accumulator(self, seed: int, n: int) -> TruthAccumulator:
        return _ElderlyTruth(self, seed, n)


def realised_category(raw: pd.DataFrame) -> np.ndarray:
    """The category the written height and weight give ('' when either is blank)."""
    h = pd.to_numeric(raw["height_cm"].replace("", None)).to_numpy(dtype=float)
    w = pd.to_numeric(raw["weight_kg"].replace("", None)).to_numpy(dtype=float)
    return classify(h, w)


class _ElderlyTruth(TruthAccumulator):
    def __init__(self, kind: Elderly, seed: int, n: int) -> None:
        self.kind, self.seed, self.n = kind, seed, n
        self.cells: dict[str, int] = defaultdict(int)
        self.by_facility: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.drawn: dict[str, int] = defaultdict(int)
        self.rows = 0

    def add(self, chunk: Chunk) -> None:
        raw, lat = chunk.raw, chunk.latent
        self.rows += len(raw)
        cat = realised_category(raw)
        band = age_band(lat["age_years"].to_numpy())
        key = pd.Series(lat["home_district"].to_numpy(dtype=str)) + "|" + band + "|" + raw["sex"].to_numpy(dtype=str) + "|" + cat
        for k, c in key[cat != ""].value_counts().items():
            self.cells[str(k)] += int(c)
        for (f, c), v in pd.Series(1, index=pd.MultiIndex.from_arrays([raw["facility_id"], cat])).groupby(level=[0, 1]).sum().items():
            if c:
                self.by_facility[str(f)][str(c)] += int(v)
        for c, v in lat["drawn_category"].value_counts().items():
            self.drawn[str(c)] += int(v)

    def _shares(self, part: int | None) -> dict[str, dict[str, float]]:
        groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for k, v in self.cells.items():
            parts = k.split("|")
            groups["all" if part is None else parts[part]][parts[3]] += v
        return {g: {"n": sum(cnt.values()), **{c: round(cnt.get(c, 0) / sum(cnt.values()), 6) for c in CATEGORIES}}
                for g, cnt in sorted(groups.items())}

    def result(self) -> dict:
        k = self.kind
        measured = sum(self.cells.values())
        return {
            "kind": KIND,
            "seed": self.seed,
            "n_requested": self.n,
            "period": [str(MONTHS[0]), str(MONTHS[-1])],
            "parameters": {
                "age_band_share": dict(zip(AGE_BANDS, AGE_BAND_SHARE.tolist(), strict=True)),
                "male_share": MALE_SHARE,
                "category_by_age_band": {b: dict(zip(CATEGORIES, CATEGORY_BY_AGE[i].tolist(), strict=True))
                                         for i, b in enumerate(AGE_BANDS)},
                "sex_shift": {s: v.tolist() for s, v in SEX_SHIFT.items()},
                "district_shift": {d: v.tolist() for d, v in DISTRICT_SHIFT.items()},
                "district_share": {d: round(float(s), 6) for d, s in zip(k._districts, k._district_share, strict=True)},
                "missing_share": MISSING,
                "bmi_range": {c: list(v) for c, v in BMI_RANGE.items()},
            },
            "realised": {
                "n_rows": self.rows,
                "n_measured": measured,
                "drawn_category": dict(sorted(self.drawn.items())),
                "counts": dict(sorted(self.cells.items())),
                "shares": self._shares(None)["all"],
                "shares_by_district": self._shares(0),
                "shares_by_age_band": self._shares(1),
                "shares_by_sex": self._shares(2),
                "counts_by_facility": {f: dict(sorted(v.items())) for f, v in sorted(self.by_facility.items())},
            },
        }


GENERATOR = ELDERLY = Elderly()
