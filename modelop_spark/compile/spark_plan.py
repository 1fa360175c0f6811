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
    suspect, reasons = _reasons(F, types, rules)
    # Only the keys travel through the layers; a rejected row's record is made at once (and only
    # for rejected rows), so the projections stay narrow.
    whole = F.to_json(F.struct(*[F.col(_quoted(c)) for c in inputs]), {"ignoreNullFields": "false"})
    first = [
        *[F.col(_quoted(name)).alias(alias) for name, alias in keys.items()],
        reasons.alias(_REASONS),
        F.when(suspect, whole).alias(_RECORD),
        *([F.from_json(F.col(REJECTED_MARK), _MARK_TYPE).alias(_MARK)] if marked else []),
        *[_feature(F, name, kind, types[name]).alias(name) for name, kind in compiled.features.items()],
    ]
    # The row's verdict is settled before the model's layers (from columns, so no expression is
    # repeated), and only these narrow columns travel with them.
    frame = df.select(*first)
    rejected_here = F.col(_REASONS).isNotNull() & (F.col(_REASONS) != "[]")
    frame = frame.select(
        *[c for c in carried if c not in (_REASONS, _RECORD)],
        F.when(rejected_here, F.col(_REASONS)).alias(_REASONS),
        F.when(rejected_here, F.col(_RECORD)).alias(_RECORD),
        *[F.col(_quoted(name)) for name in compiled.features],
    )
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


def _reasons(F: Any, types: Mapping[str, str], rules: FeatureRules) -> tuple[Any, Any]:
    """Whether a row may be rejected (a cheap test), and its reasons as JSON text (null or
    ``[]`` for a row to score).

    The hot path is one cheap test: the sum of the numeric features the model checks is null,
    NaN or infinite exactly when one of them is missing or not finite. Only for such rows are the
    per-feature reasons built (``concat_ws`` skips nulls; a higher-order array filter would switch
    off code generation, and a long chain of per-feature tests in every row keeps the generated
    method too large for the JIT)."""
    import json

    checked = [n for n in sorted(rules.rejects_missing | rules.rejects_non_finite) if types.get(n) in _FLOATING]
    other = [n for n in sorted(rules.rejects_missing) if types.get(n) not in _FLOATING]
    suspects = [F.col(_quoted(n)).isNull() for n in other]
    if checked:
        total = F.col(_quoted(checked[0])).cast("double")
        for name in checked[1:]:
            total = total + F.col(_quoted(name)).cast("double")
        suspects.append(total.isNull() | F.isnan(total) | total.isin(float("inf"), float("-inf")))
    if not suspects:
        return F.lit(False), F.lit(None).cast("string")
    suspect = suspects[0]
    for more in suspects[1:]:
        suspect = suspect | more
    checks = [(_missing(F, n, types), f"feature {n} is missing (null or NaN) and the model rejects missing values") for n in sorted(rules.rejects_missing)]
    checks += [
        (_infinite(F, n), f"feature {n} is infinite and the model rejects non-finite values")
        for n in sorted(rules.rejects_non_finite)
        if types.get(n) in _FLOATING
    ]
    listed = F.concat_ws(", ", *[F.when(condition, F.lit(json.dumps(text))) for condition, text in checks])
    # A suspect row may still be one the model scores (inf in a feature that only rejects
    # missing values): its list is then empty, ``[]``, and the row is scored. (No ``nullif``
    # here: it repeats the list, and Spark would hoist the repeat out of the branch, for every row.)
    return suspect, F.when(suspect, F.concat(F.lit("["), listed, F.lit("]")))
