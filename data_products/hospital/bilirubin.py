"""Kind: paired neonatal bilirubin measurements (TcB device and serum TSB), 2023-2024, from F0602 only.

Calibrated to reference/FACTS.md "Neonatal jaundice". For each newborn a true serum bilirubin B
rises with hours of life; the laboratory reports TSB = B + analytic error (CV 5%); the device reads
TcB = B + mu + device error, where the expected bias mu depends on gestational group and site,
skin tone, device model and phototherapy, and the device error widens with bilirubin. The truth
JSON carries the expected bias (mean of mu) overall and per subgroup, and the realised mean
difference, so a report can be checked against what the generator put in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from data_products.contracts.bilirubin import (
    COLUMNS,
    KIND,
    SITES,
    SKIN_TONES,
    UMOL_PER_MG_DL,
    ga_band,
    ga_group,
    hol_band,
)
from data_products.hospital import identity
from data_products.hospital.kinds import Chunk, Kind, TruthAccumulator

PRODUCER = "F0602"
SIZES = {"demo": 3_000, "city": 12_000}
MONTHS = pd.period_range("2023-01", "2024-12", freq="M")

SKIN_SHARE = np.array([0.40, 0.48, 0.12])
# Overestimation grows with darker skin, about 0.7 -> 1.9 mg/dL (FACTS); medium in between.
SKIN_BIAS = {"light": 0.7 * UMOL_PER_MG_DL, "medium": 1.3 * UMOL_PER_MG_DL, "dark": 1.9 * UMOL_PER_MG_DL}
_SKIN_MEAN = float(np.dot(SKIN_SHARE, [SKIN_BIAS[s] for s in SKIN_TONES]))
# The skin effect is centred so the gestational-group x site bias below is the group's mean bias.
SKIN_EFFECT = {s: SKIN_BIAS[s] - _SKIN_MEAN for s in SKIN_TONES}
# Term infants +21.7 overall (Hong Kong, 997 pairs); preterm +9.3 forehead, +20.2 sternum (FACTS).
SITE_BIAS = {("term", "forehead"): 20.7, ("term", "sternum"): 23.2,
             ("preterm", "forehead"): 9.3, ("preterm", "sternum"): 20.2}
SITE_SHARE = np.array([0.55, 0.45])
DEVICES = ("JM-A", "JM-B")
DEVICE_SHARE = np.array([0.60, 0.40])
DEVICE_EFFECT = {"JM-A": -2.0, "JM-B": 3.0}
PHOTOTHERAPY_SHARE = 0.08
PHOTOTHERAPY_EFFECT = 15.0
# Device error SD at bilirubin b: DEVICE_SD * (0.5 + 0.5 * b / B_REF): wider at high bilirubin.
DEVICE_SD = 17.5
B_REF = 190.0
LAB_CV = 0.05
# Log-SD of true bilirubin around its hour-of-life median: sets the range, hence r. The Hong Kong
# study's r 0.83 came from a narrow range; 0.17 gives r ~0.87 and enough TSB >= 291 cases to assess.
B_SIGMA = 0.17
# Gestational weeks: completed weeks 30..41 with these weights (about 15% preterm).
GA_WEEKS = np.arange(30, 42)
GA_WEIGHTS = np.array([0.5, 0.6, 0.9, 1.5, 2.5, 3.5, 5.5, 12.0, 22.0, 26.0, 18.0, 7.0])
MALE_SHARE = 0.52

def expected_bias(group: np.ndarray, site: np.ndarray, skin: np.ndarray, device: np.ndarray,
                  photo: np.ndarray) -> np.ndarray:
    """E[TcB - TSB | covariates] in µmol/L: the generator's true bias for each pair."""
    base = np.array([SITE_BIAS[(g, s)] for g, s in zip(group, site, strict=True)], dtype=float)
    return (base + np.array([SKIN_EFFECT[s] for s in skin]) + np.array([DEVICE_EFFECT[d] for d in device])
            + PHOTOTHERAPY_EFFECT * np.asarray(photo, dtype=bool))


def _fmt_time(t: pd.Series) -> np.ndarray:
    return t.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=str)


