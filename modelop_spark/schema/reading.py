"""Reading CSV and JSON with a schema: no inference pass, malformed lines kept with their text.

Spark's PERMISSIVE mode puts a line that does not fit the schema (wrong number of CSV fields, a
value that does not parse, broken JSON) in a corrupt-record column instead of failing or silently
nulling it. :func:`split_malformed` turns those lines into quarantine rows (stage ``read``) whose
``_record`` is the raw line.

One Spark subtlety shapes the code: the CSV parser only parses the columns a query uses, so a
line is only known to be malformed when every column is looked at. Both halves of the split
therefore depend on an expression over all columns, so a later projection cannot prune them and
let a malformed line through as valid (or count it on both sides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelop_spark.errors import SchemaError
from modelop_spark.jobs.quarantine import REASONS_COLUMN, RECORD_COLUMN, STAGE_COLUMN
from modelop_spark.schema.model import Schema
from modelop_spark.schema.spark_types import to_struct_type

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql import types as T

__all__ = ["CORRUPT_RECORD", "SCHEMA_READ_FORMATS", "ReadPlan", "ReadSplit", "read_plan", "split_malformed"]

CORRUPT_RECORD = "_corrupt_record"
SCHEMA_READ_FORMATS = ("csv", "json")
_READ_REASONS = "__modelop_read_reasons"


@dataclass(frozen=True)
class ReadPlan:
    """What a reader passes to ``spark.read``: ``.schema(plan.struct).options(**plan.options)``."""

    struct: T.StructType
    options: Mapping[str, str] = field(default_factory=dict)
    corrupt_column: str = CORRUPT_RECORD


def read_plan(
    schema: Schema,
    *,
    format: str,
    options: Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None,
) -> ReadPlan:
    """The read schema (the schema's columns + the corrupt-record column) and reader options.

    ``columns`` are a CSV file's header names, in file order: CSV fields are matched by
    position, so the read schema follows the header, typing the schema's columns and reading
    any others as text (the validation's extra-field policy then decides about them); a schema
    field the header lacks is left to the validation ("required field is missing").
    The caller's ``options`` win, except ``mode`` and ``columnNameOfCorruptRecord`` which the
    split needs (a caller asking for FAILFAST or DROPMALFORMED gets a clear error instead).
    """
    from pyspark.sql import types as T

    fmt = format.lower()
    if fmt not in SCHEMA_READ_FORMATS:
        raise SchemaError(f"reading with a schema supports {', '.join(SCHEMA_READ_FORMATS)}, not {format!r}")
    given = {k: str(v) for k, v in (options or {}).items()}
    mode = given.get("mode", "PERMISSIVE").upper()
    if mode != "PERMISSIVE":
        raise SchemaError(
            f"read option mode={mode} would fail or drop malformed lines; with schema checking the "
            "reader uses PERMISSIVE and quarantines them: remove the mode option"
        )
    corrupt = given.get("columnNameOfCorruptRecord", CORRUPT_RECORD)
    if corrupt in schema:
        raise SchemaError(f"schema {schema.label} has a field named {corrupt!r}, which the reader needs for malformed lines")
    base = to_struct_type(schema, with_metadata=False)
    fields = list(base.fields)
    if columns is not None and fmt == "csv":
        typed = {f.name: f for f in base.fields}
        fields = [typed.get(c) or T.StructField(c, T.StringType(), nullable=True) for c in columns if c != corrupt]
    struct = T.StructType([*fields, T.StructField(corrupt, T.StringType(), nullable=True)])
    defaults = {"header": "true"} if fmt == "csv" else {}
    merged = {**defaults, **given, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": corrupt}
    return ReadPlan(struct=struct, options=merged, corrupt_column=corrupt)


@dataclass(frozen=True)
class ReadSplit:
    """Lines that parsed (``good``, without the corrupt column) and the malformed ones in the
    quarantine shape (stage ``read``). ``good`` may carry an observation counting both, filled
    by the first action on it (see :class:`modelop_spark.schema.validate.Validation`)."""

    good: DataFrame
    malformed: DataFrame
    observation: Any = field(default=None, compare=False, repr=False)

    def observed_counts(self) -> tuple[int, int] | None:
        """``(rows read, malformed rows)`` seen by the first finished action on ``good``."""
        from modelop_spark.schema.validate import observation_done

        if self.observation is None or not observation_done(self.observation):
            return None
        metrics = self.observation.get
        return int(metrics["rows"]), int(metrics["rejected"] or 0)

    def malformed_count(self) -> int:
        observed = self.observed_counts()
        return observed[1] if observed is not None else self.malformed.count()


def split_malformed(
    df: DataFrame,
    *,
    format: str = "csv",
    corrupt_column: str = CORRUPT_RECORD,
    key_columns: Sequence[str] = (),
    observe: bool = True,
) -> ReadSplit:
    """Split a frame read with :func:`read_plan` into good rows and quarantined malformed lines.

    The quarantine rows keep the key columns (null when the line did not parse that far), the
    reason, and the raw line in ``_record``.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    if corrupt_column not in df.columns:
        raise SchemaError(f"column {corrupt_column!r} is missing: read the data with read_plan(...) first")
    data = [c for c in df.columns if c != corrupt_column]
    corrupt = F.col(f"`{corrupt_column}`")
    unparsed = F.array_compact(F.array(*[F.when(F.col(f"`{c}`").isNull(), F.lit(c)) for c in data]))
    what = f"malformed {format.upper()} record"
    reason = F.when(
        corrupt.isNotNull(),
        F.array(
            F.concat(
                F.lit(f"{what}: does not fit the schema"),
                F.when(F.size(unparsed) > 0, F.concat(F.lit(" (empty or unparsed: "), F.array_join(unparsed, ", "), F.lit(")")))
                .otherwise(F.lit(" (extra fields)")),
            )
        ),
    )
    marked = df.withColumn(_READ_REASONS, reason)
    malformed = marked.where(F.col(_READ_REASONS).isNotNull()).select(
        *[F.col(f"`{k}`") for k in key_columns],
        F.lit("read").alias(STAGE_COLUMN),
        F.col(_READ_REASONS).cast("array<string>").alias(REASONS_COLUMN),
        corrupt.alias(RECORD_COLUMN),
    )
    observation = None
    if observe:
        observation = Observation()
        marked = marked.observe(
            observation,
            F.count(F.lit(1)).alias("rows"),
            F.count(F.col(_READ_REASONS)).alias("rejected"),
        )
    good = marked.where(F.col(_READ_REASONS).isNull()).select(*[F.col(f"`{c}`") for c in data])
    return ReadSplit(good=good, malformed=malformed, observation=observation)
