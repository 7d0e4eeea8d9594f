"""Liver cancer specialty dataset (肝癌专病数据集): one row per patient, from the diagnosis admission.

Stages are derived from the tumour, performance-status and liver-function fields, never recorded on
their own (SPECIALTY_FACTS.md §3): CNLC (China liver cancer staging, 2022 guideline) and BCLC (2022).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.specialty.dictionary import Dictionary, Field, core_fields

DATASET_ID = "ds_liver_cancer"
KIND = "liver_cancer"
TABLE = "liver_cancer_cases"
ICD10 = ("C22.0", "C22.1", "C22.7", "C22.9")
MORPHOLOGY = ("8170/3", "8160/3", "8180/3", "8000/3")
AETIOLOGY = ("HBV", "HCV", "HBV_HCV", "NAFLD", "alcohol", "none")
TUMOUR_NUMBER = ("1", "2-3", ">=4")
INVASION = ("none", "PVTT", "HVTT", "extrahepatic")
CHILD_PUGH = ("A", "B", "C")
CNLC = ("Ia", "Ib", "IIa", "IIb", "IIIa", "IIIb", "IV")
BCLC = ("0", "A", "B", "C", "D")
AFP_BANDS = ("<=20", "20-400", ">400")
TREATMENTS = ("resection", "transplant", "ablation", "TACE", "HAIC", "radiotherapy", "systemic_TKI",
              "systemic_ICI_VEGF", "systemic_TKI_ICI", "supportive")
CURATIVE = ("resection", "transplant", "ablation")
CUTOFF = "2025-06-30"  # follow-up closes: later deaths are not known


def child_pugh_class(score) -> np.ndarray:
    s = np.asarray(score, dtype=float)
    return np.where(s <= 6, "A", np.where(s <= 9, "B", "C"))


def afp_band(afp) -> np.ndarray:
    a = np.asarray(afp, dtype=float)
    return np.where(np.isnan(a), None, np.where(a <= 20, "<=20", np.where(a <= 400, "20-400", ">400")))


def cnlc_stage(number, size_cm, invasion, ps, child_pugh) -> np.ndarray:
    """CNLC: IV if PS 3-4 or Child-Pugh C; IIIb extrahepatic spread; IIIa macrovascular invasion;
    IIb >= 4 nodules; IIa 2-3 nodules, largest > 3 cm; Ib single > 5 cm or 2-3 nodules <= 3 cm;
    Ia single <= 5 cm."""
    number, invasion, cp = (np.asarray(x, dtype=object) for x in (number, invasion, child_pugh))
    size, ps = np.asarray(size_cm, dtype=float), np.asarray(ps, dtype=float)
    return np.select(
        [(ps >= 3) | (cp == "C"), invasion == "extrahepatic", np.isin(invasion, ("PVTT", "HVTT")),
         number == ">=4", (number == "2-3") & (size > 3), number == "2-3", size > 5],
        ["IV", "IIIb", "IIIa", "IIb", "IIa", "Ib", "Ib"], default="Ia").astype(object)


def bclc_stage(number, size_cm, invasion, ps, child_pugh) -> np.ndarray:
    """BCLC 2022: D end-stage liver function (Child-Pugh C) or PS > 2; C vascular invasion, extrahepatic
    spread or PS 1-2; 0 single <= 2 cm; A single, or 2-3 nodules all <= 3 cm; B otherwise (multinodular)."""
    number, invasion, cp = (np.asarray(x, dtype=object) for x in (number, invasion, child_pugh))
    size, ps = np.asarray(size_cm, dtype=float), np.asarray(ps, dtype=float)
    return np.select(
        [(ps >= 3) | (cp == "C"), (invasion != "none") | (ps >= 1), (number == "1") & (size <= 2),
         number == "1", (number == "2-3") & (size <= 3)],
        ["D", "C", "0", "A", "A"], default="B").astype(object)


def months_between(start: pd.Series, end: pd.Series) -> np.ndarray:
    return np.round((end - start).dt.days.to_numpy(dtype=float) / 30.4375, 2)


DICTIONARY = Dictionary(
    dataset_id=DATASET_ID, kind=KIND, table=TABLE,
    name_zh="肝癌专病数据集", name_en="Liver cancer specialty dataset",
    period=("2022-01-01", "2024-12-31"),
    notes=(f"follow-up (recurrence, death, last contact) closes on {CUTOFF}",),
    fields=(
        *core_fields(),
        Field("icd10", "code", "诊断（ICD-10）", "diagnosis (ICD-10)", codes=ICD10,
              code_system="C22.0 HCC, C22.1 intrahepatic cholangiocarcinoma, C22.7 other, C22.9 unspecified"),
        Field("morphology", "code", "形态学编码", "morphology (ICD-O-3)", codes=MORPHOLOGY, code_system="ICD-O-3"),
        Field("aetiology", "code", "病因", "aetiology", codes=AETIOLOGY,
              code_system="HBV = HBsAg+, HCV = anti-HCV+, NAFLD, alcohol"),
        Field("afp_ng_ml", "float", "甲胎蛋白", "alpha-fetoprotein (AFP)", unit="ng/mL", lo=0.5, hi=100000,
              nullable=True, ccl="aggregate"),
        Field("afp_band", "code", "AFP分组", "AFP band", codes=AFP_BANDS, nullable=True, source="derived",
              unit="ng/mL", rule="afp_ng_ml <=20 | 20-400 | >400"),
        Field("tumour_number", "code", "肿瘤数目", "number of tumours", codes=TUMOUR_NUMBER),
        Field("max_tumour_size_cm", "float", "最大肿瘤直径", "largest tumour diameter", unit="cm", lo=0.5, hi=25,
              ccl="aggregate"),
        Field("vascular_invasion", "code", "血管侵犯/肝外转移", "vascular invasion / extrahepatic spread",
              codes=INVASION, code_system="PVTT portal-vein, HVTT hepatic-vein tumour thrombus"),
        Field("ecog_ps", "int", "ECOG体能状态", "ECOG performance status", lo=0, hi=4, code_system="ECOG 0-4"),
        Field("child_pugh_score", "int", "Child-Pugh评分", "Child-Pugh score", lo=5, hi=15, ccl="aggregate"),
        Field("child_pugh", "code", "Child-Pugh分级", "Child-Pugh class", codes=CHILD_PUGH, source="derived",
              rule="score 5-6 A, 7-9 B, 10-15 C"),
        Field("cnlc_stage", "code", "CNLC分期", "CNLC stage", codes=CNLC, source="derived",
              rule="from tumour_number, max_tumour_size_cm, vascular_invasion, ecog_ps, child_pugh"),
        Field("bclc_stage", "code", "BCLC分期", "BCLC stage", codes=BCLC, source="derived",
              rule="from tumour_number, max_tumour_size_cm, vascular_invasion, ecog_ps, child_pugh"),
        Field("first_treatment", "code", "首次治疗", "first treatment", codes=TREATMENTS,
              code_system="TACE chemoembolisation, HAIC arterial infusion, TKI / ICI+anti-VEGF / TKI+ICI systemic"),
        Field("treatment_date", "date", "首次治疗日期", "first treatment date", ccl="aggregate"),
        Field("recurrence_date", "date", "复发日期", "recurrence date", nullable=True, ccl="aggregate",
              code_system="after curative treatment only"),
        Field("death_date", "date", "死亡日期", "death date", nullable=True, ccl="aggregate"),
        Field("last_contact_date", "date", "末次随访日期", "last contact", ccl="aggregate"),
        Field("os_months", "float", "总生存时间（自首次治疗）", "overall survival from first treatment",
              unit="months", lo=0, hi=48, source="derived", ccl="aggregate",
              rule="(death_date or last_contact_date) - treatment_date"),
        Field("died", "bool", "随访期内死亡", "died during follow-up", source="derived", rule="death_date is not null"),
        Field("recurred", "bool", "随访期内复发", "recurred during follow-up", nullable=True, source="derived",
              rule="curative treatment: recurrence_date is not null; otherwise null"),
        Field("rfs_months", "float", "无复发时间（根治性治疗后）", "recurrence-free time after curative treatment",
              unit="months", lo=0, hi=48, nullable=True, source="derived", ccl="aggregate",
              rule="(recurrence_date, death_date or last_contact_date) - treatment_date; curative only"),
    ),
)
