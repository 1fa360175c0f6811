"""How a model function is called: its calling convention, one small class each, listed once.

A convention says what the function takes, which side runs it in a job (the driver, or the Python
workers on the executors) and what a ``metrics`` or ``train`` function in it gets as its whole
input. It comes from ``snapshot.json`` ``shapes.<role>`` when declared, else from the signature.

| name              | takes                                                    | runs on   | whole input |
| ----------------- | -------------------------------------------------------- | --------- | ----------- |
| ``record``        | ``score(record: dict)`` (or ``(datum, slot_no)``), 0..n dicts out | executors | pandas |
| ``batch``         | ``score(df: pandas.DataFrame) -> pandas.DataFrame``      | executors | pandas      |
| ``batch_iter``    | ``score(Iterator[pandas.DataFrame]) -> Iterator[...]``   | executors | pandas      |
| ``spark``         | ``score(df: pyspark DataFrame) -> DataFrame`` (Spark ML) | driver    | spark       |
| ``modelop_pyspark`` | ``score(external_inputs, external_outputs, external_model_assets)`` | driver | assets |

"Runs on executors": the function is shipped (inside ``runtime.model_cache.ModelPayload``) to
Spark's Python workers and applied to Arrow batches by ``runtime.executor``; the driver only runs
it over a few sample rows first. "Runs on the driver": it is called once, in the driver process,
with Spark DataFrames (``spark``) or ModelOp asset dicts (``modelop_pyspark``; the model does
its own I/O with the active session).

What a record function gives back is read by :func:`record_outputs`, the one reading of it on
every path (jobs, ``score_first``, life-cycle smoke jobs, ``ms.score``, ``ms.udf``): a dict is
one output row, a list (or generator) of dicts several, None none; anything else is a *bare
value* (ModelOp's runtime writes whatever ``score`` yields as a JSON line: ``0``, ``0.73``,
``"approve"``, ``[0.2, 0.8]``), one output row with one column, named by
:func:`bare_value_column`: the output schema's single field when it has exactly one, else
``prediction``. A batch function's Series or array is the same one column per input row.
"""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

__all__ = [
    "BARE_VALUE_COLUMN",
    "CONVENTIONS",
    "CONVENTION_NAMES",
    "BatchConvention",
    "BatchIteratorConvention",
    "Convention",
    "ModelOpPySparkConvention",
    "RecordConvention",
    "SparkConvention",
    "bare_value_column",
    "convention_named",
    "detect_convention",
    "frame_outputs",
    "pyspark_convention_in_source",
    "record_outputs",
    "takes_argument",
    "takes_slot",
]

Side = Literal["driver", "executors"]
WholeInput = Literal["pandas", "spark", "assets"]


class Convention:
    """One calling convention. Stateless; compare by ``name``."""

    name: ClassVar[str]
    runs_on: ClassVar[Side]
    whole_input: ClassVar[WholeInput]  # what metrics(...) / train(...) receive, one per input
    applies_to_a_dataframe: ClassVar[bool] = True  # ms.score and a scoring job's pass; False: run as a job
    per_record: ClassVar[bool] = False  # called once per input record
    over_an_iterator: ClassVar[bool] = False  # called once per partition, with an iterator of frames
    one_frame_per_batch: ClassVar[bool] = False  # called with a frame, returns a frame: may line up row by row

    @property
    def receives(self) -> str:
        """What a metrics or train function of this convention gets, as a job result names it:
        ``pandas``, ``spark`` or ``modelop_pyspark`` (ModelOp's asset dicts)."""
        return "modelop_pyspark" if self.whole_input == "assets" else self.whole_input

    @property
    def holds_whole_input_in_memory(self) -> bool:
        """A metrics or train function of this convention gets each input as one pandas frame
        on the driver (so the job caps its rows)."""
        return self.whole_input == "pandas"

    def whole_input_arguments(self, frames: Sequence[Any], as_pandas: Callable[[Any], Any]) -> list[Any]:
        """What ``metrics(...)`` / ``train(...)`` receive for the job's input frames: one
        argument per input, as pandas or as the Spark DataFrames themselves."""
        return [as_pandas(frame) for frame in frames] if self.holds_whole_input_in_memory else list(frames)

    @property
    def in_python_workers(self) -> bool:
        """Applied batch by batch in Spark's Python workers (mapInArrow)."""
        return self.runs_on == "executors"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Convention) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<convention {self.name}>"


class RecordConvention(Convention):
    """``score(record)`` -> a dict, a list of dicts, a generator, None, or a bare value (a
    number, text, a list of values); per input record (:func:`record_outputs`)."""

    name = "record"
    runs_on = "executors"
    whole_input = "pandas"
    per_record = True


class BatchConvention(Convention):
    """``score(df: pandas.DataFrame) -> pandas.DataFrame``, per Arrow batch."""

    name = "batch"
    runs_on = "executors"
    whole_input = "pandas"
    one_frame_per_batch = True


class BatchIteratorConvention(Convention):
    """``score(frames: Iterator[pandas.DataFrame]) -> Iterator[pandas.DataFrame]``, per partition."""

    name = "batch_iter"
    runs_on = "executors"
    whole_input = "pandas"
    over_an_iterator = True


class SparkConvention(Convention):
    """``score(df: pyspark.sql.DataFrame) -> DataFrame``, called once on the driver."""

    name = "spark"
    runs_on = "driver"
    whole_input = "spark"


