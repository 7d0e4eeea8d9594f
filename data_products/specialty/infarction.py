"""Cerebral infarction specialty dataset (脑梗死专病数据集): one row per acute ischaemic stroke admission.

Fields and calibration: SPECIALTY_FACTS.md §2 (see ``reference/data/SPECIALTY_SOURCES.md``).
"""

from __future__ import annotations

from data_products.specialty.dictionary import DISPOSITION, Dictionary, Field, core_fields, risk_fields

DATASET_ID = "ds_cerebral_infarction"
KIND = "infarction"
TABLE = "infarction_admissions"
ICD10 = ("I63.0", "I63.1", "I63.2", "I63.3", "I63.4", "I63.5", "I63.6", "I63.8", "I63.9")
TOAST = ("LAA", "CE", "SAO", "SOE", "SUE")
ARRIVAL = ("EMS", "private_car", "taxi", "other")
REPERFUSION = ("none", "IVT_alteplase", "IVT_tenecteplase", "EVT", "IVT_EVT")
IVT_WINDOW_MIN = 270  # 4.5 h

DICTIONARY = Dictionary(
    dataset_id=DATASET_ID, kind=KIND, table=TABLE,
    name_zh="脑梗死专病数据集", name_en="Cerebral infarction specialty dataset",
    period=("2022-01-01", "2024-12-31"),
    fields=(
        *core_fields(),
        Field("icd10_primary", "code", "主要诊断（ICD-10）", "primary diagnosis (ICD-10)", codes=ICD10,
              code_system="ICD-10 I63.x"),
        Field("toast", "code", "TOAST分型", "TOAST subtype", codes=TOAST,
              code_system="LAA large-artery, CE cardioembolic, SAO small-vessel, SOE other, SUE undetermined"),
        Field("arrival_mode", "code", "到院方式", "arrival mode", codes=ARRIVAL),
        Field("onset_to_door_min", "int", "发病至到院时间", "onset to door", unit="minutes", lo=0, hi=10080,
              nullable=True, ccl="aggregate"),
        Field("door_to_needle_min", "int", "入院至溶栓时间（DNT）", "door to needle", unit="minutes", lo=0, hi=600,
              nullable=True, ccl="aggregate"),
        Field("reperfusion", "code", "再灌注治疗", "reperfusion", codes=REPERFUSION,
              code_system="IVT intravenous thrombolysis, EVT endovascular thrombectomy"),
        Field("nihss_adm", "int", "入院NIHSS评分", "NIHSS at admission", lo=0, hi=42, code_system="NIHSS 0-42"),
        *risk_fields(),
        Field("sich_36h", "bool", "36小时内症状性颅内出血", "symptomatic ICH within 36 h", nullable=True,
              code_system="reperfused patients only"),
        Field("discharge_disposition", "code", "离院方式", "discharge disposition", codes=DISPOSITION),
        Field("mrs_90d", "int", "90天mRS评分", "modified Rankin Scale at 90 days", lo=0, hi=6, nullable=True,
              code_system="mRS 0-6 (6 = dead)"),
        Field("recurrence_1y", "bool", "1年内复发", "recurrence within 1 year"),
    ),
)
