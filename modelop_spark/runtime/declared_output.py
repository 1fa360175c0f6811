"""What is known of a model's output columns before its plan is built, and the one place that
turns it into the plan's Arrow schema (driver side).

Three cases, decided by the caller once:

| case      | who                                     | the plan's schema                          |
| --------- | --------------------------------------- | ------------------------------------------ |
| exact     | ``ms.score(output_schema=...)``, a snapshot schema in the notebook API | that schema; no sample runs |
| typed     | a job whose snapshot declares an output | learned from a sample, the declared types win where they name a column; an empty input takes the declared schema when the job allows one |
| learned   | nothing declared                        | learned from a sample                      |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow as pa

from modelop_spark.errors import AssetError, SchemaError
from modelop_spark.quarantine import REJECTED_MARK
from modelop_spark.runtime.executor import ScorePlan
from modelop_spark.runtime.output_types import declared_text
from modelop_spark.runtime.sampling import sample_schema
from modelop_spark.spark_compat import functions_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

SAMPLE_ROWS = 20
LARGER_SAMPLE_ROWS = 1000  # tried only when none of the first rows gives an output


@dataclass(frozen=True)
class DeclaredOutput:
    """The caller's knowledge of the output columns: ``schema`` None is "learned"."""

    schema: StructType | None = None
    exact: bool = False  # the schema is the output, used as it is
    empty_input_allowed: bool = False  # typed: an input with no rows takes the schema

    @classmethod
    def exactly(cls, schema: StructType | None) -> DeclaredOutput:
        return cls(schema, exact=schema is not None)

    @classmethod
    def typed(cls, schema: StructType | None, *, empty_input_allowed: bool = False) -> DeclaredOutput:
        return cls(schema, empty_input_allowed=schema is not None and empty_input_allowed)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.schema.fieldNames()) if self.schema is not None else ()

    def model_schema(self, plan: ScorePlan, sample_frame: DataFrame, *, input_label: str) -> pa.Schema:
        """The model's output columns as the plan writes them."""
        if self.exact:
            return self._as_declared()
        return output_schema_from_sample(plan, sample_frame, input_label=input_label, declared=self)

    def _as_declared(self) -> pa.Schema:
        assert self.schema is not None
        declared = spark_to_arrow(self.schema)
        return declared_text(declared, declared)


LEARNED = DeclaredOutput()


def spark_to_arrow(schema: StructType) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)


def output_schema_from_sample(
    plan: ScorePlan, df: DataFrame, *, input_label: str = "input", sample_rows: int = SAMPLE_ROWS, declared: DeclaredOutput = LEARNED,
) -> pa.Schema:
    """Learn the model's output columns by scoring the first rows on the driver; an input with
    no rows takes the declared schema when the job allows an empty input. The types are decided
    once, here, over the whole sample (``runtime.output_types``), with the declared types for
    the columns they name: a model returning 1 where the schema says double gets a double
    column, not an integer one that would reject 1.5 later.

    The sample only learns columns: rows the model fails on are set aside here whatever the
    call's ``on_error``, so a lazy call never fails eagerly on its first rows; they fail (or are
    rejected) when the query runs, like every other row. Only when none of the first rows gives
    an output does a larger sample run, and only when that gives none either is it an error."""
    if REJECTED_MARK in df.columns:  # sample rows that go on to the model, not ones set aside
        df = df.where(functions_for(df).col(REJECTED_MARK).isNull()).drop(REJECTED_MARK)
    learning = replace(plan, on_error="reject")
    types = spark_to_arrow(declared.schema) if declared.schema is not None else None
    reasons: list[str] = []
    rows_tried = 0
    for rows in (sample_rows, LARGER_SAMPLE_ROWS):
        sample = df.limit(rows).toArrow()
        if sample.num_rows == 0 and declared.empty_input_allowed:
            return declared._as_declared()
        if sample.num_rows == 0:
            raise AssetError(
                f"{input_label}: no rows to score; check the input (an empty input is accepted only with "
                "options.allow_empty_input and an output schema in the snapshot)"
            )
        schema, reasons = sample_schema(learning, sample.combine_chunks().to_batches()[0], types)
        if schema is not None:
            return schema
        rows_tried = sample.num_rows
        if sample.num_rows < rows:  # the whole input was sampled
            break
    detail = f"; first failure: {reasons[0]}" if reasons else ""
    raise SchemaError(
        f"cannot tell the score function's output columns: it produced no output for the first "
        f"{rows_tried} input rows{detail}. Add an output schema to the snapshot"
    )


__all__ = ["LARGER_SAMPLE_ROWS", "LEARNED", "SAMPLE_ROWS", "DeclaredOutput", "output_schema_from_sample", "spark_to_arrow"]
