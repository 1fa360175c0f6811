"""Metrics jobs end to end: a user metrics function in each shape, the built-in evaluation with
score-first, the document/report/plots beside the output, MLflow, and the pandas row cap."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from modelop_spark.jobs.runner import run_job
from tests.snapshots import make_snapshot

PANDAS_METRICS = """
    # modelop.metrics
    def metrics(df, reference):
        from sklearn.metrics import f1_score
        yield {"f1": float(f1_score(df["label"], df["score"] >= 0.5)), "rows": len(df), "reference_rows": len(reference)}
"""

SPARK_METRICS = """
    from pyspark.sql import DataFrame

    # modelop.metrics
    def metrics(df: DataFrame):
        return {"rows": df.count(), "positives": df.where("label = 1").count()}
"""

PYSPARK_CONVENTION = """
    from pyspark.sql import SparkSession

    # modelop.metrics
    def metrics(external_inputs, external_outputs, external_model_assets):
        spark = SparkSession.builder.getOrCreate()
        df = spark.read.option("header", "true").option("inferSchema", "true").csv(external_inputs[0]["fileUrl"])
        yield {"rows": df.count()}
        yield {"files": sorted(a["filename"] for a in external_model_assets)}
"""

SCORE_ONLY = """
    import pandas as pd

    # modelop.score
    def action(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"id": df["id"], "probability": df["signal"].clip(0, 1)})
