"""What runs inside Spark's Python workers: score Arrow batches with a loaded model.

Every output batch carries, besides the model's columns and the job's key columns, four internal
columns: ``_ms_kind`` ("out" for a model output, "rej" for a rejected input, "tally" for one row
per input batch), ``_ms_n`` (the tally's input row count), ``_ms_reason`` and ``_ms_record`` (a
rejected row's reason and its original record as JSON). The tally makes rows-in exact in the same
pass, even for inputs that yield no output; the driver splits and counts after one persist.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from modelop_spark.errors import ModelFunctionError
from modelop_spark.runtime.model_cache import ModelPayload, loaded_model

KIND, COUNT, REASON, RECORD = "_ms_kind", "_ms_n", "_ms_reason", "_ms_record"
INTERNAL_FIELDS = (
    pa.field(KIND, pa.string()),
    pa.field(COUNT, pa.int64()),
    pa.field(REASON, pa.string()),
    pa.field(RECORD, pa.string()),
)


@dataclass(frozen=True)
class ScorePlan:
    """How tasks apply one function. ``schema`` is the model columns + key columns; None while
    the driver samples outputs to learn it."""

    payload: ModelPayload
    role: str
    shape: str
    key_columns: tuple[str, ...] = ()
    schema: pa.Schema | None = None
    on_error: str = "reject"  # or "fail"
    slot: bool = False


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _plain(value: Any) -> Any:
    """A JSON-ready value: NaN (pandas' missing) becomes null, numpy scalars Python ones."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _record_json(record: Mapping[str, Any]) -> str:
    return json.dumps({k: _plain(v) for k, v in record.items()}, default=str, allow_nan=False)


def _as_records(produced: Any) -> list[dict[str, Any]]:
    """A record function's result as a list of dicts: a dict, a list of dicts, a generator, None."""
    if produced is None:
        return []
    if isinstance(produced, Mapping):
        return [dict(produced)]
    if hasattr(produced, "to_dict") and hasattr(produced, "columns"):  # a pandas DataFrame
        return produced.to_dict("records")
    records = []
    for item in produced:
        records.extend(_as_records(item) if not isinstance(item, Mapping) else [dict(item)])
    return records


class _Collector:
    """Gathers one input batch's outputs and rejections into one Arrow batch."""

    def __init__(self, plan: ScorePlan) -> None:
        self.plan = plan
        self.outputs: list[dict[str, Any]] = []  # record functions' outputs
        self.frames: list[Any] = []  # batch functions' pandas outputs
        self.rejected: list[tuple[dict[str, Any], str, str]] = []

    def reject(self, record: Mapping[str, Any], reason: str) -> None:
        if self.plan.on_error == "fail":
            raise ModelFunctionError(f"score function failed on a record: {reason}")
        keys = {k: record.get(k) for k in self.plan.key_columns}
        self.rejected.append((keys, reason, _record_json(record)))

    def batch(self, rows_in: int) -> pa.RecordBatch:
        schema = self.plan.schema
        assert schema is not None
        full = pa.schema([*schema, *INTERNAL_FIELDS])
        outputs = _frames_to_table(self.frames, schema) if self.frames else None
        if outputs is None:
            rows = self.outputs or _frames_to_rows(self.frames)
            outputs, bad = _convert_rows(rows, schema)
            for row, reason in bad:
                self.reject(row, reason)
        out_kind = [{KIND: "out"} for _ in range(outputs.num_rows)]
        pieces = [_with_internal(outputs, out_kind, full)] if outputs.num_rows else []
        if self.rejected:
            rows = [{**keys, KIND: "rej", REASON: reason, RECORD: record} for keys, reason, record in self.rejected]
            pieces.append(pa.Table.from_pylist(rows, schema=full))
        pieces.append(pa.Table.from_pylist([{KIND: "tally", COUNT: rows_in}], schema=full))
        return pa.concat_tables(pieces).combine_chunks().to_batches()[0]


def _convert_rows(rows: list[dict[str, Any]], schema: pa.Schema) -> tuple[pa.Table, list[tuple[dict, str]]]:
    """Rows as a table of ``schema``; rows whose values do not fit are returned with the reason."""
    names = schema.names
    try:
        return pa.Table.from_pylist(rows, schema=schema), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        pass
    good, bad = [], []
    for row in rows:
        try:
            pa.Table.from_pylist([row], schema=schema)
            good.append(row)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
            field = next((n for n in names if n in row and not _fits(row[n], schema.field(n).type)), "?")
            bad.append((row, f"output field {field}: {_describe(exc)}"))
    return pa.Table.from_pylist(good, schema=schema), bad


def _fits(value: Any, arrow_type: pa.DataType) -> bool:
    try:
        pa.array([value], type=arrow_type)
        return True
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return False


def _with_internal(table: pa.Table, internal: list[dict[str, Any]], full: pa.Schema) -> pa.Table:
    extra = pa.Table.from_pylist(internal, schema=pa.schema(INTERNAL_FIELDS))
    columns = [*table.columns, *extra.columns]
    return pa.Table.from_arrays(columns, schema=full)


def _score_records(plan: ScorePlan, function: Callable[..., Any], batch: pa.RecordBatch, collector: _Collector) -> None:
    for record in batch.to_pylist():
        try:
            produced = _as_records(function(record, 0) if plan.slot else function(record))
        except Exception as exc:
            collector.reject(record, f"score raised {_describe(exc)}")
            continue
        keys = {k: record.get(k) for k in plan.key_columns}
        collector.outputs.extend({**keys, **output} for output in produced)


def _score_frame(plan: ScorePlan, function: Callable[..., Any], frame: Any) -> Any:
    """Call a batch function, attaching key columns; raise when the model's result is unusable."""
    import pandas as pd

    result = function(frame)
    if not isinstance(result, pd.DataFrame):
        result = pd.concat(list(result), ignore_index=True) if result is not None else pd.DataFrame()
    missing = [k for k in plan.key_columns if k not in result.columns]
    if missing:
        if len(result) != len(frame):
            raise ModelFunctionError(
                f"score returned {len(result)} rows for {len(frame)} inputs without key column "
                f"{missing[0]!r}: include it in the output so rows can be joined back"
            )
        result = result.reset_index(drop=True)
        for key in missing:
            result[key] = frame[key].to_numpy()
    return result


def _score_isolating(plan: ScorePlan, function: Callable[..., Any], frame: Any, collector: _Collector) -> list[Any]:
    """Score a frame; when the model raises, bisect so only the rows that fail are rejected."""
    try:
        return [_score_frame(plan, function, frame)]
    except ModelFunctionError:
        raise
    except Exception as exc:
        if plan.on_error == "fail":
            raise ModelFunctionError(f"score raised {_describe(exc)}") from exc
        if len(frame) <= 1:
            for record in frame.to_dict("records"):
                collector.reject(record, f"score raised {_describe(exc)}")
            return []
        middle = len(frame) // 2
        return _score_isolating(plan, function, frame.iloc[:middle], collector) + _score_isolating(
            plan, function, frame.iloc[middle:], collector
        )


def _concat(frames: list[Any]) -> Any:
    import pandas as pd

    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _frames_to_rows(frames: list[Any]) -> list[dict[str, Any]]:
    if not frames:
        return []
    return pa.Table.from_pandas(_concat(frames), preserve_index=False).to_pylist()


def _frames_to_table(frames: list[Any], schema: pa.Schema) -> pa.Table | None:
    """Batch outputs straight to Arrow (the fast path); None when a value does not fit, so the
    caller converts row by row and rejects only the rows that do not fit."""
    frame = _concat(frames).reindex(columns=schema.names)
    try:
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False, safe=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return None


def score_batches(plan: ScorePlan, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function: one output batch per input batch."""
    model = loaded_model(plan.payload)
    function = model.function(plan.role)
    if function is None:
        raise ModelFunctionError(f"{plan.payload.source}: no {plan.role} function")
    if plan.shape == "batch_iter":
        yield from _score_iterator(plan, function, batches, model)
        return
    for batch in batches:
        collector = _Collector(plan)
        with model.working_directory():
            if plan.shape == "record":
                _score_records(plan, function, batch, collector)
            else:
                collector.frames = _score_isolating(plan, function, batch.to_pandas(), collector)
        yield collector.batch(batch.num_rows)


def _score_iterator(plan: ScorePlan, function: Callable[..., Any], batches: Iterable[pa.RecordBatch], model: Any) -> Iterator[pa.RecordBatch]:
    """An iterator function sees the whole partition; a failure fails the task (no isolation)."""
    counts: list[int] = []

    def frames() -> Iterator[Any]:
        for batch in batches:
            counts.append(batch.num_rows)
            yield batch.to_pandas()

    with model.working_directory():
        try:
            for result in function(frames()):
                collector = _Collector(plan)
                collector.frames = [result]
                yield collector.batch(0)
        except Exception as exc:
            raise ModelFunctionError(f"score raised {_describe(exc)}") from exc
    collector = _Collector(plan)
    yield collector.batch(sum(counts))


def sample_schema(plan: ScorePlan, batch: pa.RecordBatch) -> tuple[pa.Schema | None, list[str]]:
    """Run the function on the driver over a small batch: the Arrow schema of its outputs (None
    when it produced none) and the rejection reasons.

    Used before any task starts, to learn the output columns and to surface an init or score
    failure as our own clear error rather than a wrapped executor exception."""
    model = loaded_model(plan.payload)
    function = model.function(plan.role)
    if function is None:
        raise ModelFunctionError(f"{plan.payload.source}: no {plan.role} function")
    collector = _Collector(plan)
    with model.working_directory():
        if plan.shape == "record":
            _score_records(plan, function, batch, collector)
            table = pa.Table.from_pylist(collector.outputs) if collector.outputs else None
        else:
            if plan.shape == "batch_iter":
                frames = list(function(iter([batch.to_pandas()])))
            else:
                frames = _score_isolating(plan, function, batch.to_pandas(), collector)
            frames = [f for f in frames if len(f.columns)]
            table = pa.Table.from_pandas(_concat(frames), preserve_index=False) if frames else None
    return (table.schema if table is not None else None), [reason for _, reason, _ in collector.rejected]
