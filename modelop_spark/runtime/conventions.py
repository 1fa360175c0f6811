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
"""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Literal

__all__ = [
    "CONVENTIONS",
    "CONVENTION_NAMES",
    "BatchConvention",
    "BatchIteratorConvention",
    "Convention",
    "ModelOpPySparkConvention",
    "RecordConvention",
    "SparkConvention",
    "convention_named",
    "detect_convention",
    "pyspark_convention_in_source",
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
    """``score(record)`` -> a dict, a list of dicts, a generator, or None; per input record."""

    name = "record"
    runs_on = "executors"
    whole_input = "pandas"


class BatchConvention(Convention):
    """``score(df: pandas.DataFrame) -> pandas.DataFrame``, per Arrow batch."""

    name = "batch"
    runs_on = "executors"
    whole_input = "pandas"


class BatchIteratorConvention(Convention):
    """``score(frames: Iterator[pandas.DataFrame]) -> Iterator[pandas.DataFrame]``, per partition."""

    name = "batch_iter"
    runs_on = "executors"
    whole_input = "pandas"


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
