"""The one decision between the compiled path and the Python (Arrow) path.

``choose_scoring_path`` runs on the driver before any task starts. ``auto`` (the default) uses the
compiled plan only when all of these hold, and otherwise names the first that failed as the
``fallback_reason``: the snapshot names a scikit-learn model (``source``), orbital translates it
within the size limit (``translate``), the score function is a batch function, and on the
complete rows of a sample of the job's own input the compiled plan gives the Python path's answers
(``check``). ``compiled`` fails the job instead of falling back; ``python`` never compiles. Even
when compiled, rows with a missing or non-finite feature, or set aside by the input checks, go to
the Python path in the same job (``spark_plan.needs_python``): the compiled pass marks them, and
``PathChoice.python_rows`` scores the marked rows (``Scored.settled`` applies it when there are any).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from modelop_spark.errors import SnapshotError, SpecError
from modelop_spark.quarantine import REJECTED_MARK
from modelop_spark.runtime.compiled.check import SAMPLE_ROWS, first_mismatch, is_complete
from modelop_spark.runtime.compiled.source import CompileSource, compile_source
from modelop_spark.runtime.compiled.spark_plan import (
    INPUT,
    PYTHON_KIND,
    compiled_outputs,
    compiled_scores,
)
from modelop_spark.runtime.compiled.translate import (
    CompiledModel,
    FeatureKind,
    NotCompilable,
    compile_model,
    feature_kinds,
    output_names,
)
from modelop_spark.runtime.conventions import convention_named
from modelop_spark.runtime.executor import KIND
from modelop_spark.spark_compat import functions_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from modelop_spark.runtime.executor import ScorePlan
    from modelop_spark.runtime.functions import ModelFunctions
    from modelop_spark.runtime.snapshot import Snapshot

ScoringPath = Literal["auto", "compiled", "python"]
SCORING_PATHS: tuple[str, ...] = ("auto", "compiled", "python")
_CHECK_ROW = "_ms_check_row"
# ``auto`` leaves plans larger than this to the Python path. Generated code slows with the size
# of the expression: measured on 1M rows (bench/RESULTS.md), a 100-tree ensemble (55,000
# characters) scored at 0.6x the Python path, a logistic regression at 1.8x.
AUTO_MAX_CHARS = 30_000


@dataclass(frozen=True)
class PathChoice:
    path: Literal["compiled", "python"]
    fallback_reason: str | None = None
    combined: DataFrame | None = None  # the compiled model pass, when path is compiled
    python_rows: Callable[[DataFrame], DataFrame] | None = None  # its marked rows -> the Python path's pass
    outputs: DataFrame | None = None  # the compiled pass's outputs alone, in a leaner plan


def check_scoring_path(requested: str) -> ScoringPath:
    if requested not in SCORING_PATHS:
        raise SpecError(f"scoring_path: {requested!r} is not one of {', '.join(SCORING_PATHS)}")
    return requested  # type: ignore[return-value]


def choose_scoring_path(
    requested: str,
    df: DataFrame,
    functions: ModelFunctions,
    plan: ScorePlan,
    *,
    schema: StructType,
    key_columns: Sequence[str],
    model_columns: Sequence[str],
    sample_frame: DataFrame,
    python_pass: Callable[[DataFrame], DataFrame],
) -> PathChoice:
    """Compiled or Python for scoring ``df``; ``schema`` is the Python path's combined schema and
    ``python_pass`` applies the Python path (for rows with missing values the model accepts)."""
    if check_scoring_path(requested) == "python":
        return PathChoice("python")
    try:
        combined, outputs = _compiled_pass(
            df, functions, plan, schema=schema, key_columns=key_columns, model_columns=model_columns,
            sample_frame=sample_frame, max_chars=AUTO_MAX_CHARS if requested == "auto" else None,
        )
    except NotCompilable as reason:
        if requested == "compiled":
            raise SnapshotError(f"scoring_path compiled: snapshot {functions.snapshot.name} cannot be scored compiled: {reason}; use scoring_path auto to fall back to the Python path") from None
        return PathChoice("python", fallback_reason=str(reason))
    return PathChoice("compiled", combined=combined, python_rows=partial(_python_rows, python_pass=python_pass), outputs=outputs)


def _python_rows(marked: DataFrame, *, python_pass: Callable[[DataFrame], DataFrame]) -> DataFrame:
    """The Python path over the rows a compiled pass marked, from the input columns they carry."""
    F = functions_for(marked)
    return python_pass(marked.where(F.col(KIND) == PYTHON_KIND).select(f"{INPUT}.*"))


def _compiled_pass(
    df: DataFrame,
    functions: ModelFunctions,
    plan: ScorePlan,
    *,
    schema: StructType,
    key_columns: Sequence[str],
    model_columns: Sequence[str],
    sample_frame: DataFrame,
    max_chars: int | None,
) -> tuple[DataFrame, DataFrame]:
    """The compiled model pass over ``df`` (``compiled_scores``) and its outputs alone
    (``compiled_outputs``), or NotCompilable with the reason."""
    snapshot = functions.snapshot
    if not convention_named(plan.shape).one_frame_per_batch:
        raise NotCompilable(f"compiled scoring compares with a batch score function; this one has the {plan.shape} shape")
    source = compile_source(snapshot)
    unmapped = [c for c in model_columns if c not in source.outputs]
    if unmapped:
        raise NotCompilable(f"output field {unmapped[0]!r} of the score function has no compiled mapping")
    kinds = feature_kinds(dict(df.dtypes), source.features)
    compiled = _compiled(snapshot, source, kinds)
    if max_chars is not None and compiled.size > max_chars:
        raise NotCompilable(
            f"the compiled plan is {compiled.size} characters of SQL, over auto's {max_chars}: a model this large "
            "scores faster in the Python path (scoring_path compiled forces it)"
        )
    outputs = output_names(compiled, {c: source.outputs[c] for c in model_columns})
    _check_against_python(functions, plan.role, source, compiled, outputs, kinds, schema=schema, sample_frame=sample_frame)
    try:
        return (compiled_scores(df, compiled, outputs=outputs, schema=schema, key_columns=key_columns),
                compiled_outputs(df, compiled, outputs=outputs, schema=schema, key_columns=key_columns))
    except Exception as exc:  # an expression Spark's analyzer refuses
        raise NotCompilable(f"Spark cannot plan the compiled expression: {_first_line(exc)}") from exc


_COMPILED: dict[tuple[str, tuple[tuple[str, str], ...]], CompiledModel | NotCompilable] = {}
_COMPILED_LOCK = threading.Lock()


def _compiled(snapshot: Snapshot, source: CompileSource, kinds: Mapping[str, FeatureKind]) -> CompiledModel:
    """Translate once per snapshot content and feature types (a large ensemble takes a second)."""
    key = (snapshot.digest, tuple(kinds.items()))
    with _COMPILED_LOCK:
        found = _COMPILED.get(key)
    if found is None:
        try:
            found = compile_model(source.model, kinds)
        except NotCompilable as reason:
            found = reason
        with _COMPILED_LOCK:
            _COMPILED[key] = found
    if isinstance(found, NotCompilable):
        raise found
    return found


def _check_against_python(
    functions: ModelFunctions,
    role: str,
    source: CompileSource,
    compiled: CompiledModel,
    outputs: dict[str, str],
    kinds: Mapping[str, FeatureKind],
    *,
    schema: StructType,
    sample_frame: DataFrame,
) -> None:
    """Score the complete rows of a sample of the input through both paths; NotCompilable on any
    difference (the other rows never reach the compiled plan)."""
    F = functions_for(sample_frame)
    if REJECTED_MARK in sample_frame.columns:
        sample_frame = sample_frame.where(F.col(REJECTED_MARK).isNull()).drop(REJECTED_MARK)
    sample = sample_frame.limit(SAMPLE_ROWS).toArrow().to_pandas()
    rows = sample[[is_complete(row, kinds) for row in sample.to_dict("records")]].reset_index(drop=True)
    if rows.empty:
        raise NotCompilable("no sample row has every feature present and finite, so the check cannot run")
    try:
        expected = functions.call(role, rows.copy())  # the driver's model, already initialised
    except Exception as exc:
        raise NotCompilable(f"the Python path rejects sample rows the compiled plan would score ({_first_line(exc)})") from exc
    actual = _compiled_on(sample_frame, rows, compiled, outputs, kinds, schema=schema)
    mismatch = first_mismatch(expected.reset_index(drop=True), actual, {f: source.outputs[f] for f in outputs})
    if mismatch:
        raise NotCompilable(f"the sample check failed: {mismatch}")


def _compiled_on(df: DataFrame, rows: Any, compiled: CompiledModel, outputs: dict[str, str], kinds: Mapping[str, FeatureKind], *, schema: StructType) -> Any:
    """The compiled plan run by Spark over ``rows`` (features only, numbers as doubles)."""
    import pandas as pd
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    session = df.sparkSession
    frame = pd.DataFrame({_CHECK_ROW: range(len(rows))})
    fields = [StructField(_CHECK_ROW, LongType(), False)]
    for name, kind in kinds.items():
        if kind == "double":
            frame[name] = pd.to_numeric(rows[name], errors="coerce").astype("float64")
            fields.append(StructField(name, DoubleType(), True))
        else:
            frame[name] = rows[name].astype(object).where(rows[name].notna(), None)
            fields.append(StructField(name, StringType(), True))
    check = session.createDataFrame(frame, StructType(fields))
    check_schema = StructType([StructField(_CHECK_ROW, LongType(), True), *[f for f in schema.fields if f.name in outputs or f.name.startswith("_ms_")]])
    try:
        scored = compiled_scores(check, compiled, outputs=outputs, schema=check_schema, key_columns=[_CHECK_ROW], mark_incomplete=False)
        result: Any = scored.toPandas()
    except Exception as exc:
        raise NotCompilable(f"Spark cannot run the compiled expression: {_first_line(exc)}") from exc
    return result.sort_values(_CHECK_ROW).reset_index(drop=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
