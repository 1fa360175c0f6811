"""MLflow: a model folder as a snapshot, and a training job that logs and registers its model.

The tracking store is a local SQLite file with artifacts in a temp folder: no server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from modelop_spark import load_snapshot, run_job
from modelop_spark.errors import SnapshotError, SpecError
from modelop_spark.runtime.mlflow_snapshot import (
    TrackingOptions,
    find_mlflow_models,
    predict_frame,
    signature_schemas,
    signature_struct_types,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "training"
TRAIN_CSV = EXAMPLES / "churn" / "data" / "train.csv"
SCORE_CSV = EXAMPLES / "churn" / "data" / "score.csv"
FEATURES = ["tenure", "monthly_charges"]


@pytest.fixture(scope="module")
def sklearn_model(tmp_path_factory) -> Path:
    """An MLflow model folder (sklearn flavor, skops format) with a column signature."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_csv(TRAIN_CSV)
    model = LogisticRegression(max_iter=1000).fit(frame[FEATURES], frame["churned"])
    folder = tmp_path_factory.mktemp("mlflow") / "churn_model"
    signature = infer_signature(frame[FEATURES], model.predict(frame[FEATURES]))
    mlflow.sklearn.save_model(model, str(folder), serialization_format="skops", signature=signature)
    return folder


def test_signature_becomes_the_snapshot_schemas(sklearn_model):
    inputs, outputs = signature_schemas(sklearn_model)
    assert [f["name"] for f in inputs["fields"]] == FEATURES
    assert [f["type"] for f in inputs["fields"]] == ["long", "double"]
    assert outputs["fields"] == [{"name": "prediction", "type": "long"}]
    spark_in, spark_out = signature_struct_types(sklearn_model)
    assert spark_in.simpleString() == "struct<tenure:bigint,monthly_charges:double>"
    assert spark_out.simpleString() == "struct<prediction:bigint>"


def test_mlflow_folder_loads_as_a_snapshot_with_checksums(sklearn_model):
    snapshot = load_snapshot(str(sklearn_model))
    assert snapshot.function("init") == "begin" and snapshot.function("score") == "action"
    assert snapshot.shape("score") == "batch"
    assert snapshot.manifest.reads == tuple(FEATURES)  # only these (and keys) go to the workers
    assert snapshot.schema_path("input").name == "input_schema.avsc"
    paths = {a.path for a in snapshot.manifest.assets}
    assert "mlflow_model/MLmodel" in paths and "mlflow_model/model.skops" in paths
    assert load_snapshot(str(sklearn_model)).digest == snapshot.digest  # wrapped once per content


def test_mlflow_folder_scores_as_a_job(spark, sklearn_model):
    result = run_job(
        {
            "job_type": "scoring",
            "snapshot": str(sklearn_model),
            "inputs": [{"url": str(SCORE_CSV), "format": "csv"}],
            "outputs": [{"kind": "embedded", "name": "scores"}],
            "options": {"key_columns": ["customer_id"]},
        },
        spark=spark,
    )
    assert result.ok, result.error
    records = result.outputs[0].records
    assert result.rows.rows_in == result.rows.rows_scored == len(records) == 20
    expected = pd.read_csv(SCORE_CSV)
    import mlflow.pyfunc

    predicted = mlflow.pyfunc.load_model(str(sklearn_model)).predict(expected[FEATURES])
    assert [r["prediction"] for r in records] == list(predicted)
    assert [r["customer_id"] for r in records] == list(expected["customer_id"])


def test_predict_frame_feeds_only_the_signature_columns(sklearn_model):
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(sklearn_model))
    frame = pd.read_csv(SCORE_CSV).head(3)  # customer_id is not a feature
    assert list(predict_frame(model, frame).columns) == ["prediction"]


