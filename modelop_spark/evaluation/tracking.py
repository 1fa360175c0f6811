"""Optional MLflow logging of an evaluation: headline metrics, plots and the report.

Uses an ``MlflowClient`` bound to the given tracking URI, so the process-wide MLflow settings
(``mlflow.set_tracking_uri``, the active run) are left as the caller had them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from modelop_spark.errors import AssetError

__all__ = ["headline_metrics", "log_evaluation"]


def _key(*parts: Any) -> str:
    # MLflow metric names allow letters, digits, _ - . / and spaces.
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", ".".join(str(p) for p in parts))


def _numbers(prefix: tuple[Any, ...], values: Mapping[str, Any]) -> dict[str, float]:
    return {_key(*prefix, k): float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _leaves(prefix: tuple[Any, ...], value: Any, out: dict[str, float], *, depth: int = 0) -> None:
    # A user's metrics dict: every numeric leaf, a few levels deep (lists are plots, not metrics).
    if isinstance(value, int | float) and not isinstance(value, bool):
        out[_key(*prefix)] = float(value)
    elif isinstance(value, Mapping) and depth < 4:
        for k, v in value.items():
            _leaves((*prefix, k), v, out, depth=depth + 1)


def headline_metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """The scalar figures of a document, flattened to MLflow metric names. A user metrics
    function's result (not a built-in document, or under ``model_metrics``) gives its numeric leaves."""
    out: dict[str, float] = {}
    if not ("kind" in doc and "format_version" in doc):
        _leaves((), doc, out)
        return out
    if "model_metrics" in doc:
        _leaves(("model",), doc["model_metrics"], out)
    if "binary" in doc:
        b = doc["binary"]
        out.update(_numbers(("binary",), b))
        for t in b["thresholds"]:
            out.update(_numbers(("binary", f"t{t['threshold']:g}"), t))
    if "multiclass" in doc:
        m = doc["multiclass"]
        out.update(_numbers(("multiclass",), m))
        for avg in ("macro", "weighted"):
            out.update(_numbers(("multiclass", avg), m[avg]))
    if "regression" in doc:
        out.update(_numbers(("regression",), doc["regression"]))
    for section in doc.get("fairness") or []:
        out.update(_numbers(("fairness", section["column"]), section["summary"]))
    for name, f in ((doc.get("drift") or {}).get("features") or {}).items():
        if isinstance(f.get("psi"), float):
            out[_key("drift", name, "psi")] = f["psi"]
    return out


def log_evaluation(
    doc: Mapping[str, Any],
    *,
    tracking_uri: str,
    experiment: str = "modelop-spark",
    run_name: str | None = None,
    artifacts: Iterable[str | Path] = (),
    tags: Mapping[str, str] | None = None,
    artifact_location: str | None = None,
) -> str:
    """Log to a new MLflow run and return its id. ``artifact_location`` applies only when the
    experiment is created here."""
    from mlflow.entities import Metric, RunTag
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id if found else client.create_experiment(experiment, artifact_location=artifact_location)
        )
        run = client.create_run(experiment_id, run_name=run_name,
                                tags={"modelop_spark.kind": str(doc.get("kind")), **(tags or {})})
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in headline_metrics(doc).items()]
        for start in range(0, len(metrics), 1000):  # MLflow caps a batch at 1000 metrics
            client.log_batch(run_id, metrics=metrics[start:start + 1000],
                             tags=[RunTag("modelop_spark.format_version", str(doc.get("format_version")))])
        for path in artifacts:
            p = Path(path)
            client.log_artifact(run_id, str(p), artifact_path="plots" if p.suffix == ".png" else None)
        client.set_terminated(run_id)
    except Exception as exc:  # mlflow raises many types; the user needs one clear line
        raise AssetError(f"MLflow tracking at {tracking_uri}: cannot log the evaluation ({exc}); "
                         "check the tracking URI or leave it unset to skip MLflow") from exc
    return run_id
