"""Apache Spark over the restricted zone's Parquet layout: the session and the record tables as views.

PySpark is the optional extra ``.[spark]`` and needs a Java runtime (Debian's ``openjdk-17-jre-headless``);
nothing here is imported unless a build asks for the Spark engine. ``master`` is any Spark master URL:
``local[N]`` on this machine, ``spark://host:7077`` for a standalone cluster, ``yarn``, or
``k8s://https://host:443``; the cluster's own settings (executors, memory, shuffle partitions) come from
its ``spark-defaults.conf`` or ``SPARK_CONF_DIR`` as usual, and ``root`` is then a path every executor can
read (``hdfs://…``, ``s3a://…``).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from data_products.restricted.parquet import PARTITION_COLUMN

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"


class SparkUnavailable(RuntimeError):
    """PySpark or Java is missing: the message says which and how to install it."""


class SparkBuildError(RuntimeError):
    """The records are not what a Spark builder can aggregate: the message says why and what to do."""


def unavailable() -> str | None:
    """Why Spark cannot run here, or None when it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed: pip install -e '.[spark]'"
    if shutil.which("java") is None and not _java_home():
        return "no Java runtime: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
    return None


def _java_home() -> str | None:
    import os

    home = os.environ.get("JAVA_HOME")
    return home if home and shutil.which("java", path=os.path.join(home, "bin")) else None


def session(master: str = DEFAULT_MASTER, app_name: str = "dataspace-process") -> SparkSession:
    """A Spark session on ``master`` (an existing session in this process is reused)."""
    reason = unavailable()
    if reason:
        raise SparkUnavailable(reason)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        from pyspark.sql import SparkSession

        spark = _configured(SparkSession.builder, master, app_name).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _configured(builder, master: str, app_name: str):
    builder = (builder.master(master).appName(app_name)
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               # Histograms come to the driver as Arrow batches, not row by row.
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               # Dates and times as written, whatever the machine's zone.
               .config("spark.sql.session.timeZone", "UTC"))
    if master.startswith("local"):
        # The aggregates are small: a handful of shuffle partitions instead of 200 on one machine.
        builder = (builder.config("spark.sql.shuffle.partitions", "4")
                   .config("spark.driver.memory", "2g"))
    return builder


@dataclass
class SparkSource:
    """The restricted record tables as Spark views over ``root`` (the Parquet layout)."""

    spark: Any
    root: str

    def table(self, name: str) -> DataFrame:
        """The record table ``name``, registered as a temporary view of that name; the partition
        column (a copy of the date's year) is dropped so the columns are the store's."""
        frame = self.spark.read.parquet(f"{str(self.root).rstrip('/')}/{name}").drop(PARTITION_COLUMN)
        frame.createOrReplaceTempView(name)
        return frame

    def sql(self, query: str, args: dict | None = None):
        return self.spark.sql(query, args=args or None)

    def frame(self, query: str, args: dict | None = None):
        """A query's (small, aggregated) result as a pandas frame on the driver."""
        return to_pandas(self.sql(query, args))

    @property
    def master(self) -> str:
        return self.spark.sparkContext.master


def to_pandas(frame) -> pd.DataFrame:
    """``frame.toPandas()`` without PySpark's warnings about pandas 3: the frames brought back are plain
    counts, strings and doubles, and the equality tests against DuckDB check them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated")
        return frame.toPandas()
