"""What a user's ``metrics`` function returns or yields, made into one JSON-ready mapping.

ModelOp metrics functions ``yield`` one dict (some ``return`` it, some yield several). One dict
becomes the result as it is; several become ``{"results": [...]}`` in order. Values are made
JSON-ready (numpy and pandas values converted, NaN/inf written as null).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from modelop_spark.errors import ModelFunctionError

__all__ = ["collect_metrics", "jsonable"]


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        return jsonable(value.tolist()) if hasattr(value, "tolist") else str(value)
    if module == "pandas":
        if hasattr(value, "to_dict"):
            kind = type(value).__name__
            return jsonable(value.to_dict(orient="records") if kind == "DataFrame" else value.to_dict())
        return str(value)
    return str(value)


def collect_metrics(result: Any, *, source: str) -> dict[str, Any]:
    """The metrics result of one call; raises ModelFunctionError for anything but dicts."""
    if isinstance(result, Mapping):
        items: list[Any] = [result]
    elif isinstance(result, Iterable) and not isinstance(result, str | bytes):
        try:
            items = list(result)  # a generator runs here: its errors are the model's
        except Exception as exc:
            raise ModelFunctionError(f"{source}: metrics raised {type(exc).__name__}: {exc}") from exc
    else:
        raise ModelFunctionError(
            f"{source}: metrics returned {type(result).__name__}; return or yield a dict of metrics"
        )
    bad = [type(i).__name__ for i in items if not isinstance(i, Mapping)]
    if bad or not items:
        found = bad[0] if bad else "nothing"
        raise ModelFunctionError(f"{source}: metrics yielded {found}; yield one dict of metrics (or several)")
    if len(items) == 1:
        return jsonable(items[0])
    return {"results": [jsonable(i) for i in items]}
