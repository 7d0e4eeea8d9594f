"""What the wait-time product estimates and how: shared by builder, release, views, export and page.

Estimate rule (stated in every release's metadata): for each facility x department x weekday x hour
slot, the median and P90 of the wait before consultation are blended on the log scale with the
coarser levels, each level weighted by the empirical-Bayes weight ``n / (n + SHRINK_K)`` of its visit
count::

    fd    = log q(facility, department)
    fdh   = w(fdh) * log q(facility, department, hour) + (1 - w(fdh)) * fd
    slot  = w(slot) * log q(slot) + (1 - w(slot)) * fdh        estimate = exp(slot)

A level whose visit count is suppressed by disclosure control gets weight 0, so its estimate comes
from the coarser level and says so (``level``). No estimate exists where facility x department itself
is suppressed.
"""

from __future__ import annotations

PRODUCT_ID = "wait_times"
QUANTILES = {"p50": 0.5, "p90": 0.9}
SHRINK_K = 20
TEST_WEEKS = 3
WEEKDAYS = ("1", "2", "3", "4", "5", "6", "7")  # ISO: Monday = 1
LEVEL_SLOT = "slot"
LEVEL_HOUR = "facility_department_hour"
LEVEL_DEPT = "facility_department"
LEVEL_NONE = "none"
LEVELS = (LEVEL_SLOT, LEVEL_HOUR, LEVEL_DEPT, LEVEL_NONE)

RULE = (
    "Median and P90 of the wait from check-in to consultation start per facility x department x weekday x hour, "
    f"blended on the log scale with facility x department x hour and then facility x department, each level "
    f"weighted n/(n+{SHRINK_K}) by its visit count; a level whose count is suppressed (under min_cell, or hidden "
    "to protect one) gets weight 0 and the estimate comes from the coarser level (flagged in 'level')."
)
BACKTEST_RULE = (
    f"The same rule fitted on all but the last {TEST_WEEKS} weeks, scored on the visits of the last {TEST_WEEKS} "
    "weeks: median absolute error of the median estimate (minutes) and the share of visits within the stated "
    "P90, each beside the baseline (the department's historical mean wait, used as both the typical wait and "
    "the bound)."
)


def hour_label(hour: int) -> str:
    return f"{int(hour):02d}"
