"""Kind 2: new tumor diagnoses (ICD-10 C00-C97) at Guangzhou's oncology-capable facilities, 2022-2024.

Calibrated to reference/FACTS.md "Cancer in Guangzhou": the five commonest sites are lung,
colorectum, liver, breast and nasopharynx (NPC far above China's 1.3% share); male:female ratios of
oesophagus 4.8, liver 4.7, lung 2.2, NPC 2.1, thyroid 3.8x commoner in women, breast and cervix
female. The old-town districts (Yuexiu, Haizhu, Liwan) carry a heavier burden; in Conghua liver
cancer leads. Patients travel from their home district to a few tertiary centres and the cancer
hospital (F0402), which also draws patients from the rest of Guangdong (~10% of diagnoses). Travel
falls slowly over the years as district hospitals treat more of their own residents.

Crude incidence is ~270/100,000 (~50,000 a year city-wide); the demo generates a fraction.
About 6% of records repeat a patient at a second facility in the same quarter (REPEAT_SHARE), and
C44 (non-melanoma skin) codes fall in "other" sites: the truth reports patients (first record per
person and year) with C44 apart, as the product counts them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from data_products.contracts.person import completed_years
from data_products.contracts.tumor import COLUMNS, KIND, OUTSIDE
from data_products.hospital import identity
from data_products.hospital.kinds import Chunk, Kind, TruthAccumulator
from data_products.reference import districts, facilities

QUARTERS = pd.period_range("2022Q1", "2024Q4", freq="Q")
YEARS = (2022, 2023, 2024)
SIZES = {"demo": 25_000, "city": 150_000}

# Site -> (share of all new diagnoses, male share, age mean, age sd). Shares follow Guangzhou's
# ranking (lung > colorectum > liver > breast > NPC); male shares from the published M:F ratios.
SITES: dict[str, tuple[float, float, float, float]] = {
    "lung": (0.190, 2.2 / 3.2, 64.0, 11.0),
    "colorectum": (0.125, 1.4 / 2.4, 63.0, 12.0),
    "liver": (0.100, 4.7 / 5.7, 57.0, 11.0),
    "breast": (0.090, 0.0, 52.0, 11.0),
    "nasopharynx": (0.065, 2.1 / 3.1, 50.0, 11.0),
    "thyroid": (0.050, 1 / 4.8, 44.0, 12.0),
    "stomach": (0.045, 2.0 / 3.0, 62.0, 12.0),
    "prostate": (0.040, 1.0, 71.0, 8.0),
    "oesophagus": (0.030, 4.8 / 5.8, 65.0, 9.0),
    "cervix": (0.030, 0.0, 51.0, 11.0),
    "pancreas": (0.025, 1.4 / 2.4, 65.0, 10.0),
    "leukaemia": (0.025, 1.3 / 2.3, 48.0, 22.0),
    "other": (0.185, 0.5, 58.0, 15.0),
}
SITE_NAMES = tuple(SITES)
SITE_SHARE = np.array([v[0] for v in SITES.values()])
MALE_SHARE = np.array([v[1] for v in SITES.values()])

# ICD-10 codes as a hospital's coder writes them (4 characters where the category is subdivided),
# with relative frequencies within the site.
ICD10: dict[str, dict[str, float]] = {
    "lung": {"C34.1": 0.42, "C34.3": 0.22, "C34.0": 0.05, "C34.2": 0.06, "C34.8": 0.04, "C34.9": 0.205,
             "C33": 0.005},
    "colorectum": {"C18.7": 0.18, "C18.0": 0.05, "C18.2": 0.07, "C18.4": 0.04, "C18.6": 0.03, "C18.9": 0.08,
                   "C19": 0.10, "C20": 0.42, "C21.0": 0.01, "C21.1": 0.02},
    "liver": {"C22.0": 0.82, "C22.1": 0.12, "C22.9": 0.06},
    "breast": {"C50.4": 0.40, "C50.2": 0.12, "C50.1": 0.10, "C50.3": 0.06, "C50.5": 0.07, "C50.8": 0.08,
               "C50.9": 0.17},
    "nasopharynx": {"C11.9": 0.55, "C11.1": 0.15, "C11.2": 0.15, "C11.0": 0.05, "C11.8": 0.10},
    "thyroid": {"C73": 1.0},
    "stomach": {"C16.0": 0.15, "C16.2": 0.15, "C16.3": 0.25, "C16.9": 0.30, "C16.1": 0.05, "C16.5": 0.10},
    "prostate": {"C61": 1.0},
    "oesophagus": {"C15.3": 0.10, "C15.4": 0.45, "C15.5": 0.25, "C15.9": 0.20},
    "cervix": {"C53.0": 0.25, "C53.1": 0.10, "C53.9": 0.65},
    "pancreas": {"C25.0": 0.60, "C25.1": 0.15, "C25.2": 0.10, "C25.9": 0.15},
    "leukaemia": {"C92.0": 0.38, "C91.0": 0.20, "C91.1": 0.07, "C92.1": 0.15, "C93.0": 0.05, "C95.9": 0.15},
}
# Other sites by sex (ovary and endometrium only in women, testis only in men).
OTHER_ICD10 = {
    "M": {"C67.9": 0.20, "C64": 0.18, "C71.9": 0.12, "C83.3": 0.15, "C90.0": 0.10, "C32.9": 0.12,
          "C43.9": 0.03, "C62.9": 0.04, "C44.3": 0.06},
    "F": {"C56": 0.20, "C54.1": 0.22, "C67.9": 0.07, "C64": 0.10, "C71.9": 0.10, "C83.3": 0.12,
          "C90.0": 0.08, "C43.9": 0.03, "C44.3": 0.08},
}
STAGES = ("I", "II", "III", "IV", "")
STAGE_SHARE = {  # "" = not staged in the record (leukaemia is not TNM-staged)
    "default": (0.22, 0.20, 0.24, 0.26, 0.08),
    "thyroid": (0.60, 0.15, 0.12, 0.05, 0.08),
    "breast": (0.35, 0.35, 0.18, 0.06, 0.06),
    "lung": (0.18, 0.08, 0.22, 0.46, 0.06),
    "pancreas": (0.07, 0.10, 0.23, 0.52, 0.08),
    "leukaemia": (0.0, 0.0, 0.0, 0.0, 1.0),
}

# Burden relative to residents: the old town is older; Conghua carries a liver-cancer excess
# large enough that liver, not lung, leads there.
DISTRICT_BURDEN = {"440103": 1.35, "440104": 1.45, "440105": 1.30}
SITE_DISTRICT_MULT = {("440117", "liver"): 2.6}
OUTSIDE_SHARE = 0.10
YEAR_VOLUME = np.array([0.95, 1.00, 1.05])  # diagnoses grow with an ageing population

# Home addresses outside Guangzhou: (region code, prefix). None names a Guangzhou district.
OUTSIDE_PLACES = (
    (440606, "广东省佛山市顺德区"), (440605, "广东省佛山市南海区"), (440604, "广东省佛山市禅城区"),
    (441900, "广东省东莞市"), (442000, "广东省中山市"), (441802, "广东省清远市清城区"),
    (440203, "广东省韶关市武江区"), (441202, "广东省肇庆市端州区"), (440703, "广东省江门市蓬江区"),
    (440802, "广东省湛江市赤坎区"), (440902, "广东省茂名市茂南区"), (441402, "广东省梅州市梅江区"),
    (440511, "广东省汕头市金平区"), (441302, "广东省惠州市惠城区"), (441602, "广东省河源市源城区"),
    (440304, "广东省深圳市福田区"), (451402, "广西壮族自治区崇左市江州区"), (430104, "湖南省长沙市岳麓区"),
)

# Facility pull. Within the home district: every facility by its weight. Travel: to the tertiary
# centres (the cancer hospital most), elsewhere: any facility. NPC is treated by radiotherapy, which
# the cancer hospital concentrates.
FACILITY_WEIGHT = {("tertiary", "cancer"): 10.0, ("tertiary", "general"): 3.0, ("secondary", "general"): 1.0}
CANCER_CENTRE_SITE_PULL = {"nasopharynx": 2.5, "leukaemia": 0.6, "thyroid": 0.7}
LOCAL = {2022: 0.30, 2023: 0.35, 2024: 0.40}  # share treated in the home district (where possible)
ELSEWHERE = 0.08
OUTSIDE_TO_CANCER_CENTRE = 0.55  # of patients from outside the city, before the tertiary generals
# A share of each quarter's records is the same person diagnosed again at a second (tertiary)
# facility a few days to weeks later (referral, second opinion): the same identity, site and code.
# Records are therefore not people; the product counts distinct patients per year.
REPEAT_SHARE = 0.06
REPEAT_MAX_DAYS = 45


class Tumor(Kind):
    sizes = SIZES
    date_column = "diagnosis_date"
    name = KIND
    columns = COLUMNS

    def __init__(self) -> None:
        fac = facilities()
        depts = fac["departments"].str.split()
        keep = depts.map(lambda d: "oncology" in d) | ((fac["kind"] == "general") & fac["tier"].isin(["tertiary", "secondary"]))
        self._fac = fac[keep].reset_index(drop=True)
        self._fac["weight"] = [FACILITY_WEIGHT[(t, k)] for t, k in zip(self._fac["tier"], self._fac["kind"], strict=True)]
        d = districts()
        self._districts = d["adcode"].to_numpy(dtype=str)
        burden = d["adcode"].map(DISTRICT_BURDEN).fillna(1.0).to_numpy()
        home = d["population_2023"].to_numpy() * burden
        self._home_share = np.append((1 - OUTSIDE_SHARE) * home / home.sum(), OUTSIDE_SHARE)
        self._homes = np.append(self._districts, OUTSIDE)
        # P(site | home): base shares, times district-specific excesses.
        rows = []
        for h in self._homes:
            w = SITE_SHARE * np.array([SITE_DISTRICT_MULT.get((h, s), 1.0) for s in SITE_NAMES])
            rows.append(w / w.sum())
        self._site_given_home = np.array(rows)

    def producers(self) -> list[str]:
        return list(self._fac["facility_id"])


    def routing(self, home: str, site: str, year: int) -> np.ndarray:
        """P(facility | home district or 'outside', site, year), over self._fac's rows."""
        w = self._fac["weight"].to_numpy().copy()
        cancer = (self._fac["kind"] == "cancer").to_numpy()
        w[cancer] *= CANCER_CENTRE_SITE_PULL.get(site, 1.0)
        tertiary = (self._fac["tier"] == "tertiary").to_numpy()
        if home == OUTSIDE:
            p = OUTSIDE_TO_CANCER_CENTRE * cancer / cancer.sum()
            p = p + (1 - OUTSIDE_TO_CANCER_CENTRE - ELSEWHERE) * np.where(tertiary & ~cancer, w, 0) / w[tertiary & ~cancer].sum()
        else:
            local = np.where(self._fac["district"].to_numpy() == home, w, 0.0)
            travel = np.where(tertiary, w, 0.0)
            share_local = LOCAL[year] if local.sum() else 0.0
            p = share_local * local / max(local.sum(), 1e-12)
            p = p + (1 - share_local - ELSEWHERE) * travel / travel.sum()
        p = p + ELSEWHERE * w / w.sum()
        return p / p.sum()

    def quarter_counts(self, n: int) -> np.ndarray:
        vol = np.repeat(YEAR_VOLUME, 4)
        raw = n * vol / vol.sum()
        counts = np.floor(raw).astype(int)
        counts[np.argsort(raw - counts)[::-1][: n - counts.sum()]] += 1
        return counts

    def chunks(self, seed: int, n: int) -> Iterator[Chunk]:
        ids = identity.IdAllocator()
        for i, (period, count) in enumerate(zip(QUARTERS, self.quarter_counts(n), strict=True)):
            rng = np.random.default_rng([seed, 2, i])  # kind 2, chunk i
            yield self._quarter(rng, period, int(count), ids)

    def _quarter(self, rng: np.random.Generator, period: pd.Period, n_rows: int, ids: identity.IdAllocator) -> Chunk:
        year = period.year
        n_repeat = int(round(REPEAT_SHARE * n_rows))
        n = n_rows - n_repeat
        home_idx = rng.choice(len(self._homes), size=n, p=self._home_share)
        site_idx = np.empty(n, dtype=np.int64)
        fac_idx = np.empty(n, dtype=np.int64)
        for hi in range(len(self._homes)):
            sel = np.flatnonzero(home_idx == hi)
            site_idx[sel] = rng.choice(len(SITE_NAMES), size=sel.size, p=self._site_given_home[hi])
        for hi, h in enumerate(self._homes):
            for si, s in enumerate(SITE_NAMES):
                sel = np.flatnonzero((home_idx == hi) & (site_idx == si))
                if sel.size:
                    fac_idx[sel] = rng.choice(len(self._fac), size=sel.size, p=self.routing(h, s, year))
        home = self._homes[home_idx]
        site = np.array(SITE_NAMES)[site_idx]
        male = rng.random(n) < MALE_SHARE[site_idx]
        sex = np.where(male, "M", "F")

        mean = np.array([SITES[s][2] for s in SITE_NAMES])[site_idx]
        sd = np.array([SITES[s][3] for s in SITE_NAMES])[site_idx]
        age = np.clip(np.round(mean + sd * rng.standard_normal(n)), 18, 95).astype(int)
        child = (site == "leukaemia") & (rng.random(n) < 0.12)  # childhood leukaemia
        age = np.where(child, rng.integers(1, 15, size=n), age)
        age = np.where(site == "thyroid", np.clip(age, 15, 95), age)

        start = pd.Timestamp(period.start_time).to_datetime64().astype("datetime64[D]")
        day = rng.integers(0, period.end_time.day_of_year - period.start_time.day_of_year + 1, size=n)
        diag = pd.Series(start + day.astype("timedelta64[D]")).astype("datetime64[s]")
        lo = np.ceil(365.25 * age) + 1
        hi = np.floor(365.25 * (age + 1)) - 2
        days_old = (lo + np.floor(rng.random(n) * (hi - lo + 1))).astype("int64")
        birth = (diag - pd.to_timedelta(days_old, unit="D")).astype("datetime64[s]")
        age_y = completed_years(birth, diag)

        codes = np.empty(n, dtype=object)
        for s in SITE_NAMES:
            if s == "other":
                for sx in ("M", "F"):
                    sel = np.flatnonzero((site == s) & (sex == sx))
                    table = OTHER_ICD10[sx]
                    w = np.array(list(table.values()))
                    codes[sel] = rng.choice(list(table), size=sel.size, p=w / w.sum())
            else:
                sel = np.flatnonzero(site == s)
                w = np.array(list(ICD10[s].values()))
                codes[sel] = rng.choice(list(ICD10[s]), size=sel.size, p=w / w.sum())
        stage = np.empty(n, dtype=object)
        for s in SITE_NAMES:
            sel = np.flatnonzero(site == s)
            p = np.array(STAGE_SHARE.get(s, STAGE_SHARE["default"]))
            stage[sel] = rng.choice(STAGES, size=sel.size, p=p / p.sum())

        outside = home == OUTSIDE
        place = rng.integers(0, len(OUTSIDE_PLACES), size=n)
        gz_code = pd.to_numeric(pd.Series(np.where(outside, "440100", home))).to_numpy(dtype=np.int64)
        region = np.where(outside, np.array([c for c, _ in OUTSIDE_PLACES])[place], gz_code)
        gz_addr = identity.addresses(rng, np.where(outside, self._districts[0], home))
        # The same street, number and flat under the other city's prefix (drop "广州市荔湾区").
        tail = np.char.partition(gz_addr.astype(str), "区")[:, 2]
        out_addr = np.char.add(np.array([p for _, p in OUTSIDE_PLACES])[place], tail)
        address = np.where(outside, out_addr, gz_addr)
        # Residents' IDs may be issued elsewhere (hukou); an outside patient's ID is always from home.
        id_card = np.empty(n, dtype="<U18")
        for sel, share in ((np.flatnonzero(~outside), 0.55), (np.flatnonzero(outside), 1.0)):
            if sel.size:
                id_card[sel] = ids.issue(rng, birth.iloc[sel].reset_index(drop=True), male[sel], region[sel],
                                         local_share=share)

        facility = self._fac["facility_id"].to_numpy(dtype=str)[fac_idx]
        fresh = pd.DataFrame({
            "facility_id": facility,
            "patient_name": identity.names(rng, n),
            "id_card": id_card,
            "phone": identity.mobiles(rng, n),
            "address": address,
            "birth_date": birth.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            "sex": sex,
            "diagnosis_date": diag.dt.strftime("%Y-%m-%d").to_numpy(dtype=str),
            "icd10": codes.astype(str),
            "stage": stage.astype(str),
        })
        latent = pd.DataFrame({"home_district": home, "site": site, "age_years": age_y, "year": year,
                               "quarter": str(period), "repeat": False,
                               "c44": pd.Series(codes.astype(str)).str.startswith("C44").to_numpy()})
        # Repeats: a person seen again at another tertiary facility, strictly later in the same quarter
        # (so the first record of the person's year is always the original).
        last = pd.Timestamp(period.end_time).normalize()
        days_left = (last - diag).dt.days.to_numpy()
        eligible = np.flatnonzero(days_left >= 1)
        rep = np.sort(rng.choice(eligible, size=min(n_repeat, eligible.size), replace=False))
        tertiary = np.flatnonzero((self._fac["tier"] == "tertiary").to_numpy())
        w = self._fac["weight"].to_numpy()[tertiary]
        pick = rng.choice(tertiary.size, size=rep.size, p=w / w.sum())
        same = tertiary[pick] == fac_idx[rep]
        pick = np.where(same, (pick + 1) % tertiary.size, pick)
        later = 1 + np.floor(rng.random(rep.size) * np.minimum(REPEAT_MAX_DAYS, days_left[rep])).astype(int)
        again = fresh.iloc[rep].copy()
        again["facility_id"] = self._fac["facility_id"].to_numpy(dtype=str)[tertiary[pick]]
        again["diagnosis_date"] = (diag.iloc[rep] + pd.to_timedelta(later, unit="D")).dt.strftime("%Y-%m-%d").to_numpy()
        raw = pd.concat([fresh, again], ignore_index=True)
        latent = pd.concat([latent, latent.iloc[rep].assign(repeat=True)], ignore_index=True)
        order = np.lexsort((np.arange(len(raw)), raw["diagnosis_date"].to_numpy()))
        raw = raw.iloc[order].reset_index(drop=True)
        seq = raw.groupby("facility_id", sort=False).cumcount() + 1
        raw.insert(1, "diagnosis_id", f"ZL{year:04d}Q{period.quarter}" + seq.map("{:05d}".format))
        raw = raw[list(COLUMNS)]
        return Chunk(raw=raw, latent=latent.iloc[order].reset_index(drop=True))

    def truth_accumulator(self, seed: int, n: int) -> TruthAccumulator:
        return _TumorTruth(self, seed, n)


