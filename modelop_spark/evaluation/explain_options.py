"""What to explain and how: ``options.interpretability`` of a metrics job, or the keywords of
``ms.explain``, as one frozen value. Every size here bounds what reaches the driver or a worker.

    "interpretability": {
      "method": "auto" | "tree" | "linear" | "permutation" | "kernel",
      "features": ["age", "income"],      # default: the snapshot's (MLflow signature / reads / role predictor)
      "model_object": "MODEL",            # the model module's global to explain (default: the one model found)
      "output": "probability",            # the score function's output to explain (model-agnostic methods)
      "background_size": 100, "seed": 0,  # the model-agnostic background sample, drawn once on the driver
      "max_evals": 500,                   # model calls per row of the permutation explainer ("auto": shap's)
      "top_n": 10, "summary_features": 8, # features reported; features given value-vs-SHAP bins
      "output_asset": "explanations"      # an output asset that receives the per-row explanations
    }
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from modelop_spark.errors import SpecError

__all__ = ["METHODS", "ExplainOptions"]

Method = Literal["auto", "tree", "linear", "permutation", "kernel"]
METHODS: tuple[str, ...] = ("auto", "tree", "linear", "permutation", "kernel")

_BOUNDS = {"background_size": (1, 10_000), "top_n": (1, 1000), "summary_features": (0, 50)}


@dataclass(frozen=True)
class ExplainOptions:
    method: Method = "auto"
    features: tuple[str, ...] = ()
    model_object: str | None = None
    output: str | None = None
    background_size: int = 100
    seed: int = 0
    max_evals: int | Literal["auto"] = 500
    top_n: int = 10
    summary_features: int = 8
    output_asset: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise SpecError(f"interpretability.method: {self.method!r} is not valid; expected one of {', '.join(METHODS)}")
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise SpecError(f"interpretability.{name}: expected an integer in [{low}, {high}], found {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise SpecError(f"interpretability.seed: expected an integer, found {self.seed!r}")
        if self.max_evals != "auto" and (not isinstance(self.max_evals, int) or isinstance(self.max_evals, bool) or self.max_evals < 3):
            raise SpecError(f"interpretability.max_evals: expected \"auto\" or an integer >= 3, found {self.max_evals!r}")

    @classmethod
    def from_dict(cls, data: Any) -> ExplainOptions:
        if data is True:
            return cls()
        if not isinstance(data, Mapping):
            raise SpecError("interpretability: expected true or an object of settings (method, features, top_n, ...)")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"interpretability.{unknown[0]}: unknown; valid keys are {', '.join(sorted(known))}")
        values = dict(data)
        if "features" in values:
            features = values["features"]
            if not isinstance(features, Sequence) or isinstance(features, str) or not all(isinstance(f, str) for f in features):
                raise SpecError(f"interpretability.features: expected a list of column names, found {features!r}")
            values["features"] = tuple(features)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["features"] = list(self.features)
        return {k: v for k, v in out.items() if v is not None}
