"""A compiled model applied to a DataFrame with ``select``: no Python worker, no Arrow.

Only *complete* rows are compiled: every feature present, numbers finite, and not set aside by
the input checks. Any other row (``needs_python``) goes to the Python path in the same job, which
rejects it, or scores it, exactly as it always does: what a model does with a missing value
(reject it, impute it, send it down a learned side of a tree) is its own business, and a
translation need not guess it. Such rows are rare, and the test that finds them is one sum per row.

The result has the columns of the Python path's model pass (key columns, the model's output
columns, ``_ms_kind``/``_ms_n``/``_ms_reason``/``_ms_record``), one row per input row with
``_ms_n`` = 1, so the rest of the job (counts, output checks, quarantine) cannot tell the paths
apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelop_spark.quarantine import REJECTED_MARK
from modelop_spark.runtime.compiled.translate import CompiledModel
from modelop_spark.runtime.executor import COUNT, KIND, REASON
from modelop_spark.spark_compat import functions_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

_KEY = "_ms_key{}"  # key columns carried through the layers
_INTEGRAL = frozenset({"byte", "short", "integer", "long"})


def _quoted(name: str) -> str:
    return f"`{name.replace('`', '``')}`"


def needs_python(df: DataFrame, features: Mapping[str, str]) -> Any:
    """The rows the compiled plan does not score: a string feature is null, or the sum of the
    numeric features is null, NaN or infinite (exactly when one of them is), or the input checks
    marked the row."""
    F = functions_for(df)
    conditions = [F.col(_quoted(n)).isNull() for n, kind in features.items() if kind == "string"]
    numbers = [F.col(_quoted(n)).cast("double") for n, kind in features.items() if kind == "double"]
    if numbers:
        total = numbers[0]
        for column in numbers[1:]:
            total = total + column
        conditions.append(total.isNull() | F.isnan(total) | total.isin(float("inf"), float("-inf")))
    if REJECTED_MARK in df.columns:
        conditions.append(F.col(REJECTED_MARK).isNotNull())
    condition = conditions[0]
    for more in conditions[1:]:
        condition = condition | more
    return condition


def compiled_scores(
    df: DataFrame,
    compiled: CompiledModel,
    *,
    outputs: Mapping[str, str],
    schema: StructType,
    key_columns: Sequence[str],
) -> DataFrame:
    """Complete rows of ``df`` scored by ``compiled``; ``outputs`` maps output fields to
    last-layer names and ``schema`` is the Python path's combined schema, matched column for column."""
    F = functions_for(df)
    keys = {name: _KEY.format(i) for i, name in enumerate(key_columns)}
    frame = df.select(
        *[F.col(_quoted(name)).alias(alias) for name, alias in keys.items()],
        *[(F.col(_quoted(name)) if kind == "string" else F.col(_quoted(name)).cast("double")).alias(name) for name, kind in compiled.features.items()],
    )
    for layer in compiled.layers:
        frame = frame.select(*keys.values(), *[F.expr(sql).alias(name) for name, sql in layer])
    # The output types are the Python path's: a non-integral value where the sample typed an
    # integer is rejected with the reason, never truncated by the cast (runtime.output_types).
    exact = {
        name: F.col(_quoted(last)).isNull() | (F.col(_quoted(last)).try_cast(schema[name].dataType).cast("double") == F.col(_quoted(last)).cast("double"))
        for name, last in outputs.items()
        if schema[name].dataType.typeName() in _INTEGRAL
    }
    fits, reason = F.lit(True), F.lit(None).cast("string")
    for name, holds in reversed(exact.items()):
        fits = fits & holds
        text = f"output field {name}: a float value where the output column is integer"
        reason = F.when(~holds, F.to_json(F.array(F.lit(text)))).otherwise(reason)
    columns = []
    for field in schema.fields:
        if field.name in keys:
            value = F.col(keys[field.name])
        elif field.name in outputs:
            value = F.when(fits, F.col(_quoted(outputs[field.name])))
        elif field.name == KIND:
            value = F.when(fits, F.lit("out")).otherwise(F.lit("model"))
        elif field.name == REASON:
            value = reason
        elif field.name == COUNT:
            value = F.lit(1)  # each row here is one input row (the Python path counts per batch)
        else:
            value = F.lit(None)
        columns.append(value.cast(field.dataType).alias(field.name))
    return frame.select(*columns)