class ModelOpPySparkConvention(Convention):
    """``fn(external_inputs, external_outputs, external_model_assets)``, called once on the
    driver with ModelOp asset dicts; the model reads and writes with the active session."""

    name = "modelop_pyspark"
    runs_on = "driver"
    whole_input = "assets"
    applies_to_a_dataframe = False  # it reads and writes its assets itself


# The one list of conventions: the manifest's ``shapes`` values are checked against it.
CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (RecordConvention(), BatchConvention(), BatchIteratorConvention(), SparkConvention(), ModelOpPySparkConvention())
}
CONVENTION_NAMES: tuple[str, ...] = tuple(CONVENTIONS)

_PYSPARK_CONVENTION = ("external_inputs", "external_outputs", "external_model_assets")


def convention_named(name: str) -> Convention:
    return CONVENTIONS[name]


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation
    if typing.get_origin(annotation) is not None:  # Iterator[pd.DataFrame] and the like
        return str(annotation)
    module = getattr(annotation, "__module__", "") or ""
    name = getattr(annotation, "__qualname__", None) or str(annotation)
    return f"{module}.{name}" if module and module != "builtins" else str(annotation)


def _positional(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p for p in inspect.signature(fn).parameters.values() if p.kind in kinds]


def _follows_pyspark_convention(names: tuple[str, ...], required: int) -> bool:
    return names[:3] == _PYSPARK_CONVENTION or required >= 3


def pyspark_convention_in_source(source: str, function_name: str) -> bool | None:
    """Whether ``function_name`` takes ModelOp's PySpark convention, read from the source text
    without running it (the checks before Spark need it); None when the source has no plain
    ``def`` of that name."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function_name:
            args = [*node.args.posonlyargs, *node.args.args]
            return _follows_pyspark_convention(tuple(a.arg for a in args), len(args) - len(node.args.defaults))
    return None


def _from_signature(fn: Callable[..., Any]) -> str:
    params = _positional(fn)
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if _follows_pyspark_convention(tuple(p.name for p in params), len(required)):
        return "modelop_pyspark"
    if not params:
        return "record"
    text = _annotation_text(params[0].annotation).replace(" ", "")
    if "pyspark" in text or "SparkDataFrame" in text:
        return "spark"
    if "DataFrame" in text:
        return "batch_iter" if "Iterator" in text or "Iterable" in text else "batch"
    return "record"


def detect_convention(fn: Callable[..., Any], declared: str | None = None) -> Convention:
    """The convention ``declared`` in the manifest (already checked by the snapshot loader), else
    the one the signature shows."""
    return CONVENTIONS[declared or _from_signature(fn)]


def takes_slot(fn: Callable[..., Any]) -> bool:
    """ModelOp's older ``score(datum, slot_no)`` form."""
    return len(_positional(fn)) >= 2


def takes_argument(fn: Callable[..., Any]) -> bool:
    """``init(job_json)`` rather than ``init()``."""
    return len(_positional(fn)) >= 1


# -- what a score function gives back ----------------------------------------------------------
BARE_VALUE_COLUMN = "prediction"


def bare_value_column(output_fields: Sequence[str]) -> str:
    """The column a bare value goes to: the output schema's single field, else ``prediction``."""
    return output_fields[0] if len(output_fields) == 1 else BARE_VALUE_COLUMN


def _is_frame(value: Any) -> bool:
    return hasattr(value, "to_dict") and hasattr(value, "columns")  # a pandas DataFrame


def _rows_of(value: Any) -> list[dict[str, Any]] | None:
    """Output rows when ``value`` is rows (a dict, a DataFrame, a non-empty list of dicts);
    None when it is a value."""
    if isinstance(value, Mapping):
        return [dict(value)]
    if _is_frame(value):
        return value.to_dict("records")
    if isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) or _is_frame(v) for v in value):
        return [row for v in value for row in (_rows_of(v) or [])]
    return None


def _bare(value: Any, column: str) -> dict[str, Any]:
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):  # numpy arrays and scalars
        value = value.tolist()
    return {column: list(value) if isinstance(value, tuple) else value}


def record_outputs(produced: Any, *, column: str = BARE_VALUE_COLUMN) -> list[dict[str, Any]]:
    """A record function's result as output rows. Rows as they are (a dict; a list of dicts;
    a DataFrame); None and an empty list are no output; a generator gives one output per
    item read the same way; any other value is a bare value, one row ``{column: value}``."""
    if produced is None or (isinstance(produced, list | tuple) and not produced):
        return []
    rows = _rows_of(produced)
    if rows is not None:
        return rows
    if isinstance(produced, Iterator):  # a generator: each yielded item is an output
        outputs: list[dict[str, Any]] = []
        for item in produced:
            if item is not None and not (isinstance(item, list | tuple) and not item):
                outputs.extend(_rows_of(item) or [_bare(item, column)])
        return outputs
    return [_bare(produced, column)]


def frame_outputs(result: Any, *, column: str = BARE_VALUE_COLUMN) -> Any:
    """A batch function's result as a pandas DataFrame: a DataFrame as it is; a Series, array or
    list of values (one per input row) is the one bare-value column; None is no rows."""
    import pandas as pd

    if result is None:
        return pd.DataFrame()
    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pd.Series):
        return pd.DataFrame({column: result.to_numpy()})
    if hasattr(result, "ndim") and getattr(result, "ndim", 0) == 1:  # a numpy array
        return pd.DataFrame({column: result})
    return None  # something else (an iterator of frames): the caller decides
