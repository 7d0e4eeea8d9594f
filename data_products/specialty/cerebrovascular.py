"""Cerebrovascular disease specialty dataset (脑血管病专病数据集): one row per admission.

Fields and calibration: /work/shared/reference/SPECIALTY_FACTS.md §1, copied with sources into
``data_products/reference/data/SPECIALTY_SOURCES.md``.
"""

from __future__ import annotations

from data_products.specialty.dictionary import DISPOSITION, Dictionary, Field, core_fields, risk_fields

DATASET_ID = "ds_cerebrovascular"
KIND = "cerebrovascular"
TABLE = "cerebrovascular_admissions"
STROKE_TYPES = ("IS", "ICH", "SAH", "TIA", "other")
ICD10 = ("I60", "I61", "I62", "I63", "I64", "I65", "I66", "I67", "I69", "G45")
PROCEDURES = ("none", "IVT", "EVT", "evacuation", "coiling", "clipping")
OUTCOME_1Y = ("no_event", "recurrence", "death", "lost")

DICTIONARY = Dictionary(
    dataset_id=DATASET_ID, kind=KIND, table=TABLE,
    name_zh="脑血管病专病数据集", name_en="Cerebrovascular disease specialty dataset",
    period=("2022-01-01", "2024-12-31"),
    fields=(
        *core_fields(),
        Field("icd10_primary", "code", "主要诊断（ICD-10 类目）", "primary diagnosis (ICD-10 category)", codes=ICD10,
              code_system="ICD-10"),
        Field("stroke_type", "code", "卒中类型", "stroke type", codes=STROKE_TYPES,
              code_system="IS ischaemic, ICH intracerebral haemorrhage, SAH subarachnoid haemorrhage, TIA"),
        Field("onset_to_door_h", "float", "发病至到院时间", "onset to door", unit="hours", lo=0, hi=720,
              nullable=True, ccl="aggregate"),
        Field("nihss_adm", "int", "入院NIHSS评分", "NIHSS at admission", lo=0, hi=42, code_system="NIHSS 0-42"),
        Field("gcs_adm", "int", "入院GCS评分", "GCS at admission", lo=3, hi=15, code_system="Glasgow Coma Scale 3-15"),
        Field("hunt_hess", "int", "Hunt-Hess分级", "Hunt-Hess grade", lo=1, hi=5, nullable=True,
              code_system="Hunt-Hess 1-5 (SAH only)"),
        *risk_fields(),
        Field("acute_procedure", "code", "急性期治疗", "acute procedure", codes=PROCEDURES,
              code_system="IVT thrombolysis, EVT thrombectomy, haematoma evacuation, aneurysm coiling/clipping"),
        Field("discharge_disposition", "code", "离院方式", "discharge disposition", codes=DISPOSITION,
              code_system="dama = discharged against medical advice"),
        Field("mrs_90d", "int", "90天mRS评分", "modified Rankin Scale at 90 days", lo=0, hi=6, nullable=True,
              code_system="mRS 0-6 (6 = dead)"),
        Field("outcome_1y", "code", "1年结局", "outcome at 1 year", codes=OUTCOME_1Y),
    ),
)
