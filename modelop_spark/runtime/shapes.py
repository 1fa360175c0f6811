"""Which calling convention a model function follows, from its signature or the manifest.

- ``record``: ``score(record: dict)`` returns or yields dicts, 0..n per input (ModelOp's usual);
  ``score(datum, slot_no)`` too.
- ``batch``: ``score(df: pandas.DataFrame) -> pandas.DataFrame``; ``batch_iter`` when it takes and
  returns an iterator of DataFrames.
- ``spark``: ``score(df: pyspark DataFrame) -> DataFrame``, run once on the driver (Spark ML).
- ``modelop_pyspark``: ``score(external_inputs, external_outputs, external_model_assets)``; the
  model does its own I/O with the active session.
"""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Callable
from typing import Any, Literal

Shape = Literal["record", "batch", "batch_iter", "spark", "modelop_pyspark"]

_PYSPARK_CONVENTION = ("external_inputs", "external_outputs", "external_model_assets")


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


def pyspark_convention_in_source(source: str, function_name: str) -> bool:
    """Whether ``function_name`` in ``source`` takes ModelOp's PySpark convention, read from the
    source without running it (a training job must know where the model writes before any model
    code runs)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function_name:
            args = [*node.args.posonlyargs, *node.args.args]
            return _follows_pyspark_convention(tuple(a.arg for a in args), len(args) - len(node.args.defaults))
    return False


def detect_shape(fn: Callable[..., Any], declared: str | None = None) -> Shape:
    """The shape ``declared`` in the manifest, else the one the signature shows."""
    if declared:
        return declared  # type: ignore[return-value]
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


def takes_slot(fn: Callable[..., Any]) -> bool:
    """ModelOp's older ``score(datum, slot_no)`` form."""
    return len(_positional(fn)) >= 2


def takes_argument(fn: Callable[..., Any]) -> bool:
    """``init(job_json)`` rather than ``init()``."""
    return len(_positional(fn)) >= 1
