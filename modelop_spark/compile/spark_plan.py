"""A compiled model applied to a DataFrame with ``select``: no Python worker, no Arrow.

The result has the columns of the Python path's model pass (key columns, the model's output
columns, ``_ms_kind``/``_ms_n``/``_ms_reason``/``_ms_record``), one row per input row, so the
rest of the job (counts, output checks, quarantine) cannot tell the paths apart. A row the
Python path would reject is rejected here too: a feature the model refuses when missing (null
or NaN) or not finite (see ``check.probe_feature_rules``) makes the row a ``model`` rejection with
a reason naming the feature; rows the input checks marked keep their stage and reasons. A row
with a missing or infinite feature that the model accepts is not compiled at all: ``needs_python``
selects it for the Python path (ONNX trees, for one, send missing values elsewhere than
scikit-learn does), so such rows get exactly the Python path's answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelop_spark.compile.translate import CompiledModel
from modelop_spark.jobs.quarantine import REJECTED_MARK
from modelop_spark.runtime.executor import COUNT, KIND, REASON, RECORD
from modelop_spark.runtime.spark_compat import functions_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

_RECORD = "_ms_rec"  # a rejected row's input record as JSON (null for a row to score)
_KEY = "_ms_key{}"  # key columns carried through the layers
_MARK = "_ms_mark"  # REJECTED_MARK parsed
_REASONS = "_ms_why"  # this path's reasons to reject the row, as a JSON array (null: score it)
_MARK_TYPE = "stage string, reasons array<string>, record string"
_FLOATING = ("double", "float")


@dataclass(frozen=True)
class FeatureRules:
    """Which features make the model reject a row (learned from the Python path)."""

    rejects_missing: frozenset[str] = frozenset()
    rejects_non_finite: frozenset[str] = frozenset()
    accepts_missing: frozenset[str] = frozenset()  # such rows go to the Python path
    accepts_non_finite: frozenset[str] = frozenset()


def needs_python(df: DataFrame, rules: FeatureRules) -> Any | None:
    """The condition that sends a row to the Python path (None: no row ever goes there)."""
    F = functions_for(df)
    types = dict(df.dtypes)
    conditions = [_missing(F, name, types) for name in sorted(rules.accepts_missing)]
    conditions += [_infinite(F, name) for name in sorted(rules.accepts_non_finite) if types.get(name) in _FLOATING]
    if not conditions:
        return None
    condition = conditions[0]
    for more in conditions[1:]:
        condition = condition | more
    # rows the input checks marked are set aside by either path; keep them on the compiled one
    return condition & F.col(REJECTED_MARK).isNull() if REJECTED_MARK in df.columns else condition


def _missing(F: Any, name: str, types: Mapping[str, str]) -> Any:
    missing = F.col(_quoted(name)).isNull()
    return missing | F.isnan(F.col(_quoted(name))) if types.get(name) in _FLOATING else missing


def _infinite(F: Any, name: str) -> Any:
    return F.col(_quoted(name)).isin(float("inf"), float("-inf"))


def compiled_scores(
    df: DataFrame,
    compiled: CompiledModel,
    *,
    outputs: Mapping[str, str],
    schema: StructType,
    key_columns: Sequence[str],
    rules: FeatureRules,
) -> DataFrame:
    """``df`` scored by ``compiled``; ``outputs`` maps output fields to last-layer names and
    ``schema`` is the Python path's combined schema, which the result matches column for column."""
    F = functions_for(df)
    types = dict(df.dtypes)
    marked = REJECTED_MARK in df.columns
    inputs = [c for c in df.columns if c != REJECTED_MARK]
    keys = {name: _KEY.format(i) for i, name in enumerate(key_columns)}
    carried = [*keys.values(), _REASONS, _RECORD] + ([_MARK] if marked else [])
    reasons = _reasons(F, types, rules)
    # Only the keys travel through the layers; a rejected row's record is made at once (and only
    # for rejected rows), so the projections stay narrow.
    whole = F.to_json(F.struct(*[F.col(_quoted(c)) for c in inputs]), {"ignoreNullFields": "false"})
    first = [
        *[F.col(_quoted(name)).alias(alias) for name, alias in keys.items()],
        reasons.alias(_REASONS),
        F.when(reasons.isNotNull(), whole).alias(_RECORD),
        *([F.from_json(F.col(REJECTED_MARK), _MARK_TYPE).alias(_MARK)] if marked else []),
        *[_feature(F, name, kind, types[name]).alias(name) for name, kind in compiled.features.items()],
    ]
    frame = df.select(*first)
    for layer in compiled.layers:
        frame = frame.select(*carried, *[F.expr(sql).alias(name) for name, sql in layer])
    rejected_here = F.col(_REASONS).isNotNull()
    kind = F.when(rejected_here, F.lit("model")).otherwise(F.lit("out"))
    reason = F.col(_REASONS)
    record = F.col(_RECORD)
    if marked:
        mark = F.col(_MARK)
        kind = F.coalesce(mark["stage"], kind)
        reason = F.when(mark.isNotNull(), F.to_json(mark["reasons"])).otherwise(reason)
        record = F.when(mark.isNotNull(), mark["record"]).otherwise(record)
    frame = frame.withColumn(KIND, kind)
    scored = F.col(KIND) == "out"
    columns = []
    for field in schema.fields:
        if field.name in key_columns:
            value = F.col(keys[field.name])
        elif field.name in outputs:
            value = F.when(scored, F.col(_quoted(outputs[field.name])))
        elif field.name == KIND:
            value = F.col(KIND)
        elif field.name == COUNT:
            value = F.lit(1)  # every row here is one input row (the Python path counts per batch)
        elif field.name == REASON:
            value = reason
        elif field.name == RECORD:
            value = record
        else:
            value = F.lit(None)
        columns.append(value.cast(field.dataType).alias(field.name))
    return frame.select(*columns)


def _quoted(name: str) -> str:
    return f"`{name.replace('`', '``')}`"


def _feature(F: Any, name: str, kind: str, spark_type: str) -> Any:
    """What the SQL reads: doubles with NaN as null (pandas cannot tell them apart, and the
    model's imputers fill null), strings as they are."""
    column = F.col(_quoted(name))
    if kind == "string":
        return column
    value = column.cast("double")
    return F.nanvl(value, F.lit(None).cast("double")) if spark_type in _FLOATING else value


def _reasons(F: Any, types: Mapping[str, str], rules: FeatureRules) -> Any:
    """The reasons as JSON text, null for a row to score. Built with ``concat_ws`` (which skips
    nulls) rather than an array filter: a higher-order function would switch off whole-stage code
    generation for the whole projection."""
    import json

    checks = []
    for name in sorted(rules.rejects_missing):
        checks.append((_missing(F, name, types), f"feature {name} is missing (null or NaN) and the model rejects missing values"))
    for name in sorted(rules.rejects_non_finite):
        if types.get(name) in _FLOATING:
            checks.append((_infinite(F, name), f"feature {name} is infinite and the model rejects non-finite values"))
    if not checks:
        return F.lit(None).cast("string")
    rejected = checks[0][0]
    for condition, _ in checks[1:]:
        rejected = rejected | condition
    listed = F.concat_ws(", ", *[F.when(condition, F.lit(json.dumps(text))) for condition, text in checks])
    return F.when(rejected, F.concat(F.lit("["), listed, F.lit("]")))
