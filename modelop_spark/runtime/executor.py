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

import contextlib
import json
import math
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelop_spark._model_stdout import model_prints_to_stderr
from modelop_spark._redact import redact
from modelop_spark.errors import ModelFunctionError
from modelop_spark.quarantine import REJECTED_MARK
from modelop_spark.runtime.conventions import BARE_VALUE_COLUMN, frame_outputs, record_outputs
from modelop_spark.runtime.model_cache import LoadedModel, ModelPayload, loaded_model
from modelop_spark.runtime.output_types import (
    CONVERSION_ERRORS,
    conform_frame,
    conform_rows,
    misfit_column,
)

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
    timeout: float | None = None  # seconds one model call may take (config.model_call_timeout)
    # The input's real column names when Spark got positional ones (names with dots or
    # backticks break PySpark's mapInArrow): batches get them back before the model sees them.
    input_names: tuple[str, ...] | None = None
    # The column a bare value (0, "approve", [0.2, 0.8]) from score goes to (conventions.bare_value_column).
    bare_column: str = BARE_VALUE_COLUMN
    # The application's rows-scored accumulator (progress.rows_scored_counter); None: not counted.
    scored: Any = None


# What a model call may raise that is the model's failure, not ours: ``sys.exit()`` inside a
# model is an error like any other, never the end of the runtime's process.
MODEL_FAILURES = (Exception, SystemExit)


class ModelTimeout(Exception):
    """A model call ran longer than the job allows."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ModelTimeout in the call that runs past ``seconds`` (SIGALRM: the main thread of a
    Python worker or of the driver; elsewhere, and without a limit, no timer is set). Pure Python
    loops and sleeps are interrupted; a C call that never yields to Python is not."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise ModelTimeout(f"did not return within {seconds:g}s (options.model_timeout_seconds)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fail_when_asked(plan: ScorePlan, message: str, cause: BaseException | None = None) -> None:
    """``on_error`` fail: the model's failure ends the job, with ``message``."""
    if plan.on_error == "fail":
        raise ModelFunctionError(message) from cause


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


class Collector:
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
        keys = {k: _plain(record.get(k)) for k in self.plan.key_columns}
        reason = redact(reason)  # a model's error text may quote a password or a token
        if self.plan.on_error == "fail":
            which = ", ".join(f"{k}={v!r}" for k, v in keys.items()) or "a record"
            raise ModelFunctionError(f"score function failed on the record with {which}: {reason}")
        self.rejected.append((keys, reason, _record_json(record)))

    def _record_outputs(self, schema: pa.Schema) -> pa.Table:
        names = frozenset(schema.names)
        self.produced = [(record, outputs) for record, outputs in self.produced if self._known_keys(record, outputs, names)]
        rows = [row for _, outputs in self.produced for row in outputs]
        try:
            return conform_rows(rows, schema)
        except CONVERSION_ERRORS:
            pass
        good = []
        for record, outputs in self.produced:  # find the inputs whose outputs do not fit
            try:
                good.append(conform_rows(outputs, schema))
            except CONVERSION_ERRORS as exc:
                self.reject(record, f"output {misfit_column(outputs, schema)}: {_describe(exc)}")
        return pa.concat_tables(good) if good else schema.empty_table()

    def _known_keys(self, record: Mapping[str, Any], outputs: list[dict[str, Any]], names: frozenset[str]) -> bool:
        """The policy for keys that appear after the sample: the input row is rejected, naming
        the key (a column cannot be added once tasks run), never silently dropped."""
        for output in outputs:
            if not names.issuperset(output):
                key = next(k for k in output if k not in names)
                self.reject(record, new_key_reason(key, self.plan.schema.names if self.plan.schema else names))
                return False
        return True

    def batch(self, rows_in: int) -> pa.RecordBatch:
        schema = self.plan.schema
        assert schema is not None
        full = pa.schema([*schema, *INTERNAL_FIELDS])
        outputs = pa.concat_tables(self.tables) if self.tables else self._record_outputs(schema)
        pieces = []
        if outputs.num_rows:  # whole columns, no per-row Python objects: this runs for every batch
            n = outputs.num_rows
            internal = _scored_marks(INTERNAL_FIELDS, n)
            pieces.append(pa.Table.from_arrays([*outputs.columns, *internal], schema=full))
        if self.rejected:
            rows = [{**keys, KIND: "model", REASON: json.dumps([reason]), RECORD: record} for keys, reason, record in self.rejected]
            pieces.append(pa.Table.from_pylist(rows, schema=full))
        pieces.extend(_set_aside_rows(rows, full) for rows in self.set_aside)
        pieces.append(pa.Table.from_pylist([{KIND: "tally", COUNT: rows_in}], schema=full))
        return pa.concat_tables(pieces).combine_chunks().to_batches()[0]


