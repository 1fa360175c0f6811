"""The training-job keys of a job's ``options``, as one frozen value, checked when the job file
is parsed (before a SparkSession exists).

    "options": {
      "snapshot_output": "churn-1.0.1.tar.gz",   # folder, or .tar.gz / .tgz / .zip
      "snapshot_version": "1.0.1",               # default: the parent's version bumped
      "if_exists": "replace_own" | "replace" | "error",
      "max_train_rows": 1000000,                 # per input, for a pandas train function
      "model_artifact": "model.pkl",             # where a returned model is saved
      "mlflow": {"tracking_uri": "...", "registered_model": "..."}
    }
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelop_spark.errors import SpecError
from modelop_spark.runtime.mlflow_snapshot import TrackingOptions
from modelop_spark.runtime.snapshot_writer import IfExists

__all__ = ["DEFAULT_MAX_ROWS", "TrainingOptions"]

DEFAULT_MAX_ROWS = 1_000_000
_OPTION_KEYS = ("snapshot_output", "snapshot_version", "if_exists", "max_train_rows", "model_artifact", "mlflow")


@dataclass(frozen=True)
class TrainingOptions:
    """The training keys of a job's ``options`` (the runner keeps them in ``JobOptions.extra``)."""

    snapshot_output: str | None = None  # folder, or a path ending .tar.gz / .tgz / .zip
    snapshot_version: str | None = None  # default: the parent's version bumped
    if_exists: IfExists = "replace_own"
    max_train_rows: int = DEFAULT_MAX_ROWS  # per input, for pandas train functions
    model_artifact: str | None = None  # where a returned model is saved inside the snapshot
    mlflow: TrackingOptions | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingOptions:
        if data.get("if_exists", "replace_own") not in ("replace_own", "replace", "error"):
            raise SpecError(f"options.if_exists: expected replace_own, replace or error, found {data['if_exists']!r}")
        rows = data.get("max_train_rows", DEFAULT_MAX_ROWS)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise SpecError(f"options.max_train_rows: expected a whole number >= 1, found {rows!r}")
        artifact = data.get("model_artifact")
        if artifact is not None and (not isinstance(artifact, str) or artifact.startswith(("/", "..")) or not artifact.strip()):
            raise SpecError(f"options.model_artifact: expected a relative path inside the snapshot, found {artifact!r}")
        for key in ("snapshot_output", "snapshot_version"):
            if data.get(key) is not None and not isinstance(data[key], str | int | float):
                raise SpecError(f"options.{key}: expected text, found {type(data[key]).__name__}")
        return cls(
            snapshot_output=data.get("snapshot_output"),
            snapshot_version=str(data["snapshot_version"]) if data.get("snapshot_version") is not None else None,
            if_exists=data.get("if_exists", "replace_own"),
            max_train_rows=rows,
            model_artifact=artifact,
            mlflow=TrackingOptions.from_dict(data["mlflow"]) if data.get("mlflow") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _OPTION_KEYS if k != "mlflow" and getattr(self, k) is not None}
        if self.mlflow is not None:
            out["mlflow"] = self.mlflow.to_dict()
        return out
