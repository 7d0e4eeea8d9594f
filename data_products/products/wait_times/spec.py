"""What the wait-time product estimates and how: shared by builder, release, views, export and page.

Estimate rule (stated in every release's metadata): for each facility x department x weekday x hour
slot, the median and P90 of the wait before consultation are blended on the log scale with a target
that keeps the department's weekday and hour structure: additive weekday and hour effects around the
facility x department level, each effect shrunk by the empirical-Bayes weight ``n / (n + K)`` of its
visit count::

    fd      = log q(facility, department)
    a[w]    = w(n_fdw) * (log q(facility, department, weekday w) - fd)        weekday effect
    b[h]    = w(n_fdh) * (log q(facility, department, hour h) - fd)           hour effect
    target  = fd + a[w] + b[h]
    slot    = w(n_slot) * log q(slot) + (1 - w(n_slot)) * target              estimate = exp(slot)

``K`` is not fixed: it is chosen from ``K_GRID`` by rolling-origin cross-validation on the training
weeks only (fit on the weeks before each of the last ``CV_FOLDS`` training weeks, score that week by
the pinball loss of P50 and P90), and published with the release. A level whose visit count is
suppressed by disclosure control gets weight 0 (its effect is 0, or the slot takes the target) and
says so (``level``). No estimate exists where facility x department itself is suppressed.

The published comparison is a fair baseline fitted on the same training weeks: the facility x
department P50 and P90 (no weekday or hour detail). Accuracy on the held-out weeks is published per
facility x department, per slot-size band (the slot's training visit count) and per day type.
"""

from __future__ import annotations

PRODUCT_ID = "wait_times"
QUANTILES = {"p50": 0.5, "p90": 0.9}
K_GRID = (1, 2, 5, 10, 20, 40, 80, 160, 320)
CV_FOLDS = 3  # validation weeks at the end of the training span, one fold each
TEST_WEEKS = 3
WEEKDAYS = ("1", "2", "3", "4", "5", "6", "7")  # ISO: Monday = 1
LEVEL_SLOT = "slot"
LEVEL_EFFECTS = "department_weekday_hour"
LEVEL_DEPT = "facility_department"
LEVEL_NONE = "none"
LEVELS = (LEVEL_SLOT, LEVEL_EFFECTS, LEVEL_DEPT, LEVEL_NONE)
# The slot's visit count in the training weeks, as released: suppressed, or a band of it.
SIZE_BANDS = ("suppressed", "lt30", "30to99", "100to299", "300plus")
SIZE_EDGES = (30, 100, 300)
DAY_TYPES = ("weekday", "weekend")


def rule(k: int) -> str:
    return (
        "Median and P90 of the wait from check-in to consultation start per facility x department x weekday x hour, "
        "blended on the log scale with a target that keeps the department's weekday and hour pattern: the "
        "facility x department level plus a weekday effect and an hour effect, each effect and the slot weighted "
        f"n/(n+K) by its visit count, K = {k} chosen by rolling-origin cross-validation on the training weeks "
        f"(grid {list(K_GRID)}, pinball loss of P50 and P90 on each of the last {CV_FOLDS} training weeks). A level "
        "whose count is suppressed (under min_cell, or hidden to protect one) gets weight 0 (flagged in 'level')."
    )


BACKTEST_RULE = (
    f"The same rule, K chosen on the training weeks alone, fitted on all but the last {TEST_WEEKS} weeks and scored on "
    f"the visits of the last {TEST_WEEKS} weeks: median absolute error of the median estimate (minutes), the share of "
    "visits within the stated P90 and below the stated median, each beside a fair baseline fitted on the same training "
    "weeks (the facility x department P50 as the typical wait and its P90 as the bound, no weekday or hour detail); "
    "per facility x department, per slot-size band (the slot's released training visit count) and per day type."
)


def size_band(n, released) -> str:
    if not released or n != n:
        return "suppressed"
    for edge, name in zip(SIZE_EDGES, SIZE_BANDS[1:], strict=False):
        if n < edge:
            return name
    return SIZE_BANDS[-1]


def hour_label(hour: int) -> str:
    return f"{int(hour):02d}"
