"""Kind 3: outpatient visits with their queue timestamps (check-in, call, consultation start and end).

Calibrated to reference/FACTS.md "Outpatient waiting": median consultation 10 min (IQR 5-12);
appointments cut the wait before consultation from about 18.5 to about 10 min (tertiary hospitals).

The wait before consultation (consultation start - check-in) is multiplicative::

    wait = M[type] * tier * dept * weekday[dept] * hour[dept] * doctor * load ** QUEUE_POWER * exp(SIGMA * z)

``load`` is the queue term: the visits the same doctor takes in the same hour of the same day,
over the visit-weighted average of that count in the chunk, so a crowded session waits longer.
Every factor has median 1 over visits (roughly), so M[type] is close to the realised median.
Doctors keep a weekly roster and a personal pace drawn once per facility from the seed, so the
same doctor behaves alike in every week (what makes per-doctor figures and held-out weeks
meaningful).

Span and facilities follow the size asked for: up to ``CITY_FROM`` visits the demo network of
five facilities over ``DEMO_WEEKS`` weeks; from there every facility with outpatient departments,
over ``n / CITY_WEEKLY`` weeks (10 to 52; the city's 187 million visits fill 2024).
Chunks are one facility-week each, so memory stays bounded at any scale; ``write`` streams them to
the extracts through Arrow's CSV writer (the product's one generator: the CLI and the benchmark run it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_products.contracts.visits import COLUMNS, KIND, VISIT_TYPES
from data_products.hospital import identity
from data_products.hospital.kinds import Chunk, CsvFiles, Kind, StringPool, TruthAccumulator
from data_products.reference import districts, facilities

SIZES = {"demo": 200_000, "city": 187_000_000}
CITY_VISITS_PER_YEAR = 187_000_000
CITY_WEEKLY = CITY_VISITS_PER_YEAR / 52
CITY_FROM = 1_000_000
DEMO_WEEKS = 10
DEMO_START = "2024-09-02"  # a Monday
CITY_START = "2024-01-01"  # a Monday
DEMO_FACILITIES = ("F0301", "F0401", "F0403", "F0602", "F0303")
# A&E is triage, not an appointment queue: it is not in the outpatient extracts.
EXCLUDED_DEPARTMENTS = ("emergency",)

TARGETS = {"consult_median_min": 10.0, "consult_iqr_min": [5.0, 12.0],
           "wait_median_min": {"APPT": 10.0, "WALKIN": 18.5}}

# --- generating parameters -------------------------------------------------------------------

WAIT_MEDIAN = {"APPT": 10.0, "WALKIN": 18.5}
APPT_SHARE = {"tertiary": 0.60, "secondary": 0.45, "chc": 0.25}
TIER_FACTOR = {"tertiary": 1.0, "secondary": 0.8, "chc": 0.6}
TIER_VOLUME = {"tertiary": 10.0, "secondary": 4.0, "chc": 1.5}
DOCTORS = {"tertiary": 8, "secondary": 5, "chc": 3}
# (visit share weight, wait factor)
DEPARTMENT = {
    "internal_medicine": (3.0, 1.15), "surgery": (1.5, 0.9), "pediatrics": (2.0, 1.25),
    "pediatric_respiratory": (1.5, 1.35), "neonatology": (0.4, 0.8), "obstetrics": (1.2, 1.1),
    "gynaecology": (1.2, 1.0), "oncology": (1.0, 1.3), "radiotherapy": (0.4, 0.7), "respiratory": (1.5, 1.2),
    "ophthalmology": (1.0, 1.0), "tcm": (2.0, 0.9), "acupuncture": (0.8, 0.7), "general_practice": (3.0, 0.8),
    "child_health": (1.0, 0.7), "elderly_care": (1.0, 0.75),
}
WEEKDAY_VOLUME = np.array([1.25, 1.10, 1.0, 1.0, 0.95, 0.45, 0.30])   # Monday..Sunday
WEEKDAY_WAIT = np.array([1.30, 1.10, 1.0, 0.95, 0.95, 0.85, 0.80])
HOURS = np.array([8, 9, 10, 11, 14, 15, 16, 17])
HOUR_VOLUME = np.array([1.4, 1.5, 1.2, 0.7, 0.9, 1.0, 0.7, 0.3])
HOUR_WAIT = np.array([1.15, 1.30, 1.20, 0.95, 0.90, 1.05, 0.90, 0.70])
# Department-specific wrinkle on the weekday/hour pattern (sd on the log scale), drawn per facility.
PATTERN_SD = 0.10
DOCTOR_SD = 0.25          # doctor pace, log scale
ON_DUTY = 0.6             # chance a doctor holds a given half-day session
QUEUE_POWER = 0.5
SIGMA = 0.55              # visit-level noise, log scale: the right skew
CONSULT = (5.0, 10.0, 12.0)  # quartiles of the consultation (two-piece log-normal)
CONSULT_LIMITS = (1.0, 90.0)
WALK_MIN = (0.5, 4.0)     # called -> in the room
VISITS_PER_PATIENT = 1.6
POOL_MAX = 2_000_000

_Z75 = 0.6744897501960817


def outpatient_departments(departments: str) -> list[str]:
    return [d for d in departments.split() if d not in EXCLUDED_DEPARTMENTS and d in DEPARTMENT]


def span(n: int) -> tuple[pd.Timestamp, int]:
    """First day (a Monday) and number of weeks generated for n visits."""
    if n < CITY_FROM:
        return pd.Timestamp(DEMO_START), DEMO_WEEKS
    return pd.Timestamp(CITY_START), int(min(52, max(DEMO_WEEKS, round(n / CITY_WEEKLY))))


class Visits(Kind):
    name = KIND
    columns = COLUMNS

    def __init__(self) -> None:
        fac = facilities()
        fac["outpatient"] = fac["departments"].map(outpatient_departments)
        self._all = fac[fac["outpatient"].map(len) > 0].reset_index(drop=True)

    def network(self, n: int) -> pd.DataFrame:
        fac = self._all if n >= CITY_FROM else self._all[self._all["facility_id"].isin(DEMO_FACILITIES)]
        return fac.reset_index(drop=True)

    def producers(self) -> list[str]:
        return list(self._all["facility_id"])

    def size(self, scale: str) -> int:
        try:
            return SIZES[scale]
        except KeyError:
            raise ValueError(f"unknown scale {scale!r}; use one of {sorted(SIZES)}") from None

    def file_year(self, raw: pd.DataFrame) -> pd.Series:
        return raw["registration_time"].str.slice(0, 4).astype(int)

    # --- fixed per-facility structure -------------------------------------------------------

    def facility_plan(self, seed: int, fi: int, row: pd.Series) -> dict:
        """Departments, their doctors (staff codes, pace, roster) and pattern wrinkles: fixed per seed."""
        rng = np.random.default_rng([seed, 3, 1000 + fi])
        depts = row["outpatient"]
        n_doc = DOCTORS[row["tier"]]
        plan = {"depts": depts, "share": np.array([DEPARTMENT[d][0] for d in depts]), "doctors": {}}
        plan["share"] = plan["share"] / plan["share"].sum()
        staff = rng.choice(9000, size=n_doc * len(depts), replace=False) + 1000
        for di, d in enumerate(depts):
            codes = np.array([f"YS{s:04d}" for s in staff[di * n_doc:(di + 1) * n_doc]])
            pace = np.exp(DOCTOR_SD * rng.standard_normal(n_doc))
            popularity = rng.gamma(4.0, 1.0, size=n_doc)
            roster = rng.random((7, 2, n_doc)) < ON_DUTY
            roster[np.arange(7), :, rng.integers(0, n_doc, size=7)] = True  # every session staffed
            wrinkle_w = np.exp(PATTERN_SD * rng.standard_normal(7))
            wrinkle_h = np.exp(PATTERN_SD * rng.standard_normal(len(HOURS)))
            plan["doctors"][d] = {"codes": codes, "pace": pace, "popularity": popularity, "roster": roster,
                                  "weekday": WEEKDAY_WAIT * wrinkle_w, "hour": HOUR_WAIT * wrinkle_h}
        return plan

    def _pool(self, seed: int, n: int) -> dict[str, np.ndarray]:
        """The patients who visit: drawn once per run, each visits about VISITS_PER_PATIENT times."""
        size = int(min(POOL_MAX, max(5_000, n / VISITS_PER_PATIENT)))
        rng = np.random.default_rng([seed, 3, 0])
        d = districts()
        home = rng.choice(d["adcode"].to_numpy(dtype=np.int64), size=size, p=(d["population_2023"] / d["population_2023"].sum()).to_numpy())
        days_old = rng.integers(30, 90 * 365, size=size)
        birth = (pd.Timestamp(DEMO_START) - pd.to_timedelta(days_old, unit="D")).to_series().reset_index(drop=True)
        male = rng.random(size) < 0.48
        return {
            "patient_name": identity.names(rng, size),
            "id_card": identity.IdAllocator().issue(rng, birth.astype("datetime64[s]"), male, home, as_bytes=True),
            "phone": identity.mobiles(rng, size, as_bytes=True),
        }

    def weeks(self, seed: int, n: int) -> Iterator[tuple[pa.Table, dict[str, np.ndarray]]]:
        """The stream every consumer reads: one facility-week at a time, as (extract rows, latent truth).

        The rows are Arrow columns in the contract's order (times as timestamps); a facility-week's
        random draws come from its own generator, so the stream does not depend on how it is batched."""
        start, weeks = span(n)
        net = self.network(n)
        vol = net["tier"].map(TIER_VOLUME).to_numpy() * net["outpatient"].map(len).to_numpy()
        per_fac = _largest_remainder(n * vol / vol.sum())
        plans = [self.facility_plan(seed, int(fi), row) for fi, row in net.iterrows()]
        strings = {k: StringPool(v) for k, v in self._pool(seed, n).items()}
        for w in range(weeks):
            for fi, row in net.iterrows():
                count = int(per_fac[fi] // weeks + (1 if w < per_fac[fi] % weeks else 0))
                if count == 0:
                    continue
                rng = np.random.default_rng([seed, 3, w, int(fi)])  # kind 3, week w, facility fi
                yield self._week(rng, row, plans[fi], start + pd.Timedelta(weeks=w), w, count, strings)

    def chunks(self, seed: int, n: int) -> Iterator[Chunk]:
        for table, latent in self.weeks(seed, n):
            raw = table.cast(pa.schema([(c, pa.string()) for c in table.column_names])).to_pandas(
                types_mapper={pa.string(): pd.StringDtype(na_value=np.nan)}.get)
            yield Chunk(raw=raw, latent=pd.DataFrame(latent))

    def write(self, seed: int, n: int, root: Path, chunk_rows: int,
              progress: Callable[[int], None] | None = None) -> tuple[list[Path], int, TruthAccumulator]:
        """Stream the extracts to ``root/<facility>/visits_<YYYY>.csv``: facility-weeks are buffered
        until ``chunk_rows`` rows wait, then written in order, so memory is bounded by the chunk and
        the bytes do not depend on it."""
        truth = self.truth_accumulator(seed, n)
        sink = CsvFiles(root, self.name, self.columns, chunk_rows)
        total = 0
        try:
            for table, latent in self.weeks(seed, n):
                truth.add_arrays(table, latent)
                reg = table.column("registration_time").to_numpy()
                years = reg.astype("datetime64[Y]").astype(int) + 1970
                facility = table.column("facility_id")[0].as_py()
                # Rows come sorted by check-in: each year is one contiguous slice.
                cuts = np.flatnonzero(years[1:] != years[:-1]) + 1
                for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(years)], strict=True):
                    sink.add(facility, int(years[lo]), table.slice(int(lo), int(hi - lo)))
                total += table.num_rows
                if progress:
                    progress(table.num_rows)
        finally:
            sink.close()
        return sink.files(), total, truth

    def week_arrays(self, rng: np.random.Generator, fac: pd.Series, plan: dict, monday: pd.Timestamp,
                    n: int, pool_size: int) -> dict[str, np.ndarray]:
        """One facility-week as typed arrays, sorted by check-in (the model; no text formatting)."""
        depts = plan["depts"]
        dept_i = rng.choice(len(depts), size=n, p=plan["share"])
        wd = rng.choice(7, size=n, p=WEEKDAY_VOLUME / WEEKDAY_VOLUME.sum())
        hi = rng.choice(len(HOURS), size=n, p=HOUR_VOLUME / HOUR_VOLUME.sum())
        session = (HOURS[hi] >= 12).astype(int)
        n_doc = len(plan["doctors"][depts[0]]["codes"])
        codes = np.concatenate([plan["doctors"][d]["codes"] for d in depts]).astype(object)
        pace_all = np.concatenate([plan["doctors"][d]["pace"] for d in depts])
        # Visits grouped by (department, weekday, session) in one stable sort: each group's slice holds
        # its indices in ascending order, and groups are visited in the order the draws were defined.
        group = (dept_i * 7 + wd) * 2 + session
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(len(depts) * 14 + 1))
        doc_ix = np.empty(n, dtype=np.int64)
        for g in np.flatnonzero(np.diff(bounds)):
            sel = order[bounds[g]:bounds[g + 1]]
            di, rest = divmod(int(g), 14)
            s_wd, s = divmod(rest, 2)
            doc = plan["doctors"][depts[di]]
            on = np.flatnonzero(doc["roster"][s_wd, s])
            p = doc["popularity"][on] / doc["popularity"][on].sum()
            doc_ix[sel] = di * n_doc + on[rng.choice(on.size, size=sel.size, p=p)]
        doctor = codes[doc_ix]
        pace = pace_all[doc_ix]
        w_tab = np.stack([plan["doctors"][d]["weekday"] for d in depts])
        h_tab = np.stack([plan["doctors"][d]["hour"] for d in depts])
        pattern = w_tab[dept_i, wd] * h_tab[dept_i, hi]
        # Queue term: this doctor's visits in the same hour of the same day, relative to the usual.
        _, inverse, counts = np.unique(doc_ix * 1000 + wd * 100 + hi, return_inverse=True, return_counts=True)
        same = counts[inverse].astype(float)
        load = same / (np.sum(same * same) / np.sum(same))
        appt = rng.random(n) < APPT_SHARE[fac["tier"]]
        dept_f = np.array([DEPARTMENT[d][1] for d in depts])[dept_i]
        median = (np.where(appt, WAIT_MEDIAN["APPT"], WAIT_MEDIAN["WALKIN"]) * TIER_FACTOR[fac["tier"]] * dept_f
                  * pattern * pace * load ** QUEUE_POWER)
        wait = np.clip(median * np.exp(SIGMA * rng.standard_normal(n)), 1.0, 600.0)
        z = rng.standard_normal(n)
        med, s_lo, s_hi = _two_piece(*CONSULT)
        consult = np.clip(med * np.exp(z * np.where(z < 0, s_lo, s_hi)), *CONSULT_LIMITS)
        walk = np.minimum(rng.uniform(*WALK_MIN, size=n), 0.5 * wait)

        day = monday + pd.to_timedelta(wd, unit="D")
        reg = (day + pd.to_timedelta(HOURS[hi] * 3600 + rng.integers(0, 3600, size=n), unit="s")).to_numpy("datetime64[s]")
        start = reg + np.round(wait * 60).astype("timedelta64[s]")
        call = start - np.round(walk * 60).astype("timedelta64[s]")
        end = start + np.round(consult * 60).astype("timedelta64[s]")
        order = np.lexsort((np.arange(n), reg))
        who = rng.integers(0, pool_size, size=n)
        out = {"dept_i": dept_i, "doctor": doctor, "doc_ix": doc_ix, "appt": appt, "who": who, "reg": reg, "call": call, "start": start,
               "end": end, "wait_min": np.round(wait * 60) / 60, "expected_median_min": median, "load": load,
               "consult_min": np.round(consult * 60) / 60}
        return {k: v[order] for k, v in out.items()}

    def _week(self, rng: np.random.Generator, fac: pd.Series, plan: dict, monday: pd.Timestamp, w: int,
              n: int, pool: dict[str, StringPool]) -> tuple[pa.Table, dict[str, np.ndarray]]:
        a = self.week_arrays(rng, fac, plan, monday, n, len(pool["id_card"]))
        who = a["who"]
        serial = pc.utf8_lpad(pa.array(np.arange(1, n + 1, dtype=np.int64)).cast(pa.string()), 6, "0")
        table = pa.table({
            "facility_id": pa.repeat(pa.scalar(fac["facility_id"], pa.string()), n),
            "visit_id": pc.binary_join_element_wise(f"MZ{monday.year:04d}W{w + 1:02d}", serial, ""),
            **{k: pool[k].take(who) for k in ("patient_name", "id_card", "phone")},
            "department": _coded(a["dept_i"], plan["depts"]),
            "doctor_id": _coded(a["doc_ix"], np.concatenate([plan["doctors"][d]["codes"] for d in plan["depts"]])),
            "visit_type": _coded(np.where(a["appt"], 0, 1), VISIT_TYPES),
            "registration_time": pa.array(a["reg"]),
            "call_time": pa.array(a["call"]),
            "consult_start": pa.array(a["start"]),
            "consult_end": pa.array(a["end"]),
        })
        latent = {k: a[k] for k in ("wait_min", "expected_median_min", "load", "consult_min")}
        latent["week"] = np.full(n, w)
        return table, latent

    def truth_accumulator(self, seed: int, n: int) -> TruthAccumulator:
        return _VisitsTruth(self, seed, n)


def _two_piece(q1: float, med: float, q3: float) -> tuple[float, float, float]:
    return med, float(np.log(med / q1) / _Z75), float(np.log(q3 / med) / _Z75)


def _coded(index: np.ndarray, values) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), pa.array(list(values), pa.string())).cast(
        pa.string())


def _largest_remainder(raw: np.ndarray) -> np.ndarray:
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(raw - counts)[::-1][: int(round(raw.sum())) - counts.sum()]] += 1
    return counts


class _Histogram:
    """Quantiles at bounded memory: 6-second bins up to 10 hours."""

    BINS = 6000

    def __init__(self) -> None:
        self.h = np.zeros(self.BINS + 1, dtype=np.int64)

    def add(self, minutes: np.ndarray) -> None:
        idx = np.clip(np.round(np.asarray(minutes) * 10).astype(np.int64), 0, self.BINS)
        self.h += np.bincount(idx, minlength=self.BINS + 1)

    def quantile(self, q: float) -> float | None:
        total = self.h.sum()
        if total == 0:
            return None
        return float(np.searchsorted(np.cumsum(self.h), q * total) / 10)


class _VisitsTruth(TruthAccumulator):
    def __init__(self, kind: Visits, seed: int, n: int) -> None:
        self.kind, self.seed, self.n = kind, seed, n
        self.wait = defaultdict(_Histogram)
        self.consult = _Histogram()
        self.count: dict[str, defaultdict] = defaultdict(lambda: defaultdict(int))

    def add(self, chunk: Chunk) -> None:
        raw, lat = chunk.raw, chunk.latent
        self._add(raw["visit_type"].to_numpy(dtype=object),
                  *([{"values": k, "counts": c} for k, c in raw[col].value_counts().items()]
                    for col in ("facility_id", "department")), lat)

    def add_arrays(self, table: pa.Table, latent: dict[str, np.ndarray]) -> None:
        visit_type = table.column("visit_type").to_numpy(zero_copy_only=False)
        self._add(visit_type, *(pc.value_counts(table.column(c)).to_pylist() for c in ("facility_id", "department")),
                  latent)

    def _add(self, visit_type: np.ndarray, facility: list[dict], department: list[dict], lat) -> None:
        wait = np.asarray(lat["wait_min"])
        for t in VISIT_TYPES:
            sel = visit_type == t
            self.wait[t].add(wait[sel])
            self.count["by_type"][t] += int(sel.sum())
        self.wait["all"].add(wait)
        self.consult.add(np.asarray(lat["consult_min"]))
        for dim, counts in (("by_facility", facility), ("by_department", department)):
            for vc in counts:
                self.count[dim][str(vc["values"])] += int(vc["counts"])

    def result(self) -> dict:
        start, weeks = span(self.n)
        return {
            "kind": "visits",
            "seed": self.seed,
            "n_requested": self.n,
            "period": [str(start.date()), str((start + pd.Timedelta(weeks=weeks, days=-1)).date())],
            "weeks": weeks,
            "facilities": list(self.kind.network(self.n)["facility_id"]),
            "targets": TARGETS,
            "parameters": {
                "wait_median_min": WAIT_MEDIAN, "appointment_share": APPT_SHARE, "tier_factor": TIER_FACTOR,
                "department": {d: {"volume": v, "wait_factor": f} for d, (v, f) in DEPARTMENT.items()},
                "weekday_volume": WEEKDAY_VOLUME.tolist(), "weekday_wait": WEEKDAY_WAIT.tolist(),
                "hours": HOURS.tolist(), "hour_volume": HOUR_VOLUME.tolist(), "hour_wait": HOUR_WAIT.tolist(),
                "pattern_sd": PATTERN_SD, "doctor_sd": DOCTOR_SD, "doctors_per_department": DOCTORS,
                "on_duty": ON_DUTY, "queue_power": QUEUE_POWER, "sigma": SIGMA,
                "consult_quartiles_min": list(CONSULT), "walk_min": list(WALK_MIN),
            },
            "realised": {
                "visits": {dim: dict(sorted(v.items())) for dim, v in self.count.items()},
                "wait_median_min": {t: self.wait[t].quantile(0.5) for t in (*VISIT_TYPES, "all")},
                "wait_p90_min": {t: self.wait[t].quantile(0.9) for t in (*VISIT_TYPES, "all")},
                "consult_median_min": self.consult.quantile(0.5),
                "consult_iqr_min": [self.consult.quantile(0.25), self.consult.quantile(0.75)],
            },
        }


GENERATOR = VISITS = Visits()
