"""Driver side: run a function over the first rows of its input before any task starts, to learn
its output columns and their types (``runtime.output_types`` decides them over the whole sample)
and whether a batch function's outputs line up with its inputs. An init or score failure, or
output types no one type fits, surfaces here as our own clear error rather than a wrapped
executor exception. The function is applied by its convention's own pass (``executor.WORKER_PASSES``),
the code the workers run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from modelop_spark._model_stdout import model_prints_to_stderr
from modelop_spark.runtime.executor import (
    MODEL_FAILURES,
    WORKER_PASSES,
    Collector,
    ScorePlan,
    loaded_function,
    split_off_rejected,
    time_limit,
)
from modelop_spark.runtime.output_types import decide_schema, types_in_series, types_in_values


def sample_schema(plan: ScorePlan, batch: pa.RecordBatch, declared: pa.Schema | None = None) -> tuple[pa.Schema | None, list[str]]:
    """The Arrow schema of the function's outputs over ``batch`` (None when it produced none),
    typed over the whole sample with ``declared``'s types where it names a column, and the
    reasons of the rows it rejected."""
    model, function = loaded_function(plan)
    collector = Collector(plan)
    with model.working_directory(), model_prints_to_stderr():
        outputs = WORKER_PASSES[plan.shape].sample(plan, function, batch, collector)
    if outputs.rows:
        schema = infer_record_schema(outputs.rows, declared)
    else:
        schema = frames_schema([f for f in outputs.frames if f is not None and len(f.columns)], declared)
    return schema, [reason for _, reason, _ in collector.rejected]


def infer_record_schema(rows: Iterable[Mapping[str, Any]], declared: pa.Schema | None = None) -> pa.Schema:
    """The output schema of a record function's sampled outputs: every key any output had (in
    first-seen order), each with the type all its sampled values fit (``output_types``)."""
    columns: dict[str, list[Any]] = {}
    for row in rows:
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    return decide_schema({name: types_in_values(values) for name, values in columns.items()}, declared)


def frames_schema(frames: Sequence[Any], declared: pa.Schema | None = None) -> pa.Schema | None:
    """The output schema of a batch function's sampled output frames (None when they have no
    columns): each column typed over every frame's values."""
    columns: dict[str, list[pa.DataType]] = {}
    for frame in frames:
        for name in frame.columns:
            columns.setdefault(str(name), []).extend(types_in_series(frame[name]))
    return decide_schema(columns, declared) if columns else None


def lines_up(plan: ScorePlan, batch: pa.RecordBatch) -> bool:
    """Whether the batch function, on this sample, returns one row per input row and no key
    columns: then its outputs can be zipped back to the rows (``executor.score_aligned``). Any
    doubt (a failing row, another row count, keys in the output) says no."""
    import pandas as pd

    data, _ = split_off_rejected(batch)
    if not data.num_rows:
        return False
    model, function = loaded_function(plan)
    frame = data.to_pandas()
    with model.working_directory(), model_prints_to_stderr():
        try:
            with time_limit(plan.timeout):
                result = function(frame)
        except MODEL_FAILURES:
            return False
    return isinstance(result, pd.DataFrame) and len(result) == len(frame) and not set(plan.key_columns) & {str(c) for c in result.columns}


__all__ = ["frames_schema", "infer_record_schema", "lines_up", "sample_schema"]
