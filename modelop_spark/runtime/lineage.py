"""Where a trained snapshot came from: parent snapshot, training job, inputs, metrics, MLflow run.

Plain frozen values, written into the new snapshot's ``snapshot.json`` under ``lineage``. Every
location and URI is redacted when recorded, so a credential in an input URL never lands in a
manifest. The one I/O helper, :func:`delta_table_version`, asks delta-rs for a Delta input's
current version (no Spark needed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelop_spark._redact import redact, redacted_logger

__all__ = ["InputLineage", "Lineage", "MlflowLineage", "ParentRef", "clean_metrics", "delta_table_version"]

log = redacted_logger(__name__)


@dataclass(frozen=True)
class ParentRef:
    """The snapshot a training job started from."""

    name: str
    version: str | None = None
    digest: str | None = None
    location: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParentRef:
        return cls(
            name=str(data["name"]),
            version=data.get("version"),
            digest=data.get("digest"),
            location=data.get("location"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.digest:
            out["digest"] = self.digest
        if self.location:
            out["location"] = redact(self.location)
        return out


@dataclass(frozen=True)
class InputLineage:
    """One input asset of the training job: where it was read and how many rows it had."""

    location: str
    kind: str
    rows: int | None = None
    name: str | None = None
    format: str | None = None
    delta_version: int | None = None  # the Delta table version read, for ``kind == "delta"``

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputLineage:
        return cls(
            location=str(data["location"]),
            kind=str(data["kind"]),
            rows=data.get("rows"),
            name=data.get("name"),
            format=data.get("format"),
            delta_version=data.get("delta_version"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"location": redact(self.location), "kind": self.kind, "rows": self.rows}
        for key in ("name", "format", "delta_version"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class MlflowLineage:
    """The MLflow run a training job logged to, and the model version it registered."""

    run_id: str
    experiment_id: str | None = None
    tracking_uri: str | None = None
    model_uri: str | None = None
    registered_model: str | None = None
    registered_version: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MlflowLineage:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k) is not None}
        if self.tracking_uri:
            out["tracking_uri"] = redact(self.tracking_uri)
        return out


@dataclass(frozen=True)
class Lineage:
    """The ``lineage`` block of a trained snapshot's manifest."""

    training_job_id: str
    parent: ParentRef | None = None
    inputs: tuple[InputLineage, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    created_at: str | None = None  # ISO 8601, UTC
    mlflow: MlflowLineage | None = None

    @property
    def rows(self) -> int | None:
        """Rows the training function saw over all inputs (None if any count is unknown)."""
        counts = [i.rows for i in self.inputs if i.rows is not None]
        return None if len(counts) < len(self.inputs) else sum(counts)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        return cls(
            training_job_id=str(data["training_job_id"]),
            parent=ParentRef.from_dict(data["parent"]) if data.get("parent") else None,
            inputs=tuple(InputLineage.from_dict(i) for i in data.get("inputs") or ()),
            metrics=dict(data.get("metrics") or {}),
            created_at=data.get("created_at"),
            mlflow=MlflowLineage.from_dict(data["mlflow"]) if data.get("mlflow") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "training_job_id": self.training_job_id,
            "parent": self.parent.to_dict() if self.parent else None,
            "inputs": [i.to_dict() for i in self.inputs],
            "rows": self.rows,
            "metrics": clean_metrics(self.metrics),
        }
        if self.created_at:
            out["created_at"] = self.created_at
        if self.mlflow is not None:
            out["mlflow"] = self.mlflow.to_dict()
        return out


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as JSON can hold them: numpy scalars become Python numbers, NaN/inf become None
    (JSON has no NaN), other values are kept when JSON-like and turned to text otherwise."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        out[str(key)] = _json_value(value)
    return out


def _json_value(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy / pandas scalar
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if hasattr(value, "tolist"):
        return _json_value(value.tolist())
    return str(value)


def delta_table_version(
    url: str, *, timestamp: str | None = None, storage_options: Mapping[str, str] | None = None
) -> int | None:
    """The version of the Delta table at ``url`` (the current one, or the one in effect at
    ``timestamp``), or None when delta-rs cannot open it; lineage then says it is unknown."""
    try:
        from deltalake import DeltaTable

        table = DeltaTable(url, storage_options=dict(storage_options or {}) or None)
        if timestamp is not None:
            table.load_as_version(timestamp)
        return int(table.version())
    except Exception as exc:  # deltalake raises several unrelated types (TableNotFoundError, OSError)
        log.warning("lineage: could not read the Delta version of %s: %s", redact(url), exc)
        return None