def _scored_marks(fields: Iterable[pa.Field], n: int) -> list[pa.Array]:
    """The internal columns of ``n`` scored rows: kind ``out``, the rest empty (whole columns, no
    per-row Python objects: this runs for every batch)."""
    return [pa.repeat(pa.scalar("out"), n) if f.name == KIND else pa.nulls(n, f.type) for f in fields]


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


def new_key_reason(key: str, names: Iterable[str]) -> str:
    known = [n for n in names if not n.startswith("_ms_")]
    return (
        f"output {key!r} is not among the output columns learned from the first rows "
        f"({', '.join(known)}); declare it in the snapshot's output schema"
    )


class NewOutputColumns(ValueError):
    """A batch function's output has columns the output schema does not."""


def _score_records(plan: ScorePlan, function: Callable[..., Any], batch: pa.RecordBatch, collector: Collector) -> None:
    for record in batch.to_pylist():
        try:
            with time_limit(plan.timeout):
                produced = record_outputs(function(record, 0) if plan.slot else function(record), column=plan.bare_column)
        except MODEL_FAILURES as exc:
            collector.reject(record, f"score raised {_describe(exc)}")
            continue
        keys = {k: record.get(k) for k in plan.key_columns}
        collector.produced.append((record, [{**keys, **output} for output in produced]))


def _score_frame(plan: ScorePlan, function: Callable[..., Any], frame: Any) -> Any:
    """Call a batch function, attaching key columns; raise when the model's result is unusable."""
    import pandas as pd

    produced = function(frame)
    result = frame_outputs(produced, column=plan.bare_column)
    if result is None:  # an iterator of frames
        result = pd.concat(list(produced), ignore_index=True)
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


def _to_table(plan: ScorePlan, frame: Any) -> pa.Table:
    """Batch outputs to Arrow with the output schema, each value kept or converted losslessly
    (``output_types.conform_frame``); a misfit is a ValueError naming the field."""
    assert plan.schema is not None
    extra = [str(c) for c in frame.columns if c not in plan.schema.names]
    if extra:
        raise NewOutputColumns(new_key_reason(extra[0], plan.schema.names))
    if list(frame.columns) != plan.schema.names:  # a column of the sample this output lacks is empty
        frame = frame.reindex(columns=plan.schema.names)
    try:
        return conform_frame(frame, plan.schema)
    except CONVERSION_ERRORS as exc:
        raise ValueError(f"output {misfit_column(frame.to_dict('records'), plan.schema)}: {_describe(exc)}") from exc


def _isolate(plan: ScorePlan, function: Callable[..., Any], frame: Any) -> Iterator[tuple[Any, Any]]:
    """Score a frame into Arrow, in input order: ``(rows, table)`` for the parts that scored and
    ``(rows, reason)`` for those that failed (the model's own frame, not a table, while the driver
    samples: its types are decided over the whole sample). When the model raises or its output does not fit,
    the frame is bisected so only the input rows that fail are rejected (the rows keep their
    positions in the frame's index)."""
    try:
        with time_limit(plan.timeout):
            result = _score_frame(plan, function, frame)
        yield frame, _to_table(plan, result) if plan.schema is not None else result
    except ModelFunctionError:
        raise
    except NewOutputColumns as exc:  # every row of the frame shares the columns: no bisecting
        yield frame, str(exc)
    except MODEL_FAILURES as exc:
        _fail_when_asked(plan, f"score raised {_describe(exc)}", exc)
        if len(frame) <= 1:
            yield frame, str(exc) if str(exc).startswith("output ") else f"score raised {_describe(exc)}"
            return
        middle = len(frame) // 2
        yield from _isolate(plan, function, frame.iloc[:middle])
        yield from _isolate(plan, function, frame.iloc[middle:])


