"""What the jaundice device report measures: subgroups, thresholds, bins and the acceptance criteria.

Shared by the builder (which computes them), the release (which protects and checks them) and the
views, page and PDF (which label them), so a threshold or a bin edge is defined once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_products.i18n import register

PRODUCT_ID = "jaundice_report"
SOURCE = "bilirubin_pairs"
UNIT = "µmol/L"
UMOL_PER_MG_DL = 17.1

# Deming error ratio lambda = var(TcB error) / var(TSB error). The laboratory's TSB has an analytic
# CV near 5% (about 9.5 µmol/L at 190); TcB differences scatter about 21 µmol/L around their mean
# (FACTS), so lambda is about (21 / 9.5)^2 ~ 5.
ERROR_RATIO = 5.0
CONFIDENCE = 0.95
# CLSI EP09 asks for at least 40 pairs for a method comparison; fewer gives no statistics.
MIN_PAIRS_FOR_STATS = 40
# Medical decision levels (µmol/L) for the Deming bias: 12, 15 and 17 mg/dL.
DECISION_LEVELS = (205.0, 256.0, 291.0)
# AAP 2022: measure TSB when TcB is within 3 mg/dL of the phototherapy threshold.
AAP_MARGIN = 3.0 * UMOL_PER_MG_DL

# Acceptance criteria stated up front (the report's verdict tests them):
# agreement: both 95% limits of agreement within +/- 51.3 µmol/L (3 mg/dL);
# screening: sensitivity of the AAP rule (TcB >= threshold - 3 mg/dL) at least 95% at every threshold.
AGREEMENT_LIMIT = 3.0 * UMOL_PER_MG_DL
SCREENING_MIN_SENSITIVITY = 0.95


@dataclass(frozen=True)
class Threshold:
    id: str
    tsb: float
    mg_dl: int


THRESHOLDS = (Threshold("t205", 205.0, 12), Threshold("t256", 256.0, 15), Threshold("t291", 291.0, 17))


@dataclass(frozen=True)
class Rule:
    """A TcB rule for one threshold: 'same' = TcB >= threshold; 'aap' = TcB >= threshold - 3 mg/dL."""

    id: str
    column: str  # dimension of the diagnostic table that holds TcB-positive yes/no


RULES = (Rule("same", "tcb_ge_threshold"), Rule("aap", "tcb_ge_aap"))


def cutoff(th: Threshold, rule: str) -> float:
    return th.tsb if rule == "same" else th.tsb - AAP_MARGIN


# Subgroup dimensions: name -> (SQL expression over the restricted table, its levels in display order).
# The expressions are fixed text (no values from input), the only SQL built from this module.
SUBGROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ga_band": ("CASE WHEN gestational_age_weeks < 34 THEN 'lt34' WHEN gestational_age_weeks < 37 THEN '34to36' "
                "ELSE 'ge37' END", ("lt34", "34to36", "ge37")),
    "hol_band": ("CASE WHEN hours_of_life < 24 THEN 'lt24' WHEN hours_of_life < 48 THEN '24to47' "
                 "WHEN hours_of_life < 96 THEN '48to95' ELSE 'ge96' END", ("lt24", "24to47", "48to95", "ge96")),
    "site": ("site", ("forehead", "sternum")),
    "skin_tone": ("skin_tone", ("light", "medium", "dark")),
    "phototherapy": ("CASE WHEN phototherapy THEN 'yes' ELSE 'no' END", ("no", "yes")),
    "device_model": ("device_model", ()),  # levels are whatever models the hospital used
}
# The cross-classification the literature reports (preterm forehead vs sternum).
GA_GROUP_SQL = "CASE WHEN gestational_age_weeks < 37 THEN 'preterm' ELSE 'term' END"
GA_GROUPS = ("preterm", "term")
SITES = ("forehead", "sternum")
# Which GA bands make up each GA group (a carried column links the two tables for disclosure control).
GA_BAND_GROUP = {"lt34": "preterm", "34to36": "preterm", "ge37": "term"}

# Binned plots: Bland-Altman (mean of the two x difference) and scatter (TSB x TcB), µmol/L.
BA_MEAN_EDGES = np.arange(0.0, 500.0 + 1e-9, 25.0)
BA_DIFF_EDGES = np.arange(-100.0, 150.0 + 1e-9, 10.0)
SCATTER_EDGES = np.arange(0.0, 500.0 + 1e-9, 25.0)


def bin_labels(edges: np.ndarray) -> list[str]:
    """'lo..hi' labels; the first and last bins are open-ended (values beyond are clipped into them)."""
    return [f"{lo:g}..{hi:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def bin_mid(label: str) -> float:
    lo, hi = label.split("..")
    return (float(lo) + float(hi)) / 2.0


# Statistics released per subgroup (all from stats.compare, computed inside the space).
STAT_COLUMNS = (
    "bias", "bias_ci_low", "bias_ci_high", "sd", "loa_lower", "loa_lower_ci_low", "loa_lower_ci_high",
    "loa_upper", "loa_upper_ci_low", "loa_upper_ci_high", "pearson_r", "pearson_ci_low", "pearson_ci_high",
    "ols_slope", "ols_intercept", "deming_slope", "deming_slope_ci_low", "deming_slope_ci_high",
    "deming_intercept", "deming_intercept_ci_low", "deming_intercept_ci_high",
    "pb_slope", "pb_slope_ci_low", "pb_slope_ci_high", "pb_intercept", "pb_intercept_ci_low",
    "pb_intercept_ci_high", "mean_tsb", "mean_tcb",
)


# --- labels (page and PDF) ----------------------------------------------------------------------

register({
    "jaundice.title": {"zh": "新生儿黄疸仪设备测试评估报告", "en": "Neonatal jaundice device evaluation report"},
    "jaundice.subtitle": {"zh": "经皮胆红素（TcB）与血清总胆红素（TSB）的方法学比对",
                          "en": "Transcutaneous bilirubin (TcB) device against total serum bilirubin (TSB)"},
    "jaundice.release": {"zh": "发布版本 {release}，批准人 {by}，批准时间 {at}",
                         "en": "Release {release}, approved by {by} at {at}"},
    "jaundice.source": {"zh": "数据来源：{source}；测量期间 {start} 至 {end}；单位 µmol/L（1 mg/dL = 17.1 µmol/L）",
                        "en": "Source: {source}; measured {start} to {end}; unit µmol/L (1 mg/dL = 17.1 µmol/L)"},
    "jaundice.source_anon": {"zh": "广州市一家三级妇女儿童医疗中心（机构名称不向本机构类型展示）",
                             "en": "a tertiary women's and children's centre in Guangzhou (name not shown to your "
                                   "type of organisation)"},
    "jaundice.verdict": {"zh": "结论", "en": "Verdict"},
    "jaundice.criteria": {
        "zh": "验收标准（事先设定）：① 一致性——95% 一致性界限均在 ±{limit:.1f} µmol/L（3 mg/dL）以内；"
              "② 筛查安全性——按 AAP 2022 规则（TcB 距光疗阈值 3 mg/dL 以内即抽血）在每个阈值的灵敏度 ≥ {sens:.0f}%。",
        "en": "Acceptance criteria (stated in advance): (1) agreement — both 95% limits of agreement within "
              "±{limit:.1f} µmol/L (3 mg/dL); (2) screening safety — sensitivity of the AAP 2022 rule (draw blood "
              "when TcB is within 3 mg/dL of the threshold) at least {sens:.0f}% at every threshold."},
    "jaundice.bias_line": {
        "zh": "平均偏倚（TcB − TSB）{bias:+.1f} µmol/L（95% CI {lo:+.1f} 至 {hi:+.1f}），标准差 {sd:.1f}；"
              "95% 一致性界限 {lower:+.1f} 至 {upper:+.1f} µmol/L；配对数 {n}。",
        "en": "Mean bias (TcB − TSB) {bias:+.1f} µmol/L (95% CI {lo:+.1f} to {hi:+.1f}), SD {sd:.1f}; "
              "95% limits of agreement {lower:+.1f} to {upper:+.1f} µmol/L; {n} pairs."},
    "jaundice.agree_met": {"zh": "一致性标准：达到", "en": "Agreement criterion: met"},
    "jaundice.agree_not_met": {"zh": "一致性标准：未达到——TcB 不能替代 TSB 作诊断或治疗决策",
                               "en": "Agreement criterion: not met — TcB cannot replace TSB for diagnosis or "
                                     "treatment decisions"},
    "jaundice.screen_met": {"zh": "筛查安全性标准：达到——可作为筛查工具，超过规则界值时须抽血测 TSB",
                            "en": "Screening criterion: met — usable for screening, with TSB drawn whenever the "
                                  "rule says so"},
    "jaundice.screen_not_met": {"zh": "筛查安全性标准：未达到或无法评估", "en": "Screening criterion: not met or not assessable"},
    "jaundice.pairs": {"zh": "配对数", "en": "Pairs"},
    "jaundice.bias": {"zh": "偏倚", "en": "Bias"},
    "jaundice.sd": {"zh": "差值标准差", "en": "SD of differences"},
    "jaundice.loa": {"zh": "95% 一致性界限", "en": "95% limits of agreement"},
    "jaundice.r": {"zh": "Pearson 相关系数", "en": "Pearson r"},
    "jaundice.tab_ba": {"zh": "Bland–Altman 图", "en": "Bland–Altman"},
    "jaundice.tab_reg": {"zh": "回归分析", "en": "Regression"},
    "jaundice.tab_diag": {"zh": "诊断准确性", "en": "Diagnostic accuracy"},
    "jaundice.tab_sub": {"zh": "亚组分析", "en": "Subgroups"},
    "jaundice.tab_methods": {"zh": "方法说明与下载", "en": "Methods and downloads"},
    "jaundice.ba_title": {"zh": "分箱 Bland–Altman 图（每格为配对数；少于 {k} 例的格已隐藏）",
                          "en": "Binned Bland–Altman plot (pairs per cell; cells under {k} hidden)"},
    "jaundice.ba_x": {"zh": "TcB 与 TSB 均值（µmol/L）", "en": "Mean of TcB and TSB (µmol/L)"},
    "jaundice.ba_y": {"zh": "差值 TcB − TSB（µmol/L）", "en": "Difference TcB − TSB (µmol/L)"},
    "jaundice.sc_title": {"zh": "分箱散点图与回归线（每格为配对数；少于 {k} 例的格已隐藏）",
                          "en": "Binned scatter with regression lines (pairs per cell; cells under {k} hidden)"},
    "jaundice.sc_x": {"zh": "TSB（µmol/L）", "en": "TSB (µmol/L)"},
    "jaundice.sc_y": {"zh": "TcB（µmol/L）", "en": "TcB (µmol/L)"},
    "jaundice.identity": {"zh": "等值线 y = x", "en": "Identity y = x"},
    "jaundice.deming": {"zh": "Deming 回归", "en": "Deming regression"},
    "jaundice.pb": {"zh": "Passing–Bablok 回归", "en": "Passing–Bablok regression"},
    "jaundice.ols": {"zh": "最小二乘回归", "en": "Ordinary least squares"},
    "jaundice.pairs_cell": {"zh": "配对数", "en": "pairs"},
    "jaundice.reg_table": {"zh": "回归系数（TcB = 截距 + 斜率 × TSB）", "en": "Regression (TcB = intercept + slope × TSB)"},
    "jaundice.method": {"zh": "方法", "en": "Method"},
    "jaundice.slope": {"zh": "斜率", "en": "Slope"},
    "jaundice.intercept": {"zh": "截距", "en": "Intercept"},
    "jaundice.ci": {"zh": "95% CI", "en": "95% CI"},
    "jaundice.dl_title": {"zh": "医学决定水平处的偏倚（Deming）", "en": "Bias at medical decision levels (Deming)"},
    "jaundice.level": {"zh": "决定水平", "en": "Decision level"},
    "jaundice.predicted": {"zh": "TcB 预测值", "en": "Predicted TcB"},
    "jaundice.diag_title": {"zh": "以 TSB ≥ 阈值为金标准的诊断准确性", "en": "Accuracy against TSB ≥ threshold"},
    "jaundice.threshold": {"zh": "TSB 阈值", "en": "TSB threshold"},
    "jaundice.rule": {"zh": "TcB 规则", "en": "TcB rule"},
    "jaundice.rule_same": {"zh": "TcB ≥ 阈值", "en": "TcB ≥ threshold"},
    "jaundice.rule_aap": {"zh": "TcB ≥ 阈值 − 3 mg/dL（AAP 2022 抽血规则）",
                          "en": "TcB ≥ threshold − 3 mg/dL (AAP 2022 draw-blood rule)"},
    "jaundice.cutoff": {"zh": "TcB 界值", "en": "TcB cut-off"},
    "jaundice.sens": {"zh": "灵敏度", "en": "Sensitivity"},
    "jaundice.spec": {"zh": "特异度", "en": "Specificity"},
    "jaundice.ppv": {"zh": "阳性预测值", "en": "PPV"},
    "jaundice.npv": {"zh": "阴性预测值", "en": "NPV"},
    "jaundice.suppressed": {"zh": "已隐藏", "en": "suppressed"},
    "jaundice.sub_title": {"zh": "亚组偏倚（TcB − TSB，95% CI）", "en": "Bias by subgroup (TcB − TSB, 95% CI)"},
    "jaundice.dimension": {"zh": "分组维度", "en": "Dimension"},
    "jaundice.group": {"zh": "亚组", "en": "Subgroup"},
    "jaundice.reason": {"zh": "说明", "en": "Note"},
    "jaundice.reason.primary": {"zh": "例数少于最小单元格，已隐藏", "en": "count below the minimum cell size: hidden"},
    "jaundice.reason.secondary": {"zh": "为防反推而隐藏", "en": "hidden so a small count cannot be recovered"},
    "jaundice.reason.too_few": {"zh": "配对数不足 {n}，不作统计", "en": "fewer than {n} pairs: no statistics"},
    "jaundice.reason.not_computable": {"zh": "无法计算", "en": "not computable"},
    "jaundice.dim.ga_band": {"zh": "胎龄", "en": "Gestational age"},
    "jaundice.dim.hol_band": {"zh": "生后小时龄", "en": "Hours of life"},
    "jaundice.dim.site": {"zh": "测量部位", "en": "Measurement site"},
    "jaundice.dim.skin_tone": {"zh": "肤色", "en": "Skin tone"},
    "jaundice.dim.phototherapy": {"zh": "测量前光疗", "en": "Phototherapy before measurement"},
    "jaundice.dim.device_model": {"zh": "设备型号", "en": "Device model"},
    "jaundice.dim.ga_site": {"zh": "胎龄组 × 部位", "en": "Gestation group × site"},
    "jaundice.lv.lt34": {"zh": "< 34 周", "en": "< 34 weeks"},
    "jaundice.lv.34to36": {"zh": "34–36 周", "en": "34–36 weeks"},
    "jaundice.lv.ge37": {"zh": "≥ 37 周（足月）", "en": "≥ 37 weeks (term)"},
    "jaundice.lv.lt24": {"zh": "< 24 小时", "en": "< 24 h"},
    "jaundice.lv.24to47": {"zh": "24–47 小时", "en": "24–47 h"},
    "jaundice.lv.48to95": {"zh": "48–95 小时", "en": "48–95 h"},
    "jaundice.lv.ge96": {"zh": "≥ 96 小时", "en": "≥ 96 h"},
    "jaundice.lv.forehead": {"zh": "前额", "en": "Forehead"},
    "jaundice.lv.sternum": {"zh": "胸骨", "en": "Sternum"},
    "jaundice.lv.light": {"zh": "浅", "en": "Light"},
    "jaundice.lv.medium": {"zh": "中", "en": "Medium"},
    "jaundice.lv.dark": {"zh": "深", "en": "Dark"},
    "jaundice.lv.yes": {"zh": "是", "en": "Yes"},
    "jaundice.lv.no": {"zh": "否", "en": "No"},
    "jaundice.lv.preterm": {"zh": "早产", "en": "Preterm"},
    "jaundice.lv.term": {"zh": "足月", "en": "Term"},
    "jaundice.methods": {
        "zh": "方法：差值均为 TcB − TSB；偏倚与 95% 一致性界限按 Bland–Altman（1999，近似置信区间）；"
              "Pearson r 用 Fisher z 区间；Deming 回归误差方差比 λ = var(TcB 误差)/var(TSB 误差) = {lam:g}"
              "（刀切法区间）；Passing–Bablok 回归在数据空间内用全部配对计算，只发布系数；"
              "诊断准确性以 Wilson 区间表示，仅在 2×2 各格均可发布时给出；亚组少于 {minp} 对不作统计。"
              "所有计数经过披露控制：1–{k1} 的计数不显示，必要时作二次隐藏；图为分箱计数，从不显示单个测量。",
        "en": "Methods: differences are TcB − TSB; bias and 95% limits of agreement by Bland–Altman (1999, "
              "approximate intervals); Pearson r with a Fisher-z interval; Deming regression with error ratio "
              "λ = var(TcB error)/var(TSB error) = {lam:g} (jackknife intervals); Passing–Bablok computed inside the "
              "space on every pair, only its coefficients released; diagnostic accuracy with Wilson intervals, shown "
              "only when all its 2×2 counts are releasable; no statistics for subgroups under {minp} pairs. Every "
              "count passed disclosure control: counts 1–{k1} are not shown, with secondary suppression where "
              "needed; plots are binned counts, never single measurements."},
    "jaundice.download_pdf": {"zh": "下载完整报告（PDF）", "en": "Download the full report (PDF)"},
    "jaundice.download_csv": {"zh": "下载统计结果（CSV）", "en": "Download the statistics (CSV)"},
    "jaundice.download_note": {"zh": "下载经访问控制并记入审计日志。", "en": "Downloads go through the access gate and the audit ledger."},
    "jaundice.page": {"zh": "第 {page} 页", "en": "Page {page}"},
    "jaundice.synthetic": {"zh": "合成演示数据：本报告所有数字均由程序生成，不代表任何真实患者、机构或产品。",
                           "en": "Synthetic demonstration data: every figure in this report is generated and "
                                 "describes no real patient, facility or product."},
})
