"""``models:/NAME/VERSION`` and ``models:/NAME@ALIAS``: snapshots from MLflow's model registry.

The registry is MLflow's own choice (``MLFLOW_REGISTRY_URI``, else ``MLFLOW_TRACKING_URI``, or
``mlflow.set_registry_uri`` in a notebook), as for ``mlflow.pyfunc.spark_udf``. The model version
is downloaded with MLflow's client and then loaded as any MLflow model folder is
(``mlflow_snapshot.wrap_mlflow_model``).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from modelop_spark.errors import SnapshotError

__all__ = ["REGISTRY_SCHEME", "download_registered_model", "is_registry_uri", "parse_registry_uri"]

REGISTRY_SCHEME = "models:/"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))/?$")


def is_registry_uri(location: str) -> bool:
    return location.startswith(REGISTRY_SCHEME)


def parse_registry_uri(location: str) -> tuple[str, str | None, str | None]:
    """(name, version, alias) of a registry URI; a clear error for any other shape."""
    match = _URI.match(location)
    if not match:
        raise SnapshotError(
            f"snapshot {location}: not a registry URI MLflow resolves here; write models:/NAME/VERSION "
            "(e.g. models:/fraud/3) or models:/NAME@ALIAS (e.g. models:/fraud@champion)"
        )
    return match.group("name"), match.group("version"), match.group("alias")


def download_registered_model(location: str, cache: Path) -> Path:
    """Download the registered model version to a new folder under ``cache``."""
    parse_registry_uri(location)
    import mlflow
    from mlflow.exceptions import MlflowException

    cache.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="registry-", dir=cache))
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(target)))
    except MlflowException as exc:
        reason = str(exc.message if hasattr(exc, "message") else exc).strip().splitlines()[0]
        raise SnapshotError(
            f"snapshot {location}: MLflow's registry at {mlflow.get_registry_uri()} cannot give it: {reason}"
        ) from exc
    except OSError as exc:
        raise SnapshotError(f"snapshot {location}: downloading it from MLflow's registry failed: {exc}") from exc
