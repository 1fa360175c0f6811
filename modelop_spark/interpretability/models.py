"""The model behind a snapshot, and the explanation method chosen for it (pure: no Spark, no
shap import, so the driver and every process that only scores stay light). ``shap_explainers``
builds the explainer the table below names, in the Python workers.

| method        | shap explainer                              | background                              |
| ------------- | ------------------------------------------- | --------------------------------------- |
| ``tree``      | ``TreeExplainer``, path-dependent           | none (the trees' own cover counts)      |
| ``linear``    | ``LinearExplainer``, interventional         | the feature means of the whole input    |
| ``permutation`` | ``PermutationExplainer`` over the score function | a seeded sample, drawn on the driver |
| ``kernel``    | ``KernelExplainer`` over the score function | the same sample                         |

The model-agnostic explainers draw their random permutations (or coalitions) afresh from the seed
for every row, so a row's values depend only on the row, the seed and the background: never on
the partition or batch it lands in. ``explained_output`` says which output is explained: the
positive class's for a classifier (raw trees' output: probability for a random forest, log-odds
for gradient boosting; log-odds for a logistic regression), the named score output otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelop_spark.errors import SnapshotError
from modelop_spark.runtime.conventions import convention_named

__all__ = [
    "MODEL_AGNOSTIC",
    "choose_method",
    "find_model",
    "is_linear_model",
    "is_tree_model",
    "positive_index",
    "score_function_output",
]

MODEL_AGNOSTIC = ("permutation", "kernel")
_TREE_LIBRARIES = ("xgboost", "lightgbm", "catboost")


def is_tree_model(obj: Any) -> bool:
    """A tree ensemble ``shap.TreeExplainer`` reads: scikit-learn's trees and forests, XGBoost, LightGBM."""
    module = type(obj).__module__
    if module.startswith(_TREE_LIBRARIES):
        return hasattr(obj, "predict")
    return module.startswith(("sklearn.ensemble", "sklearn.tree")) and (hasattr(obj, "estimators_") or hasattr(obj, "tree_"))


def is_linear_model(obj: Any) -> bool:
    return type(obj).__module__.startswith("sklearn.linear_model") and hasattr(obj, "coef_")


def _unwrapped(obj: Any) -> Any:
    """An MLflow pyfunc model's own model object (a scikit-learn estimator under it)."""
    raw = getattr(obj, "get_raw_model", None)
    if callable(raw) and type(obj).__module__.startswith("mlflow"):
        try:
            return raw()
        except Exception:  # a pyfunc without a raw model: explained through its score function
            return obj
    return obj


def find_model(namespace: Mapping[str, Any], name: str | None, *, source: str) -> Any | None:
    """The model object to explain: the global ``name`` of the model's module, else the one tree
    or linear model among its globals (None when there is none: explain the score function)."""
    if name is not None:
        if name not in namespace:
            raise SnapshotError(f"interpretability.model_object: {source} has no global {name!r}")
        return _unwrapped(namespace[name])
    found = {k: m for k, v in namespace.items() if not k.startswith("__") and (is_tree_model(m := _unwrapped(v)) or is_linear_model(m))}
    if len(found) > 1:
        raise SnapshotError(
            f"interpretability: {source} holds several models ({', '.join(sorted(found))}); name the one to explain "
            "in interpretability.model_object"
        )
    return next(iter(found.values()), None)


def choose_method(method: str, model: Any | None, *, source: str) -> str:
    """``auto``: tree for a tree ensemble, linear for a linear model, permutation otherwise."""
    if method == "auto":
        return "tree" if model is not None and is_tree_model(model) else "linear" if model is not None and is_linear_model(model) else "permutation"
    if method == "tree" and (model is None or not is_tree_model(model)):
        raise SnapshotError(f"interpretability.method tree: {source} holds no tree ensemble "
                            f"({type(model).__name__ if model is not None else 'no model object'}); use auto or permutation")
    if method == "linear" and (model is None or not is_linear_model(model)):
        raise SnapshotError(f"interpretability.method linear: {source} holds no linear model "
                            f"({type(model).__name__ if model is not None else 'no model object'}); use auto or permutation")
    return method


def positive_index(model: Any | None, positive_label: Any) -> int | None:
    """Which class's output a classifier's explanation is of: the positive label's (else the
    second of two classes); None for a model with one output."""
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) < 2:
        return None
    listed = [c.item() if hasattr(c, "item") else c for c in classes]
    if positive_label in listed:
        return listed.index(positive_label)
    if len(listed) == 2:
        return 1
    raise SnapshotError(f"interpretability: the model's classes are {listed}; say which is positive "
                        "(evaluation positive_label) to explain its output")


def score_function_output(function: Callable[..., Any], shape: str, features: tuple[str, ...], output: str) -> Callable[[np.ndarray], np.ndarray]:
    """The snapshot's score function as shap's model: rows of feature values in, the ``output``
    value of each row out (record or batch shaped, called with the features only)."""
    convention = convention_named(shape)
    if convention.per_record:
        def record_output(produced: Any) -> float:
            first = produced if isinstance(produced, Mapping) else next(iter(produced))
            return float(first[output])

        def by_record(rows: np.ndarray) -> np.ndarray:
            return np.array([record_output(function(dict(zip(features, row, strict=True)))) for row in rows.tolist()])

        return by_record

    def by_batch(rows: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(rows, columns=list(features))
        result = pd.concat(list(function(iter([frame])))) if convention.over_an_iterator else function(frame)
        return result[output].to_numpy(dtype=float)

    return by_batch