class Bilirubin(Kind):
    sizes = SIZES
    date_column = "tcb_time"
    name = KIND
    columns = COLUMNS

    def producers(self) -> list[str]:
        return [PRODUCER]


    def chunks(self, seed: int, n: int) -> Iterator[Chunk]:
        ids = identity.IdAllocator()
        per = np.full(len(MONTHS), n // len(MONTHS))
        per[: n - per.sum()] += 1
        for i, (period, count) in enumerate(zip(MONTHS, per, strict=True)):
            rng = np.random.default_rng([seed, 8, i])  # kind 8 (issue 8), chunk i
            yield self._month(rng, period, int(count), ids, i)

    def _month(self, rng: np.random.Generator, period: pd.Period, n: int, ids: identity.IdAllocator,
               mi: int) -> Chunk:
        start = np.datetime64(f"{period.year:04d}-{period.month:02d}-01")
        # The TcB falls in the month (files are by TcB year); birth is that many hours of life earlier.
        tcb_secs = rng.integers(0, period.days_in_month * 86400, size=n)
        tcb_time = pd.Series(start + tcb_secs.astype("timedelta64[s]")).astype("datetime64[s]")
        hours = np.clip(rng.gamma(3.0, 22.0, size=n), 4.0, 330.0)
        birth = (tcb_time - pd.to_timedelta(np.round(hours * 60), unit="min")).astype("datetime64[s]")
        # The blood draw follows the TcB within minutes (sometimes precedes it), always within 2 h.
        apart = np.clip(rng.gamma(2.0, 12.0, size=n), 2, 110) * np.where(rng.random(n) < 0.85, 1, -1)
        tsb_time = (tcb_time + pd.to_timedelta(np.round(apart), unit="min")).astype("datetime64[s]")
        hours = (tcb_time - birth).dt.total_seconds().to_numpy() / 3600.0

        weeks = rng.choice(GA_WEEKS, size=n, p=GA_WEIGHTS / GA_WEIGHTS.sum())
        ga = np.round(weeks + rng.integers(0, 7, size=n) / 7.0, 1)
        group = ga_group(ga)
        weight = np.round(np.clip(3300 + (ga - 39.5) * 190 + rng.normal(0, 380, n), 900, 5200) / 10) * 10
        skin = rng.choice(SKIN_TONES, size=n, p=SKIN_SHARE)
        site = rng.choice(SITES, size=n, p=SITE_SHARE)
        device = rng.choice(DEVICES, size=n, p=DEVICE_SHARE)
        photo = rng.random(n) < PHOTOTHERAPY_SHARE
        male = rng.random(n) < MALE_SHARE

        # True bilirubin: rises over the first days, higher in preterm and after (i.e. needing) phototherapy.
        median = (85 + 115 * (1 - np.exp(-hours / 40.0))) * np.where(group == "preterm", 1.08, 1.0)
        median *= np.where(photo, 1.15, 1.0)
        b = median * np.exp(rng.normal(0, B_SIGMA, n))
        tsb = b + rng.normal(0, LAB_CV * b)
        mu = expected_bias(group, site, skin, device, photo)
        tcb = b + mu + rng.normal(0, 1, n) * DEVICE_SD * (0.5 + 0.5 * b / B_REF)
        tsb = np.round(np.clip(tsb, 5, 680)).astype(int)
        tcb = np.round(np.clip(tcb, 0, 680)).astype(int)

        district_codes = rng.choice(["440106", "440104", "440111", "440105", "440112", "440113"], size=n,
                                    p=[0.35, 0.15, 0.15, 0.15, 0.10, 0.10])
        mother_age_days = rng.integers(20 * 365, 42 * 365, size=n)
        mother_birth = (birth.dt.normalize() - pd.to_timedelta(mother_age_days, unit="D")).astype("datetime64[s]")
        mother_id = ids.issue(rng, mother_birth, np.zeros(n, dtype=bool), district_codes)
        surname = np.array([s[0] for s in identity.names(rng, n)])
        baby_given = identity.names(rng, n)
        baby = np.char.add(surname, np.array([g[1:] if len(g) > 1 else g for g in baby_given]))
        raw = pd.DataFrame({
            "facility_id": PRODUCER,
            "pair_id": [f"JB{period.year:04d}{period.month:02d}{k:05d}" for k in range(n)],
            "mother_name": identity.names(rng, n),
            "baby_name": baby,
            "mother_id_card": mother_id,
            "phone": identity.mobiles(rng, n),
            "address": identity.addresses(rng, district_codes),
            "birth_time": _fmt_time(birth),
            "sex": np.where(male, "M", "F"),
            "gestational_age_weeks": np.char.mod("%.1f", ga),
            "birth_weight_g": weight.astype(int).astype(str),
            "skin_tone": skin,
            "phototherapy": np.where(photo, "Y", "N"),
            "device_model": device,
            "site": site,
            "tcb_time": _fmt_time(tcb_time),
            "tcb_umol_l": tcb.astype(str),
            "tsb_time": _fmt_time(tsb_time),
            "tsb_umol_l": tsb.astype(str),
        })[list(COLUMNS)]
        latent = pd.DataFrame({"expected_bias": mu, "true_bilirubin": b, "hours_of_life": hours,
                               "ga_group": group})
        return Chunk(raw=raw, latent=latent)

    def truth_accumulator(self, seed: int, n: int) -> TruthAccumulator:
        return _BilirubinTruth(seed, n)


def subgroup_keys(raw: pd.DataFrame, hours: np.ndarray) -> dict[str, np.ndarray]:
    """The report's subgroups, as labels per row of a raw extract."""
    ga = raw["gestational_age_weeks"].astype(float).to_numpy()
    group = ga_group(ga)
    return {
        "overall": np.full(len(raw), "ALL"),
        "ga_band": ga_band(ga),
        "ga_group": group,
        "hol_band": hol_band(hours),
        "site": raw["site"].to_numpy(dtype=str),
        "skin_tone": raw["skin_tone"].to_numpy(dtype=str),
        "phototherapy": np.where(raw["phototherapy"].to_numpy() == "Y", "yes", "no"),
        "device_model": raw["device_model"].to_numpy(dtype=str),
        "ga_site": np.char.add(np.char.add(group.astype(str), "/"), raw["site"].to_numpy(dtype=str)),
    }


class _BilirubinTruth(TruthAccumulator):
    def __init__(self, seed: int, n: int) -> None:
        self.seed, self.n = seed, n
        # dim -> level -> [n, sum expected bias, sum realised difference, sum squared difference]
        self.cells: dict[str, defaultdict] = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0.0, 0.0]))

    def add(self, chunk: Chunk) -> None:
        raw, lat = chunk.raw, chunk.latent
        d = raw["tcb_umol_l"].astype(float).to_numpy() - raw["tsb_umol_l"].astype(float).to_numpy()
        mu = lat["expected_bias"].to_numpy()
        for dim, key in subgroup_keys(raw, lat["hours_of_life"].to_numpy()).items():
            for level in np.unique(key):
                sel = key == level
                cell = self.cells[dim][str(level)]
                cell[0] += int(sel.sum())
                cell[1] += float(mu[sel].sum())
                cell[2] += float(d[sel].sum())
                cell[3] += float((d[sel] ** 2).sum())

    def result(self) -> dict:
        def summary(c: list) -> dict:
            n, s_mu, s_d, s_dd = c
            var = (s_dd - s_d * s_d / n) / (n - 1) if n > 1 else float("nan")
            return {"n": n, "true_bias": round(s_mu / n, 6), "realised_bias": round(s_d / n, 6),
                    "realised_sd": round(float(np.sqrt(max(var, 0.0))), 6)}

        subgroups = {dim: {lvl: summary(c) for lvl, c in sorted(levels.items())}
                     for dim, levels in self.cells.items() if dim != "overall"}
        return {
            "kind": "bilirubin",
            "seed": self.seed,
            "n_requested": self.n,
            "unit": "umol/L",
            "producer": PRODUCER,
            "period": [str(MONTHS[0]), str(MONTHS[-1])],
            "difference": "TcB - TSB",
            "parameters": {
                "site_bias_by_ga_group": {f"{g}/{s}": v for (g, s), v in SITE_BIAS.items()},
                "skin_bias": SKIN_BIAS, "skin_effect_centred": SKIN_EFFECT,
                "skin_share": dict(zip(SKIN_TONES, SKIN_SHARE.tolist(), strict=True)),
                "site_share": dict(zip(SITES, SITE_SHARE.tolist(), strict=True)),
                "device_effect": DEVICE_EFFECT, "bilirubin_log_sd": B_SIGMA,
                "device_share": dict(zip(DEVICES, DEVICE_SHARE.tolist(), strict=True)),
                "phototherapy_share": PHOTOTHERAPY_SHARE, "phototherapy_effect": PHOTOTHERAPY_EFFECT,
                "device_sd": DEVICE_SD, "device_sd_reference_bilirubin": B_REF, "lab_cv": LAB_CV,
                "error_ratio_note": "var(device error) / var(lab error) is about (17.5 / 9.5)^2 + "
                                    "bias heterogeneity, i.e. 4-6",
            },
            "overall": summary(self.cells["overall"]["ALL"]),
            "subgroups": subgroups,
        }


GENERATOR = BILIRUBIN = Bilirubin()
