"""A compiled model applied to a DataFrame with ``select``: no Python worker, no Arrow.

Every row goes through the compiled plan, in one scan of the input, and only *complete* rows get
its outputs: every feature present, numbers finite, and not set aside by the input checks. Any
other row is marked (``_ms_kind`` = ``python``) and carries its input columns (``_ms_input``),
for the Python path, which rejects it, or scores it, exactly as it always does: what a model does
with a missing value (reject it, impute it, send it down a learned side of a tree) is its own
business, and a translation need not guess it. ``Scored.settled`` runs the Python path over the
marked rows, and only when there are any.

The result has the columns of the Python path's model pass (key columns, the model's output
columns, ``_ms_kind``/``_ms_n``/``_ms_reason``/``_ms_record``) and ``_ms_input``, one row per
input row with ``_ms_n`` = 1, so the rest of the job (counts, output checks, quarantine) cannot
tell the paths apart.
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

PYTHON_KIND = "python"  # _ms_kind of a row left to the Python path
INPUT = "_ms_input"  # such a row's input columns, as the Python path reads them
_KEY = "_ms_key{}"  # key columns carried through the layers
_INTEGRAL = frozenset({"byte", "short", "integer", "long"})
_INCOMPLETE = "_ms_incomplete"


def _quoted(name: str) -> str:
    return f"`{name.replace('`', '``')}`"


def needs_python(df: DataFrame, features: Mapping[str, str]) -> Any:
    """The rows the compiled plan does not score: a string feature is null, a number is null,
    NaN or infinite, or the input checks marked the row.

    The numbers are tested by their sum, one addition each: a sum is null, NaN or infinite when
    any term is, so a row whose sum is finite has every number finite. Finite numbers whose sum
    overflows send their row to the Python path, which scores it as it scores any row: a rare
    detour, never a wrong output. The test appears twice in a plan (Spark pushes the outputs'
    filter below the projection that marks the rows), so its cost counts double: a test per
    feature (abs, compare, and) took the compiled logistic regression from 0.9x to 0.7x of the
    hand-written expression."""
    F = functions_for(df)
    present = [F.col(_quoted(n)).isNotNull() for n, kind in features.items() if kind == "string"]
    numbers = [F.col(_quoted(n)).cast("double") for n, kind in features.items() if kind != "string"]
    if numbers:
        total = numbers[0]
        for more in numbers[1:]:
            total = total + more
        present.append(F.abs(total) < F.lit(float("inf")))
    complete = present[0]
    for more in present[1:]:
        complete = complete & more
    condition = ~F.coalesce(complete, F.lit(False))
    if REJECTED_MARK in df.columns:
        condition = condition | F.col(REJECTED_MARK).isNotNull()
    return condition


def _layered(df: DataFrame, compiled: CompiledModel, keys: Mapping[str, str], extra: Sequence[Any], carried: Sequence[str]) -> DataFrame:
    """``df``'s key columns (renamed), ``extra`` columns and features, through every layer of
    the compiled plan; ``carried`` names what each layer keeps besides its own results."""
    F = functions_for(df)
    frame = df.select(
        *[F.col(_quoted(name)).alias(alias) for name, alias in keys.items()],
        *extra,
        *[(F.col(_quoted(name)) if kind == "string" else F.col(_quoted(name)).cast("double")).alias(name) for name, kind in compiled.features.items()],
    )
    for layer in compiled.layers:
        frame = frame.select(*carried, *[F.expr(sql).alias(name) for name, sql in layer])
    return frame


def _fits(frame: DataFrame, outputs: Mapping[str, str], schema: StructType) -> tuple[Any, Any]:
    """Whether a row's outputs fit the Python path's output types, and the reason when not: a
    non-integral value where the sample typed an integer is rejected with the reason, never
    truncated by the cast (runtime.output_types)."""
    F = functions_for(frame)
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
    return fits, reason


def compiled_outputs(
    df: DataFrame,
    compiled: CompiledModel,
    *,
    outputs: Mapping[str, str],
    schema: StructType,
    key_columns: Sequence[str],
) -> DataFrame:
    """The key and output columns of the rows ``compiled_scores`` gives outputs, as the Python
    path types them: the same rows, in a plan that tests a row's completeness once. (Taken from
    ``compiled_scores``, Spark pushes the outputs' filter below the projection that marks the
    rows, and evaluates the test twice: in the filter, and again for the marks.)"""
    F = functions_for(df)
    keys = {name: _KEY.format(i) for i, name in enumerate(key_columns)}
    frame = _layered(df.where(~needs_python(df, compiled.features)), compiled, keys, [], [*keys.values()])
    fits, _ = _fits(frame, outputs, schema)
    scored = frame.where(fits)
    columns = [F.col(alias).alias(name) for name, alias in keys.items()]
    columns += [F.col(_quoted(outputs[f.name])).cast(f.dataType).alias(f.name) for f in schema.fields if f.name in outputs]
    return scored.select(*columns)


def compiled_scores(
    df: DataFrame,
    compiled: CompiledModel,
    *,
    outputs: Mapping[str, str],
    schema: StructType,
    key_columns: Sequence[str],
    mark_incomplete: bool = True,
) -> DataFrame:
    """Every row of ``df`` through ``compiled``; ``outputs`` maps output fields to last-layer
    names and ``schema`` is the Python path's combined schema, matched column for column. With
    ``mark_incomplete`` (off only for rows known complete: the sample check) the rows
    ``needs_python`` names are marked and carry their input in ``_ms_input``."""
    F = functions_for(df)
    keys = {name: _KEY.format(i) for i, name in enumerate(key_columns)}
    carried = [*keys.values()]
    extra = []
    if mark_incomplete:
        extra = [needs_python(df, compiled.features).alias(_INCOMPLETE), F.struct(*[F.col(_quoted(c)) for c in df.columns]).alias(INPUT)]
        carried += [_INCOMPLETE, INPUT]
    frame = _layered(df, compiled, keys, extra, carried)
    incomplete = F.col(_INCOMPLETE) if mark_incomplete else F.lit(False)
    fits, reason = _fits(frame, outputs, schema)
    columns = []
    for field in schema.fields:
        if field.name in keys:
            value = F.col(keys[field.name])
        elif field.name in outputs:
            value = F.when(~incomplete & fits, F.col(_quoted(outputs[field.name])))
        elif field.name == KIND:
            value = F.when(incomplete, F.lit(PYTHON_KIND)).when(fits, F.lit("out")).otherwise(F.lit("model"))
        elif field.name == REASON:
            value = F.when(~incomplete, reason)
        elif field.name == COUNT:
            value = F.lit(1)  # each row here is one input row (the Python path counts per batch)
        else:
            value = F.lit(None)
        columns.append(value.cast(field.dataType).alias(field.name))
    if mark_incomplete:
        columns.append(F.when(incomplete, F.col(INPUT)).alias(INPUT))
    return frame.select(*columns)
