"""Kind 7: acute cerebral infarction admissions (脑梗死) at Guangzhou's general hospitals, 2022-2024.

Calibration (SPECIALTY_FACTS.md §2; sources in reference/data/SPECIALTY_SOURCES.md): CSCA AIS age
66.1 ± 12.0, 62.7% male, hypertension 64.4%, diabetes 21.5%, smoking 37.2%, AF 1.2% under 50 and 5.5%
from 50, prior stroke/TIA 33.0%, ambulance 11.3%, private car 47.0%; TOAST from a Chinese series
(LAA 40.0, SAO 31.3, CE 12.3, SOE 5.0, SUE 11.4%), AF pulling towards CE, and 20% label noise as the
site-versus-central agreement suggests; IVT only within 4.5 h of onset, EVT only at tertiary
hospitals for NIHSS >= 6 within 24 h (Guangzhou targets IVT 8-12%, EVT 2-4%); median door-to-needle
about 55 min; tenecteplase's share of IVT rising 2022 -> 2024; death 0.7% and DAMA 5.1% raised with
NIHSS and sICH; LOS median 10 days, cost CNY 9,457 plus the procedure; one-year recurrence 14.7% /
23.6% without / with prior stroke (CNSR).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.hospital.specialty import SpecialtyKind, categorical, fmt_bool, fmt_float, fmt_int, lognormal
from data_products.specialty.dictionary import RISK_FACTORS
from data_products.specialty.infarction import ARRIVAL, DICTIONARY, ICD10, IVT_WINDOW_MIN, TOAST

SIZES = {"demo": 5_000, "city": 40_000}
TOAST_SHARE = np.array([0.400, 0.123, 0.313, 0.050, 0.114])  # LAA, CE, SAO, SOE, SUE
AF_TO_CE = 0.70
TOAST_NOISE = 0.20  # recorded subtype replaced by LAA, SAO or SUE at random
NIHSS_NB = {"LAA": (7.0, 1.0), "CE": (10.0, 1.1), "SAO": (3.0, 1.5), "SOE": (6.0, 1.0), "SUE": (6.0, 1.0)}
ICD_BY_TOAST = {
    "LAA": {"I63.0": 0.15, "I63.3": 0.55, "I63.5": 0.10, "I63.8": 0.05, "I63.9": 0.15},
    "CE": {"I63.1": 0.15, "I63.4": 0.65, "I63.9": 0.20},
    "SAO": {"I63.5": 0.35, "I63.8": 0.30, "I63.9": 0.35},
    "SOE": {"I63.2": 0.20, "I63.6": 0.25, "I63.8": 0.25, "I63.9": 0.30},
    "SUE": {"I63.9": 0.80, "I63.8": 0.20},
}
RISK = {"HTN": 0.644, "DM": 0.215, "DYSLIP": 0.076, "PRIOR_STROKE_TIA": 0.330, "CAD": 0.10}
SMOKE = {"M": 0.55, "F": 0.07}
AF = {"under50": 0.012, "50plus": 0.055}
ARRIVAL_SHARE = np.array([0.113, 0.470, 0.200, 0.217])
ONSET_MIN = {"EMS": (150.0, 1.1), "other": (600.0, 1.4)}
ONSET_UNKNOWN = 0.15
IVT_P = {"tertiary": 0.33, "secondary": 0.40}
TENECTEPLASE = {2022: 0.05, 2023: 0.15, 2024: 0.30}
EVT_P = 0.20
DNT = {"tertiary": (52.0, 0.45), "secondary": (62.0, 0.45)}
SICH = {"IVT": 0.04, "EVT": 0.06}
DEATH, DAMA, TRANSFER = 0.007, 0.051, 0.05
RECURRENCE = {False: 0.147, True: 0.236}
MRS_MISSING = 0.08
LOS = (10.0, 0.46)
COST = (9457.0, 0.63)
EXTRA_COST = {"IVT_alteplase": 8000.0, "IVT_tenecteplase": 6000.0, "EVT": 60000.0}


class Infarction(SpecialtyKind):
    dictionary = DICTIONARY
    kind_number = 7
    sizes = SIZES
    tier_share = {"tertiary": 0.65, "secondary": 0.35}
    age_mean, age_sd, male_share = 66.1, 12.0, 0.627

    def parameters(self) -> dict:
        return {
            "toast_share": dict(zip(TOAST, TOAST_SHARE.tolist(), strict=True)), "af_to_ce": AF_TO_CE,
            "toast_noise": TOAST_NOISE, "nihss_negbin_mean_r": NIHSS_NB, "icd_by_toast": ICD_BY_TOAST,
            "risk": RISK, "smoke": SMOKE, "af": AF, "arrival_share": dict(zip(ARRIVAL, ARRIVAL_SHARE.tolist(),
                                                                              strict=True)),
            "onset_min_median_sigma": ONSET_MIN, "onset_unknown": ONSET_UNKNOWN, "ivt_window_min": IVT_WINDOW_MIN,
            "ivt_p_in_window": IVT_P, "tenecteplase_share_of_ivt": {str(k): v for k, v in TENECTEPLASE.items()},
            "evt_p_eligible": EVT_P, "dnt_median_sigma": DNT, "sich": SICH, "death": DEATH, "dama": DAMA,
            "transfer": TRANSFER, "recurrence_1y": {str(k): v for k, v in RECURRENCE.items()},
            "mrs_missing": MRS_MISSING, "los_median_sigma": LOS, "cost_median_sigma": COST, "extra_cost": EXTRA_COST,
        }

    def clinical(self, rng: np.random.Generator, base: pd.DataFrame) -> tuple[dict, dict]:
        n = len(base)
        age, male, tier = base["age"].to_numpy(), base["male"].to_numpy(), base["tier"].to_numpy()
        year = base["admitted"].dt.year.to_numpy()
        flags = {c: rng.random(n) < p for c, p in RISK.items()}
        flags["SMOKE"] = rng.random(n) < np.where(male, SMOKE["M"], SMOKE["F"])
        flags["AF"] = rng.random(n) < np.where(age < 50, AF["under50"], AF["50plus"])
        risk = np.array([";".join(c for c in RISK_FACTORS if flags[c][i]) for i in range(n)], dtype=object)
        prior = flags["PRIOR_STROKE_TIA"]

        true = np.array(TOAST)[categorical(rng, np.tile(TOAST_SHARE, (n, 1)))] if n else np.array([], str)
        true = np.where(flags["AF"] & (rng.random(n) < AF_TO_CE), "CE", true)
        recorded = np.where(rng.random(n) < TOAST_NOISE, rng.choice(["LAA", "SAO", "SUE"], size=n), true)
        nihss = np.zeros(n)
        icd = np.empty(n, dtype=object)
        for t in TOAST:
            sel = np.flatnonzero(true == t)
            mean, r = NIHSS_NB[t]
            nihss[sel] = rng.negative_binomial(r, r / (r + mean), len(sel))
            codes = ICD_BY_TOAST[t]
            icd[sel] = rng.choice(list(codes), size=len(sel), p=np.array(list(codes.values())))
        nihss = np.clip(nihss, 0, 42)

        arrival = np.array(ARRIVAL)[categorical(rng, np.tile(ARRIVAL_SHARE, (n, 1)))] if n else np.array([], str)
        ems = arrival == "EMS"
        onset = np.where(ems, lognormal(rng, ONSET_MIN["EMS"][0], ONSET_MIN["EMS"][1], n),
                         lognormal(rng, ONSET_MIN["other"][0], ONSET_MIN["other"][1], n))
        onset = np.clip(np.round(onset), 10, 10080)
        onset[rng.random(n) < ONSET_UNKNOWN] = np.nan
        in_window = onset <= IVT_WINDOW_MIN
        ivt = in_window & (nihss >= 1) & (rng.random(n) < np.where(tier == "tertiary", IVT_P["tertiary"],
                                                                   IVT_P["secondary"]))
        tnk = rng.random(n) < np.array([TENECTEPLASE[y] for y in year])
        evt = ((tier == "tertiary") & (nihss >= 6) & (onset <= 1440) & np.isin(true, ("LAA", "CE"))
               & (rng.random(n) < EVT_P))
        reperf = np.select([ivt & evt, evt, ivt & tnk, ivt], ["IVT_EVT", "EVT", "IVT_tenecteplase", "IVT_alteplase"],
                           "none").astype(object)
        dnt = np.where(tier == "tertiary", lognormal(rng, DNT["tertiary"][0], DNT["tertiary"][1], n),
                       lognormal(rng, DNT["secondary"][0], DNT["secondary"][1], n))
        dnt = np.where(ivt, np.clip(np.round(dnt), 10, 600), np.nan)
        reperfused = reperf != "none"
        sich = reperfused & (rng.random(n) < np.where(evt, SICH["EVT"], SICH["IVT"]))

        m = np.exp(0.12 * (nihss - np.median(nihss) if n else 0)) * np.where(sich, 5.0, 1.0)
        m = m / m.mean() if n else m
        u = rng.random(n)
        pdth, pdama = np.clip(DEATH * m, 0, 0.9), np.clip(DAMA * m, 0, 0.9)
        disp = np.where(u < pdth, "death", np.where(u < pdth + pdama, "dama",
                        np.where(u < pdth + pdama + TRANSFER, "transfer", "home")))
        mrs = np.clip(np.round(0.3 + 0.2 * nihss + rng.normal(0, 1.1, n) + 0.4 * prior + 0.02 * (age - 66)
                               - 0.8 * reperfused + 1.5 * sich), 0, 5)
        mrs = np.where(disp == "dama", np.maximum(mrs, 4), mrs)
        died_90 = (disp == "death") | ((disp == "dama") & (rng.random(n) < 0.3)) | (rng.random(n) < 0.01 * (mrs >= 4))
        mrs = np.where(died_90, 6, mrs)
        mrs_missing = ~died_90 & (rng.random(n) < MRS_MISSING)
        recurrence = ~died_90 & (rng.random(n) < np.where(prior, RECURRENCE[True], RECURRENCE[False]))

        los = np.clip(np.round(lognormal(rng, LOS[0], LOS[1], n)), 1, 120)
        cost = lognormal(rng, COST[0], COST[1], n) + np.array([EXTRA_COST.get(r, 0.0) for r in reperf])
        cost += np.where(reperf == "IVT_EVT", EXTRA_COST["EVT"] + np.where(tnk, 6000.0, 8000.0), 0.0)
        cols = {
            "los_days": fmt_int(los),
            "total_cost_cny": fmt_float(np.clip(cost, 500, 2_000_000), 2),
            "icd10_primary": icd.astype(str),
            "toast": recorded.astype(str),
            "arrival_mode": arrival.astype(str),
            "onset_to_door_min": fmt_int(onset),
            "door_to_needle_min": fmt_int(dnt),
            "reperfusion": reperf.astype(str),
            "nihss_adm": fmt_int(nihss),
            "risk_factors": risk.astype(str),
            "sich_36h": fmt_bool(sich, missing=~reperfused),
            "discharge_disposition": disp.astype(str),
            "mrs_90d": fmt_int(mrs, missing=mrs_missing),
            "recurrence_1y": fmt_bool(recurrence),
        }
        return cols, {"t_toast_true": true, "t_reperfusion": reperf}


assert set(ICD10) >= {c for v in ICD_BY_TOAST.values() for c in v}

GENERATOR = INFARCTION = Infarction()
