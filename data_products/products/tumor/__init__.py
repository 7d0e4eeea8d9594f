"""Tumor patients across Guangzhou's facilities, by tumor type (不同瘤种诊断的患者在广州医疗机构分布图谱)."""