def test_a_changed_mlflow_model_file_is_refused_in_a_written_snapshot(sklearn_model, tmp_path):
    from modelop_spark.runtime.snapshot_writer import write_snapshot

    wrapped = load_snapshot(str(sklearn_model)).root
    written = write_snapshot(wrapped, str(tmp_path / "v1"), job_id="wrap", version="1")
    (Path(written.location) / "mlflow_model" / "model.skops").write_bytes(b"not the model")
    with pytest.raises(SnapshotError, match="mlflow_model/model.skops.*checksum"):
        load_snapshot(written.location)


def test_unreadable_mlmodel_is_a_snapshot_error(tmp_path):
    (tmp_path / "MLmodel").write_text("flavors: [unclosed")
    with pytest.raises(SnapshotError, match="MLmodel cannot be read"):
        load_snapshot(str(tmp_path))


def test_tracking_options_name_the_field():
    with pytest.raises(SpecError, match="options.mlflow.tracking_uri"):
        TrackingOptions.from_dict({"experiment": "x"})
    with pytest.raises(SpecError, match="options.mlflow.uri: unknown"):
        TrackingOptions.from_dict({"tracking_uri": "sqlite:///x.db", "uri": "y"})


def test_training_logs_to_mlflow_registers_and_scores(spark, tmp_path):
    from mlflow.tracking import MlflowClient

    shutil.copytree(EXAMPLES / "mlflow", tmp_path / "mlflow")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    output = tmp_path / "churn-mlflow-2.3.1"
    job = {
        "job_id": "mlflow-train-1",
        "job_type": "training",
        "snapshot": str(tmp_path / "mlflow" / "snapshot"),
        "inputs": [{"name": "labeled", "url": str(TRAIN_CSV), "format": "csv"}],
        "parameters": {"C": 1.0},
        "options": {
            "snapshot_output": str(output),
            "mlflow": {"tracking_uri": tracking_uri, "artifact_location": str(tmp_path / "artifacts"), "registered_model": "churn"},
        },
    }
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.details["model_artifact"] == "mlflow_model"

    snapshot = load_snapshot(str(output))
    assert snapshot.version == "2.3.1"
    mlmodel = yaml.safe_load((output / "mlflow_model" / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"  # no pickle to load
    assert find_mlflow_models(output) == [output / "mlflow_model"]

    tracked = snapshot.manifest.lineage["mlflow"]
    assert tracked["registered_model"] == "churn" and tracked["registered_version"] == "1"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    run = client.get_run(tracked["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert run.data.params["C"] == "1.0" and run.data.params["snapshot_version"] == "2.3.1"
    assert run.data.tags["modelop_spark.job_id"] == "mlflow-train-1"
    version = client.get_model_version("churn", "1")
    assert version.run_id == tracked["run_id"]

    scored = run_job(
        {
            "job_type": "scoring",
            "snapshot": str(output),
            "inputs": [{"url": str(SCORE_CSV), "format": "csv"}],
            "outputs": [{"kind": "embedded"}],
            "options": {"key_columns": ["customer_id"]},
        },
        spark=spark,
    )
    assert scored.ok, scored.error
    assert len(scored.outputs[0].records) == 20 and {r["churn"] for r in scored.outputs[0].records} <= {0, 1}

    # The trained MLflow model inside the new snapshot is itself a loadable snapshot.
    assert load_snapshot(str(output / "mlflow_model")).schema_path("input") is not None


def test_unreachable_tracking_store_writes_no_snapshot(spark, tmp_path):
    shutil.copytree(EXAMPLES / "mlflow", tmp_path / "mlflow")
    output = tmp_path / "out"
    job = {
        "job_id": "mlflow-train-2",
        "job_type": "training",
        "snapshot": str(tmp_path / "mlflow" / "snapshot"),
        "inputs": [{"url": str(TRAIN_CSV), "format": "csv"}],
        "options": {"snapshot_output": str(output), "mlflow": {"tracking_uri": "unknownscheme://nowhere"}},
    }
    result = run_job(job, spark=spark)
    assert not result.ok
    assert result.error["message"].startswith("MLflow tracking at unknownscheme://nowhere: logging the training run failed")
    assert not output.exists()
