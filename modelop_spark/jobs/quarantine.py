"""The one shape of a rejected row, whichever stage rejected it.

A rejected row keeps the job's key columns, the stage that rejected it, every reason, and the
whole original record as JSON text, so nothing is lost and a rerun after a fix can replay it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

Stage = Literal["read", "input_schema", "model", "output_schema"]
STAGES: tuple[str, ...] = ("read", "input_schema", "model", "output_schema")

STAGE_COLUMN = "_stage"
REASONS_COLUMN = "_reasons"
RECORD_COLUMN = "_record"

QUARANTINE_DDL = f"{STAGE_COLUMN} string, {REASONS_COLUMN} array<string>, {RECORD_COLUMN} string"


def to_quarantine(
    rejected: DataFrame,
    *,
    stage: Stage,
    reasons_column: str,
    key_columns: Sequence[str] = (),
) -> DataFrame:
    """Shape rejected rows for the quarantine output.

    ``rejected`` holds the original columns plus ``reasons_column`` (an array of strings naming
    field and rule). The result has the key columns, then ``_stage``, ``_reasons``, ``_record``.
    """
    from modelop_spark.runtime.spark_compat import functions_for

    F = functions_for(rejected)
    record_columns = [c for c in rejected.columns if c != reasons_column]
    return rejected.select(
        *[F.col(k) for k in key_columns],
        F.lit(stage).alias(STAGE_COLUMN),
        F.col(reasons_column).cast("array<string>").alias(REASONS_COLUMN),
        F.to_json(F.struct(*[F.col(c) for c in record_columns])).alias(RECORD_COLUMN),
    )
