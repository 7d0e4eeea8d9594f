"""Kind 6: cerebrovascular disease admissions (脑血管病) at Guangzhou's general hospitals, 2022-2024.

Calibration (SPECIALTY_FACTS.md §1; sources in reference/data/SPECIALTY_SOURCES.md): subtype mix
from HQMS 2019 (IS 82.6%, ICH 14.2%, SAH 3.1% of strokes) with TIA 5% as in CSCA; mean age 66, 59.6%
male; in-hospital death and DAMA by subtype from HQMS 2018 (IS 0.7% / 5.1%, ICH 4.7% / 14.8%, SAH
4.2% / 15.2%), raised with severity; median LOS 10 / 14 / 12 days and cost CNY 9,457 / 18,114 / 42,210
with spreads from the published IQRs; one-year death and recurrence from CNSR (11.4% / 14.7% without,
17.3% / 23.6% with prior stroke). NIHSS for ischaemic strokes is negative-binomial with median 4,
IQR 2-9 and 11-12% at 15 or more (trial cohort: 4, 2-8, 11.1%).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.hospital.specialty import (
    SpecialtyKind,
    categorical,
    fmt_float,
    fmt_int,
    lognormal,
)
from data_products.specialty.cerebrovascular import DICTIONARY, ICD10, PROCEDURES, STROKE_TYPES
from data_products.specialty.dictionary import RISK_FACTORS

SIZES = {"demo": 6_000, "city": 50_000}
# IS, ICH, SAH, TIA, other: HQMS's 82.6 : 14.2 : 3.1 over the 94% that are strokes.
TYPE_SHARE = np.array([0.94 * 82.6 / 99.9, 0.94 * 14.2 / 99.9, 0.94 * 3.1 / 99.9, 0.05, 0.01])
ICD_BY_TYPE = {
    "IS": {"I63": 0.95, "I64": 0.05}, "ICH": {"I61": 0.92, "I62": 0.08}, "SAH": {"I60": 1.0},
    "TIA": {"G45": 1.0}, "other": {"I65": 0.3, "I66": 0.2, "I67": 0.35, "I69": 0.15},
}
DEATH = {"IS": 0.007, "ICH": 0.047, "SAH": 0.042, "TIA": 0.001, "other": 0.01}
DAMA = {"IS": 0.051, "ICH": 0.148, "SAH": 0.152, "TIA": 0.02, "other": 0.05}
TRANSFER = 0.06
LOS = {"IS": (10, 0.46), "ICH": (14, 0.75), "SAH": (12, 0.99), "TIA": (6, 0.40), "other": (9, 0.50)}
COST = {"IS": (9457, 0.63), "ICH": (18114, 1.085), "SAH": (42210, 1.70), "TIA": (5000, 0.50), "other": (9000, 0.60)}
NIHSS_NB = {"IS": (6.5, 1.0), "ICH": (12.0, 1.5), "SAH": (4.0, 0.8), "TIA": (0.3, 1.0), "other": (2.0, 1.0)}
HUNT_HESS = np.array([0.25, 0.35, 0.20, 0.12, 0.08])
RISK = {"HTN": 0.65, "DM": 0.215, "DYSLIP": 0.076, "PRIOR_STROKE_TIA": 0.30, "CAD": 0.10}
SMOKE = {"M": 0.55, "F": 0.05}
AF = {"under50": 0.012, "50plus": 0.055}
ONSET_H = (8.0, 1.3)  # lognormal median hours, sigma
ONSET_UNKNOWN = 0.12
IVT_IN_WINDOW = 0.26  # of ischaemic strokes arriving within 4.5 h
EVT_ELIGIBLE = 0.15   # of ischaemic strokes at a tertiary hospital, NIHSS >= 6, within 24 h
EVACUATION = 0.10
SAH_PROCEDURE = {"coiling": 0.45, "clipping": 0.25}
ONE_YEAR = {False: {"death": 0.114, "recurrence": 0.147}, True: {"death": 0.173, "recurrence": 0.236}}
LOST = 0.05
MRS_MISSING = 0.08
EXTRA_COST = {"IVT": 8000.0, "EVT": 60000.0, "evacuation": 25000.0, "coiling": 80000.0, "clipping": 60000.0}


class Cerebrovascular(SpecialtyKind):
    dictionary = DICTIONARY
    kind_number = 6
    sizes = SIZES
    tier_share = {"tertiary": 0.70, "secondary": 0.30}
    age_mean, age_sd, male_share = 66.0, 12.0, 0.596

    def parameters(self) -> dict:
        return {
            "type_share": dict(zip(STROKE_TYPES, TYPE_SHARE.round(6).tolist(), strict=True)),
            "icd_by_type": ICD_BY_TYPE, "death": DEATH, "dama": DAMA, "transfer": TRANSFER,
            "los_median_sigma": LOS, "cost_median_sigma": COST, "nihss_negbin_mean_r": NIHSS_NB,
            "hunt_hess": HUNT_HESS.tolist(), "risk": RISK, "smoke": SMOKE, "af": AF,
            "onset_h_median_sigma": ONSET_H, "onset_unknown": ONSET_UNKNOWN, "ivt_in_window": IVT_IN_WINDOW,
            "evt_eligible": EVT_ELIGIBLE, "evacuation": EVACUATION, "sah_procedure": SAH_PROCEDURE,
            "one_year": {str(k): v for k, v in ONE_YEAR.items()}, "lost": LOST, "mrs_missing": MRS_MISSING,
            "extra_cost": EXTRA_COST,
        }

    def clinical(self, rng: np.random.Generator, base: pd.DataFrame) -> tuple[dict, dict]:
        n = len(base)
        age, male, tier = base["age"].to_numpy(), base["male"].to_numpy(), base["tier"].to_numpy()
        stype = np.array(STROKE_TYPES)[categorical(rng, np.tile(TYPE_SHARE, (n, 1)))] if n else np.array([], str)
        icd = np.empty(n, dtype=object)
        for t, codes in ICD_BY_TYPE.items():
            sel = np.flatnonzero(stype == t)
            icd[sel] = rng.choice(list(codes), size=len(sel), p=np.array(list(codes.values())))
        flags = {c: rng.random(n) < p for c, p in RISK.items()}
        flags["SMOKE"] = rng.random(n) < np.where(male, SMOKE["M"], SMOKE["F"])
        flags["AF"] = rng.random(n) < np.where(age < 50, AF["under50"], AF["50plus"])
        risk = np.array([";".join(c for c in RISK_FACTORS if flags[c][i]) for i in range(n)], dtype=object)
        prior = flags["PRIOR_STROKE_TIA"]

        nihss = np.zeros(n)
        for t, (mean, r) in NIHSS_NB.items():
            sel = stype == t
            nihss[sel] = rng.negative_binomial(r, r / (r + mean), sel.sum())
        nihss = np.clip(nihss, 0, 42)
        hh = np.full(n, np.nan)
        sah = stype == "SAH"
        hh[sah] = categorical(rng, np.tile(HUNT_HESS, (sah.sum(), 1))) + 1 if sah.any() else []
        gcs = np.clip(np.round(15 - nihss / 3 + rng.normal(0, 0.8, n)), 3, 15)
        gcs[sah] = np.clip(np.round(np.select([hh[sah] <= 2, hh[sah] == 3, hh[sah] == 4], [14.5, 13, 9.5], 5)
                                    + rng.normal(0, 1, sah.sum())), 3, 15)
        severity = np.where(sah, (np.nan_to_num(hh) - 1) * 4, nihss)

        onset = np.minimum(lognormal(rng, ONSET_H[0], ONSET_H[1], n), 700.0)
        onset[rng.random(n) < ONSET_UNKNOWN] = np.nan
        proc = np.full(n, "none", dtype=object)
        isch = stype == "IS"
        ivt = isch & (onset <= 4.5) & (rng.random(n) < IVT_IN_WINDOW)
        evt = isch & ~ivt & (tier == "tertiary") & (nihss >= 6) & (onset <= 24) & (rng.random(n) < EVT_ELIGIBLE)
        proc[ivt], proc[evt] = "IVT", "EVT"
        proc[(stype == "ICH") & (rng.random(n) < EVACUATION * (1 + (nihss >= 15)))] = "evacuation"
        u = rng.random(n)
        proc[sah & (u < SAH_PROCEDURE["coiling"])] = "coiling"
        proc[sah & (u >= SAH_PROCEDURE["coiling"]) & (u < sum(SAH_PROCEDURE.values()))] = "clipping"

        disp = np.full(n, "home", dtype=object)
        u = rng.random(n)
        for t in STROKE_TYPES:
            sel = np.flatnonzero(stype == t)
            if not len(sel):
                continue
            m = np.exp(0.12 * (severity[sel] - np.median(severity[sel])))
            m = m / m.mean()
            pd_, pa = np.clip(DEATH[t] * m, 0, 0.9), np.clip(DAMA[t] * m, 0, 0.9)
            disp[sel] = np.where(u[sel] < pd_, "death", np.where(u[sel] < pd_ + pa, "dama",
                                 np.where(u[sel] < pd_ + pa + TRANSFER, "transfer", "home")))
        dead_in_hospital = disp == "death"

        mrs = np.clip(np.round(0.18 * severity + rng.normal(0, 1.1, n) + 0.5 * prior + 0.02 * (age - 66)), 0, 5)
        mrs = np.where(disp == "dama", np.maximum(mrs, 4), mrs)
        died_90 = dead_in_hospital | ((disp == "dama") & (rng.random(n) < 0.3)) | (rng.random(n) < 0.01 * (mrs >= 4))
        mrs = np.where(died_90, 6, mrs)
        mrs_missing = ~died_90 & (rng.random(n) < MRS_MISSING)

        death_1y = np.where(prior, ONE_YEAR[True]["death"], ONE_YEAR[False]["death"])
        rec_1y = np.where(prior, ONE_YEAR[True]["recurrence"], ONE_YEAR[False]["recurrence"])
        u = rng.random(n)
        # Deaths by 90 days count towards the year's deaths, so the rest are drawn to keep the total.
        extra = np.clip((death_1y - died_90.mean()) / max(1e-9, 1 - died_90.mean()), 0, 1)
        outcome = np.where(died_90 | (u < extra), "death",
                           np.where(u < extra + rec_1y, "recurrence", np.where(u < extra + rec_1y + LOST, "lost",
                                                                                "no_event")))
        los = np.zeros(n)
        cost = np.zeros(n)
        for t in STROKE_TYPES:
            sel = stype == t
            los[sel] = lognormal(rng, LOS[t][0], LOS[t][1], sel.sum())
            cost[sel] = lognormal(rng, COST[t][0], COST[t][1], sel.sum())
        cost += np.array([EXTRA_COST.get(p, 0.0) for p in proc])
        los = np.clip(np.round(los), 1, 120)
        cost = np.clip(cost, 500, 2_000_000)
        cols = {
            "los_days": fmt_int(los),
            "total_cost_cny": fmt_float(cost, 2),
            "icd10_primary": icd.astype(str),
            "stroke_type": stype,
            "onset_to_door_h": fmt_float(onset, 1),
            "nihss_adm": fmt_int(nihss),
            "gcs_adm": fmt_int(gcs),
            "hunt_hess": fmt_int(hh),
            "risk_factors": risk.astype(str),
            "acute_procedure": proc.astype(str),
            "discharge_disposition": disp.astype(str),
            "mrs_90d": fmt_int(mrs, missing=mrs_missing),
            "outcome_1y": outcome.astype(str),
        }
        return cols, {"t_stroke_type": stype, "t_procedure": proc}


assert set(ICD10) == {c for v in ICD_BY_TYPE.values() for c in v}
assert set(PROCEDURES) >= {"none", *EXTRA_COST}

GENERATOR = CEREBROVASCULAR = Cerebrovascular()
