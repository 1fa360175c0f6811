"""Training jobs end to end: train -> new snapshot version -> score with it."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from modelop_spark import load_snapshot, run_job

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "training"
CHURN = EXAMPLES / "churn"


@pytest.fixture
def churn(tmp_path: Path) -> Path:
    shutil.copytree(CHURN, tmp_path / "churn")
    return tmp_path / "churn"


def _train_job(root: Path, output: Path | None, *, job_id: str = "train-1", **options) -> dict:
    if output is not None:
        options["snapshot_output"] = str(output)
    return {
        "job_id": job_id,
        "job_type": "training",
        "snapshot": str(root / "snapshot"),
        "inputs": [{"name": "labeled", "url": str(root / "data" / "train.csv"), "format": "csv"}],
        "options": options,
    }


def _score(spark, snapshot: str, data: Path) -> list[dict]:
    result = run_job(
        {
            "job_type": "scoring",
            "snapshot": snapshot,
            "inputs": [{"url": str(data), "format": "csv"}],
            "outputs": [{"kind": "embedded", "name": "scores"}],
            "options": {"key_columns": ["customer_id"]},
        },
        spark=spark,
    )
    assert result.ok, result.error
    assert result.rows.rows_in == result.rows.rows_scored == 20
    return result.outputs[0].records


def test_pandas_training_writes_a_new_version_that_scores(spark, churn, tmp_path):
    output = tmp_path / "out" / "churn-1.0.1.tar.gz"
    result = run_job(_train_job(churn, output), spark=spark)

    assert result.ok, result.error
    assert result.outputs[0].location == str(output) and output.is_file()
    assert result.outputs[0].details["version"] == "1.0.1"
    assert result.rows.rows_in == 200
    assert result.metrics["auc"] > 0.8
    with tarfile.open(output) as bundle:
        names = set(bundle.getnames())
    assert names == {"model.py", "model.pkl", "snapshot.json"}

    snapshot = load_snapshot(str(output))
    assert (snapshot.name, snapshot.version) == ("churn", "1.0.1")
    lineage = snapshot.manifest.lineage
    assert lineage["training_job_id"] == "train-1"
    assert lineage["parent"]["name"] == "churn" and lineage["parent"]["version"] == "1.0.0"
    assert lineage["inputs"] == [
        {"location": str(churn / "data" / "train.csv"), "kind": "file", "rows": 200, "name": "labeled", "format": "csv"}
    ]
    assert lineage["rows"] == 200
    assert lineage["metrics"]["auc"] == pytest.approx(result.metrics["auc"])
    assert {a.path for a in snapshot.manifest.assets} == {"model.py", "model.pkl"}
    assert all(len(a.sha256) == 64 for a in snapshot.manifest.assets)

    scores = _score(spark, str(output), churn / "data" / "score.csv")
    assert len(scores) == 20
    assert set(scores[0]) == {"customer_id", "churn_probability", "churn"}
    assert 0.0 <= scores[0]["churn_probability"] <= 1.0


def test_rerun_of_the_same_job_replaces_its_own_snapshot(spark, churn, tmp_path):
    output = tmp_path / "churn-next"
    first = run_job(_train_job(churn, output), spark=spark)
    second = run_job(_train_job(churn, output), spark=spark)
    assert first.ok and second.ok, (first.error, second.error)
    assert second.outputs[0].location == first.outputs[0].location
    assert load_snapshot(str(output)).manifest.lineage["training_job_id"] == "train-1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn", "churn-next"]  # no staging debris

    other = run_job(_train_job(churn, output, job_id="train-2"), spark=spark)
    assert not other.ok
    assert "written by training job 'train-1'" in other.error["message"]
    assert load_snapshot(str(output)).manifest.lineage["training_job_id"] == "train-1"


def test_default_output_is_beside_the_parent_with_the_bumped_version(spark, churn):
    result = run_job(_train_job(churn, None, snapshot_version="2.0.0"), spark=spark)
    assert result.ok, result.error
    assert result.outputs[0].location == str(churn / "churn-2.0.0")
    assert load_snapshot(str(churn / "churn-2.0.0")).version == "2.0.0"


def test_a_raising_train_function_gives_a_clear_error_and_no_snapshot(spark, churn, tmp_path):
    source = churn / "snapshot" / "model.py"
    source.write_text(source.read_text().replace("    model = LogisticRegression", "    raise ValueError('labels are all one class')\n    model = LogisticRegression"))
    output = tmp_path / "out" / "churn-1.0.1"
    result = run_job(_train_job(churn, output), spark=spark)
    assert not result.ok
    assert result.error["code"] == "MODEL_ERROR"
    assert result.error["message"] == "model.py: train function train raised ValueError: labels are all one class"
    assert not output.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no staging debris


def test_row_cap_for_pandas_training_is_a_clear_error(spark, churn, tmp_path):
    result = run_job(_train_job(churn, tmp_path / "v2", max_train_rows=50), spark=spark)
    assert not result.ok
    assert result.error["code"] == "ASSET_ERROR"
    assert "input labeled: 200 rows, more than the 50" in result.error["message"]
    assert "max_train_rows" in result.error["message"]
    assert not (tmp_path / "v2").exists()


def test_bad_training_option_names_the_field(spark, churn, tmp_path):
    result = run_job(_train_job(churn, tmp_path / "v2", if_exists="sometimes"), spark=spark)
    assert not result.ok
    assert result.error["message"].startswith("options.if_exists: expected replace_own, replace or error")


def test_spark_ml_pipeline_trains_and_scores(spark, tmp_path):
    shutil.copytree(EXAMPLES / "spark_ml", tmp_path / "spark_ml")
    job = _train_job(tmp_path / "spark_ml", tmp_path / "churn-spark-ml-1.0.1")
    job["inputs"][0]["url"] = str(CHURN / "data" / "train.csv")
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.details["shape"] == "spark"
    assert result.details["model_artifact"] == "spark_model"
    assert result.metrics["auc"] > 0.8
    snapshot = load_snapshot(str(tmp_path / "churn-spark-ml-1.0.1"))
    paths = {a.path for a in snapshot.manifest.assets}
    assert any(p.startswith("spark_model/metadata/part-") for p in paths)
    assert any(p.startswith("spark_model/stages/1_LogisticRegression") for p in paths)

    scores = _score(spark, str(tmp_path / "churn-spark-ml-1.0.1"), CHURN / "data" / "score.csv")
    assert len(scores) == 20
    assert {s["churn"] for s in scores} <= {0, 1}


PYSPARK_MODEL = '''\
import os
import pickle

from pyspark.sql import SparkSession

THRESHOLD = None

# modelop.init
def begin():
    global THRESHOLD
    if os.path.exists("threshold.pkl"):
        with open("threshold.pkl", "rb") as handle:
            THRESHOLD = pickle.load(handle)

# modelop.score
def action(record):
    yield {"expensive": record["monthly_charges"] > THRESHOLD}

# modelop.train
def train(external_inputs, external_outputs, external_model_assets):
    spark = SparkSession.builder.getOrCreate()
    df = spark.read.csv(external_inputs[0]["fileUrl"], header=True, inferSchema=True)
    mean = df.agg({"monthly_charges": "avg"}).collect()[0][0]
    with open("threshold.pkl", "wb") as handle:
        pickle.dump(mean, handle)
    with open("assets_seen.txt", "w") as handle:
        handle.write(",".join(sorted(a["filename"] for a in external_model_assets)))
'''


def test_modelop_pyspark_training_as_a_modelop_job(spark, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "threshold_model.py").write_text(PYSPARK_MODEL)
    (repo / "notes.txt").write_text("an asset of the parent")
    job = {
        "id": "modelop-train-7",
        "jobType": "MODEL_BATCH_TRAINING_JOB",
        "inputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": f"file://{CHURN / 'data' / 'train.csv'}", "filename": "train.csv", "fileFormat": "CSV"}],
        "outputData": [],
        "model": {"storedModel": {
            "modelMetaData": {"name": "threshold", "type": "PYSPARK"},
            "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "filename": "threshold_model.py",
                             "sourceCodeFilePath": "threshold_model.py", "repositoryInfo": {"repositoryDirectory": str(repo)}}],
        }},  # fmt: skip
        "options": {"snapshot_output": str(tmp_path / "threshold-1.zip")},
    }
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.details["shape"] == "modelop_pyspark"
    snapshot = load_snapshot(str(tmp_path / "threshold-1.zip"))
    assert snapshot.version == "1"  # the parent had none
    assert (snapshot.root / "assets_seen.txt").read_text() == "notes.txt"
    assert snapshot.manifest.lineage["inputs"][0]["rows"] == 200
    assert json.loads((snapshot.root / "snapshot.json").read_text())["lineage"]["training_job_id"] == "modelop-train-7"

    scores = run_job(
        {"job_type": "scoring", "snapshot": str(tmp_path / "threshold-1.zip"),
         "inputs": [{"kind": "embedded", "records": [{"monthly_charges": 10.0}, {"monthly_charges": 500.0}]}],
         "outputs": [{"kind": "embedded"}]},  # fmt: skip
        spark=spark,
    )
    assert scores.ok, scores.error
    assert [r["expensive"] for r in scores.outputs[0].records] == [False, True]


def test_delta_input_records_the_version_it_trained_on(spark, churn, tmp_path):
    import pandas as pd
    from deltalake import write_deltalake

    table = str(tmp_path / "labeled_delta")
    frame = pd.read_csv(churn / "data" / "train.csv")
    write_deltalake(table, frame.iloc[:120])
    write_deltalake(table, frame.iloc[120:], mode="append")  # version 1: all 200 rows

    def job(output: Path, **asset_options) -> dict:
        spec = _train_job(churn, output)
        spec["inputs"] = [{"kind": "delta", "name": "labeled", "url": table, "options": asset_options}]
        return spec

    latest = run_job(job(tmp_path / "latest"), spark=spark)
    assert latest.ok, latest.error
    assert latest.details["lineage"]["inputs"] == [{"location": table, "kind": "delta", "rows": 200, "name": "labeled", "delta_version": 1}]

    pinned = run_job(job(tmp_path / "pinned", version=0), spark=spark)
    assert pinned.ok, pinned.error
    lineage = load_snapshot(str(tmp_path / "pinned")).manifest.lineage
    assert (lineage["inputs"][0]["delta_version"], lineage["rows"]) == (0, 120)


def test_an_empty_input_is_refused_before_training(spark, churn, tmp_path):
    empty = churn / "data" / "empty.csv"
    empty.write_text("customer_id,tenure,monthly_charges,churned\n")
    job = _train_job(churn, tmp_path / "v2")
    job["inputs"][0]["url"] = str(empty)
    result = run_job(job, spark=spark)
    assert not result.ok
    assert result.error["message"] == "input labeled: no rows to train on; check the input, or set options.allow_empty_input"
    assert not (tmp_path / "v2").exists()


def test_notebook_train_returns_the_job_result(spark, churn, tmp_path):
    from modelop_spark import train

    result = train(churn / "snapshot", [{"url": str(churn / "data" / "train.csv")}], output=str(tmp_path / "v9"), version="9.0", spark=spark)
    assert result.ok, result.error
    assert load_snapshot(str(tmp_path / "v9")).version == "9.0"
    assert result.job_id.startswith("job-")  # derived from the job's content: a rerun is the same job
