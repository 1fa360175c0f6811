"""What runs inside Spark's Python workers: score Arrow batches with a loaded model.

Every output batch carries, besides the model's columns and the job's key columns, four internal
columns: ``_ms_kind`` ("out" for a model output, "tally" for one row per input batch, or the
quarantine stage of a rejected input: "model", or "read"/"input_schema" for a row the input
checks set aside before the model), ``_ms_n`` (the tally's input row count), ``_ms_reason`` and
``_ms_record`` (a rejected row's reasons as a JSON array, and its original record as JSON). The
tally makes rows-in exact in the same pass, even for inputs that yield no output; the driver
splits and counts after one persist.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from modelop_spark.errors import ModelFunctionError
from modelop_spark.jobs.quarantine import REJECTED_MARK
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
    """A JSON-ready value: NaN (pandas' missing) becomes null, an infinity its name, numpy scalars Python ones."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return str(value)  # "inf" / "-inf": JSON has no infinity, and the record must still be written
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
    """Gathers one input batch's outputs and rejections into one Arrow batch.

    A rejection is always of an input row: when an output value does not fit the output schema,
    the input that produced it is rejected once, with all its outputs, so rows in = rows scored +
    rows rejected stays exact."""

    def __init__(self, plan: ScorePlan, set_aside: list[pa.RecordBatch] | None = None) -> None:
        self.plan = plan
        self.produced: list[tuple[Mapping[str, Any], list[dict[str, Any]]]] = []  # record fns
        self.tables: list[pa.Table] = []  # batch fns, already converted
        self.rejected: list[tuple[dict[str, Any], str, str]] = []
        self.set_aside = set_aside or []  # input rows the checks rejected before the model

    def reject(self, record: Mapping[str, Any], reason: str) -> None:
        if self.plan.on_error == "fail":
            raise ModelFunctionError(f"score function failed on a record: {reason}")
        keys = {k: _plain(record.get(k)) for k in self.plan.key_columns}
        self.rejected.append((keys, reason, _record_json(record)))

    def _record_outputs(self, schema: pa.Schema) -> pa.Table:
        rows = [row for _, outputs in self.produced for row in outputs]
        try:
            return pa.Table.from_pylist(rows, schema=schema)
        except _CONVERSION_ERRORS:
            pass
        good = []
        for record, outputs in self.produced:  # find the inputs whose outputs do not fit
            try:
                good.append(pa.Table.from_pylist(outputs, schema=schema))
            except _CONVERSION_ERRORS as exc:
                self.reject(record, f"output {_misfit(outputs, schema)}: {_describe(exc)}")
        return pa.concat_tables(good) if good else schema.empty_table()

    def batch(self, rows_in: int) -> pa.RecordBatch:
        schema = self.plan.schema
        assert schema is not None
        full = pa.schema([*schema, *INTERNAL_FIELDS])
        outputs = pa.concat_tables(self.tables) if self.tables else self._record_outputs(schema)
        pieces = []
        if outputs.num_rows:  # whole columns, no per-row Python objects: this runs for every batch
            n = outputs.num_rows
            internal = [pa.repeat(pa.scalar("out"), n) if f.name == KIND else pa.nulls(n, f.type) for f in INTERNAL_FIELDS]
            pieces.append(pa.Table.from_arrays([*outputs.columns, *internal], schema=full))
        if self.rejected:
            rows = [{**keys, KIND: "model", REASON: json.dumps([reason]), RECORD: record} for keys, reason, record in self.rejected]
            pieces.append(pa.Table.from_pylist(rows, schema=full))
        pieces.extend(_set_aside_rows(rows, full) for rows in self.set_aside)
        pieces.append(pa.Table.from_pylist([{KIND: "tally", COUNT: rows_in}], schema=full))
        return pa.concat_tables(pieces).combine_chunks().to_batches()[0]


def _set_aside_rows(rows: pa.RecordBatch, full: pa.Schema) -> pa.Table:
    """Rows rejected before the model, in the output shape: their keys, stage, reasons, record."""
    marks = [json.loads(mark) for mark in rows.column(REJECTED_MARK).to_pylist()]
    by_name = {f.name: rows.column(f.name).cast(f.type) for f in full if f.name in rows.schema.names}
    by_name |= {
        KIND: pa.array([m["stage"] for m in marks], pa.string()),
        REASON: pa.array([json.dumps(m["reasons"]) for m in marks], pa.string()),
        RECORD: pa.array([m["record"] for m in marks], pa.string()),
    }
    return pa.Table.from_arrays([by_name.get(f.name, pa.nulls(rows.num_rows, f.type)) for f in full], schema=full)


def split_off_rejected(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.RecordBatch | None]:
    """Separate the rows the input checks rejected (REJECTED_MARK set) from the rows to score,
    which lose the mark column. A batch without it, or with none rejected, costs no copy."""
    if REJECTED_MARK not in batch.schema.names:
        return batch, None
    mark = batch.column(REJECTED_MARK)
    data = batch.drop_columns([REJECTED_MARK])
    if mark.null_count == batch.num_rows:
        return data, None
    to_score = pc.is_null(mark)
    return data.filter(to_score), batch.filter(pc.invert(to_score))


_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)