def _score_isolating(plan: ScorePlan, function: Callable[..., Any], frame: Any, collector: Collector) -> list[Any]:
    tables = []
    for rows, outcome in _isolate(plan, function, frame):
        if isinstance(outcome, str):
            for record in rows.to_dict("records"):
                collector.reject(record, outcome)
        else:
            tables.append(outcome)
    return tables


def loaded_function(plan: ScorePlan) -> tuple[LoadedModel, Callable[..., Any]]:
    """This process's loaded model and the plan's function in it (loaded once per worker)."""
    model = loaded_model(plan.payload)
    function = model.function(plan.role)
    if function is None:
        raise ModelFunctionError(f"{plan.payload.source}: no {plan.role} function")
    return model, function


@dataclass(frozen=True)
class SampledOutputs:
    """What a function gave for the driver's sample rows, before any type is decided."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # a record function's output rows
    frames: list[Any] = field(default_factory=list)  # a batch function's output frames


class WorkerPass:
    """How one calling convention's function is applied to Arrow batches: a partition in the
    Python workers (``partition``), and the driver's sample rows (``sample``: the raw outputs,
    which ``runtime.sampling`` types). One instance per convention, in ``WORKER_PASSES``."""

    def partition(self, plan: ScorePlan, model: LoadedModel, function: Callable[..., Any], batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """One output batch per input batch: outputs, rejections and the tally."""
        for batch in batches:
            data, set_aside = split_off_rejected(batch)
            collector = Collector(plan, [set_aside] if set_aside is not None else None)
            if data.num_rows:
                with model.working_directory(), model_prints_to_stderr():
                    self.score(plan, function, data, collector)
                if plan.scored is not None:
                    plan.scored.add(data.num_rows)
            yield collector.batch(batch.num_rows)

    def score(self, plan: ScorePlan, function: Callable[..., Any], data: pa.RecordBatch, collector: Collector) -> None:
        raise NotImplementedError

    def sample(self, plan: ScorePlan, function: Callable[..., Any], batch: pa.RecordBatch, collector: Collector) -> SampledOutputs:
        raise NotImplementedError


class RecordPass(WorkerPass):
    """``score(record)`` once per row; a row that raises is rejected alone."""

    def score(self, plan: ScorePlan, function: Callable[..., Any], data: pa.RecordBatch, collector: Collector) -> None:
        _score_records(plan, function, data, collector)

    def sample(self, plan: ScorePlan, function: Callable[..., Any], batch: pa.RecordBatch, collector: Collector) -> SampledOutputs:
        _score_records(plan, function, batch, collector)
        return SampledOutputs(rows=[row for _, outputs in collector.produced for row in outputs])


class FramePass(WorkerPass):
    """``score(frame)`` once per batch; a batch that raises is bisected to the rows that fail."""

    def score(self, plan: ScorePlan, function: Callable[..., Any], data: pa.RecordBatch, collector: Collector) -> None:
        collector.tables = _score_isolating(plan, function, data.to_pandas(), collector)

    def sample(self, plan: ScorePlan, function: Callable[..., Any], batch: pa.RecordBatch, collector: Collector) -> SampledOutputs:
        return SampledOutputs(frames=_score_isolating(plan, function, batch.to_pandas(), collector))


class FrameIteratorPass(WorkerPass):
    """``score(frames)`` once per partition, over an iterator of its frames."""

    def partition(self, plan: ScorePlan, model: LoadedModel, function: Callable[..., Any], batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from _score_iterator(plan, function, batches, model)

    def sample(self, plan: ScorePlan, function: Callable[..., Any], batch: pa.RecordBatch, collector: Collector) -> SampledOutputs:
        return SampledOutputs(frames=list(function(iter([batch.to_pandas()]))))


# The pass of each convention that runs in the Python workers (``conventions.CONVENTIONS``).
WORKER_PASSES: dict[str, WorkerPass] = {"record": RecordPass(), "batch": FramePass(), "batch_iter": FrameIteratorPass()}


def score_batches(plan: ScorePlan, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function: one output batch per input batch."""
    model, function = loaded_function(plan)
    if plan.input_names is not None:
        names = list(plan.input_names)
        batches = (batch.rename_columns(names) for batch in batches)
    yield from WORKER_PASSES[plan.shape].partition(plan, model, function, batches)


