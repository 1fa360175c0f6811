"""The driver side of explanations: the plan (method, features, background) decided once, the
lazy frame of SHAP values (``mapInArrow`` over the input), and the bounded aggregates.

Everything that reaches the driver is bounded: the feature means (one row), the background
sample (``background_size`` rows), mean |SHAP| per feature (one row), per group (at most
``max_groups`` rows per protected attribute) and the summary bins (top features x ``SUMMARY_BINS``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from modelop_spark.errors import SchemaError, SnapshotError, SpecError
from modelop_spark.evaluation.explain_options import ExplainOptions
from modelop_spark.interpretability.importance import decision_fields, ranked, top
from modelop_spark.interpretability.models import (
    MODEL_AGNOSTIC,
    choose_method,
    find_model,
    positive_index,
)
from modelop_spark.interpretability.plan import EXPECTED, ExplainPlan, explain_batches
from modelop_spark.runtime.conventions import Convention
from modelop_spark.runtime.functions import ModelFunctions
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.roles import roles_of
from modelop_spark.spark_compat import is_connect, quoted

__all__ = ["SUMMARY_BINS", "Interpretability", "explained_frame", "explanation_plan", "features_of", "interpretability"]

SUMMARY_BINS = 20
MAX_GROUPS = 100


@dataclass(frozen=True)
class _Held:
    """The background where no broadcast exists (Spark Connect): it travels with the task."""

    value: Any


def features_of(functions: ModelFunctions, options: ExplainOptions, columns: Sequence[str]) -> tuple[str, ...]:
    """The features: the option, else the snapshot's ``reads`` (an MLflow model's signature
    becomes its ``reads``), else the input schema's ``role: predictor`` fields."""
    snapshot = functions.snapshot
    features = options.features or snapshot.manifest.reads
    if not features and (path := snapshot.schema_path("input")) is not None:
        features = roles_of(load_schema(path)).predictors
    if not features:
        raise SnapshotError(
            f"interpretability: snapshot {snapshot.name} does not say its features; list them in "
            "interpretability.features, snapshot.json 'reads', or give its input schema role: predictor fields"
        )
    missing = [f for f in features if f not in columns]
    if missing:
        raise SchemaError(f"interpretability: feature {missing[0]!r} is not in the input; its columns are {', '.join(columns)}")
    return tuple(features)


def _check_numeric(df: DataFrame, features: Sequence[str]) -> None:
    for f in features:
        dtype = df.schema[f].dataType
        if not isinstance(dtype, T.NumericType | T.BooleanType):
            raise SchemaError(f"interpretability: feature {f!r} is {dtype.simpleString()}; SHAP values are computed over "
                              "numeric features: encode it as a number, or leave it out of interpretability.features")


def _model_object(functions: ModelFunctions, options: ExplainOptions) -> Any:
    module = sys.modules[functions.payload.module_name]
    return find_model(vars(module), options.model_object, source=functions.source)


def _background(df: DataFrame, features: Sequence[str], options: ExplainOptions) -> np.ndarray:
    """The seeded background sample, drawn once here (a top-k: bounded on every executor)."""
    rows = df.select(*[F.col(quoted(f)).cast("double").alias(f) for f in features]) \
        .orderBy(F.rand(options.seed)).limit(options.background_size).toArrow()
    if rows.num_rows == 0:
        raise SchemaError("interpretability: the input has no rows to draw the background sample from")
    return np.column_stack([rows.column(f).to_numpy().astype(float) for f in features])


def _means(df: DataFrame, features: Sequence[str]) -> tuple[float, ...]:
    """The exact feature means of the whole input (one aggregation; the linear background)."""
    row = df.agg(*[F.avg(F.col(quoted(f)).cast("double")).alias(f"m{i}") for i, f in enumerate(features)]).collect()[0]
    return tuple(float(v) if v is not None else 0.0 for v in row)


def _output(functions: ModelFunctions, convention: Convention, features: tuple[str, ...], background: np.ndarray, wanted: str | None) -> str:
    """Which score output the model-agnostic explainers explain: the one named, else the only
    numeric output the score function gives on a background row."""
    function = functions.function("score")
    first = background[:1]
    with functions.model.working_directory():
        if convention.per_record:
            produced = function(dict(zip(features, first[0].tolist(), strict=True)))
            record = produced if isinstance(produced, dict) else next(iter(produced))
            outputs = {k: v for k, v in record.items()}
        else:
            import pandas as pd

            frame = pd.DataFrame(first, columns=list(features))
            result = pd.concat(list(function(iter([frame])))) if convention.over_an_iterator else function(frame)
            outputs = {c: result[c].iloc[0] for c in result.columns}
    if wanted is not None:
        if wanted not in outputs:
            raise SpecError(f"interpretability.output: the score function has no output {wanted!r}; it gives {', '.join(outputs)}")
        return wanted
    numeric = [k for k, v in outputs.items() if isinstance(v, int | float | np.number) and not isinstance(v, bool) and k not in features]
    if len(numeric) != 1:
        raise SpecError(f"interpretability.output: name the score output to explain; the score function gives "
                        f"{', '.join(map(str, outputs)) or 'nothing'}")
    return str(numeric[0])


