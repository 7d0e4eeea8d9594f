"""Primary-care elderly body-weight indicator atlas (基层老年人体重指标图谱)."""
