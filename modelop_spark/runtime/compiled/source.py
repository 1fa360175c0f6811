"""Which scikit-learn model a snapshot scores with, its feature columns and output fields.

Two kinds of snapshot say so (anything else is not compilable, and the reason says why):

- an MLflow model folder with the ``sklearn`` flavor (wrapped as a snapshot by
  ``runtime.mlflow_snapshot``): the model from ``mlflow.sklearn``, its features from the
  signature (else the model's ``feature_names_in_``), one output ``prediction`` (the label of a
  classifier, the value of a regressor), as the wrapped snapshot's score function returns;
- a snapshot whose ``snapshot.json`` has a ``compiled`` section::

      "compiled": {"model": "model.pkl", "features": ["amount", "hour"],
                   "outputs": {"fraud_probability": "probability:1", "label": "label"}}

  ``model`` is a pickle, joblib or skops file in the snapshot (checksummed like any asset),
  ``features`` the columns the model reads (default: its ``feature_names_in_``), ``outputs``
  maps each output field of the score function to ``label``, ``value`` or
  ``probability:<class>``. The score function stays the reference: before a job uses the
  compiled plan, both are run on a sample of its input and compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelop_spark.runtime.compiled.translate import NotCompilable
from modelop_spark.runtime.mlflow_snapshot import MODEL_DIR
from modelop_spark.vocabulary import MANIFEST_FILE

if TYPE_CHECKING:
    from modelop_spark.runtime.snapshot import Snapshot

MANIFEST_SECTION = "compiled"


@dataclass(frozen=True)
class CompileSource:
    model: Any = field(repr=False)
    features: tuple[str, ...]
    outputs: Mapping[str, str]  # output field -> label | value | probability:<class>
    origin: str


def compile_source(snapshot: Snapshot) -> CompileSource:
    """What to compile for ``snapshot``; ``NotCompilable`` says why there is nothing."""
    mlflow = (snapshot.manifest.lineage or {}).get("mlflow_model")
    if mlflow:
        return _from_mlflow(snapshot, mlflow)
    section = _manifest_section(snapshot)
    if section is None:
        raise NotCompilable(
            "the snapshot names no scikit-learn model to compile (an MLflow sklearn model, or a 'compiled' section in snapshot.json)"
        )
    return _from_manifest(snapshot, section)


def _manifest_section(snapshot: Snapshot) -> Mapping[str, Any] | None:
    path = snapshot.root / MANIFEST_FILE
    if not path.is_file():
        return None
    section = json.loads(path.read_text()).get(MANIFEST_SECTION)
    if section is not None and not isinstance(section, Mapping):
        raise NotCompilable("snapshot.json: 'compiled' must be an object with model, features and outputs")
    return section


def _from_mlflow(snapshot: Snapshot, lineage: Mapping[str, Any]) -> CompileSource:
    flavors = lineage.get("flavors") or ()
    if "sklearn" not in flavors:
        raise NotCompilable(f"the MLflow model has no sklearn flavor (flavors: {', '.join(flavors) or 'none'})")
    folder = snapshot.root / MODEL_DIR
    from mlflow.models import Model

    meta = Model.load(str(folder / "MLmodel"))
    predict_fn = (meta.flavors.get("python_function") or {}).get("predict_fn", "predict")
    if predict_fn != "predict":
        raise NotCompilable(f"the MLflow model predicts with {predict_fn}, only predict compiles")
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(str(folder))
    signature = meta.signature
    names: list[str] = [getattr(spec, "name", None) or "" for spec in (signature.inputs.inputs if signature is not None and signature.inputs else ())]
    features = tuple(names) if names and all(names) else _fitted_features(model)
    output = "label" if _is_classifier(model) else "value"
    return CompileSource(model=model, features=features, outputs={"prediction": output}, origin="MLflow sklearn flavor")


def _from_manifest(snapshot: Snapshot, section: Mapping[str, Any]) -> CompileSource:
    artifact = section.get("model")
    outputs = section.get("outputs")
    if not isinstance(artifact, str) or not isinstance(outputs, Mapping) or not outputs:
        raise NotCompilable("snapshot.json: 'compiled' needs model (a file in the snapshot) and outputs (field -> label | value | probability:<class>)")
    path = (snapshot.root / artifact).resolve()
    if not path.is_relative_to(snapshot.root.resolve()) or not path.is_file():
        raise NotCompilable(f"snapshot.json: compiled.model {artifact!r} is not a file in the snapshot")
    model = _load_artifact(path)
    features = section.get("features")
    features = tuple(features) if features else _fitted_features(model)
    return CompileSource(model=model, features=features, outputs=dict(outputs), origin=f"snapshot.json compiled.model {artifact}")


def _load_artifact(path: Path) -> Any:
    """Load a model file. Like the score function's own loading, this runs code from a pickle: the
    snapshot's checksums were verified before we get here."""
    if path.suffix == ".skops":
        import skops.io

        return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    if path.suffix == ".joblib":
        import joblib

        return joblib.load(path)
    import pickle

    with path.open("rb") as handle:
        return pickle.load(handle)


def _fitted_features(model: Any) -> tuple[str, ...]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise NotCompilable("the model does not record its feature names: list them in snapshot.json compiled.features")
    return tuple(str(n) for n in names)


def _is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(model))