def score_aligned(plan: ScorePlan, names: Sequence[str], columns: Sequence[pa.Array]) -> pa.StructArray:
    """The Arrow UDF of a batch function whose outputs line up with its inputs: one struct per
    input row, in order (the model's columns, then ``_ms_kind``, ``_ms_reason``, ``_ms_record``).
    The key columns never come here: Spark keeps them beside the rows, so they do not travel to
    the worker and back. ``plan.schema`` is the model's columns alone."""
    assert plan.schema is not None
    full = pa.schema([*plan.schema, *(f for f in INTERNAL_FIELDS if f.name != COUNT)])
    batch = pa.RecordBatch.from_arrays(list(columns), names=list(names))
    data, set_aside = split_off_rejected(batch)
    pieces: list[tuple[Any, pa.Table]] = []  # (positions in the batch, rows in the aligned shape)
    if set_aside is not None:
        to_score = pc.is_null(batch.column(REJECTED_MARK))
        pieces.append((pc.indices_nonzero(pc.invert(to_score)).to_numpy(), _set_aside_rows(set_aside, full)))
        positions = pc.indices_nonzero(to_score).to_numpy()
    else:
        positions = np.arange(batch.num_rows, dtype=np.uint64)
    if data.num_rows:
        model, function = loaded_function(plan)
        with model.working_directory(), model_prints_to_stderr():
            for rows, outcome in _isolate(plan, function, data.to_pandas(split_blocks=True)):
                if isinstance(outcome, str):
                    scored = _rejected_rows(plan, rows, outcome, full)
                elif outcome.num_rows != len(rows):  # the sample lined up, this batch does not
                    raise ModelFunctionError(
                        f"score returned {outcome.num_rows} rows for {len(rows)} inputs here but one per input on the "
                        "sample; return one row per input, or include the key columns in the output"
                    )
                else:
                    n = len(rows)
                    internal = _scored_marks([f for f in full if f.name.startswith("_ms_")], n)
                    scored = pa.Table.from_arrays([*outcome.columns, *internal], schema=full)
                pieces.append((positions[rows.index.to_numpy()], scored))
        if plan.scored is not None:
            plan.scored.add(data.num_rows)
    if len(pieces) == 1 and set_aside is None:  # the usual batch: every row scored at once, in order
        table = pieces[0][1]
    elif pieces:
        order = np.argsort(np.concatenate([where for where, _ in pieces]), kind="stable")
        table = pa.concat_tables([t for _, t in pieces]).take(pa.array(order))
    else:
        table = full.empty_table()
    return pa.StructArray.from_arrays([table.column(f.name).combine_chunks() for f in full], fields=list(full))


def _rejected_rows(plan: ScorePlan, rows: Any, reason: str, full: pa.Schema) -> pa.Table:
    """Input rows the model failed on, in the aligned shape (``on_error`` fail raises instead)."""
    reason = redact(reason)  # a model's error text may quote a password or a token
    _fail_when_asked(plan, f"score function failed on a record: {reason}")
    n = len(rows)
    by_name = {
        KIND: pa.repeat(pa.scalar("model"), n),
        REASON: pa.repeat(pa.scalar(json.dumps([reason])), n),
        RECORD: pa.array([_record_json(r) for r in rows.to_dict("records")], pa.string()),
    }
    return pa.Table.from_arrays([by_name.get(f.name, pa.nulls(n, f.type)) for f in full], schema=full)


def _score_iterator(plan: ScorePlan, function: Callable[..., Any], batches: Iterable[pa.RecordBatch], model: Any) -> Iterator[pa.RecordBatch]:
    """An iterator function sees the whole partition; a failure fails the task (no isolation). An
    output row that does not fit the output schema is rejected itself (its input is not known)."""
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

    with model.working_directory(), model_prints_to_stderr():
        try:
            results = iter(function(frames()))
            while True:
                with time_limit(plan.timeout):  # each output batch is one model call
                    result = next(results, None)
                if result is None:
                    break
                collector = Collector(plan)
                try:
                    collector.tables = [_to_table(plan, result)]
                except ValueError:  # find the rows that do not fit, and reject each with its reason
                    collector.produced = [(row, [row]) for row in result.to_dict("records")]
                yield collector.batch(0)
        except ModelFunctionError:
            raise
        except MODEL_FAILURES as exc:
            raise ModelFunctionError(f"score raised {_describe(exc)}") from exc
    collector = Collector(plan, set_aside)
    yield collector.batch(sum(counts))