"""


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    rng = np.random.default_rng(21)
    n = 2000
    label = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "id": np.arange(n),
        "label": label,
        "score": np.clip(rng.normal(0.35 + 0.3 * label, 0.2), 0, 1),
        "gender": rng.choice(["F", "M"], n),
    })
    frame["signal"] = frame["score"]
    folder = tmp_path_factory.mktemp("labeled")
    frame.to_csv(folder / "labeled.csv", index=False)
    frame.head(50).to_csv(folder / "reference.csv", index=False)
    return frame, str(folder / "labeled.csv"), str(folder / "reference.csv")


def metrics_job(snapshot, inputs, outputs, **options):
    return {
        "job_id": "metrics-test",
        "job_type": "metrics",
        "snapshot": str(snapshot),
        "inputs": [{"url": u, "format": "csv", **({"name": n} if n else {})} for u, n in inputs],
        "outputs": outputs,
        "options": options,
    }


def test_pandas_metrics_function_gets_one_frame_per_input(spark, labeled, tmp_path):
    frame, data, reference = labeled
    snap = make_snapshot(tmp_path / "snap", PANDAS_METRICS)
    out = tmp_path / "out" / "metrics.json"
    result = run_job(metrics_job(snap, [(data, None), (reference, None)], [{"url": str(out), "format": "json"}]), spark=spark)
    assert result.ok, result.error
    want = {"f1": skm.f1_score(frame["label"], frame["score"] >= 0.5), "rows": 2000, "reference_rows": 50}
    assert result.metrics == pytest.approx(want)
    assert json.loads(out.read_text()) == pytest.approx(want)
    assert result.details["metrics_function"] == "pandas" and result.details["builtin_evaluation"] is False
    assert result.rows.rows_in == 2000


def test_pandas_row_cap_says_how_to_switch_to_spark(spark, labeled, tmp_path):
    _, data, reference = labeled
    snap = make_snapshot(tmp_path / "snap", PANDAS_METRICS)
    result = run_job(metrics_job(snap, [(data, None), (reference, None)], [], max_metrics_rows=100), spark=spark)
    assert not result.ok
    assert "more than 100 rows for a pandas metrics function" in result.error["message"]
    assert "shape 'spark'" in result.error["message"]


def test_spark_metrics_function_gets_a_spark_dataframe(spark, labeled, tmp_path):
    frame, data, _ = labeled
    snap = make_snapshot(tmp_path / "snap", SPARK_METRICS)
    result = run_job(metrics_job(snap, [(data, None)], [{"kind": "embedded", "name": "m"}],
                                 max_metrics_rows=10), spark=spark)
    assert result.ok, result.error
    assert result.metrics == {"rows": 2000, "positives": int(frame["label"].sum())}
    assert result.outputs[0].records == [result.metrics]
    assert result.details["metrics_function"] == "spark"


def test_modelop_pyspark_convention_and_several_yields(spark, labeled, tmp_path):
    _, data, _ = labeled
    snap = make_snapshot(tmp_path / "snap", PYSPARK_CONVENTION, files={"lookup.csv": "a\n1\n"})
    result = run_job(metrics_job(snap, [(data, None)], []), spark=spark)
    assert result.ok, result.error
    assert result.metrics == {"results": [{"rows": 2000}, {"files": ["lookup.csv"]}]}
    assert result.details["metrics_function"] == "modelop_pyspark"


def test_builtin_evaluation_after_scoring_with_report_and_mlflow(spark, labeled, tmp_path):
    frame, data, reference = labeled
    snap = make_snapshot(tmp_path / "snap", SCORE_ONLY)
    out = tmp_path / "out" / "evaluation"
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    document = metrics_job(
        snap, [(data, "labeled"), (reference, "baseline")], [{"url": str(out), "format": "json"}],
        key_columns=["id"], score_first=True, baseline_input="baseline",
        evaluation={"columns": {"label": "label", "score": "probability", "protected": ["gender"],
                                "features": ["signal"]}},
        mlflow={"tracking_uri": uri, "experiment": "metrics-job", "artifact_location": str(tmp_path / "art")},
    )
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    doc = result.metrics
    assert doc["kind"] == "binary" and result.details["builtin_evaluation"] is True
    y, s = frame["label"], frame["signal"].clip(0, 1)
    assert doc["binary"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-3)
    tn, fp, fn, tp = skm.confusion_matrix(y, s >= 0.5).ravel()
    assert doc["binary"]["thresholds"][0]["confusion_matrix"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    assert doc["fairness"][0]["column"] == "gender"
    assert doc["drift"]["features"]["signal"]["type"] == "numeric"
    assert result.rows.to_dict()["in"] == 2000 and result.rows.rows_rejected == 0
    # The folder output: the document, the self-contained report, the plots; nothing staged left.
    assert json.loads((out / "metrics.json").read_text())["binary"]["roc_auc"] == doc["binary"]["roc_auc"]
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert {p.name for p in (out / "plots").iterdir()} >= {"roc.png", "pr.png", "calibration.png",
                                                            "confusion_matrix.png", "fairness_gender.png"}
    assert not (tmp_path / "out" / ".modelop-staging").exists()
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri=uri).get_run(result.details["mlflow_run_id"])
    assert run.data.metrics["binary.roc_auc"] == pytest.approx(doc["binary"]["roc_auc"])


def test_builtin_takes_columns_from_schema_roles(spark, labeled, tmp_path):
    _, data, _ = labeled
    schema = {"type": "record", "name": "in", "fields": [
        {"name": "id", "type": "int", "role": "identifier"},
        {"name": "label", "type": "int", "role": "label"},
        {"name": "score", "type": "double", "role": "score"},
        {"name": "gender", "type": "string", "protectedClass": True},
    ]}
    snap = make_snapshot(tmp_path / "snap", "x = 1\n", files={"input_schema.avsc": json.dumps(schema)},
                         manifest={"name": "roles", "source": "model.py", "schemas": {"input": "input_schema.avsc"}})
    result = run_job(metrics_job(snap, [(data, None)], [{"url": str(tmp_path / "m.json"), "format": "json"}]), spark=spark)
    assert result.ok, result.error
    assert result.metrics["columns"]["label"] == "label" and result.metrics["columns"]["score"] == "score"
    assert [f["column"] for f in result.metrics["fairness"]] == ["gender"]
    assert (tmp_path / "m_report" / "report.html").exists()


def test_bad_evaluation_option_fails_with_the_key_named(spark, labeled, tmp_path):
    _, data, _ = labeled
    snap = make_snapshot(tmp_path / "snap", SCORE_ONLY)
    result = run_job(metrics_job(snap, [(data, None)], [], evaluation={"tresholds": [0.5]}), spark=spark)
    assert not result.ok and "unknown key(s) tresholds" in result.error["message"]


def test_modelop_test_job_runs_the_fraud_models_metrics_and_builtin_together(spark, tmp_path, fraud_example):
    """A ModelOp MODEL_BATCH_TEST_JOB for the fraud example: its own pandas metrics function, plus
    the built-in evaluation after scoring (options in jobParameters, as ModelOp jobs carry them)."""
    root, _ = fraud_example  # the example built in a temp folder: a fresh checkout has no model yet
    labeled = tmp_path / "labeled.csv"
    pd.read_csv(root / "data" / "labeled.csv").to_csv(labeled, index=False)  # 2,000 rows
    out = tmp_path / "fraud_metrics.json"
    document = {
        "jobType": "MODEL_BATCH_TEST_JOB",
        "inputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": str(labeled),
                       "filename": "labeled.csv", "fileFormat": "CSV"}],
        "outputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": str(out), "filename": out.name, "fileFormat": "JSON"}],
        "model": {"storedModel": {
            "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "name": "fraud_model.py",
                             "sourceCodeFilePath": "fraud_model.py",
                             "repositoryInfo": {"repositoryDirectory": str(root / "snapshot")}}],
            "modelMetaData": {"name": "cc-fraud", "type": "PYTHON3"}}},
        "options": {"key_columns": ["transaction_id"]},
        "jobParameters": {
            "threshold": 0.5, "builtin_evaluation": "always", "score_first": True,
            "evaluation": {"columns": {"label": "is_fraud", "score": "fraud_probability",
                                       "protected": ["customer_age_group"]}},
        },
    }
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    own, builtin = result.metrics["model_metrics"], result.metrics["binary"]
    assert builtin["roc_auc"] == pytest.approx(own["auc"], abs=1e-3)  # same model, same data
    assert builtin["thresholds"][0]["f1"] == pytest.approx(own["f1"], abs=1e-9)
    (tn, fp), (fn, tp) = own["confusion_matrix"]
    assert builtin["thresholds"][0]["confusion_matrix"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    assert json.loads(out.read_text())["model_metrics"] == own
    assert result.rows.rows_in == 2000


def test_rejected_rows_are_committed_with_the_document_not_before(spark, labeled, tmp_path):
    # The quarantine of a score-first run is staged, then committed with the metrics document:
    # when the document cannot be written, no quarantine is left behind either.
    _, data, _ = labeled
    snap = make_snapshot(tmp_path / "snap", """
        # modelop.score
        def action(r):
            if r["signal"] > 0.9:
                raise ValueError("too sure")
            return {"id": r["id"], "probability": r["signal"]}
    """)
    (tmp_path / "m.json").write_text("{}")
    outputs = [{"url": str(tmp_path / "m.json"), "format": "json", "mode": "error"}]
    job = metrics_job(snap, [(data, None)], outputs, key_columns=["id"], score_first=True,
                      evaluation={"columns": {"label": "label", "score": "probability"}})
    result = run_job(job, spark=spark)
    assert not result.ok and "already exists and mode is 'error'" in result.error["message"]
    assert not (tmp_path / "m_rejected").exists()
    outputs[0].update(mode="overwrite", options={"replace_foreign": True})  # m.json is not a job output of ours
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.rows.rows_rejected > 0 and result.rejected_output.location == str(tmp_path / "m_rejected")
    assert spark.read.json(str(tmp_path / "m_rejected")).count() == result.rows.rows_rejected
