"""What the jaundice device report measures: subgroups, thresholds, bins and the acceptance criteria.

Shared by the builder (which computes them), the release (which protects and checks them) and the
views, page and PDF (which label them), so a threshold or a bin edge is defined once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Re-exported: the builder and views name the source table and the GA grouping through this module.
from data_products.contracts.bilirubin import (  # noqa: F401
    GA_BAND_SQL,
    GA_BANDS,
    GA_GROUP_SQL,
    GA_GROUPS,
    HOL_BAND_SQL,
    HOL_BANDS,
    SITES,
    SKIN_TONES,
    UMOL_PER_MG_DL,
)
from data_products.contracts.bilirubin import TABLE as SOURCE  # noqa: F401

PRODUCT_ID = "jaundice_report"
# The product's name, once: the definition, the page title and the PDF read it.
NAME = {"zh": "新生儿黄疸仪设备测试评估报告", "en": "Neonatal jaundice device evaluation report"}
UNIT = "µmol/L"

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
    "ga_band": (GA_BAND_SQL, GA_BANDS),
    "hol_band": (HOL_BAND_SQL, HOL_BANDS),
    "site": ("site", SITES),
    "skin_tone": ("skin_tone", SKIN_TONES),
    "phototherapy": ("CASE WHEN phototherapy THEN 'yes' ELSE 'no' END", ("no", "yes")),
    "device_model": ("device_model", ()),  # levels are whatever models the hospital used
}
# The cross-classification the literature reports (preterm forehead vs sternum).
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

MESSAGES = {
    "jaundice.subtitle": {"zh": "经皮胆红素（TcB）与血清总胆红素（TSB）的方法学比对",
                          "en": "Transcutaneous bilirubin (TcB) device against total serum bilirubin (TSB)"},
    "jaundice.release": {"zh": "发布版本 {release}，批准人 {by}，更新于 {at}（北京时间）",
                         "en": "Release {release}, approved by {by}, updated {at} (Beijing time)"},
    "jaundice.source": {"zh": "数据来源：{source}；测量期间 {start} 至 {end}；单位 µmol/L（1 mg/dL = 17.1 µmol/L）",
                        "en": "Source: {source}; measured {start} to {end}; unit µmol/L (1 mg/dL = 17.1 µmol/L)"},
    "jaundice.source_anon": {"zh": "广州市一家三级妇女儿童医疗中心（机构名称不向本机构类型展示）",
                             "en": "a tertiary women's and children's centre in Guangzhou (name not shown to your "
                                   "type of organisation)"},
    "jaundice.verdict": {"zh": "结论", "en": "Verdict"},
    "jaundice.criteria": {
        "zh": "验收标准（事先设定，均按 95% 置信界判定，而非点估计）：① 一致性——在每个医学决定水平，95% 一致性界限"
              "（含其置信区间）均在 ±{limit:.1f} µmol/L（3 mg/dL）以内；② 筛查安全性——按 AAP 2022 规则（TcB 距光疗阈值"
              " 3 mg/dL 以内即抽血）在每个阈值的灵敏度 Wilson 95% 下限 ≥ {sens:.0f}%。",
        "en": "Acceptance criteria (stated in advance, each decided on its 95% confidence bound, never on a point "
              "estimate): (1) agreement — at every medical decision level both 95% limits of agreement, with their "
              "confidence intervals, within ±{limit:.1f} µmol/L (3 mg/dL); (2) screening safety — the Wilson 95% "
              "lower bound of the sensitivity of the AAP 2022 rule (draw blood when TcB is within 3 mg/dL of the "
              "threshold) at least {sens:.0f}% at every threshold."},
    "jaundice.bias_line": {
        "zh": "平均偏倚（TcB − TSB）{bias:+.1f} µmol/L（95% CI {lo:+.1f} 至 {hi:+.1f}），标准差 {sd:.1f}；"
              "恒定宽度的 95% 一致性界限 {lower:+.1f} 至 {upper:+.1f} µmol/L；配对数 {n}。",
        "en": "Mean bias (TcB − TSB) {bias:+.1f} µmol/L (95% CI {lo:+.1f} to {hi:+.1f}), SD {sd:.1f}; "
              "constant-width 95% limits of agreement {lower:+.1f} to {upper:+.1f} µmol/L; {n} pairs."},
    "jaundice.loa_regression_line": {
        "zh": "差值的离散度随胆红素升高而增大（异方差检验显著），故采用 Bland–Altman（1999）回归法一致性界限，"
              "按配对均值计：{parts}。恒定宽度界限在高值处偏窄、低值处偏宽，仅供参考。",
        "en": "The spread of the differences grows with bilirubin (heteroscedasticity test significant), so the limits "
              "of agreement are Bland–Altman (1999) regression-based, at a pair mean of {parts}. Constant-width limits "
              "are too narrow at high and too wide at low values; shown for reference only."},
    "jaundice.side_upper": {"zh": "上限", "en": "upper limit"},
    "jaundice.side_lower": {"zh": "下限", "en": "lower limit"},
    "jaundice.agree_met": {
        "zh": "一致性标准：达到——最接近标准处为 {level:g} µmol/L 的{side} {value:+.1f}，其 95% 置信界 {bound:+.1f} 仍在 ±{limit:.1f} 以内",
        "en": "Agreement criterion: met — closest at {level:g} µmol/L, {side} {value:+.1f}, whose 95% confidence bound "
              "{bound:+.1f} is still within ±{limit:.1f}"},
    "jaundice.agree_not_met": {
        "zh": "一致性标准：未达到——{level:g} µmol/L 处的{side}为 {value:+.1f}，其 95% 置信区间（最有利一端 {bound:+.1f}）"
              "整体超出 ±{limit:.1f}；TcB 不能替代 TSB 作诊断或治疗决策",
        "en": "Agreement criterion: not met — at {level:g} µmol/L the {side} is {value:+.1f} and its whole 95% "
              "confidence interval (nearest end {bound:+.1f}) lies beyond ±{limit:.1f}; TcB cannot replace TSB for "
              "diagnosis or treatment decisions"},
    "jaundice.agree_not_shown": {
        "zh": "一致性标准：未能证明——{level:g} µmol/L 处的{side}为 {value:+.1f}，但其 95% 置信界 {bound:+.1f} 超出 ±{limit:.1f}",
        "en": "Agreement criterion: not demonstrated — at {level:g} µmol/L the {side} is {value:+.1f}, but its 95% "
              "confidence bound {bound:+.1f} lies beyond ±{limit:.1f}"},
    "jaundice.screen_met": {
        "zh": "筛查安全性标准：达到——最低处 {mg:.0f} mg/dL 的灵敏度 {k}/{n}，Wilson 95% 下限 {bound:.1f}% ≥ {sens:.0f}%；"
              "可作为筛查工具，超过规则界值时须抽血测 TSB",
        "en": "Screening criterion: met — lowest at {mg:.0f} mg/dL, sensitivity {k}/{n} with Wilson 95% lower bound "
              "{bound:.1f}% ≥ {sens:.0f}%; usable for screening, with TSB drawn whenever the rule says so"},
    "jaundice.screen_not_met": {
        "zh": "筛查安全性标准：未达到——{mg:.0f} mg/dL 处灵敏度 {k}/{n}（{value:.1f}%），Wilson 95% 上限 {bound:.1f}% 仍低于 {sens:.0f}%",
        "en": "Screening criterion: not met — at {mg:.0f} mg/dL sensitivity {k}/{n} ({value:.1f}%); even its Wilson 95% "
              "upper bound {bound:.1f}% is below {sens:.0f}%"},
    "jaundice.screen_not_shown": {
        "zh": "筛查安全性标准：未能证明——{mg:.0f} mg/dL 处灵敏度 {k}/{n}（{value:.1f}%），但 Wilson 95% 下限仅 {bound:.1f}%，"
              "低于 {sens:.0f}%；需要更多超过该阈值的病例",
        "en": "Screening criterion: not demonstrated — at {mg:.0f} mg/dL sensitivity {k}/{n} ({value:.1f}%), but its "
              "Wilson 95% lower bound is only {bound:.1f}%, below {sens:.0f}%; more cases above this threshold are "
              "needed"},
    "jaundice.screen_unknown": {"zh": "筛查安全性标准：无法评估（有灵敏度因计数被隐藏而未发布）",
                                "en": "Screening criterion: not assessable (a sensitivity is withheld because its "
                                      "counts are suppressed)"},
    "jaundice.primary": {"zh": "主回归线", "en": "Primary line"},
    "jaundice.pb_caveat": {
        "zh": "主回归线为 Deming（λ = {lam:g}）。Passing–Bablok 仅在误差方差比 λ ≈ 斜率²（此处 ≈ {b2:.2f}）时无偏；"
              "λ 与之相差超过 {f:g} 倍，其斜率（{pb:.3f}）有偏，仅供参考。",
        "en": "Primary line: Deming (λ = {lam:g}). Passing–Bablok is unbiased only when the error-variance ratio λ ≈ "
              "slope² (≈ {b2:.2f} here); λ differs from it by more than a factor {f:g}, so its slope ({pb:.3f}) is "
              "biased and shown for reference only."},
    "jaundice.pb_primary": {
        "zh": "主回归线为 Passing–Bablok：λ = {lam:g} 与斜率²（{b2:.2f}）相差不超过 {f:g} 倍，其假设成立，且对离群值稳健。",
        "en": "Primary line: Passing–Bablok: λ = {lam:g} is within a factor {f:g} of slope² ({b2:.2f}), so its "
              "assumption holds, and it is robust to outliers."},
    "jaundice.limits_title": {"zh": "各医学决定水平处的 95% 一致性界限（按配对均值）",
                              "en": "95% limits of agreement at the decision levels (by pair mean)"},
    "jaundice.loa_form": {"zh": "界限形式", "en": "Form"},
    "jaundice.loa_form.regression": {"zh": "回归法（Bland–Altman 1999）", "en": "Regression-based (Bland–Altman 1999)"},
    "jaundice.loa_form.constant": {"zh": "恒定宽度", "en": "Constant width"},
    "jaundice.lower": {"zh": "下限", "en": "Lower limit"},
    "jaundice.upper": {"zh": "上限", "en": "Upper limit"},
    "jaundice.used": {"zh": "结论所用", "en": "Used for the verdict"},
    "jaundice.ba_regression_lines": {"zh": "回归法界限", "en": "Regression-based limits"},
    "jaundice.pairs": {"zh": "配对数", "en": "Pairs"},
    "jaundice.bias": {"zh": "偏倚", "en": "Bias"},
    "jaundice.sd": {"zh": "差值标准差", "en": "SD of differences"},
    "jaundice.loa": {"zh": "95% 一致性界限", "en": "95% limits of agreement"},
    "jaundice.r": {"zh": "Pearson 相关系数", "en": "Pearson r"},
    "jaundice.tab_ba": {"zh": "Bland–Altman 图", "en": "Bland–Altman"},
    "jaundice.tab_reg": {"zh": "回归分析", "en": "Regression"},
    "jaundice.tab_diag": {"zh": "诊断准确性", "en": "Diagnostic accuracy"},
    "jaundice.tab_sub": {"zh": "亚组分析", "en": "Subgroups"},
    "jaundice.suppression_rule": {
        "zh": "小单元保护：1 至 {k1} 例的计数一律不显示（一级隐藏）；另有单元格被隐藏，使任何隐藏值都无法由合计推算（二级隐藏）。",
        "en": "Small-cell protection: no count from 1 to {k1} is shown (primary); further cells are hidden so that no "
              "hidden value can be recovered from totals (secondary).",
    },
    "jaundice.tab_methods": {"zh": "关于数据", "en": "About this data"},
    "jaundice.about": {"zh": "关于数据：方法与每项选择", "en": "About this data: methods and each choice"},
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
        "zh": "每项选择及其理由：\n\n"
              "• 差值一律为 TcB − TSB（正值表示仪器读数偏高）。平均偏倚及其 95% CI 按 Bland–Altman（1999）近似法。\n\n"
              "• 一致性界限的形式由事先声明的异方差检验决定：先以差值 D 对配对均值 A 作最小二乘回归，再以残差绝对值 |R| 对 A "
              "回归；|R| 斜率的双侧 t 检验 p < 0.05 即认为离散度随胆红素变化，此时采用 Bland–Altman（1999）回归法界限："
              "D(A) 拟合值 ± 2.46 × |R|(A) 拟合值（2.46 = 1.96 × √(π/2)，因正态残差的 E|R| = σ√(2/π)）；否则采用恒定宽度界限 偏倚 ± 1.96 SD。"
              "回归法界限的置信区间为本报告的近似（两条拟合线在 A 处的预测标准误合成，t 分布 n − 2 自由度），Bland 与 Altman 未给出公式。"
              "界限在 205、256、291 µmol/L（12、15、17 mg/dL）三个决定水平处列出（按配对均值计），恒定宽度界限同列以便比较。\n\n"
              "• 回归线按误差结构选择：λ = var(TcB 误差)/var(TSB 误差) = {lam:g}（实验室 TSB 分析变异系数约 5%，190 µmol/L 时约 9.5；"
              "TcB 差值离散约 21 µmol/L，(21/9.5)² ≈ 5）。注意 R 包 mcr 的 error.ratio 为 1/λ。Passing–Bablok 仅在 λ ≈ 斜率² 时无偏"
              "（Passing 与 Bablok 1983）：λ 与斜率² 相差不超过 2 倍时以 Passing–Bablok 为主回归线（对离群值稳健），否则以给定 λ 的 "
              "Deming 回归为主，Passing–Bablok 附说明仅供参考。Deming 置信区间用刀切法（Linnet 1990，与 mcr 相同）；"
              "Passing–Bablok 在数据空间内用全部配对精确计算，只发布系数。决定水平处的系统误差取自 Deming 线。\n\n"
              "• 结论一律按置信界判定：一致性要求各决定水平处上下限的置信区间都在 ±3 mg/dL 以内（整体超出为“未达到”，"
              "仅置信界超出为“未能证明”）；筛查要求 AAP 规则灵敏度的 Wilson 95% 下限 ≥ 95%（上限也低于 95% 为“未达到”，"
              "否则为“未能证明”）。点估计满足而置信界不满足，不算达到。\n\n"
              "• Pearson r 用 Fisher z 区间；诊断准确性以 Wilson 区间表示，仅在 2×2 各格均可发布时给出；亚组少于 {minp} 对不作统计，"
              "亚组界限为恒定宽度。所有计数经过披露控制：1–{k1} 的计数不显示，必要时作二次隐藏；图为分箱计数，从不显示单个测量。",
        "en": "Each choice and why:\n\n"
              "• Differences are always TcB − TSB (positive: the device reads high). Mean bias and its 95% CI follow "
              "Bland–Altman (1999), approximate method.\n\n"
              "• The form of the limits of agreement is chosen by a stated test of heteroscedasticity: the differences D "
              "are regressed on the pair mean A by least squares, then the absolute residuals |R| on A; if the slope of "
              "|R| differs from 0 (two-sided t test, p < 0.05) the spread changes with bilirubin and the limits are "
              "Bland–Altman (1999) regression-based: fitted D(A) ± 2.46 × fitted |R|(A) (2.46 = 1.96 × √(π/2), since E|R| = σ√(2/π) "
              "for normal residuals); otherwise constant limits, bias ± 1.96 SD. The intervals of the regression-based "
              "limits are our approximation (the two fitted lines' standard errors at A combined, t with n − 2 df); "
              "Bland and Altman give no formula. Limits are listed at the decision levels 205, 256 and 291 µmol/L "
              "(12, 15, 17 mg/dL), read as pair means, with the constant limits beside them for comparison.\n\n"
              "• The regression line is chosen by the error structure: λ = var(TcB error)/var(TSB error) = {lam:g} "
              "(laboratory TSB CV about 5%, 9.5 µmol/L at 190; TcB differences scatter about 21 µmol/L; (21/9.5)² ≈ 5). "
              "Mind that R's mcr takes error.ratio = 1/λ. Passing–Bablok is unbiased only when λ ≈ slope² (Passing & "
              "Bablok 1983): when λ is within a factor 2 of slope² it is the primary line (robust to outliers); otherwise "
              "Deming with the stated λ is primary and Passing–Bablok is shown with a caveat, for reference. Deming "
              "intervals by jackknife (Linnet 1990, as in mcr); Passing–Bablok computed exactly inside the space on every "
              "pair, only its coefficients released. Systematic error at the decision levels from the Deming line.\n\n"
              "• Every verdict is decided on a confidence bound: agreement needs the confidence intervals of both limits "
              "within ±3 mg/dL at every decision level (a whole interval beyond is \"not met\", a bound beyond is \"not "
              "demonstrated\"); screening needs the Wilson 95% lower bound of the AAP rule's sensitivity ≥ 95% (an upper "
              "bound below 95% is \"not met\", otherwise \"not demonstrated\"). A point estimate that passes with a bound "
              "that does not is not a pass.\n\n"
              "• Pearson r with a Fisher-z interval; diagnostic accuracy with Wilson intervals, shown only when all its "
              "2×2 counts are releasable; no statistics for subgroups under {minp} pairs, and subgroup limits are "
              "constant-width. Every count passed disclosure control: counts 1–{k1} are not shown, with secondary "
              "suppression where needed; plots are binned counts, never single measurements."},
    "jaundice.download_pdf": {"zh": "完整报告（PDF）", "en": "Full report (PDF)"},
    "jaundice.download_csv": {"zh": "统计表（CSV，zip）", "en": "Statistics (CSV, zip)"},
    "jaundice.download_note": {"zh": "下载经访问控制并记入审计日志。", "en": "Downloads go through the access gate and the audit ledger."},
    "jaundice.page": {"zh": "第 {page} 页", "en": "Page {page}"},
    "jaundice.synthetic": {"zh": "合成演示数据：本报告所有数字均由程序生成，不代表任何真实患者、机构或产品。",
                           "en": "Synthetic demonstration data: every figure in this report is generated and "
                                 "describes no real patient, facility or product."},
}
