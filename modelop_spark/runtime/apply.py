"""Apply a snapshot's function over a Spark DataFrame (driver side).

The strategy is the function's calling convention (``ModelFunctions.convention``): one that runs
on the executors (record, batch, batch iterator) is applied in the Python workers through
``mapInArrow`` (init once per worker, Arrow batches end to end); a Spark function is called once
on the driver. The ModelOp PySpark convention does its own I/O and is run by the scoring runner,
not here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from modelop_spark.config import MODEL_TIMEOUT_CONF, model_call_timeout
from modelop_spark.errors import ModelFunctionError, SchemaError, SnapshotError
from modelop_spark.progress import rows_scored_counter
from modelop_spark.quarantine import REASONS_COLUMN, RECORD_COLUMN, REJECTED_MARK, STAGE_COLUMN
from modelop_spark.runtime.compiled import check_scoring_path, choose_scoring_path
from modelop_spark.runtime.compiled.spark_plan import INPUT as COMPILED_INPUT
from modelop_spark.runtime.compiled.spark_plan import PYTHON_KIND as COMPILED_PYTHON_KIND
from modelop_spark.runtime.conventions import bare_value_column, convention_named
from modelop_spark.runtime.declared_output import (
    LEARNED,
    SAMPLE_ROWS,
    DeclaredOutput,
    spark_to_arrow,
)
from modelop_spark.runtime.executor import (
    COUNT,
    INTERNAL_FIELDS,
    KIND,
    REASON,
    RECORD,
    ScorePlan,
    score_aligned,
    score_batches,
)
from modelop_spark.runtime.functions import ModelFunctions
from modelop_spark.runtime.partitions import spread_for_cores
from modelop_spark.runtime.sampling import lines_up
from modelop_spark.runtime.session import workers_on_runtime_python
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.spark_types import to_struct_type
from modelop_spark.spark_compat import functions_for, is_connect, quoted

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from modelop_spark.runtime.snapshot import Snapshot

REJECTED_KINDS = ("read", "input_schema", "model")  # a rejected row's _ms_kind is its stage


@dataclass(frozen=True)
class Scored:
    """The result of applying a function: one frame with internal columns, split on demand.

    Persist ``combined`` before using more than one view of it, or the model runs again.
    """

    combined: DataFrame
    key_columns: tuple[str, ...]
    model_columns: tuple[str, ...]
    counted_in_band: bool  # the tally rows count inputs; False for Spark functions
    scoring_path: str = "python"  # "compiled", "python" (the Arrow path) or "spark" (a Spark function)
    fallback_reason: str | None = None  # why "auto" did not compile
    # Compiled: ``combined`` marks the rows it left to the Python path, and this scores them there
    # (see ``settled``); None once settled, and for the other paths.
    python_rows: Callable[[DataFrame], DataFrame] | None = None
    python_scored_some: bool = False  # settled, and the Python path scored rows beside the compiled ones
    # Compiled: the outputs alone, in a plan that tests each row's completeness once; for
    # ``outputs`` once settled with no row for the Python path, and ``combined`` not persisted.
    compiled_outputs: DataFrame | None = None

    def settled(self) -> Scored:
        """The compiled pass with the rows it marked scored by the Python path: one look for a
        marked row (over the persisted pass, if ``combined`` is persisted; else a scan of the
        input that stops at the first), and only when there is one, the Python path over those.
        Without it, ``outputs``/``rejected``/``counts`` still give every row, scanning twice."""
        if self.python_rows is None:
            return self
        F = functions_for(self.combined)
        marked = bool(self.combined.where(F.col(KIND) == COMPILED_PYTHON_KIND).select(KIND).limit(1).collect())
        combined = self._complete() if marked else self.combined.drop(COMPILED_INPUT)
        return replace(self, combined=combined, python_rows=None, python_scored_some=marked)

    def persisted(self, level: Any) -> tuple[Scored, list[DataFrame]]:
        """Persist ``combined`` and settle it; the frames to unpersist once done (the Python
        path's part too, when it ran: it must not run again for every use)."""
        frames = [self.combined.persist(level)]
        settled = replace(self.settled(), compiled_outputs=None)  # every view reads the persisted pass
        if settled.python_scored_some:
            frames.append(settled.combined.persist(level))
        return settled, frames

    def _complete(self) -> DataFrame:
        """``combined`` with every row scored (the compiled pass's marked rows by the Python path)."""
        if self.python_rows is None:
            return self.combined
        F = functions_for(self.combined)
        compiled = self.combined.where(F.col(KIND) != COMPILED_PYTHON_KIND).drop(COMPILED_INPUT)
        return compiled.unionByName(self.python_rows(self.combined))

    def outputs(self) -> DataFrame:
        settled_without_python = self.python_rows is None and not self.python_scored_some
        if self.compiled_outputs is not None and settled_without_python and not self.combined.is_cached:
            return self.compiled_outputs
        combined = self._complete()
        F = functions_for(combined)
        if not self.counted_in_band:
            return combined
        columns = [F.col(quoted(c)) for c in (*self.key_columns, *self.model_columns)]
        return combined.filter(F.col(KIND) == "out").select(*columns)

    def rejected(self) -> DataFrame:
        """Rejected inputs in the quarantine shape: those the model rejected (stage ``model``) and
        any the input checks set aside in the same pass (``read``, ``input_schema``). A Spark
        function rejects nothing in band: an empty frame of that shape."""
        combined = self._complete()
        F = functions_for(combined)
        if not self.counted_in_band:
            keys = [k for k in self.key_columns if k in combined.columns]
            return combined.where(F.lit(False)).select(
                *keys,
                F.lit(None).cast("string").alias(STAGE_COLUMN),
                F.lit(None).cast("array<string>").alias(REASONS_COLUMN),
                F.lit(None).cast("string").alias(RECORD_COLUMN),
            )
        return combined.filter(F.col(KIND).isin(*REJECTED_KINDS)).select(
            *self.key_columns,
            F.col(KIND).alias(STAGE_COLUMN),
            F.from_json(F.col(REASON), "array<string>").alias(REASONS_COLUMN),
            F.col(RECORD).alias(RECORD_COLUMN),
        )

    def counts(self, also: Mapping[str, str] | None = None) -> dict[str, int]:
        """rows_in, rows_out, ``rejected_<stage>`` for each stage that can reject in the pass and
        rows_rejected (their sum), in one aggregation over ``combined``. ``also`` names more
        counts: output rows where a SQL condition over the output columns holds."""
        combined = self._complete()
        F = functions_for(combined)
        if not self.counted_in_band:  # a Spark function: every row in is a row out
            output = F.lit(True)
            columns = [F.count(F.lit(1)).alias("rows_in"), F.count(F.lit(1)).alias("rows_out")]
            columns += [F.lit(0).alias(f"rejected_{kind}") for kind in REJECTED_KINDS]
        else:
            output = F.col(KIND) == "out"
            columns = [  # tally rows count a batch's inputs; compiled rows count 1 each
                F.coalesce(F.sum(F.col(COUNT)), F.lit(0)).alias("rows_in"),
                F.count(F.when(output, 1)).alias("rows_out"),
                *[F.count(F.when(F.col(KIND) == kind, 1)).alias(f"rejected_{kind}") for kind in REJECTED_KINDS],
            ]
        columns += [F.count(F.when(output & F.expr(condition), 1)).alias(name) for name, condition in (also or {}).items()]
        counts = {key: int(value) for key, value in combined.agg(*columns).collect()[0].asDict().items()}
        return {**counts, "rows_rejected": sum(counts[f"rejected_{kind}"] for kind in REJECTED_KINDS)}


def _arrow_to_spark(schema: pa.Schema) -> StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    # A column that was null in every sampled output has no type yet: call it a string. Every
    # column is nullable: tally and rejected rows leave the model's (and key) columns empty.
    fixed = pa.schema([(f.with_type(pa.string()) if pa.types.is_null(f.type) else f).with_nullable(True) for f in schema])
    return from_arrow_schema(fixed)


def snapshot_output_schema(snapshot: Snapshot) -> StructType | None:
    """The snapshot's declared output schema as Spark types, or None when it has none."""
    path = snapshot.schema_path("output")
    if path is None:
        return None
    return to_struct_type(load_schema(path), with_metadata=False)


def apply_function(
    df: DataFrame,
    functions: ModelFunctions,
    *,
    role: str = "score",
    key_columns: Sequence[str] = (),
    on_error: str = "reject",
    declared: DeclaredOutput = LEARNED,
    input_label: str = "input",
    sample_frame: DataFrame | None = None,
    timeout: float | None = None,
    scoring_path: str = "auto",
) -> Scored:
    """Apply ``role`` over ``df``: lazily, except for a small driver-side sample run over the
    first rows of ``sample_frame`` (default ``df``; give the same rows without observations when
    ``df`` carries any, or the sample would fill them). ``declared``: what is known of the output
    columns (``declared_output``). ``scoring_path``: ``auto`` (compiled when the model compiles
    and agrees with the Python path on a sample), ``compiled`` or ``python``."""
    check_scoring_path(scoring_path)
    missing = [k for k in key_columns if k not in df.columns]
    if missing:
        raise SchemaError(f"key column {missing[0]!r} is not in the input; its columns are {', '.join(df.columns)}")
    convention = functions.convention(role)
    if not convention.applies_to_a_dataframe:
        raise SnapshotError(
            f"snapshot {functions.snapshot.name}: the {role} function has the {convention.name} shape, which is run "
            "as a job (run_job), not over a DataFrame"
        )
    if not convention.in_python_workers:
        return _apply_on_driver(df, functions, role=role, key_columns=tuple(key_columns), scoring_path=scoring_path)
    reads = _reads(functions, role, df.columns)
    if kept := columns_for_workers(df.columns, reads, key_columns):
        df = df.select(*[quoted(c) for c in kept])
        sample_frame = sample_frame.select(*[quoted(c) for c in kept if c in sample_frame.columns]) if sample_frame is not None else None
    plan = ScorePlan(
        payload=functions.payload_for_tasks(),
        role=role,
        shape=convention.name,
        key_columns=tuple(key_columns),
        on_error=on_error,
        slot=functions.takes_slot(role),
        timeout=model_call_timeout(timeout, df.sparkSession.conf.get(MODEL_TIMEOUT_CONF, None)),
        bare_column=_bare_column(functions, declared),
        scored=rows_scored_counter(df.sparkSession),
    )
    model_schema = declared.model_schema(plan, sample_frame if sample_frame is not None else df, input_label=input_label)
    return _apply_in_workers(df, functions, plan, model_schema, reads=reads, sample_frame=sample_frame, scoring_path=scoring_path)


def _reads(functions: ModelFunctions, role: str, columns: Sequence[str]) -> tuple[str, ...]:
    """What the score function reads, when the snapshot says and the input has it all; otherwise
    the model gets every column, as without ``reads`` (and fails or rejects as it would)."""
    reads = tuple(functions.snapshot.manifest.reads) if role == "score" else ()
    return reads if set(reads) <= set(columns) else ()


def _apply_in_workers(
    df: DataFrame, functions: ModelFunctions, plan: ScorePlan, model_schema: pa.Schema, *,
    reads: tuple[str, ...], sample_frame: DataFrame | None, scoring_path: str,
) -> Scored:
    """The plan over the Python workers' pass, or the compiled pass when ``scoring_path`` chooses it."""
    key_columns = plan.key_columns
    F = functions_for(df)
    key_fields = [spark_to_arrow(df.select(F.col(quoted(k))).schema)[0].with_nullable(True) for k in key_columns]
    model_fields = [f for f in model_schema if f.name not in key_columns and not f.name.startswith("_ms_")]
    schema = pa.schema([*key_fields, *model_fields])
    plan = replace(plan, schema=schema)
    if any("." in c or "`" in c for c in df.columns):
        plan = replace(plan, input_names=tuple(df.columns))
        df = df.toDF(*[f"_ms_column_{i}" for i in range(len(df.columns))])
    spark_schema = _arrow_to_spark(pa.schema([*schema, *INTERNAL_FIELDS]))
    model_columns = tuple(f.name for f in model_fields)
    sampled = sample_frame if sample_frame is not None else df
    python_pass = _python_pass_for(df, plan, sampled, reads=reads, model_fields=model_fields, schema=spark_schema)
    # The one decision point between the compiled path (Spark expressions) and the Arrow path.
    choice = choose_scoring_path(
        scoring_path, df, functions, plan, schema=spark_schema, key_columns=key_columns,
        model_columns=model_columns, sample_frame=sampled, python_pass=python_pass,
    )
    if choice.combined is not None:
        return Scored(combined=choice.combined, key_columns=key_columns, model_columns=model_columns, counted_in_band=True,
                      scoring_path="compiled", python_rows=choice.python_rows, compiled_outputs=choice.outputs)
    combined = python_pass(spread_for_cores(df))  # the sample above read the input as it is
    return Scored(combined=combined, key_columns=key_columns, model_columns=model_columns, counted_in_band=True,
                  fallback_reason=choice.fallback_reason)


def _python_pass_for(
    df: DataFrame, plan: ScorePlan, sampled: DataFrame, *, reads: tuple[str, ...], model_fields: list[pa.Field], schema: StructType,
) -> Callable[[DataFrame], DataFrame]:
    """The Arrow path's pass: ``mapInArrow`` over whole batches, or, for a batch function whose
    outputs line up with its inputs, an Arrow UDF (classic Spark; in a process holding a Connect
    session too, PySpark would build the UDF for the wrong one)."""
    if convention_named(plan.shape).one_frame_per_batch and plan.input_names is None and not is_connect(df) and lines_up(plan, _first_rows(sampled)):
        sends = [c for c in df.columns if c in reads or c == REJECTED_MARK] if reads else list(df.columns)
        aligned = replace(plan, schema=pa.schema(model_fields), key_columns=())
        return partial(_aligned_pass, plan=aligned, sends=tuple(sends), key_columns=plan.key_columns, schema=schema)
    return partial(_python_pass, plan=plan, schema=schema)


def _apply_on_driver(df: DataFrame, functions: ModelFunctions, *, role: str, key_columns: tuple[str, ...], scoring_path: str) -> Scored:
    if scoring_path == "compiled":
        raise SnapshotError(f"scoring_path compiled: snapshot {functions.snapshot.name} has a Spark score function, which runs as it is")
    if REJECTED_MARK in df.columns:
        raise SchemaError(
            "a Spark score function cannot set aside rows marked by the input checks; give it the "
            "checked valid rows (validate(...).valid), not validate(...).in_band()"
        )
    return _apply_spark(df, functions, role=role, key_columns=key_columns)


def _bare_column(functions: ModelFunctions, declared: DeclaredOutput) -> str:
    """Where a bare value from score goes: the declared output schema's single field (the
    caller's, else the snapshot's), else ``prediction``."""
    names = declared.field_names
    if not names:
        try:
            schema = snapshot_output_schema(functions.snapshot)
        except (SchemaError, SnapshotError, OSError, ValueError):  # the checks report an unreadable schema
            schema = None
        names = tuple(schema.fieldNames()) if schema is not None else ()
    return bare_value_column(names)


def columns_for_workers(columns: Sequence[str], reads: Sequence[str], key_columns: Sequence[str]) -> list[str] | None:
    """The input columns to send to the Python workers when the score function's ``reads`` are
    known: those, the key columns and the input checks' mark, in input order. None (send
    everything) when they are not, or when nothing would be left out."""
    if not reads:
        return None
    wanted = {*reads, *key_columns, REJECTED_MARK}
    kept = [c for c in columns if c in wanted]
    return kept if len(kept) < len(columns) else None


def _python_pass(df: DataFrame, *, plan: ScorePlan, schema: StructType) -> DataFrame:
    """The model pass in the Python workers (the Arrow path)."""
    with workers_on_runtime_python(df.sparkSession):
        return df.mapInArrow(partial(score_batches, plan), schema)


def _first_rows(df: DataFrame) -> pa.RecordBatch:
    table = df.limit(SAMPLE_ROWS).toArrow().combine_chunks()
    batches = table.to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def _aligned_pass(df: DataFrame, *, plan: ScorePlan, sends: tuple[str, ...], key_columns: tuple[str, ...], schema: StructType) -> DataFrame:
    """The model pass as an Arrow UDF whose outputs line up with its input rows: only ``sends``
    travel to the Python workers, and Spark keeps the key columns beside each row instead of
    sending them there and back (what ``mapInArrow`` must do). Every row counts one input."""
    from pyspark.sql.types import StructType as Struct

    F = functions_for(df)
    returned = Struct([f for f in schema.fields if f.name not in key_columns and f.name != COUNT])

    def score(*columns: pa.Array) -> pa.Array:
        return score_aligned(plan, sends, columns)

    # Nondeterministic, or Spark's optimizer inlines the struct and calls the model once per field.
    model_pass = F.arrow_udf(score, returned).asNondeterministic()
    with workers_on_runtime_python(df.sparkSession):  # the function is made (and its worker chosen) here
        scored = df.select(*[F.col(quoted(k)) for k in key_columns], model_pass(*[F.col(quoted(c)) for c in sends]).alias("_ms_scored"))
    columns = [
        F.col(quoted(f.name)) if f.name in key_columns
        else F.lit(1).cast("long").alias(COUNT) if f.name == COUNT
        else F.col("_ms_scored").getField(f.name).alias(f.name)
        for f in schema.fields
    ]  # fmt: skip
    return scored.select(*columns)


def _apply_spark(df: DataFrame, functions: ModelFunctions, *, role: str, key_columns: tuple[str, ...]) -> Scored:
    """A Spark function runs once on the driver and returns a lazy DataFrame."""
    result = functions.call(role, df)
    if result is None or not hasattr(result, "columns"):
        raise ModelFunctionError(
            f"{functions.source}: a Spark {role} function must return a DataFrame, it returned {type(result).__name__}"
        )
    model_columns = tuple(c for c in result.columns if c not in key_columns)
    return Scored(combined=result, key_columns=key_columns, model_columns=model_columns, counted_in_band=False, scoring_path="spark")
