"""The atlas's vocabulary in both languages: age bands, sexes, pathogens, markers and metric names.

Shared by the atlas page and every other page that shows pneumonia figures (My hospital).
"""

from __future__ import annotations

from data_products.i18n import t
from data_products.products.pneumonia.spec import CUTOFFS

_SOURCES = {c.id: c.source for c in CUTOFFS}

MESSAGES = {
    "age.lt1": {"zh": "<1 岁", "en": "<1 y"},
    "age.1to5": {"zh": "1–5 岁", "en": "1–5 y"},
    "age.6to13": {"zh": "6–13 岁", "en": "6–13 y"},
    "age.ALL": {"zh": "全部年龄", "en": "All ages"},
    "sex.M": {"zh": "男", "en": "Boys"},
    "sex.F": {"zh": "女", "en": "Girls"},
    "sex.ALL": {"zh": "全部", "en": "Both"},
    "path.mp": {"zh": "肺炎支原体", "en": "Mycoplasma pneumoniae"},
    "path.rsv": {"zh": "呼吸道合胞病毒", "en": "RSV"},
    "path.flua": {"zh": "甲型流感", "en": "Influenza A"},
    "path.flub": {"zh": "乙型流感", "en": "Influenza B"},
    "path.adv": {"zh": "腺病毒", "en": "Adenovirus"},
    "marker.crp_mg_l": {"zh": "C 反应蛋白 CRP（mg/L）", "en": "CRP (mg/L)"},
    "marker.pct_ng_ml": {"zh": "降钙素原 PCT（ng/mL）", "en": "PCT (ng/mL)"},
    "marker.wbc_10e9_l": {"zh": "白细胞 WBC（×10⁹/L）", "en": "WBC (×10⁹/L)"},
    "marker.neut_pct": {"zh": "中性粒细胞（%）", "en": "Neutrophils (%)"},
    "marker.il6_pg_ml": {"zh": "白介素-6 IL-6（pg/mL）", "en": "IL-6 (pg/mL)"},
    "metric.cases": {"zh": "病例数", "en": "Cases"},
    "metric.rate": {"zh": "每万名儿童每年病例数（0–13 岁，估计）", "en": "Cases per 10,000 children per year (0–13, est.)"},
    "cutoff.age_uln": {"zh": "年龄别参考上限", "en": "age-specific upper limit"},
    "metric.median": {"zh": "{marker} 中位数", "en": "Median {marker}"},
    "metric.share": {"zh": "{cutoff} 占比（%）", "en": "Share {cutoff} (%)"},
    "metric.positivity": {"zh": "{pathogen} 阳性率（%）", "en": "{pathogen} positivity (%)"},
    # The cut-offs' sources (the atlas page's table): in English the spec's own note.
    "pn.cutoff_src.crp_gt10": {"zh": "CRP > 10 mg/L 视为升高（部分文献用 > 8）。", "en": _SOURCES["crp_gt10"]},
    "pn.cutoff_src.crp_ge40": {"zh": "CRP 40 mg/L 区分细菌性与病毒性肺炎效果最佳（敏感度 0.55，特异度 0.88）。",
                               "en": _SOURCES["crp_ge40"]},
    "pn.cutoff_src.pct_gt05": {"zh": "PCT > 0.5 ng/mL 为常用的“升高”界值。", "en": _SOURCES["pct_gt05"]},
    "pn.cutoff_src.pct_ge025": {"zh": "PCT < 0.25 ng/mL 排除典型细菌性社区获得性肺炎，阴性预测值 96%。",
                                "en": _SOURCES["pct_ge025"]},
    "pn.cutoff_src.wbc_gt_uln": {"zh": "WBC 高于年龄别参考区间上限，WS/T 779-2021（静脉血）：28 天–<6 月 14.2，"
                                       "6 月–<1 岁 14.6，1–<2 岁 14.1，2–<6 岁 11.9，6–<13 岁 11.3，≥13 岁 11.0 ×10⁹/L"
                                       "（不足 28 天按 14.2）。", "en": _SOURCES["wbc_gt_uln"]},
    "pn.cutoff_src.neut_gt70": {"zh": "中性粒细胞 > 70%：以中性粒细胞为主（细菌、流感、腺病毒）。", "en": _SOURCES["neut_gt70"]},
    "pn.cutoff_src.il6_ge1475": {"zh": "IL-6 ≥ 14.75 pg/mL 可预测难治性肺炎支原体肺炎。", "en": _SOURCES["il6_ge1475"]},
}


def cutoff_label(c, lang: str) -> str:
    threshold = t("cutoff.age_uln", lang) if c.value is None else f"{c.value:g}"
    return f"{t('marker.' + c.marker, lang).split('（')[0].split(' (')[0]} {c.op} {threshold}"


def metric_label(metric_id: str, lang: str) -> str:
    if metric_id in ("cases", "rate"):
        return t(f"metric.{metric_id}", lang)
    if metric_id.endswith("_p50"):
        return t("metric.median", lang, marker=t("marker." + metric_id.removesuffix("_p50"), lang))
    if metric_id.endswith("_share"):
        c = next(c for c in CUTOFFS if c.id == metric_id.removesuffix("_share"))
        return t("metric.share", lang, cutoff=cutoff_label(c, lang))
    return t("metric.positivity", lang, pathogen=t("path." + metric_id.removesuffix("_positivity"), lang))
