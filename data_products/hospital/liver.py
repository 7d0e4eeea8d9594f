"""Kind 8: primary liver cancer (肝癌), one row per patient from the diagnosis admission, 2022-2024,
followed up to 2025-06-30.

Calibration (SPECIALTY_FACTS.md §3; sources in reference/data/SPECIALTY_SOURCES.md): mean age 55,
82-84% male; HCC 93.0%, ICC 4.3%; HBV 84.4%, HCV 3.2% (older patients more often HCV); CNLC at
diagnosis Ia 20.5, Ib 14.8, IIa 2.0, IIb 29.4, IIIa 18.3, IIIb 12.0, IV 3.1% (n=3,022) reached by
drawing a stage, then tumour number, size, vascular invasion, ECOG PS and Child-Pugh score consistent
with it: the written stage columns are *derived* from those fields at ingest, never drawn (Child-Pugh
C only in IV, so A/B/C lands near 72.5/24.4/3.1%); AFP > 400 ng/mL rising with stage (Ia 16.9% ->
IIIa 55.2% -> IV 59.5%); first treatment by stage (Ia/Ib resection or ablation, IIa/IIb TACE, IIIa
TACE/HAIC/systemic, IIIb systemic, IV supportive; Child-Pugh B halves resection); survival exponential
by stage (medians Ia 90 ... IV 3 months) with curative treatment, Child-Pugh B and AFP > 400 shifting
it; 2-year recurrence after curative treatment 38.8% on average, higher with AFP > 400, size > 5 cm
and several nodules; LOS median 14 days, cost about CNY 20,000 plus the treatment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.hospital.specialty import SpecialtyKind, categorical, fmt_float, fmt_int, lognormal
from data_products.specialty.liver import (
    AETIOLOGY,
    CNLC,
    CURATIVE,
    CUTOFF,
    DICTIONARY,
    ICD10,
    MORPHOLOGY,
    TREATMENTS,
)

SIZES = {"demo": 3_000, "city": 8_000}
CNLC_SHARE = np.array([20.5, 14.8, 2.0, 29.4, 18.3, 12.0, 3.1]) / 100
HISTOLOGY = np.array([0.930, 0.043, 0.016, 0.011])  # C22.0 / 8170, C22.1 / 8160, C22.7 / 8180, C22.9 / 8000
AETIOLOGY_SHARE = np.array([0.844, 0.032, 0.010, 0.035, 0.020, 0.059])
HCV_AGE_FACTOR = {"under50": 0.3, "60plus": 3.0}
CP_B = 0.25  # Child-Pugh B among stages Ia-IIIb
PS_EARLY = np.array([0.70, 0.22, 0.08])  # ECOG 0/1/2 in Ia-IIb
PS_LATE = np.array([0.45, 0.40, 0.15])   # in IIIa-IIIb
AFP_HIGH = dict(zip(CNLC, (0.169, 0.25, 0.30, 0.40, 0.552, 0.55, 0.595), strict=True))
AFP_LOW = dict(zip(CNLC, (0.50, 0.42, 0.38, 0.33, 0.25, 0.25, 0.22), strict=True))
TREATMENT_BY_STAGE = {
    "Ia": {"resection": 0.60, "ablation": 0.27, "transplant": 0.03, "TACE": 0.08, "supportive": 0.02},
    "Ib": {"resection": 0.50, "ablation": 0.08, "TACE": 0.37, "systemic_TKI": 0.02, "supportive": 0.03},
    "IIa": {"resection": 0.30, "TACE": 0.60, "HAIC": 0.05, "supportive": 0.05},
    "IIb": {"TACE": 0.66, "resection": 0.12, "HAIC": 0.08, "systemic_ICI_VEGF": 0.08, "supportive": 0.06},
    "IIIa": {"TACE": 0.35, "HAIC": 0.15, "systemic_TKI": 0.12, "systemic_ICI_VEGF": 0.15, "systemic_TKI_ICI": 0.08,
             "radiotherapy": 0.05, "resection": 0.05, "supportive": 0.05},
    "IIIb": {"systemic_TKI": 0.25, "systemic_ICI_VEGF": 0.30, "systemic_TKI_ICI": 0.15, "TACE": 0.15,
             "radiotherapy": 0.05, "supportive": 0.10},
    "IV": {"supportive": 0.80, "systemic_TKI": 0.10, "TACE": 0.10},
}
MEDIAN_OS = dict(zip(CNLC, (90.0, 60.0, 40.0, 26.0, 12.0, 9.0, 3.0), strict=True))
OS_FACTOR = {"curative": 1.3, "supportive": 0.6, "cp_b": 0.7, "afp_high": 0.8}
RECURRENCE_2Y = 0.388
RECURRENCE_FACTOR = {"afp_high": 1.5, "size_over_5": 1.4, "multiple": 1.3}
LOST = 0.05
LOS = (14.0, 0.5)
COST = (20000.0, 0.7)
EXTRA_COST = {"resection": 30000.0, "transplant": 300000.0, "ablation": 15000.0, "TACE": 15000.0, "HAIC": 20000.0,
              "radiotherapy": 30000.0, "systemic_TKI": 20000.0, "systemic_ICI_VEGF": 40000.0,
              "systemic_TKI_ICI": 40000.0}


def _uniform(rng, lo, hi, n):
    return lo + (hi - lo) * rng.random(n)


class LiverCancer(SpecialtyKind):
    dictionary = DICTIONARY
    kind_number = 8
    sizes = SIZES
    # Oncology-capable hospitals only: the tertiary general hospitals and the cancer hospital.
    tier_share = {"tertiary": 1.0}
    facility_kinds = ("general", "cancer")
    age_mean, age_sd, male_share = 55.0, 11.0, 0.83

    def parameters(self) -> dict:
        return {
            "cnlc_share": dict(zip(CNLC, CNLC_SHARE.tolist(), strict=True)),
            "histology": dict(zip(ICD10, HISTOLOGY.tolist(), strict=True)),
            "aetiology_share": dict(zip(AETIOLOGY, AETIOLOGY_SHARE.tolist(), strict=True)),
            "hcv_age_factor": HCV_AGE_FACTOR, "child_pugh_b_in_ia_to_iiib": CP_B, "ps_early": PS_EARLY.tolist(),
            "ps_late": PS_LATE.tolist(), "afp_over_400": AFP_HIGH, "afp_under_20": AFP_LOW,
            "treatment_by_stage": TREATMENT_BY_STAGE, "median_os_months": MEDIAN_OS, "os_factor": OS_FACTOR,
            "recurrence_2y": RECURRENCE_2Y, "recurrence_factor": RECURRENCE_FACTOR, "lost": LOST,
            "los_median_sigma": LOS, "cost_median_sigma": COST, "extra_cost": EXTRA_COST, "follow_up_cutoff": CUTOFF,
        }

    def clinical(self, rng: np.random.Generator, base: pd.DataFrame) -> tuple[dict, dict]:
        n = len(base)
        age = base["age"].to_numpy()
        admitted = base["admitted"]
        stage = np.array(CNLC)[categorical(rng, np.tile(CNLC_SHARE, (n, 1)))] if n else np.array([], str)
        hist = categorical(rng, np.tile(HISTOLOGY, (n, 1))) if n else np.zeros(0, int)
        aet_p = np.tile(AETIOLOGY_SHARE, (n, 1))
        aet_p[:, 1] *= np.where(age < 50, HCV_AGE_FACTOR["under50"], np.where(age >= 60, HCV_AGE_FACTOR["60plus"], 1))
        aet = np.array(AETIOLOGY)[categorical(rng, aet_p)] if n else np.array([], str)

        number = np.full(n, "1", dtype=object)
        size = np.zeros(n)
        invasion = np.full(n, "none", dtype=object)
        ps = np.zeros(n)
        cp = np.where(rng.random(n) < CP_B, rng.integers(7, 10, n), rng.integers(5, 7, n)).astype(float)
        early = np.isin(stage, ("Ia", "Ib", "IIa", "IIb"))
        ps[early] = categorical(rng, np.tile(PS_EARLY, (early.sum(), 1))) if early.any() else []
        late = np.isin(stage, ("IIIa", "IIIb"))
        ps[late] = categorical(rng, np.tile(PS_LATE, (late.sum(), 1))) if late.any() else []
        s = stage == "Ia"
        size[s] = np.clip(lognormal(rng, 3.0, 0.35, s.sum()), 0.8, 5.0)
        s = stage == "Ib"
        single = s & (rng.random(n) < 0.5)
        size[single] = _uniform(rng, 5.1, 15.0, single.sum())
        multi = s & ~single
        number[multi] = "2-3"
        size[multi] = _uniform(rng, 1.0, 3.0, multi.sum())
        s = stage == "IIa"
        number[s] = "2-3"
        size[s] = _uniform(rng, 3.1, 10.0, s.sum())
        s = stage == "IIb"
        number[s] = ">=4"
        size[s] = _uniform(rng, 2.0, 15.0, s.sum())
        for st, what in (("IIIa", None), ("IIIb", "extrahepatic")):
            s = stage == st
            number[s] = rng.choice(["1", "2-3", ">=4"], size=s.sum(), p=[0.4, 0.3, 0.3])
            size[s] = _uniform(rng, 3.0, 20.0, s.sum())
            invasion[s] = what if what else rng.choice(["PVTT", "HVTT"], size=s.sum(), p=[0.85, 0.15])
        s = stage == "IV"
        number[s] = rng.choice(["1", "2-3", ">=4"], size=s.sum(), p=[0.3, 0.3, 0.4])
        size[s] = _uniform(rng, 2.0, 20.0, s.sum())
        invasion[s] = rng.choice(["none", "PVTT", "extrahepatic"], size=s.sum(), p=[0.4, 0.35, 0.25])
        by_ps = s & (rng.random(n) < 0.5)
        ps[s] = rng.integers(0, 3, s.sum())
        ps[by_ps] = rng.integers(3, 5, by_ps.sum())
        cp[s & ~by_ps] = rng.integers(10, 16, (s & ~by_ps).sum())
        size = np.round(size, 1)

        u = rng.random(n)
        p_high = np.array([AFP_HIGH[x] for x in stage])
        p_low = np.array([AFP_LOW[x] for x in stage])
        afp = np.where(u < p_low, np.exp(_uniform(rng, np.log(0.5), np.log(20), n)),
                       np.where(u < 1 - p_high, np.exp(_uniform(rng, np.log(20.1), np.log(400), n)),
                                np.clip(lognormal(rng, 2500, 1.3, n), 400.1, 60000)))
        afp = np.round(afp, 1)
        afp_missing = rng.random(n) < 0.03

        treat = np.empty(n, dtype=object)
        cp_b = cp >= 7
        for st, mix in TREATMENT_BY_STAGE.items():
            sel = np.flatnonzero(stage == st)
            if not len(sel):
                continue
            treat[sel] = rng.choice(list(mix), size=len(sel), p=np.array(list(mix.values())))
        # Child-Pugh B: half the resections become TACE.
        treat[cp_b & (treat == "resection") & (rng.random(n) < 0.5)] = "TACE"

        treated = admitted + pd.to_timedelta(rng.integers(2, 15, n), unit="D")
        cutoff = pd.Timestamp(CUTOFF)
        high = afp > 400
        median = np.array([MEDIAN_OS[x] for x in stage]) * np.where(np.isin(treat, CURATIVE), OS_FACTOR["curative"], 1)
        median *= np.where(treat == "supportive", OS_FACTOR["supportive"], 1) * np.where(cp_b, OS_FACTOR["cp_b"], 1)
        median *= np.where(high, OS_FACTOR["afp_high"], 1)
        death_m = rng.exponential(median / np.log(2))
        follow_m = ((cutoff - treated).dt.days.to_numpy() / 30.4375)
        lost = rng.random(n) < LOST
        follow_m = np.where(lost, follow_m * rng.random(n), follow_m)
        died = death_m <= follow_m
        end_m = np.where(died, death_m, follow_m)
        lam = -np.log(1 - RECURRENCE_2Y) / 24 * np.where(high, RECURRENCE_FACTOR["afp_high"], 1)
        lam *= np.where(size > 5, RECURRENCE_FACTOR["size_over_5"], 1) * np.where(number != "1",
                                                                                  RECURRENCE_FACTOR["multiple"], 1)
        rec_m = rng.exponential(1 / lam)
        recurred = np.isin(treat, CURATIVE) & (rec_m < end_m)

        def day(months):
            return (treated + pd.to_timedelta(np.round(np.nan_to_num(months) * 30.4375), unit="D")).dt.strftime(
                "%Y-%m-%d").to_numpy(dtype=str)

        last = day(end_m)
        los = np.clip(np.round(lognormal(rng, LOS[0], LOS[1], n)), 1, 120)
        cost = lognormal(rng, COST[0], COST[1], n) + np.array([EXTRA_COST.get(t, 0.0) for t in treat])
        cols = {
            "los_days": fmt_int(los),
            "total_cost_cny": fmt_float(np.clip(cost, 500, 2_000_000), 2),
            "icd10": np.array(ICD10)[hist],
            "morphology": np.array(MORPHOLOGY)[hist],
            "aetiology": aet.astype(str),
            "afp_ng_ml": fmt_float(afp, 1, missing=afp_missing),
            "tumour_number": number.astype(str),
            "max_tumour_size_cm": fmt_float(size, 1),
            "vascular_invasion": invasion.astype(str),
            "ecog_ps": fmt_int(ps),
            "child_pugh_score": fmt_int(cp),
            "first_treatment": treat.astype(str),
            "treatment_date": treated.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            "recurrence_date": np.where(recurred, day(rec_m), ""),
            "death_date": np.where(died, last, ""),
            "last_contact_date": last,
        }
        return cols, {"t_cnlc_drawn": stage, "t_treatment": treat, "t_died": died, "t_recurred": recurred}


assert set(TREATMENTS) >= {t for mix in TREATMENT_BY_STAGE.values() for t in mix}

GENERATOR = LIVER_CANCER = LiverCancer()
