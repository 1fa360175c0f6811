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
from functools import cached_property
from typing import TYPE_CHECKING, Any

from modelop_spark.assets import read_asset
from modelop_spark.errors import AssetError, SchemaError
from modelop_spark.quarantine import REASONS_COLUMN, RECORD_COLUMN, STAGE_COLUMN
from modelop_spark.schema.model import Schema
from modelop_spark.schema.spark_types import to_struct_type
from modelop_spark.schema.validate import EarlierRejects, observation_done
from modelop_spark.spark_compat import functions_for, observation_for, quoted

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql import types as T

__all__ = [
    "CORRUPT_RECORD", "LINE", "SCHEMA_READ_FORMATS", "UNKNOWN_KEYS", "ReadPlan", "ReadSplit",
    "parse_json_lines", "read_plan", "split_malformed", "split_malformed_unchecked",
]  # fmt: skip

CORRUPT_RECORD = "_corrupt_record"
SCHEMA_READ_FORMATS = ("csv", "json")
_READ_REASONS = "__modelop_read_reasons"
UNKNOWN_KEYS = "__modelop_unknown_keys"  # JSON Lines read as text: keys the schema does not name
LINE = "__modelop_line"  # ... and the line itself


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
    by the first action on it (see :class:`modelop_spark.schema.validate.Validation`);
    ``unobserved`` is the same rows without it. ``malformed`` is planned on first use."""

    good: DataFrame
    marked: DataFrame = field(compare=False, repr=False)  # every line, with its reasons or null
    data_columns: tuple[str, ...] = ()
    key_columns: tuple[str, ...] = ()
    corrupt_column: str = CORRUPT_RECORD
    observation: Any = field(default=None, compare=False, repr=False)

    @cached_property
    def malformed(self) -> DataFrame:
        F = functions_for(self.marked)

        return self.marked.where(F.col(_READ_REASONS).isNotNull()).select(
            *[F.col(quoted(k)) for k in self.key_columns],
            F.lit("read").alias(STAGE_COLUMN),
            F.col(_READ_REASONS).cast("array<string>").alias(REASONS_COLUMN),
            F.col(quoted(self.corrupt_column)).alias(RECORD_COLUMN),
        )

    @cached_property
    def unobserved(self) -> DataFrame:
        return self.good if self.observation is None else _good_rows(self.marked, self.data_columns)

    def as_earlier_stage(self) -> EarlierRejects:
        """The malformed lines as SQL over ``marked``, for :meth:`Validation.in_band` (validate
        ``marked`` itself, ignoring the columns in :attr:`marker_columns`)."""

        return EarlierRejects(
            stage="read",
            condition=f"`{_READ_REASONS}` IS NOT NULL",
            reasons=f"`{_READ_REASONS}`",
            record="`" + self.corrupt_column.replace("`", "``") + "`",
        )

    @property
    def marker_columns(self) -> tuple[str, str]:
        return self.corrupt_column, _READ_REASONS

    def observed_counts(self) -> tuple[int, int] | None:
        """``(rows read, malformed rows)`` seen by the first finished action on ``good``."""

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
    F = functions_for(df)
    if corrupt_column not in df.columns:
        raise SchemaError(f"column {corrupt_column!r} is missing: read the data with read_plan(...) first")
    data = tuple(c for c in df.columns if c != corrupt_column)
    corrupt = F.col(quoted(corrupt_column))
    fields = [c for c in data if c not in (UNKNOWN_KEYS, LINE)]
    unparsed = F.array_compact(F.array(*[F.when(F.col(quoted(c)).isNull(), F.lit(c)) for c in fields]))
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
    observation = None
    observed = marked
    if observe:
        observation = observation_for(marked)
        observed = marked.observe(
            observation,
            F.count(F.lit(1)).alias("rows"),
            F.count(F.col(_READ_REASONS)).alias("rejected"),
        )
    return ReadSplit(
        good=_good_rows(observed, data),
        marked=marked,
        data_columns=data,
        key_columns=tuple(key_columns),
        corrupt_column=corrupt_column,
        observation=observation,
    )


def _good_rows(marked: DataFrame, data_columns: Sequence[str]) -> DataFrame:
    F = functions_for(marked)

    return marked.where(F.col(_READ_REASONS).isNull()).select(*[F.col(quoted(c)) for c in data_columns])


def parse_json_lines(lines: DataFrame, plan: ReadPlan, *, schema: Schema) -> DataFrame:
    """JSON Lines read as text (one ``value`` column), parsed with the read plan as Spark's JSON
    reader would (blank lines skipped, a line that does not fit in the corrupt column), plus
    :data:`UNKNOWN_KEYS` (the line's top-level keys the schema does not name) and :data:`LINE`.

    The JSON reader silently ignores keys outside its schema; this is how ``extra_fields=reject``
    sees them. Validate the result with ``raw_lines=RawLines(UNKNOWN_KEYS, LINE)``."""
    F = functions_for(lines)

    options = {k: v for k, v in plan.options.items() if k not in ("multiLine", "lineSep", "encoding")}
    value = F.col("value")
    known = F.array(*[F.lit(f.name) for f in schema.fields]) if schema.fields else F.array().cast("array<string>")
    parsed = lines.where(F.trim(value) != "").select(
        F.from_json(value, plan.struct, options).alias("__modelop_parsed"),
        F.array_except(F.json_object_keys(value), known).alias(UNKNOWN_KEYS),
        value.alias(LINE),
    )
    return parsed.select("__modelop_parsed.*", UNKNOWN_KEYS, LINE)


JSON_MAX_NESTING = 1000  # Jackson's StreamReadConstraints default, which Spark's JSON reader keeps


def _nothing_parsed(spark: Any, source: Any, fmt: str) -> str:
    """One line for an input none of whose records parses, naming where the first one is."""
    first = ""
    try:
        line = spark.read.text(source.url).first()
        first = f"; line 1: {line[0][:80]!r}" if line is not None else ""
    except Exception:  # the message is still right without the quote
        pass
    deeper = f" (JSON nested deeper than {JSON_MAX_NESTING} levels does not parse either)" if fmt == "json" else ""
    return (
        f"input {source.label}: its records could not be parsed: no line is valid {fmt.upper()}{deeper}{first}; "
        "fix the file or its format"
    )


def split_malformed_unchecked(spark: Any, source: Any, frame: DataFrame, *, key_columns: Sequence[str] = ()) -> ReadSplit | None:
    """Malformed lines of a CSV or JSON file read without an input schema, split off as above.

    Without a schema Spark would reshape them silently: a CSV line with an extra field loses it,
    one with too few gets nulls, a broken JSON line becomes a row of nulls. So a CSV is read again
    with the inferred schema plus the corrupt-record column (lazily: no extra pass), and JSON's
    inference adds that column itself when a line does not parse. None when nothing can be
    malformed (another format, or no corrupt-record column)."""
    from dataclasses import replace

    from pyspark.sql import types as T


    fmt = (getattr(source, "format", None) or "").lower()
    if getattr(source, "kind", None) != "file" or fmt not in SCHEMA_READ_FORMATS:
        return None
    if fmt == "csv" and CORRUPT_RECORD not in frame.columns:
        struct = T.StructType([*frame.schema.fields, T.StructField(CORRUPT_RECORD, T.StringType())])
        options = {**source.options, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}
        frame = read_asset(spark, replace(source, options=options), schema=struct)
    if CORRUPT_RECORD not in frame.columns:
        return None
    if list(frame.columns) == [CORRUPT_RECORD]:  # no line parsed, so Spark found no column at all
        raise AssetError(_nothing_parsed(spark, source, fmt))
    keys = [k for k in key_columns if k in frame.columns]
    return split_malformed(frame, format=fmt, corrupt_column=CORRUPT_RECORD, key_columns=keys, observe=True)
