"""How tasks explain: ``ExplainPlan``, decided once on the driver and shipped with the tasks,
and ``explain_batches``, the function ``mapInArrow`` runs with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from modelop_spark.runtime.model_cache import ModelPayload

__all__ = ["EXPECTED", "ExplainPlan", "explain_batches"]

EXPECTED = "expected_value"


@dataclass(frozen=True)
class ExplainPlan:
    """How tasks explain: picklable, no SparkSession. ``carried`` columns (keys, groups, the
    feature values when asked) travel through beside the SHAP values under ``carried_as`` names."""

    payload: ModelPayload
    method: str
    features: tuple[str, ...]
    carried: tuple[str, ...]
    carried_as: tuple[str, ...]
    model_object: str | None
    positive: int | None
    shape: str
    output: str | None
    background: Any  # a Broadcast (or a holder with ``.value``) of the background rows, or None
    background_digest: str
    mean: tuple[float, ...] | None
    seed: int
    max_evals: int | str
    schema: pa.Schema | None = None

    @property
    def cache_key(self) -> tuple[Any, ...]:
        return (self.payload.cache_key, self.method, self.model_object, self.positive, self.output,
                self.background_digest, self.mean, self.seed, self.max_evals, self.features)


def explain_batches(plan: ExplainPlan, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s function: each input batch explained as it comes, nothing held across batches."""
    # Imported here, in the Python worker: shap (and numba under it) takes seconds to import, and
    # the driver and every process that only scores never need it.
    from modelop_spark.interpretability.worker import explain_table

    for batch in batches:
        yield explain_table(plan, batch)
