"""Pediatric pneumonia infection-marker atlas (儿童肺炎常用感染指标分布图谱)."""
