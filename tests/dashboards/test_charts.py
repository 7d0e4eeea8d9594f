"""Shared figures: what a reader sees must sit inside the axis that shows it."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboards.charts import quantile_boxes


def _frame():
    # Released-quantile rows as the pneumonia views return them (CRP-like spread, mg/L).
    return pd.DataFrame(
        {"p10": [1.2, 3.0, None], "p25": [2.5, 6.0, None], "p50": [6.0, 14.0, 9.0],
         "p75": [18.0, 40.0, None], "p90": [55.0, 120.0, None]},
        index=["<1", "1-5", "6-13"],
    )


@pytest.mark.parametrize("log", [True, False])
def test_cutoff_lines_and_axis_range_follow_the_data(log):
    fig = quantile_boxes(_frame(), ["<1", "1-5", "6-13"], title="t", axis_title="CRP",
                         lines=[(10.0, "> 10"), (40.0, "≥ 40")], log=log)
    lo, hi = fig.layout.yaxis.range
    to_axis = math.log10 if log else (lambda v: v)
    # The axis spans the released P10..P90 (1.2..120) and the cut-offs, plus at most a small margin.
    assert lo <= to_axis(1.2) and hi >= to_axis(120.0)
    span = to_axis(120.0) - to_axis(1.2)
    assert lo >= to_axis(1.2) - 0.1 * span and hi <= to_axis(120.0) + 0.1 * span
    ys = sorted(s.y0 for s in fig.layout.shapes)
    assert ys == pytest.approx([to_axis(10.0), to_axis(40.0)])
    assert all(lo <= y <= hi for y in ys)
    assert fig.layout.yaxis.type == ("log" if log else None)


def test_only_fully_released_rows_are_drawn():
    fig = quantile_boxes(_frame(), ["a", "b", "c"], title="t", axis_title="x")
    assert list(fig.data[0].x) == ["a", "b"]
    assert list(fig.data[0].median) == [6.0, 14.0]
