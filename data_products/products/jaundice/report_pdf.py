"""The jaundice report as a PDF (fpdf2), in Chinese or English, from released figures only.

``render(data, lang)`` takes what ``views.report_data`` read from the approved release (the gate has
already been asked) and draws: verdict, key statistics, regression and decision-level tables, the
binned Bland-Altman and scatter grids as shaded cells (suppressed cells grey, never a point), the
diagnostic accuracy and subgroup tables and the method notes. CJK text needs a font with Chinese
glyphs: the system's WenQuanYi Micro Hei.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from data_products.config import settings
from data_products.i18n import t
from data_products.products.jaundice.spec import (
    BA_DIFF_EDGES,
    BA_MEAN_EDGES,
    MIN_PAIRS_FOR_STATS,
    NAME,
    SCATTER_EDGES,
    UMOL_PER_MG_DL,
)

FONT = "wqy"
BLUE = (31, 119, 180)
ORANGE = (230, 120, 20)
GREEN = (44, 160, 44)
GREY = (205, 205, 205)


class FontMissing(RuntimeError):
    """The CJK font the PDF needs is not installed."""


def _fmt(v, digits: int = 1, sign: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "—"
    return f"{float(v):+.{digits}f}" if sign else f"{float(v):.{digits}f}"


def _ci(lo, hi, digits: int = 1) -> str:
    if any(v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) for v in (lo, hi)):
        return "—"
    return f"{float(lo):.{digits}f} – {float(hi):.{digits}f}"


def _pct(v) -> str:
    return "—" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else f"{100 * float(v):.1f}%"


class _Report(FPDF):
    def __init__(self, lang: str, footer_text: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.lang = lang
        self.footer_text = footer_text
        font_path = settings().cjk_font
        if not font_path.exists():
            raise FontMissing(f"CJK font not found at {font_path}: the PDF report needs it for Chinese text. "
                              "Install it (Debian/Ubuntu: apt-get install fonts-wqy-microhei) or point "
                              "DATASPACE_CJK_FONT at another TrueType font with Chinese glyphs.")
        self.add_font(FONT, "", str(font_path), collection_font_number=0)
        self.set_auto_page_break(True, margin=16)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.footer_text}    {t('jaundice.page', self.lang, page=self.page_no())}", align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 12) -> None:
        self.ln(2)
        self.set_font(FONT, size=size)
        self.set_text_color(*BLUE)
        self.multi_cell(0, size * 0.55, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(1)

    def para(self, text: str, size: float = 9) -> None:
        self.set_font(FONT, size=size)
        # Left-aligned: justification stretches the spaces around Latin words in Chinese text.
        self.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def grid_table(self, header: list[str], rows: list[list[str]], widths: list[float], size: float = 8) -> None:
        self.set_font(FONT, size=size)
        heads = FontFace(family=FONT, emphasis=None, fill_color=(230, 238, 247))
        with self.table(col_widths=widths, text_align="CENTER", line_height=size * 0.55, first_row_as_headings=True,
                        headings_style=heads) as table:
            for r in [header, *rows]:
                row = table.row()
                for cell in r:
                    row.cell(str(cell))
        self.ln(2)


def _shade(v: float, vmax: float) -> tuple[int, int, int]:
    """White -> blue on a log scale (counts span orders of magnitude)."""
    f = 0.0 if vmax <= 1 else min(1.0, math.log1p(v) / math.log1p(vmax))
    return tuple(int(round(255 - f * (255 - c))) for c in (8, 69, 148))


def _heatmap(pdf: _Report, grid: pd.DataFrame, xedges: np.ndarray, yedges: np.ndarray, xlabel: str, ylabel: str,
             lines: list[tuple[str, tuple[int, int, int], float, float]] = (),
             hlines: list[tuple[str, tuple[int, int, int], float]] = (), height: float = 78) -> None:
    """Count grid as shaded cells; lines y = a + b x and horizontal lines, clipped to the plot."""
    left, width = pdf.l_margin + 14, pdf.w - pdf.l_margin - pdf.r_margin - 50
    top = pdf.get_y() + 2
    x0, x1, y0, y1 = float(xedges[0]), float(xedges[-1]), float(yedges[0]), float(yedges[-1])
    sx = lambda x: left + (x - x0) / (x1 - x0) * width  # noqa: E731
    sy = lambda y: top + height - (y - y0) / (y1 - y0) * height  # noqa: E731
    vmax = float(np.nanmax(grid["pairs"].to_numpy(dtype=float))) if grid["pairs"].notna().any() else 1.0
    xw, yw = float(xedges[1] - xedges[0]), float(yedges[1] - yedges[0])
    pdf.set_line_width(0.1)
    for r in grid.itertuples(index=False):
        if isinstance(r.pairs, float) and math.isnan(r.pairs):
            pdf.set_fill_color(*GREY)
        elif r.pairs == 0:
            continue
        else:
            pdf.set_fill_color(*_shade(float(r.pairs), vmax))
        pdf.rect(sx(r.x - xw / 2), sy(r.y + yw / 2), sx(r.x + xw / 2) - sx(r.x - xw / 2),
                 sy(r.y - yw / 2) - sy(r.y + yw / 2), style="F")
    pdf.set_draw_color(80, 80, 80)
    pdf.rect(left, top, width, height)
    with pdf.rect_clip(left, top, width, height):
        pdf.set_line_width(0.45)
        for _, color, a, b in lines:
            pdf.set_draw_color(*color)
            pdf.line(sx(x0), sy(a + b * x0), sx(x1), sy(a + b * x1))
        for _, color, y in hlines:
            pdf.set_draw_color(*color)
            pdf.set_dash_pattern(dash=1.5, gap=1.0)
            pdf.line(sx(x0), sy(y), sx(x1), sy(y))
            pdf.set_dash_pattern()
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_font(FONT, size=6.5)
    for x in xedges[:: max(1, len(xedges) // 10)]:
        pdf.text(sx(float(x)) - 2.5, top + height + 3.5, f"{x:g}")
    for y in yedges[:: max(1, len(yedges) // 10)]:
        pdf.text(left - 9, sy(float(y)) + 1, f"{y:g}")
    pdf.set_font(FONT, size=7.5)
    pdf.text(left + width / 2 - 20, top + height + 8, xlabel)
    with pdf.rotation(90, left - 11, top + height / 2 + 20):
        pdf.text(left - 11, top + height / 2 + 20, ylabel)
    # Legend: the lines, then the grey "suppressed" swatch.
    lx, ly = left + width + 4, top + 2
    pdf.set_font(FONT, size=6.5)
    for label, color, *_ in [*lines, *hlines]:
        if not label:
            continue
        pdf.set_draw_color(*color)
        pdf.set_line_width(0.6)
        pdf.line(lx, ly, lx + 5, ly)
        pdf.text(lx + 6, ly + 1, label)
        ly += 5
    pdf.set_fill_color(*GREY)
    pdf.rect(lx, ly - 1.5, 5, 3, style="F")
    pdf.text(lx + 6, ly + 1, t("jaundice.suppressed", pdf.lang))
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_y(top + height + 11)


def _label(dim: str, level: str, lang: str) -> str:
    if dim == "device_model":
        return level
    if dim == "ga_site":
        g, s = level.split("/")
        return f"{t(f'jaundice.lv.{g}', lang)} · {t(f'jaundice.lv.{s}', lang)}"
    return t(f"jaundice.lv.{level}", lang)


def _reason(reason: str, lang: str) -> str:
    if not reason:
        return ""
    key = f"jaundice.reason.{reason}"
    return t(key, lang, n=MIN_PAIRS_FOR_STATS) if reason == "too_few" else t(key, lang)


def render(data: dict, lang: str = "zh") -> bytes:
    meta, appr, v, o = data["meta"], data["approval"], data["verdict"], data["overall"]
    title = NAME["en" if lang == "en" else "zh"]
    pdf = _Report(lang, f"{title} · {data['release_id']}")
    pdf.set_title(title)
    pdf.set_subject(t("jaundice.subtitle", lang))
    pdf.set_creator("Guangzhou health trusted data space")
    pdf.add_page()

    pdf.set_font(FONT, size=17)
    pdf.multi_cell(0, 9, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)
    pdf.multi_cell(0, 6, t("jaundice.subtitle", lang), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    span = meta.get("time_span") or ["", ""]
    pdf.para(t("jaundice.source", lang, source=data["source"], start=span[0], end=span[-1]), 8)
    pdf.para(t("jaundice.release", lang, release=data["release_id"], by=appr.get("approved_by"),
               at=appr.get("approved_at")), 8)
    if meta.get("synthetic"):
        pdf.set_text_color(170, 60, 0)
        pdf.para(t("jaundice.synthetic", lang), 8.5)
        pdf.set_text_color(0, 0, 0)

    pdf.heading(t("jaundice.verdict", lang), 13)
    pdf.para(t("jaundice.criteria", lang, limit=v.agreement_limit, sens=100 * v.screening_min_sensitivity), 8.5)
    for line in v.lines(lang):
        pdf.para("• " + line, 9.5)

    pdf.heading(t("jaundice.loa", lang) + " · " + t("jaundice.r", lang), 11)
    pdf.grid_table(
        ["", t("jaundice.pairs", lang), t("jaundice.bias", lang), t("jaundice.ci", lang), t("jaundice.sd", lang),
         t("jaundice.loa", lang), t("jaundice.r", lang)],
        [["TcB − TSB", str(int(o["pairs"])), _fmt(o["bias"], 1, True), _ci(o["bias_ci_low"], o["bias_ci_high"]),
          _fmt(o["sd"]), f"{_fmt(o['loa_lower'], 1, True)} / {_fmt(o['loa_upper'], 1, True)}",
          f"{_fmt(o['pearson_r'], 3)} ({_ci(o['pearson_ci_low'], o['pearson_ci_high'], 3)})"]],
        [20, 14, 16, 28, 26, 38, 38])  # wide enough that no heading breaks inside a word

    pdf.heading(t("jaundice.reg_table", lang), 11)
    names = {"ols": t("jaundice.ols", lang), "deming": t("jaundice.deming", lang) + f" (λ={meta.get('error_ratio'):g})",
             "passing_bablok": t("jaundice.pb", lang)}
    star = f" ({t('jaundice.primary', lang)})"
    pdf.grid_table(
        [t("jaundice.method", lang), t("jaundice.slope", lang), t("jaundice.ci", lang), t("jaundice.intercept", lang),
         t("jaundice.ci", lang)],
        [[names[r.method] + (star if getattr(r, "primary", False) else ""), _fmt(r.slope, 3),
          _ci(r.slope_ci_low, r.slope_ci_high, 3), _fmt(r.intercept, 1, True),
          _ci(r.intercept_ci_low, r.intercept_ci_high)] for r in data["regression"].itertuples()],
        [60, 22, 34, 22, 42])
    primary = str(o.get("primary_regression", "deming"))
    pb_b = float(o["pb_slope"])
    pdf.para(t("jaundice.pb_primary" if primary == "passing_bablok" else "jaundice.pb_caveat", lang,
               lam=meta.get("error_ratio"), b2=pb_b * pb_b, f=meta.get("pb_lambda_factor", 2.0), pb=pb_b), 7.5)

    pdf.heading(t("jaundice.dl_title", lang), 11)
    pdf.grid_table(
        [t("jaundice.level", lang), t("jaundice.predicted", lang), t("jaundice.bias", lang), t("jaundice.ci", lang)],
        [[f"{r.level:g} µmol/L ({r.level / UMOL_PER_MG_DL:.0f} mg/dL)", _fmt(r.predicted), _fmt(r.bias, 1, True),
          _ci(r.ci_low, r.ci_high)] for r in data["decision_levels"].itertuples()],
        [60, 40, 40, 40])

    lim = data.get("limits")
    if lim is not None and not lim.empty:
        pdf.heading(t("jaundice.limits_title", lang), 11)
        pdf.grid_table(
            [t("jaundice.level", lang), t("jaundice.loa_form", lang), t("jaundice.bias", lang),
             t("jaundice.lower", lang) + " (95% CI)", t("jaundice.upper", lang) + " (95% CI)", t("jaundice.used", lang)],
            [[f"{r.level:g} ({r.level / UMOL_PER_MG_DL:.0f} mg/dL)", t(f"jaundice.loa_form.{r.method}", lang),
              _fmt(r.bias, 1, True), f"{_fmt(r.lower, 1, True)} ({_ci(r.lower_ci_low, r.lower_ci_high)})",
              f"{_fmt(r.upper, 1, True)} ({_ci(r.upper_ci_low, r.upper_ci_high)})", t("jaundice.lv.yes", lang) if r.chosen else ""]
             for r in lim.itertuples()],
            [30, 42, 16, 36, 36, 20], size=7)

    pdf.add_page()
    k = meta.get("min_cell", 10)
    pdf.heading(t("jaundice.ba_title", lang, k=k), 11)
    ba_lines = []
    if o.get("loa_method") == "regression" and not pd.isna(o.get("rl_factor")):
        f, b0, b1, c0, c1 = (float(o[c]) for c in ("rl_factor", "rl_bias_intercept", "rl_bias_slope",
                                                     "rl_abs_intercept", "rl_abs_slope"))
        purple = (106, 27, 154)
        ba_lines = [(t("jaundice.ba_regression_lines", lang), purple, b0 - f * c0, b1 - f * c1),
                    ("", purple, b0, b1), ("", purple, b0 + f * c0, b1 + f * c1)]
    _heatmap(pdf, data["ba_grid"], BA_MEAN_EDGES, BA_DIFF_EDGES, t("jaundice.ba_x", lang), t("jaundice.ba_y", lang),
             lines=ba_lines,
             hlines=[(t("jaundice.bias", lang), (200, 30, 30), float(o["bias"])),
                     (f"LoA ({t('jaundice.loa_form.constant', lang)})", (120, 120, 120), float(o["loa_lower"])),
                     ("", (120, 120, 120), float(o["loa_upper"])),
                     ("±3 mg/dL", GREEN, v.agreement_limit), ("", GREEN, -v.agreement_limit)])
    pdf.heading(t("jaundice.sc_title", lang, k=k), 11)
    _heatmap(pdf, data["scatter_grid"], SCATTER_EDGES, SCATTER_EDGES, t("jaundice.sc_x", lang), t("jaundice.sc_y", lang),
             lines=[(t("jaundice.identity", lang), (90, 90, 90), 0.0, 1.0),
                    ("Deming" + (star if primary == "deming" else ""), ORANGE, float(o["deming_intercept"]),
                     float(o["deming_slope"])),
                    ("Passing–Bablok" + (star if primary == "passing_bablok" else ""), GREEN, float(o["pb_intercept"]),
                     float(o["pb_slope"]))])

    pdf.add_page()
    pdf.heading(t("jaundice.diag_title", lang), 11)
    rows = []
    for r in data["accuracy"].itertuples():
        rows.append([f"{r.tsb_threshold:g} ({r.mg_dl} mg/dL)", t(f"jaundice.rule_{r.rule}", lang), f"{r.tcb_cutoff:g}",
                     *[("—" if pd.isna(x) else str(int(x))) for x in (r.tp, r.fp, r.fn, r.tn)],
                     f"{_pct(r.sensitivity)} ({_pct(r.sensitivity_ci_low)}–{_pct(r.sensitivity_ci_high)})",
                     f"{_pct(r.specificity)} ({_pct(r.specificity_ci_low)}–{_pct(r.specificity_ci_high)})",
                     _pct(r.ppv), _pct(r.npv)])
    pdf.grid_table([t("jaundice.threshold", lang), t("jaundice.rule", lang), t("jaundice.cutoff", lang), "TP", "FP",
                    "FN", "TN", t("jaundice.sens", lang), t("jaundice.spec", lang), t("jaundice.ppv", lang),
                    t("jaundice.npv", lang)], rows, [19, 30, 12, 10, 10, 10, 10, 25, 25, 14, 15], size=6.5)

    pdf.heading(t("jaundice.sub_title", lang), 11)
    # The subgroup slope is the primary line's (Deming unless Passing-Bablok's assumption holds).
    slope_col, slope_name = ("pb_slope", "PB") if primary == "passing_bablok" else ("deming_slope", "Deming")
    rows = []
    for r in data["subgroups"].itertuples():
        rows.append([t(f"jaundice.dim.{r.dimension}", lang), _label(r.dimension, r.level, lang),
                     "—" if pd.isna(r.pairs) else str(int(r.pairs)), _fmt(r.bias, 1, True), _ci(r.bias_ci_low, r.bias_ci_high),
                     _fmt(r.sd), f"{_fmt(r.loa_lower, 1, True)} / {_fmt(r.loa_upper, 1, True)}",
                     _fmt(getattr(r, slope_col), 3), _reason(r.stats_reason or r.pairs_flag, lang)])
    pdf.grid_table([t("jaundice.dimension", lang), t("jaundice.group", lang), t("jaundice.pairs", lang),
                    t("jaundice.bias", lang), t("jaundice.ci", lang), t("jaundice.sd", lang), t("jaundice.loa", lang),
                    f"{slope_name} " + t("jaundice.slope", lang), t("jaundice.reason", lang)], rows,
                   [28, 30, 13, 14, 24, 13, 26, 14, 18], size=6.5)

    pdf.heading(t("jaundice.about", lang), 11)
    pdf.para(t("jaundice.methods", lang, lam=meta.get("error_ratio"), minp=MIN_PAIRS_FOR_STATS, k1=k - 1), 8)
    return bytes(pdf.output())