def _misfit(rows: list[dict[str, Any]], schema: pa.Schema) -> str:
    """Name the first output field whose value does not convert to its declared type."""
    for row in rows:
        for name in schema.names:
            if name in row:
                try:
                    pa.array([row[name]], type=schema.field(name).type)
                except _CONVERSION_ERRORS:
                    return f"field {name}"
    return "row"


def _score_records(plan: ScorePlan, function: Callable[..., Any], batch: pa.RecordBatch, collector: _Collector) -> None:
    for record in batch.to_pylist():
        try:
            produced = _as_records(function(record, 0) if plan.slot else function(record))
        except Exception as exc:
            collector.reject(record, f"score raised {_describe(exc)}")
            continue
        keys = {k: record.get(k) for k in plan.key_columns}
        collector.produced.append((record, [{**keys, **output} for output in produced]))


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


def _to_table(plan: ScorePlan, frame: Any) -> Any:
    """Batch outputs straight to Arrow with the output schema (the fast path); before the
    schema is known (the driver's sample run), Arrow's own inference."""
    if plan.schema is None:
        return pa.Table.from_pandas(frame, preserve_index=False)
    try:
        return pa.Table.from_pandas(frame.reindex(columns=plan.schema.names), schema=plan.schema, preserve_index=False, safe=False)
    except _CONVERSION_ERRORS as exc:
        raise ValueError(f"output {_misfit(frame.to_dict('records'), plan.schema)}: {_describe(exc)}") from exc


def _score_isolating(plan: ScorePlan, function: Callable[..., Any], frame: Any, collector: _Collector) -> list[pa.Table]:
    """Score a frame into Arrow; when the model raises or its output does not fit, bisect so only
    the input rows that fail are rejected."""
    try:
        return [_to_table(plan, _score_frame(plan, function, frame))]
    except ModelFunctionError:
        raise
    except Exception as exc:
        if plan.on_error == "fail":
            raise ModelFunctionError(f"score raised {_describe(exc)}") from exc
        if len(frame) <= 1:
            reason = str(exc) if str(exc).startswith("output ") else f"score raised {_describe(exc)}"
            for record in frame.to_dict("records"):
                collector.reject(record, reason)
            return []
        middle = len(frame) // 2
        return _score_isolating(plan, function, frame.iloc[:middle], collector) + _score_isolating(
            plan, function, frame.iloc[middle:], collector
        )


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
        data, set_aside = split_off_rejected(batch)
        collector = _Collector(plan, [set_aside] if set_aside is not None else None)
        if data.num_rows:
            with model.working_directory():
                if plan.shape == "record":
                    _score_records(plan, function, data, collector)
                else:
                    collector.tables = _score_isolating(plan, function, data.to_pandas(), collector)
        yield collector.batch(batch.num_rows)


def _score_iterator(plan: ScorePlan, function: Callable[..., Any], batches: Iterable[pa.RecordBatch], model: Any) -> Iterator[pa.RecordBatch]:
    """An iterator function sees the whole partition; a failure fails the task (no isolation)."""
    counts: list[int] = []
    set_aside: list[pa.RecordBatch] = []

    def frames() -> Iterator[Any]:
        for batch in batches:
            counts.append(batch.num_rows)
            data, rejected = split_off_rejected(batch)
            if rejected is not None:
                set_aside.append(rejected)
            if data.num_rows:
                yield data.to_pandas()

    with model.working_directory():
        try:
            for result in function(frames()):
                collector = _Collector(plan)
                collector.tables = [_to_table(plan, result)]
                yield collector.batch(0)
        except Exception as exc:
            raise ModelFunctionError(f"score raised {_describe(exc)}") from exc
    collector = _Collector(plan, set_aside)
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
            rows = [row for _, outputs in collector.produced for row in outputs]
            tables = [pa.Table.from_pylist(rows)] if rows else []
        elif plan.shape == "batch_iter":
            tables = [_to_table(plan, frame) for frame in function(iter([batch.to_pandas()]))]
        else:
            tables = _score_isolating(plan, function, batch.to_pandas(), collector)
    tables = [t for t in tables if t.num_columns]
    schema = pa.unify_schemas([t.schema for t in tables]) if tables else None
    return schema, [reason for _, reason, _ in collector.rejected]
