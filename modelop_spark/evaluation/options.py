"""What to evaluate and how: the columns and the bounds, as frozen values.

``EvaluationColumns`` names the columns (from job options, or from schema roles through
``columns_from_roles``); ``EvaluationOptions`` holds the settings, all bounded so that what reaches
the driver stays small whatever the row count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from modelop_spark.errors import SpecError

__all__ = ["KINDS", "EvaluationColumns", "EvaluationOptions", "columns_from_roles"]

Kind = Literal["auto", "binary", "multiclass", "regression"]
KINDS: tuple[str, ...] = ("auto", "binary", "multiclass", "regression")


def _names(value: Any, *, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SpecError(f"evaluation option {key!r}: expected a column name or a list of names, found {value!r}")


@dataclass(frozen=True)
class EvaluationColumns:
    """Which column is which. ``score`` is a probability of the positive class (binary) or the
    numeric prediction (regression); ``prediction`` is a predicted class (multiclass, or binary
    when no score is given)."""

    label: str | None = None
    score: str | None = None
    prediction: str | None = None
    protected: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationColumns:
        return cls(
            label=data.get("label"),
            score=data.get("score"),
            prediction=data.get("prediction"),
            protected=_names(data.get("protected"), key="protected"),
            features=_names(data.get("features"), key="features"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": self.score,
            "prediction": self.prediction,
            "protected": list(self.protected),
            "features": list(self.features),
        }


def columns_from_roles(roles: Any, **overrides: Any) -> EvaluationColumns:
    """Columns from schema roles (``modelop_spark.schema.roles.Roles``, or anything with the same
    attributes), with job options taking precedence. Kept tiny: the role model is issue 3's."""
    given = {k: v for k, v in overrides.items() if v not in (None, (), [])}
    base = EvaluationColumns(
        label=getattr(roles, "label", None),
        score=getattr(roles, "score", None),
        protected=tuple(getattr(roles, "protected", ()) or ()),
        features=tuple(getattr(roles, "drift_candidates", ()) or ()),
    )
    merged = {**base.to_dict(), **given}
    return EvaluationColumns.from_dict(merged)


@dataclass(frozen=True)
class EvaluationOptions:
    """Settings of the built-in evaluation. Every size here bounds what reaches the driver."""

    kind: Kind = "auto"
    thresholds: tuple[float, ...] = (0.5,)
    positive_label: Any = 1
    score_bins: int = 10_000  # fine score bins: AUC/AP error <= ties inside one bin
    curve_points: int = 201  # points kept in the reported ROC/PR curves
    calibration_bins: int = 10
    reference_groups: Mapping[str, Any] = field(default_factory=dict)
    max_classes: int = 100
    max_groups: int = 100
    psi_bins: int = 10
    ks_bins: int = 1000
    max_categories: int = 50
    plots: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecError(f"evaluation option 'kind': {self.kind!r} is not valid; expected one of {', '.join(KINDS)}")
        if not self.thresholds:
            raise SpecError("evaluation option 'thresholds': give at least one threshold, e.g. [0.5]")
        for t in self.thresholds:
            if not isinstance(t, int | float) or not 0.0 <= float(t) <= 1.0:
                raise SpecError(f"evaluation option 'thresholds': {t!r} is not a number in [0, 1]")
        bounds = {
            "score_bins": (10, 1_000_000),
            "curve_points": (3, 10_000),
            "calibration_bins": (2, 1000),
            "max_classes": (2, 10_000),
            "max_groups": (2, 10_000),
            "psi_bins": (2, 1000),
            "ks_bins": (2, 100_000),
            "max_categories": (2, 10_000),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise SpecError(
                    f"evaluation option {name!r}: expected an integer in [{low}, {high}], found {value!r}"
                )
        if self.score_bins % self.calibration_bins:
            raise SpecError(
                f"evaluation option 'calibration_bins': {self.calibration_bins} must divide "
                f"score_bins ({self.score_bins}); e.g. use 10 or 20"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(
                f"evaluation options: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(known))}"
            )
        values = dict(data)
        if "thresholds" in values:
            t = values["thresholds"]
            values["thresholds"] = tuple(t) if isinstance(t, list | tuple) else (t,)
        if "reference_groups" in values:
            values["reference_groups"] = dict(values["reference_groups"] or {})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["thresholds"] = list(self.thresholds)
        out["reference_groups"] = dict(self.reference_groups)
        return out
