"""The sample check: the compiled plan must give the Python path's answers, row for row.

Pure pandas helpers (no Spark): which features the score function refuses when missing or not
finite (learned by probing it with one good row), and the comparison of two sets of outputs
(labels equal; values and probabilities within ``ABS_TOLERANCE + REL_TOLERANCE * |expected|``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelop_spark.compile.spark_plan import FeatureRules

ABS_TOLERANCE = 1e-6
REL_TOLERANCE = 1e-6
SAMPLE_ROWS = 200  # rows of the job's own input scored through both paths


def _raises(score: Callable[[Any], Any], frame: Any) -> bool:
    try:
        result = score(frame)
    except Exception:
        return True
    return result is None or len(result) != len(frame)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def good_row(frame: Any, features: Sequence[str]) -> Any | None:
    """The first row with every feature present and finite, as a one-row frame."""
    for index in range(len(frame)):
        values = [frame[name].iloc[index] for name in features]
        if not any(is_missing(v) or (isinstance(v, float) and math.isinf(v)) for v in values):
            return frame.iloc[[index]].reset_index(drop=True)
    return None


def probe_feature_rules(score: Callable[[Any], Any], base: Any, kinds: Mapping[str, str]) -> tuple[FeatureRules, list[Any]]:
    """Score ``base`` (one good row) with each feature made missing, and each numeric feature made
    infinite: a feature whose probe the function rejects is a rejection rule of the compiled
    path; one it accepts sends such rows to the Python path. The accepted probe rows are returned."""
    missing, non_finite, accepted = set(), set(), []
    takes_missing, takes_non_finite = set(), set()
    for name, kind in kinds.items():
        probes = [(missing, takes_missing, None if kind == "string" else float("nan"))]
        if kind == "double":
            probes += [(non_finite, takes_non_finite, float("inf")), (non_finite, takes_non_finite, float("-inf"))]
        for rules, takes, value in probes:
            row = base.copy()
            if kind == "double":
                row[name] = row[name].astype("float64")
            else:
                row[name] = row[name].astype(object)
            row.loc[0, name] = value
            if _raises(score, row):
                rules.add(name)
            else:
                takes.add(name)
                accepted.append(row)
    rules = FeatureRules(frozenset(missing), frozenset(non_finite), frozenset(takes_missing), frozenset(takes_non_finite - non_finite))
    return rules, accepted


def rejected_by(rules: FeatureRules, row: Mapping[str, Any]) -> bool:
    """Whether the compiled path rejects this row (mirrors ``spark_plan._reasons``)."""
    if any(is_missing(row.get(name)) for name in rules.rejects_missing):
        return True
    return any(_infinite(row.get(name)) for name in rules.rejects_non_finite)


def goes_to_python(rules: FeatureRules, row: Mapping[str, Any]) -> bool:
    """Whether the row is scored by the Python path (mirrors ``spark_plan.needs_python``)."""
    return any(is_missing(row.get(n)) for n in rules.accepts_missing) or any(_infinite(row.get(n)) for n in rules.accepts_non_finite)


def _infinite(value: Any) -> bool:
    return isinstance(value, float) and math.isinf(value)


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