def explanation_plan(
    df: DataFrame,
    functions: ModelFunctions,
    options: ExplainOptions,
    *,
    carried: Sequence[str] = (),
    carried_as: Sequence[str] | None = None,
    positive_label: Any = 1,
    default_output: str | None = None,
) -> ExplainPlan:
    """Decide once, on the driver: method, features, background (or means), the output."""
    features = features_of(functions, options, df.columns)
    _check_numeric(df, features)
    names = tuple(carried_as if carried_as is not None else carried)
    clash = sorted(set(names) & {*features, EXPECTED})
    if clash:
        raise SpecError(f"interpretability: column {clash[0]!r} would be both a carried column and a SHAP value "
                        "column; a key column cannot be a feature")
    model = None if options.method in MODEL_AGNOSTIC else _model_object(functions, options)
    method = choose_method(options.method, model, source=functions.source)
    convention = functions.convention("score") if functions.has("score") else None
    # the model-agnostic explainers call the score function on frames of feature values
    if method in MODEL_AGNOSTIC and (convention is None or not convention.in_python_workers):
        raise SnapshotError(f"interpretability.method {method}: snapshot {functions.snapshot.name} needs a record or batch "
                            f"score function to explain, found {convention.name if convention else 'none'}")
    background_rows = _background(df, features, options) if method in MODEL_AGNOSTIC else None
    output = _output(functions, convention, features, background_rows, options.output or default_output) \
        if background_rows is not None and convention is not None else None
    background: Any = None
    digest = ""
    if background_rows is not None:
        digest = hashlib.sha256(background_rows.tobytes()).hexdigest()[:16]
        background = _Held(background_rows) if is_connect(df) else df.sparkSession.sparkContext.broadcast(background_rows)
    carried_fields = [f.with_name(n).with_nullable(True) for f, n in zip(_arrow_fields(df.select(*[quoted(c) for c in carried])), names, strict=True)]
    schema = pa.schema([*carried_fields, *(pa.field(f, pa.float64()) for f in features), pa.field(EXPECTED, pa.float64())])
    return ExplainPlan(
        payload=functions.payload_for_tasks(), method=method, features=features, carried=tuple(carried),
        carried_as=names, model_object=options.model_object, positive=positive_index(model, positive_label),
        shape=convention.name if convention else "", output=output, background=background, background_digest=digest,
        mean=_means(df, features) if method == "linear" else None, seed=options.seed, max_evals=options.max_evals,
        schema=schema,
    )


def _arrow_fields(df: DataFrame) -> list[pa.Field]:
    from pyspark.sql.pandas.types import to_arrow_schema

    return list(to_arrow_schema(df.schema)) if df.columns else []


