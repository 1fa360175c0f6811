"""The shap explainers of ``models``' table, built in the Python workers, and a numpy batch
explained with one. The model-agnostic ones draw their random permutations (or coalitions) from
the seed afresh for every row: a row's values depend on the row, the seed and the background,
never on the partition or batch it lands in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shap

__all__ = ["Explaining", "RowSeededKernel", "RowSeededPermutation", "build_explainer"]


class RowSeededPermutation(shap.PermutationExplainer):
    """shap's permutation explainer, its permutations drawn from ``row_seed`` afresh for each row."""

    row_seed = 0

    def explain_row(self, *row_args: Any, **kwargs: Any) -> dict[str, Any]:
        np.random.seed(self.row_seed)
        return super().explain_row(*row_args, **kwargs)


class RowSeededKernel(shap.KernelExplainer):
    """shap's kernel explainer, its coalition sample drawn from ``row_seed`` afresh for each row
    (with every coalition enumerated, up to about 11 features, it draws nothing)."""

    row_seed = 0

    def explain(self, incoming_instance: Any, **kwargs: Any) -> Any:
        np.random.seed(self.row_seed)
        return super().explain(incoming_instance, **kwargs)


@dataclass
class Explaining:
    """A built explainer and what it explains: ``explain(X)`` -> (SHAP values n x M, expected value)."""

    explainer: Any
    method: str
    positive: int | None = None
    max_evals: int | str = 500

    def explain(self, rows: np.ndarray) -> tuple[np.ndarray, float]:
        if self.method == "tree":
            values = self.explainer.shap_values(rows, check_additivity=False)
            expected = self.explainer.expected_value
        elif self.method == "linear":
            values = self.explainer.shap_values(rows)
            expected = self.explainer.expected_value
        elif self.method == "permutation":
            explanation = self.explainer(rows, max_evals=self.max_evals, silent=True)
            values, expected = explanation.values, np.asarray(explanation.base_values).reshape(-1)[0] if len(rows) else 0.0
        else:
            values = self.explainer.shap_values(rows, silent=True)
            expected = self.explainer.expected_value
        return self._of_output(np.asarray(values), expected)

    def _of_output(self, values: np.ndarray, expected: Any) -> tuple[np.ndarray, float]:
        expected = np.asarray(expected, dtype=float).reshape(-1)
        if values.ndim == 3:  # (rows, features, outputs): the positive class's
            index = self.positive if self.positive is not None else values.shape[2] - 1
            return values[:, :, index], float(expected[index])
        return values, float(expected[self.positive] if expected.size > 1 and self.positive is not None else expected[0])


def build_explainer(
    method: str,
    *,
    model: Any | None,
    function: Callable[[np.ndarray], np.ndarray] | None,
    background: np.ndarray | None,
    mean: np.ndarray | None,
    positive: int | None,
    seed: int,
    max_evals: int | str,
) -> Explaining:
    """The shap explainer for ``method`` (chosen on the driver by ``choose_method``)."""
    if method == "tree":
        return Explaining(shap.TreeExplainer(model, feature_perturbation="tree_path_dependent"), method, positive)
    if method == "linear":
        masker = shap.maskers.Independent({"mean": np.asarray(mean, dtype=float), "cov": None})
        return Explaining(shap.LinearExplainer(model, masker), method, positive)
    assert function is not None and background is not None
    if method == "permutation":
        masker = shap.maskers.Independent(background, max_samples=len(background))
        permutation = RowSeededPermutation(function, masker, seed=seed)
        permutation.row_seed = seed
        return Explaining(permutation, method, positive, max_evals)
    kernel = RowSeededKernel(function, background)
    kernel.row_seed = seed
    return Explaining(kernel, method, positive)