class _TumorTruth(TruthAccumulator):
    def __init__(self, kind: Tumor, seed: int, n: int) -> None:
        self.kind, self.seed, self.n = kind, seed, n
        self.frames: list[pd.DataFrame] = []

    def add(self, chunk: Chunk) -> None:
        lat = chunk.latent
        self.frames.append(pd.DataFrame({
            "facility_id": chunk.raw["facility_id"].to_numpy(), "sex": chunk.raw["sex"].to_numpy(),
            "home": lat["home_district"].to_numpy(), "site": lat["site"].to_numpy(), "year": lat["year"].to_numpy(),
            "repeat": lat["repeat"].to_numpy(), "c44": lat["c44"].to_numpy(),
        }))

    def result(self) -> dict:
        records = pd.concat(self.frames, ignore_index=True) if self.frames else pd.DataFrame(
            columns=["facility_id", "sex", "home", "site", "year", "repeat", "c44"])
        k = self.kind
        # What the product counts: each person once per year (the first record; repeats are later in
        # the same quarter), C44 apart from the totals.
        c44 = records[~records["repeat"].astype(bool) & records["c44"].astype(bool)]
        df = records[~records["repeat"].astype(bool) & ~records["c44"].astype(bool)].reset_index(drop=True)
        total = len(df)
        fac_district = k._fac.set_index("facility_id")["district"]
        df["facility_district"] = df["facility_id"].map(fac_district)
        by_site = df["site"].value_counts()
        sex_counts = df.groupby(["site", "sex"]).size().unstack(fill_value=0).reindex(columns=["M", "F"], fill_value=0)
        ratios = {}
        for s, row in sex_counts.iterrows():
            ratios[s] = {"M": int(row["M"]), "F": int(row["F"]),
                         "m_to_f": round(row["M"] / row["F"], 4) if row["F"] else None,
                         "f_to_m": round(row["F"] / row["M"], 4) if row["M"] else None}
        per_fac = df["facility_id"].value_counts()
        top5 = per_fac.head(5)
        inside = df[df["home"] != OUTSIDE]
        leave = (inside.assign(left=inside["home"] != inside["facility_district"])
                 .groupby(["site", "home", "year"])["left"].agg(["sum", "size"]))
        leaving: dict = defaultdict(lambda: defaultdict(dict))
        for (s, h, y), r in leave.iterrows():
            leaving[s][h][str(y)] = {"left": int(r["sum"]), "patients": int(r["size"])}
        leave_all = inside.assign(left=inside["home"] != inside["facility_district"]).groupby("home")["left"].mean()
        top_by_site = {s: g["facility_id"].value_counts().head(5).index.tolist() for s, g in df.groupby("site")}
        by_site_facility = {s: {f: int(c) for f, c in g["facility_id"].value_counts().items()}
                            for s, g in df.groupby("site")}
        top_site_by_home = {h: g["site"].value_counts().index[0] for h, g in df.groupby("home")}
        return {
            "kind": "tumor",
            "seed": self.seed,
            "n_requested": self.n,
            "period": [str(QUARTERS[0]), str(QUARTERS[-1])],
            "targets": {
                "top5_sites": ["lung", "colorectum", "liver", "breast", "nasopharynx"],
                "m_to_f": {"oesophagus": 4.8, "liver": 4.7, "lung": 2.2, "nasopharynx": 2.1},
                "f_to_m": {"thyroid": 3.8},
                "female_only": ["breast", "cervix"],
                "crude_incidence_per_100k": 270,
                "conghua_top_site": "liver",
                "outside_city_share": OUTSIDE_SHARE,
            },
            "parameters": {
                "repeat_share": REPEAT_SHARE,
                "site_share": dict(zip(SITE_NAMES, SITE_SHARE.tolist(), strict=True)),
                "male_share": dict(zip(SITE_NAMES, MALE_SHARE.round(6).tolist(), strict=True)),
                "home_share": dict(zip(k._homes, np.round(k._home_share, 6).tolist(), strict=True)),
                "district_burden": DISTRICT_BURDEN,
                "site_district_multiplier": {f"{h}|{s}": m for (h, s), m in SITE_DISTRICT_MULT.items()},
                "facility_weight": {f"{t}|{kk}": w for (t, kk), w in FACILITY_WEIGHT.items()},
                "cancer_centre_site_pull": CANCER_CENTRE_SITE_PULL,
                "local_share_by_year": LOCAL,
                "elsewhere": ELSEWHERE,
                "outside_to_cancer_centre": OUTSIDE_TO_CANCER_CENTRE,
                "year_volume": dict(zip(map(str, YEARS), YEAR_VOLUME.tolist(), strict=True)),
                "producers": k.producers(),
            },
            "realised": {
                "unit": "patients: first record per person and year, C44 excluded (reported apart)",
                "n_records": int(len(records)),
                "n_repeat_records": int(records["repeat"].astype(bool).sum()),
                "c44_patients": int(len(c44)),
                "c44_by_year": {str(y): int(c) for y, c in c44["year"].value_counts().sort_index().items()},
                "n_diagnoses": total,
                "by_site": {s: int(by_site.get(s, 0)) for s in SITE_NAMES},
                "site_share": {s: round(int(by_site.get(s, 0)) / total, 6) for s in SITE_NAMES} if total else {},
                "site_ranking": by_site.index.tolist(),
                "sex_by_site": ratios,
                "by_facility": {f: int(c) for f, c in per_fac.items()},
                "top5_facilities": top5.index.tolist(),
                "top5_share": round(int(top5.sum()) / total, 6) if total else None,
                "top5_facilities_by_site": top_by_site,
                "by_site_facility": by_site_facility,
                "outside_city_share": round(float((df["home"] == OUTSIDE).mean()), 6) if total else None,
                "outside_patients_by_year": {str(y): int(c) for y, c in
                                             df[df["home"] == OUTSIDE]["year"].value_counts().sort_index().items()},
                "residents_leaving_share": round(float((inside["home"] != inside["facility_district"]).mean()), 6)
                if len(inside) else None,
                "all_patients_not_treated_at_home_share": round(float(
                    ((df["home"] == OUTSIDE) | (df["home"] != df["facility_district"])).mean()), 6) if total else None,
                "by_year": {str(y): int(c) for y, c in df["year"].value_counts().sort_index().items()},
                "share_leaving_home_district": {h: round(float(v), 6) for h, v in leave_all.items()},
                "leaving_by_site_home_year": {s: dict(v) for s, v in leaving.items()},
                "top_site_by_home": top_site_by_home,
            },
        }


GENERATOR = TUMOR = Tumor()
