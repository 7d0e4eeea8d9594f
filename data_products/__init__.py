"""Data products of Guangzhou's health-sector trusted data space (广州卫生健康行业可信数据空间)."""

import sys

__version__ = "0.1.0"

# Where the UI messages are declared (``i18n``): a module's ``MESSAGES``, or a function returning dicts.
MESSAGE_SOURCES = (
    "data_products.i18n",
    "data_products.governance.accounts",
    "data_products.governance.gate",
    "data_products.catalog",
    "data_products.products.registry:messages",
    "data_products.specialty.dictionary",
)

# pandera imports pandas-on-Spark (``pyspark.pandas``) whenever PySpark is installed (the ``.[spark]`` extra):
# 1.6 s more for every process and a FutureWarning about pandas 3 on stderr. The space uses Spark SQL only
# (``restricted.spark``), never pandas-on-Spark, so that module is marked absent before pandera can load it.
sys.modules.setdefault("pyspark.pandas", None)