def explained_frame(df: DataFrame, plan: ExplainPlan) -> DataFrame:
    """The lazy frame: carried columns, one SHAP value per feature, ``expected_value``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    assert plan.schema is not None
    wanted = list(dict.fromkeys([*plan.carried, *plan.features]))
    rows = df.select(*[quoted(c) for c in wanted])
    return _spread(rows).mapInArrow(partial(explain_batches, plan), from_arrow_schema(plan.schema))


def _spread(df: DataFrame) -> DataFrame:
    """At least one partition per core: explaining costs far more per row than moving the row
    (a small file is often one partition, which would leave every other core idle)."""
    if is_connect(df):
        return df
    cores = df.sparkSession.sparkContext.defaultParallelism
    return df.repartition(cores) if df.rdd.getNumPartitions() < cores else df


# -- the metrics job's interpretability section ---------------------------------------------------
@dataclass(frozen=True)
class Interpretability:
    """The document section, and the per-row explanations to write when an output asks for them
    (over a persisted frame: call ``release`` once they are written)."""

    section: dict[str, Any]
    rows: DataFrame | None = None
    persisted: DataFrame | None = None

    def release(self) -> None:
        if self.persisted is not None:
            self.persisted.unpersist()


def interpretability(
    df: DataFrame,
    functions: ModelFunctions,
    options: ExplainOptions,
    *,
    protected: Sequence[str] = (),
    key_columns: Sequence[str] = (),
    positive_label: Any = 1,
    default_output: str | None = None,
) -> Interpretability:
    """The ``interpretability`` section of a metrics document, and the per-row explanations when
    ``options.output_asset`` asks for them. The SHAP frame is persisted while the aggregates are
    computed over it, so each row is explained once."""
    from pyspark import StorageLevel

    features = features_of(functions, options, df.columns)
    groups = [p for p in protected if p in df.columns]
    values_as = [f"_ms_x{j}" for j in range(len(features))]
    carried = [*key_columns, *groups, *features]
    carried_as = [*key_columns, *(f"_ms_g{i}" for i in range(len(groups))), *values_as]
    plan = explanation_plan(df, functions, options, carried=carried, carried_as=carried_as,
                            positive_label=positive_label, default_output=default_output)
    frame = explained_frame(df, plan).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        section = _aggregates(frame, plan, options, groups=groups, values_as=values_as)
    except BaseException:
        frame.unpersist()
        raise
    section["decision"] = decision_fields(section["global_importance"], protected)
    if not options.output_asset:
        frame.unpersist()
        return Interpretability(section)
    rows = frame.select(*[quoted(k) for k in key_columns], *[quoted(f) for f in features], EXPECTED)
    return Interpretability(section, rows=rows, persisted=frame)


def _aggregates(frame: DataFrame, plan: ExplainPlan, options: ExplainOptions, *, groups: Sequence[str], values_as: Sequence[str]) -> dict[str, Any]:
    features = plan.features
    absolute = [F.avg(F.abs(F.col(quoted(f)))).alias(f"a{j}") for j, f in enumerate(features)]
    bounds = [g(F.col(x)).alias(f"{n}{j}") for j, x in enumerate(values_as) for g, n in ((F.min, "lo"), (F.max, "hi"))]
    row = frame.agg(F.count(F.lit(1)).alias("n"), F.avg(EXPECTED).alias("e"), *absolute, *bounds).collect()[0]
    importance = ranked({f: row[f"a{j}"] for j, f in enumerate(features)})
    section: dict[str, Any] = {
        "method": plan.method,
        "features": list(features),
        "rows_explained": int(row["n"]),
        "expected_value": row["e"],
        "explained_output": plan.output or ("positive class" if plan.positive is not None else "model output"),
        "global_importance": importance,
        "top_features": top(importance, options.top_n),
        "by_group": {g: _by_group(frame, f"_ms_g{i}", features, options.top_n) for i, g in enumerate(groups)},
        "options": options.to_dict(),
    }
    section["summary"] = _summary(frame, plan, top(importance, options.summary_features), values_as,
                                  {f: (row[f"lo{j}"], row[f"hi{j}"]) for j, f in enumerate(features)})
    return section


def _by_group(frame: DataFrame, column: str, features: Sequence[str], top_n: int) -> dict[str, Any]:
    rows = frame.groupBy(column).agg(F.count(F.lit(1)).alias("n"), *[F.avg(F.abs(F.col(quoted(f)))).alias(f"a{j}") for j, f in enumerate(features)]) \
        .orderBy(F.desc("n")).limit(MAX_GROUPS + 1).collect()
    out: dict[str, Any] = {"groups": {}, "truncated": len(rows) > MAX_GROUPS}
    for r in rows[:MAX_GROUPS]:
        importance = ranked({f: r[f"a{j}"] for j, f in enumerate(features)})
        out["groups"][str(r[column])] = {"rows": int(r["n"]), "importance": importance[:top_n]}
    return out


def _summary(frame: DataFrame, plan: ExplainPlan, chosen: Sequence[str], values_as: Sequence[str],
             bounds: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """Value vs SHAP per top feature from bounded aggregates: the feature's range cut into
    ``SUMMARY_BINS`` equal bins; per bin the rows, the mean value and the mean/min/max SHAP."""
    index = {f: j for j, f in enumerate(plan.features)}
    parts = []
    for f in chosen:
        lo, hi = bounds[f]
        if lo is None:
            continue
        width = (hi - lo) / SUMMARY_BINS or 1.0
        x = F.col(values_as[index[f]])
        bin_ = F.least(F.floor((x - F.lit(lo)) / F.lit(width)).cast("int"), F.lit(SUMMARY_BINS - 1))
        parts.append(F.struct(F.lit(f).alias("f"), bin_.alias("b"), x.alias("x"), F.col(quoted(f)).alias("s")))
    if not parts:
        return {}
    rows = frame.select(F.explode(F.array(*parts)).alias("p")).where(F.col("p.x").isNotNull()) \
        .groupBy("p.f", "p.b").agg(F.count(F.lit(1)).alias("n"), F.avg("p.x").alias("x"), F.avg("p.s").alias("s"),
                                   F.min("p.s").alias("lo"), F.max("p.s").alias("hi")).collect()
    summary: dict[str, Any] = {f: {"value": [], "mean_shap": [], "min_shap": [], "max_shap": [], "rows": []} for f in chosen if bounds[f][0] is not None}
    for r in sorted(rows, key=lambda r: (r["f"], r["b"])):
        entry = summary[r["f"]]
        for key, value in (("value", r["x"]), ("mean_shap", r["s"]), ("min_shap", r["lo"]), ("max_shap", r["hi"]), ("rows", r["n"])):
            entry[key].append(value)
    return summary
