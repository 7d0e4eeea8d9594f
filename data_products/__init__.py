"""Data products of Guangzhou's health-sector trusted data space (广州卫生健康行业可信数据空间)."""

__version__ = "0.1.0"
