"""What runs inside Spark's Python workers: explain Arrow batches, the explainer built once.

Worker-reuse assumption (as ``runtime.model_cache``): Spark keeps a Python worker alive across
tasks, so ``_EXPLAINERS`` lives across every batch and task it runs; the model is loaded (init
run) once through the model cache, and the explainer is built on it once. The background comes
from a broadcast read once per worker. Only Arrow batches cross the worker's boundary: a batch
of feature values in, a batch of SHAP values (and the carried columns) out.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np
import pyarrow as pa

from modelop_spark._model_stdout import model_prints_to_stderr
from modelop_spark.interpretability.models import (
    MODEL_AGNOSTIC,
    find_model,
    score_function_output,
)
from modelop_spark.interpretability.plan import ExplainPlan
from modelop_spark.interpretability.shap_explainers import Explaining, build_explainer
from modelop_spark.runtime.model_cache import loaded_model

__all__ = ["explain_table", "explainer_for"]


_EXPLAINERS: dict[tuple[Any, ...], Explaining] = {}
_LOCK = threading.Lock()


def explainer_for(plan: ExplainPlan) -> Explaining:
    """The plan's explainer, built once for this process."""
    key = plan.cache_key
    if (found := _EXPLAINERS.get(key)) is not None:
        return found
    with _LOCK:
        if (found := _EXPLAINERS.get(key)) is not None:
            return found
        model = loaded_model(plan.payload)
        namespace = vars(sys.modules[plan.payload.module_name])
        target = find_model(namespace, plan.model_object, source=plan.payload.source) if plan.method not in MODEL_AGNOSTIC else None
        function = None
        if plan.method in MODEL_AGNOSTIC:
            score = model.function("score")
            assert plan.output is not None and score is not None  # the driver checked both
            function = _in_model_folder(model, score_function_output(score, plan.shape, plan.features, plan.output))
        background = np.asarray(plan.background.value, dtype=float) if plan.background is not None else None
        built = build_explainer(
            plan.method, model=target, function=function, background=background,
            mean=np.asarray(plan.mean) if plan.mean is not None else None,
            positive=plan.positive, seed=plan.seed, max_evals=plan.max_evals,
        )
        _EXPLAINERS[key] = built
        return built


def _in_model_folder(model: Any, function: Any) -> Any:
    """The score function run as in scoring: in the model's folder, its prints on stderr."""
    def called(rows: np.ndarray) -> np.ndarray:
        with model.working_directory(), model_prints_to_stderr():
            return function(rows)

    return called


def explain_table(plan: ExplainPlan, batch: pa.RecordBatch) -> pa.RecordBatch:
    """One batch explained: the carried columns, one SHAP value per feature, the expected value."""
    assert plan.schema is not None
    explaining = explainer_for(plan)
    rows = np.column_stack([batch.column(f).to_numpy(zero_copy_only=False).astype(float) for f in plan.features]) \
        if batch.num_rows else np.empty((0, len(plan.features)))
    values, expected = explaining.explain(rows) if batch.num_rows else (rows, 0.0)
    carried = [batch.column(name) for name in plan.carried]
    shap_columns = [pa.array(values[:, j], pa.float64()) for j in range(len(plan.features))]
    expected_column = pa.array(np.full(batch.num_rows, expected), pa.float64())
    arrays = [*(c.cast(f.type) for c, f in zip(carried, plan.schema, strict=False)), *shap_columns, expected_column]
    return pa.RecordBatch.from_arrays(arrays, schema=plan.schema)
