"""Outpatient wait-time estimates (候诊时间估计): expected wait per facility, department, weekday and hour."""
