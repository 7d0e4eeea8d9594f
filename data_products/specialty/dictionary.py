"""Data dictionaries of the specialty datasets, with each column's control rule for analyses.

A ``Field`` is one column of the de-identified dataset (the restricted table and the analysis view):
its type, unit, code list or range, whether the hospital extract carries it as written or the
ingest derives it, and its column control rule (in the spirit of SecretFlow SCQL's CCL), set by the
contributing hospitals and checked on every analysis before it runs:

=============  =====================================================================================
rule           what an analysis may do with the column
=============  =====================================================================================
``group``      grouping key (shown as the key of a group), inside aggregates, in filters
``aggregate``  only inside an aggregate function (COUNT, SUM, AVG, quantiles) or as a model variable
``filter``     only in a WHERE condition
``join``       only in a join condition (the space runs one dataset per analysis, so: unusable today)
``never``      not at all
=============  =====================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

CCL_RULES = ("group", "aggregate", "filter", "join", "never")
CCL_TEXT = {
    "group": ("可作分组键、聚合与筛选", "grouping key, inside aggregates, in filters"),
    "aggregate": ("仅可出现在聚合函数内", "only inside an aggregate"),
    "filter": ("仅可用于筛选条件", "only in a filter (WHERE)"),
    "join": ("仅可用于连接条件", "only in a join condition"),
    "never": ("禁止使用", "never"),
}
TYPES = ("int", "float", "code", "date", "bool", "text", "set")
# Types as stored in the restricted zone and shown in the analysis view.
SQL_TYPES = {"int": "INTEGER", "float": "DOUBLE", "code": "VARCHAR", "date": "DATE", "bool": "BOOLEAN",
             "text": "VARCHAR", "set": "VARCHAR"}


# What each coded value means, in both languages: the dictionary shows a code with its meaning in the page's
# language ("home（出院回家）"). The code itself is what the data holds and what an analysis writes, so it stays
# as it is; codes that are their own meaning (ICD-10 codes, stages, bands) are shown bare.
_CODES = {
    "tertiary": ("三级医院", "tertiary hospital"), "secondary": ("二级医院", "secondary hospital"),
    "M": ("男", "male"), "F": ("女", "female"),
    "UEBMI": ("城镇职工基本医疗保险", "employee basic medical insurance"),
    "URRBMI": ("城乡居民基本医疗保险", "urban and rural resident basic medical insurance"),
    "self_pay": ("自费", "self-pay"), "other": ("其他", "other"), "none": ("无", "none"),
    "IS": ("缺血性卒中", "ischaemic stroke"), "ICH": ("脑出血", "intracerebral haemorrhage"),
    "SAH": ("蛛网膜下腔出血", "subarachnoid haemorrhage"), "TIA": ("短暂性脑缺血发作", "transient ischaemic attack"),
    "IVT": ("静脉溶栓", "intravenous thrombolysis"), "EVT": ("血管内取栓", "endovascular thrombectomy"),
    "evacuation": ("血肿清除术", "haematoma evacuation"), "coiling": ("动脉瘤栓塞术", "aneurysm coiling"),
    "clipping": ("动脉瘤夹闭术", "aneurysm clipping"),
    "home": ("出院回家", "discharged home"), "transfer": ("转院", "transferred to another hospital"),
    "dama": ("未遵医嘱自动出院", "discharged against medical advice"), "death": ("死亡", "death"),
    "no_event": ("无事件", "no event"), "recurrence": ("复发", "recurrence"), "lost": ("失访", "lost to follow-up"),
    "LAA": ("大动脉粥样硬化型", "large-artery atherosclerosis"), "CE": ("心源性栓塞型", "cardioembolism"),
    "SAO": ("小动脉闭塞型", "small-vessel occlusion"), "SOE": ("其他明确病因型", "other determined cause"),
    "SUE": ("不明原因型", "undetermined cause"),
    "EMS": ("急救车", "ambulance"), "private_car": ("私家车", "private car"), "taxi": ("出租车", "taxi"),
    "IVT_alteplase": ("阿替普酶静脉溶栓", "intravenous alteplase"),
    "IVT_tenecteplase": ("替奈普酶静脉溶栓", "intravenous tenecteplase"),
    "IVT_EVT": ("桥接治疗：静脉溶栓后血管内取栓", "bridging: thrombolysis then thrombectomy"),
    "C22.0": ("肝细胞癌", "hepatocellular carcinoma"), "C22.1": ("肝内胆管癌", "intrahepatic cholangiocarcinoma"),
    "C22.7": ("其他特指的肝癌", "other specified liver carcinoma"), "C22.9": ("肝恶性肿瘤，未特指", "liver cancer, unspecified"),
    "8170/3": ("肝细胞癌", "hepatocellular carcinoma"), "8160/3": ("胆管癌", "cholangiocarcinoma"),
    "8180/3": ("混合型肝细胞-胆管癌", "combined hepatocellular-cholangiocarcinoma"),
    "8000/3": ("恶性肿瘤，未特指", "malignant neoplasm, not otherwise specified"),
    "HBV": ("乙型肝炎病毒（HBsAg 阳性）", "hepatitis B (HBsAg positive)"),
    "HCV": ("丙型肝炎病毒（抗 HCV 阳性）", "hepatitis C (anti-HCV positive)"),
    "HBV_HCV": ("乙肝合并丙肝", "hepatitis B and C"), "NAFLD": ("非酒精性脂肪性肝病", "non-alcoholic fatty liver disease"),
    "alcohol": ("酒精性", "alcohol"),
    "PVTT": ("门静脉癌栓", "portal-vein tumour thrombus"), "HVTT": ("肝静脉癌栓", "hepatic-vein tumour thrombus"),
    "extrahepatic": ("肝外转移", "extrahepatic spread"),
    "resection": ("手术切除", "resection"), "transplant": ("肝移植", "liver transplant"), "ablation": ("消融", "ablation"),
    "TACE": ("经动脉化疗栓塞", "transarterial chemoembolisation"),
    "HAIC": ("肝动脉灌注化疗", "hepatic arterial infusion chemotherapy"), "radiotherapy": ("放疗", "radiotherapy"),
    "systemic_TKI": ("系统治疗：TKI", "systemic: TKI"),
    "systemic_ICI_VEGF": ("系统治疗：免疫检查点抑制剂 + 抗 VEGF", "systemic: ICI + anti-VEGF"),
    "systemic_TKI_ICI": ("系统治疗：TKI + 免疫检查点抑制剂", "systemic: TKI + ICI"),
    "supportive": ("支持治疗", "supportive care"),
}


# What a field's "code system" note says, in both languages (English as written on the field, then Chinese).
# The dictionaries sit below the message catalogue in the zone order, so they declare ``MESSAGES`` (read by
# ``data_products.i18n`` through ``MESSAGE_SOURCES``) and a page shows ``t(code_system_key(text), lang)``.
CODE_SYSTEMS_ZH = {
    "GB/T 2260 adcode": "GB/T 2260 行政区划代码",
    "GB/T 2261.1 (M=1, F=2)": "GB/T 2261.1（男 = 1，女 = 2）",
    "UEBMI employee / URRBMI resident basic medical insurance": "UEBMI 城镇职工 / URRBMI 城乡居民基本医疗保险",
    "ICD-10": "ICD-10 国际疾病分类第十版",
    "ICD-10 I63.x": "ICD-10 I63.x 脑梗死",
    "ICD-O-3": "ICD-O-3 国际疾病分类肿瘤学专辑第三版",
    "IS ischaemic, ICH intracerebral haemorrhage, SAH subarachnoid haemorrhage, TIA":
        "IS 缺血性卒中，ICH 脑出血，SAH 蛛网膜下腔出血，TIA 短暂性脑缺血发作",
    "NIHSS 0-42": "NIHSS 美国国立卫生研究院卒中量表 0–42 分",
    "Glasgow Coma Scale 3-15": "格拉斯哥昏迷量表（GCS）3–15 分",
    "Hunt-Hess 1-5 (SAH only)": "Hunt-Hess 分级 1–5（仅 SAH）",
    "IVT thrombolysis, EVT thrombectomy, haematoma evacuation, aneurysm coiling/clipping":
        "IVT 静脉溶栓，EVT 血管内取栓，血肿清除术，动脉瘤栓塞/夹闭术",
    "dama = discharged against medical advice": "含未遵医嘱自动出院（编码见“取值”）",
    "mRS 0-6 (6 = dead)": "改良 Rankin 量表（mRS）0–6 分（6 = 死亡）",
    "LAA large-artery, CE cardioembolic, SAO small-vessel, SOE other, SUE undetermined":
        "TOAST 分型：LAA 大动脉粥样硬化型，CE 心源性栓塞型，SAO 小动脉闭塞型，SOE 其他明确病因型，SUE 不明原因型",
    "IVT intravenous thrombolysis, EVT endovascular thrombectomy": "IVT 静脉溶栓，EVT 血管内取栓",
    "reperfused patients only": "仅再灌注治疗的患者",
    "C22.0 HCC, C22.1 intrahepatic cholangiocarcinoma, C22.7 other, C22.9 unspecified":
        "C22.0 肝细胞癌，C22.1 肝内胆管癌，C22.7 其他，C22.9 未特指",
    "HBV = HBsAg+, HCV = anti-HCV+, NAFLD, alcohol":
        "HBV = HBsAg 阳性，HCV = 抗 HCV 阳性，NAFLD 非酒精性脂肪性肝病，酒精性",
    "PVTT portal-vein, HVTT hepatic-vein tumour thrombus": "PVTT 门静脉癌栓，HVTT 肝静脉癌栓",
    "ECOG 0-4": "ECOG 体能状态 0–4 分",
    "TACE chemoembolisation, HAIC arterial infusion, TKI / ICI+anti-VEGF / TKI+ICI systemic":
        "TACE 经动脉化疗栓塞，HAIC 肝动脉灌注化疗，TKI / ICI + 抗 VEGF / TKI + ICI 系统治疗",
    "after curative treatment only": "仅根治性治疗后",
}


def code_system_key(text: str) -> str:
    """The message key of a code-system note (its English text, as written on the field)."""
    import re

    return "dd.code_system." + re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


MESSAGES = {code_system_key(en): {"zh": zh, "en": en} for en, zh in CODE_SYSTEMS_ZH.items()}

@dataclass(frozen=True)
class Field:
    name: str
    type: str
    zh: str
    en: str
    unit: str | None = None
    codes: tuple[str, ...] | None = None
    code_system: str | None = None
    lo: float | None = None
    hi: float | None = None
    nullable: bool = False
    ccl: str = "group"
    # 'raw': written in the hospital's extract and copied; 'derived': computed at ingest (see ``rule``);
    # 'deid': produced by de-identification (pseudonym, age, district).
    source: str = "raw"
    rule: str | None = None
    # False: kept in the restricted table but not in the analysis view (the raw text of a set field).
    view: bool = True

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type!r}")
        if self.ccl not in CCL_RULES:
            raise ValueError(f"field {self.name}: unknown column control rule {self.ccl!r}")

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    def values_text(self, lang: str = "zh") -> str:
        """The codes, each with its meaning in ``lang`` where it is not its own; or the range."""
        if self.codes:
            # Both languages in this module's own table, like CCL_TEXT: the dictionaries sit below the i18n
            # catalogue in the zone order (tests/test_imports.py).
            def one(code: str) -> str:
                if code not in _CODES:
                    return code
                meaning = _CODES[code][1 if lang == "en" else 0]
                return code if meaning == code else f"{code}（{meaning}）" if lang == "zh" else f"{code} ({meaning})"

            return " | ".join(one(c) for c in self.codes)
        if self.lo is not None or self.hi is not None:
            return f"{self.lo:g} – {self.hi:g}"
        return ""


@dataclass(frozen=True)
class Dictionary:
    dataset_id: str
    kind: str
    table: str
    name_zh: str
    name_en: str
    fields: tuple[Field, ...]
    period: tuple[str, str]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.dataset_id}: duplicate field names")

    @property
    def view(self) -> str:
        """The name an analysis uses for the dataset (its view)."""
        return self.dataset_id

    def view_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.view)

    def raw_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.source == "raw")

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.dataset_id}: no field {name!r}")

    def ccl(self) -> dict[str, str]:
        return {f.name: f.ccl for f in self.view_fields()}

    def frame(self, lang: str = "zh") -> pd.DataFrame:
        """The dictionary as a table for the catalog and the analysis page."""
        rows = []
        for f in self.view_fields():
            rows.append({
                "field": f.name,
                "name": f.en if lang == "en" else f.zh,
                "type": f.type,
                "unit": f.unit or "",
                "values": f.values_text(lang),
                "code_system": f.code_system or "",
                "nullable": f.nullable,
                "source": f.rule or f.source,
                "ccl": f.ccl,
                "ccl_text": CCL_TEXT[f.ccl][1 if lang == "en" else 0],
            })
        return pd.DataFrame(rows)


# --- the fields every specialty dataset shares (SPECIALTY_FACTS.md §0) -------------------------------------

TIERS = ("tertiary", "secondary")
INSURANCE = ("UEBMI", "URRBMI", "self_pay", "other")
DISPOSITION = ("home", "transfer", "dama", "death")
RISK_FACTORS = ("HTN", "DM", "AF", "DYSLIP", "SMOKE", "PRIOR_STROKE_TIA", "CAD")
MAX_AGE = 90  # ages are top-coded: 90 means 90 or older


def core_fields() -> tuple[Field, ...]:
    return (
        Field("pseudonym", "text", "患者假名（密钥哈希）", "patient pseudonym (keyed hash)", ccl="aggregate",
              source="deid", rule="HMAC-SHA256 of the resident ID with the hospitals' key"),
        Field("hospital_tier", "code", "医院级别", "hospital tier", codes=TIERS, source="deid",
              rule="from the facility registry"),
        Field("district", "code", "居住区（行政区划代码）", "home district (adcode)", nullable=True,
              code_system="GB/T 2260 adcode", source="deid", rule="district named in the address; null outside Guangzhou"),
        Field("age_years", "int", "入院年龄", "age at admission", unit="years", lo=0, hi=MAX_AGE, source="deid",
              rule="completed years from birth date; top-coded at 90"),
        Field("sex", "code", "性别", "sex", codes=("M", "F"), code_system="GB/T 2261.1 (M=1, F=2)"),
        Field("insurance_type", "code", "医保类型", "insurance", codes=INSURANCE,
              code_system="UEBMI employee / URRBMI resident basic medical insurance"),
        Field("admission_date", "date", "入院日期", "admission date", ccl="aggregate"),
        Field("admission_year", "int", "入院年份", "admission year", lo=2022, hi=2024, source="derived",
              rule="year of admission_date"),
        Field("admission_month", "code", "入院月份", "admission month (YYYY-MM)", source="derived",
              rule="month of admission_date"),
        Field("los_days", "int", "住院天数", "length of stay", unit="days", lo=0, hi=365, ccl="aggregate"),
        Field("total_cost_cny", "float", "住院总费用", "total cost", unit="CNY", lo=100, hi=3_000_000,
              ccl="aggregate"),
    )


def risk_fields() -> tuple[Field, ...]:
    """Risk factors: one set field as written ('HTN;DM'), and one yes/no column per factor."""
    return (
        Field("risk_factors", "set", "危险因素", "risk factors", codes=RISK_FACTORS, nullable=True, view=False,
              ccl="never"),
        *(Field(f"rf_{c.lower()}", "bool", f"危险因素：{c}", f"risk factor: {c}", source="derived",
                rule=f"'{c}' in risk_factors") for c in RISK_FACTORS),
    )
