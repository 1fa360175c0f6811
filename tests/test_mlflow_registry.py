"""Snapshots named by MLflow registry URIs, against a local SQLite-backed registry in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import modelop_spark as ms
from modelop_spark.errors import SnapshotError
from modelop_spark.runtime.mlflow_registry import parse_registry_uri

CHURN = Path(__file__).resolve().parents[1] / "examples" / "training" / "churn" / "data"
FEATURES = ["tenure", "monthly_charges"]


def test_registry_uris_are_parsed_or_refused_with_the_two_forms():
    assert parse_registry_uri("models:/fraud/3") == ("fraud", "3", None)
    assert parse_registry_uri("models:/fraud@champion") == ("fraud", None, "champion")
    with pytest.raises(SnapshotError, match=r"models:/NAME/VERSION .* models:/NAME@ALIAS"):
        parse_registry_uri("models:/fraud/3/extra")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registered sklearn model 'churn' version 1 with alias 'champion'."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    tmp_path = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    patch.setenv("MLFLOW_REGISTRY_URI", uri)
    patch.setenv("MODELOP_SPARK_CACHE", str(tmp_path / "cache"))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("churn", artifact_location=str(tmp_path / "artifacts"))
    frame = pd.read_csv(CHURN / "train.csv")
    model = LogisticRegression(max_iter=1000).fit(frame[FEATURES], frame["churned"])
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(model, name="model", registered_model_name="churn",
                                 signature=infer_signature(frame[FEATURES], model.predict(frame[FEATURES])))
    MlflowClient().set_registered_model_alias("churn", "champion", "1")
    yield model, frame
    patch.undo()
    mlflow.set_tracking_uri("")
    mlflow.set_registry_uri("")


def test_a_registered_version_and_an_alias_score_like_the_model(spark, registry):
    model, frame = registry
    df = spark.createDataFrame(pd.read_csv(CHURN / "score.csv"))
    expected = dict(zip(df.toPandas()["customer_id"], model.predict(df.toPandas()[FEATURES]), strict=True))
    for uri in ("models:/churn/1", "models:/churn@champion"):
        snapshot = ms.load_snapshot(uri)
        assert snapshot.location == uri
        scored = ms.score(df, snapshot, key_columns=["customer_id"]).toPandas()
        assert dict(zip(scored["customer_id"], scored["prediction"], strict=True)) == expected


def test_a_missing_version_is_one_line_naming_the_uri(registry):
    with pytest.raises(SnapshotError) as info:
        ms.load_snapshot("models:/churn/7")
    assert "models:/churn/7" in info.value.message and "\n" not in info.value.message
