"""Spark helpers every package may use: classic Spark and Spark Connect side by side, and
session conf set for the length of a job.

``pyspark.sql.functions`` builds Columns for whichever mode the process is in; a process that
holds both a classic and a Connect session (a test run, a notebook attached to two) needs the
module that matches the DataFrame at hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any


def is_connect(obj: Any) -> bool:
    """True for a Spark Connect DataFrame or session."""
    return type(obj).__module__.startswith("pyspark.sql.connect")


def functions_for(df: Any) -> ModuleType:
    if is_connect(df):
        from pyspark.sql.connect import functions as connect_functions

        return connect_functions
    from pyspark.sql import functions

    return functions


def observation_for(df: Any) -> Any:
    """A new, unnamed ``Observation`` of the kind ``df.observe`` accepts."""
    if is_connect(df):
        from pyspark.sql.connect.observation import Observation as ConnectObservation

        return ConnectObservation()
    from pyspark.sql.observation import Observation

    return Observation()


@contextmanager
def session_conf(spark: Any, settings: Mapping[str, str]) -> Iterator[None]:
    """Set session conf for the length of a job, then put back what was there."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


ARROW_TO_PANDAS = "spark.sql.execution.arrow.pyspark.enabled"


def to_pandas(spark: Any, frame: Any) -> Any:
    """``frame`` as a pandas DataFrame through Arrow (column batches, not a Python object per
    value), whatever the session was started with."""
    with session_conf(spark, {ARROW_TO_PANDAS: "true"}):
        return frame.toPandas()


def quoted(name: str) -> str:
    """A column name as Spark reads it literally (``F.col(quoted(name))``): dots, spaces and
    backticks included, where a bare ``"a.b"`` would mean field ``b`` of struct ``a``."""
    return "`" + name.replace("`", "``") + "`"
