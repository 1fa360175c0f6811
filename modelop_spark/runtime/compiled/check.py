"""The sample check: the compiled plan must give the Python path's answers, row for row.

Pure pandas helpers (no Spark): which sample rows the compiled plan scores (the complete ones,
as ``spark_plan.needs_python`` decides), and the comparison of two sets of outputs (labels
equal; values and probabilities within ``ABS_TOLERANCE + REL_TOLERANCE * |expected|``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ABS_TOLERANCE = 1e-6
REL_TOLERANCE = 1e-6
SAMPLE_ROWS = 200  # rows of the job's own input scored through both paths


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def is_complete(row: Mapping[str, Any], features: Mapping[str, str]) -> bool:
    """Every feature present and, for numbers, finite (mirrors ``spark_plan.needs_python``)."""
    for name, kind in features.items():
        value = row.get(name)
        if is_missing(value) or (kind == "double" and isinstance(value, float) and math.isinf(value)):
            return False
    return True


def first_mismatch(expected: Any, actual: Any, outputs: Mapping[str, str]) -> str | None:
    """Compare output columns row by row; ``outputs`` maps fields to ``label``/``value``/
    ``probability:<c>``. None when they agree, else what differs, for the fallback reason."""
    if len(expected) != len(actual):
        return f"the Python path gave {len(expected)} rows for {len(actual)} compiled ones"
    for field, source in outputs.items():
        if field not in expected.columns:
            return f"the score function's output has no field {field!r}"
        for index, (want, got) in enumerate(zip(expected[field].tolist(), actual[field].tolist(), strict=True)):
            if not _same(want, got, exact=source == "label"):
                return f"{field} differs on sample row {index}: Python {want!r}, compiled {got!r}"
    return None


def _same(want: Any, got: Any, *, exact: bool) -> bool:
    if is_missing(want) or is_missing(got):
        return is_missing(want) and is_missing(got)
    if hasattr(want, "item"):
        want = want.item()
    if hasattr(got, "item"):
        got = got.item()
    if isinstance(want, bool | int | float) and isinstance(got, bool | int | float):
        if exact:
            return float(want) == float(got)
        return abs(float(want) - float(got)) <= ABS_TOLERANCE + REL_TOLERANCE * abs(float(want))
    return str(want) == str(got)
