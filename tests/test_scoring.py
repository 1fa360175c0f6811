"""End-to-end scoring jobs on local Spark: every function shape, rejections, reruns, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from chispa import assert_df_equality

import modelop_spark as ms
from modelop_spark.errors import SnapshotError
from modelop_spark.jobs.runner import run_job
from tests.snapshots import RECORD_MODEL, make_snapshot


@pytest.fixture
def numbers(spark, tmp_path):
    """40 rows in 4 parquet files, x from -2 to 37: x < 0 makes the models below fail."""
    path = str(tmp_path / "numbers")
    spark.range(40).selectExpr("cast(id as string) as id", "cast(id - 2 as double) as x").repartition(4).write.parquet(path)
    return path


@pytest.fixture
def record_snapshot(tmp_path):
    return make_snapshot(tmp_path / "record", RECORD_MODEL, files={"factor.txt": "2"})


def job(snapshot, source, out, **extra):
    document = {
        "job_id": extra.pop("job_id", "test-job"),
        "job_type": "scoring",
        "snapshot": str(snapshot),
        "inputs": [{"url": source, "format": "parquet"}],
        "outputs": [{"url": str(out), "format": "parquet"}],
        "options": {"key_columns": ["id"], **extra.pop("options", {})},
    }
    document.update(extra)
    return document


def expected_doubles(spark, values):
    return spark.createDataFrame([(str(v + 2), float(v) * 2) for v in values], "id string, doubled double")


def test_record_function_scores_and_keeps_rejected_rows(spark, numbers, record_snapshot, tmp_path):
    result = run_job(job(record_snapshot, numbers, tmp_path / "out"), spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() == {"in": 40, "scored": 38, "rejected": 2, "out": 38, "rejected_by_stage": {"model": 2}}
    scored = spark.read.parquet(str(tmp_path / "out"))
    assert_df_equality(scored, expected_doubles(spark, range(0, 38)), ignore_row_order=True)
    rejected = spark.read.json(result.rejected_output.location).orderBy("id").collect()
    assert [r.id for r in rejected] == ["0", "1"]
    assert rejected[0]._reasons == ["score raised ValueError: negative x"]
    assert json.loads(rejected[0]._record) == {"id": "0", "x": -2.0}


def test_result_json_sits_beside_the_output(spark, numbers, record_snapshot, tmp_path):
    result = run_job(job(record_snapshot, numbers, tmp_path / "out"), spark=spark)
    written = json.loads((tmp_path / "out" / "_modelop_job_result.json").read_text())
    assert written["status"] == "COMPLETE" and written["rows"]["in"] == 40
    assert written["outputs"][0]["location"] == str(tmp_path / "out") and written["outputs"][0]["rows"] == 38
    assert written["job_id"] == result.job_id and written["snapshot"]["name"] == "record"


INIT_COUNTING_MODEL = """
import os
import pandas as pd

# modelop.init
def begin(job):
    global MARKERS
    MARKERS = job["parameters"]["marker_dir"]
    with open(os.path.join(MARKERS, f"init-{os.getpid()}"), "a") as handle:
        handle.write("x")

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    with open(os.path.join(MARKERS, f"batch-{os.getpid()}"), "a") as handle:
        handle.write("x")
    return pd.DataFrame({"id": df["id"], "y": df["x"] + 1})
"""


def test_init_runs_once_per_python_worker(spark, numbers, tmp_path):
    snapshot = make_snapshot(tmp_path / "counting", INIT_COUNTING_MODEL)
    markers = tmp_path / "markers"
    markers.mkdir()
    document = job(snapshot, numbers, tmp_path / "out", options={"arrow_batch_size": 3}, parameters={"marker_dir": str(markers)})
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    inits = {p.name: p.read_text() for p in markers.glob("init-*")}
    batches = sum(len(p.read_text()) for p in markers.glob("batch-*"))
    assert all(count == "x" for count in inits.values()), inits  # once per process, never again
    assert batches >= 14  # 40 rows in batches of at most 3 (plus the driver's sample run)
    assert len(inits) <= 4 < batches  # the driver plus at most local[2]'s reused workers (and a respawn)


BATCH_MODEL = """
import pandas as pd

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    if (df["x"] < 0).any():
        raise ValueError("negative x in batch")
    return pd.DataFrame({"doubled": df["x"] * 2})
"""


def test_batch_function_isolates_the_failing_rows(spark, numbers, tmp_path):
    snapshot = make_snapshot(tmp_path / "batch", BATCH_MODEL)
    result = run_job(job(snapshot, numbers, tmp_path / "out"), spark=spark)
    assert result.ok, result.error
    assert (result.rows.rows_scored, result.rows.rows_rejected) == (38, 2)
    # the key column came back by position, since the model dropped it but kept the row count
    assert_df_equality(spark.read.parquet(str(tmp_path / "out")), expected_doubles(spark, range(0, 38)), ignore_row_order=True)


ITERATOR_MODEL = """
from collections.abc import Iterator
import pandas as pd

# modelop.score
def action(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    for df in batches:
        yield pd.DataFrame({"id": df["id"], "doubled": df["x"] * 2})
"""


def test_iterator_function(spark, numbers, tmp_path):
    snapshot = make_snapshot(tmp_path / "iterator", ITERATOR_MODEL)
    result = run_job(job(snapshot, numbers, tmp_path / "out"), spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict()["in"] == 40 and result.rows.rows_out == 40


def test_an_iterator_function_declared_in_the_manifest(spark, numbers, tmp_path):
    # "batch_iter" in snapshot.json, as the README documents it, for a function without annotations.
    source = ITERATOR_MODEL.replace("batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]", "batches)")
    snapshot = make_snapshot(tmp_path / "iterator", source, manifest={"name": "iterator", "shapes": {"score": "batch_iter"}})
    result = run_job(job(snapshot, numbers, tmp_path / "out"), spark=spark)
    assert result.ok, result.error
    assert result.rows.rows_out == 40 and spark.read.parquet(str(tmp_path / "out")).count() == 40


def test_each_output_reports_its_own_location_and_rows(spark, numbers, record_snapshot, tmp_path):
    outputs = [{"url": str(tmp_path / "a"), "format": "parquet"}, {"kind": "embedded", "name": "inline"}]
    rejected = {"url": str(tmp_path / "bad"), "format": "json"}
    result = run_job(job(record_snapshot, numbers, None, outputs=outputs, rejected_output=rejected), spark=spark)
    assert result.ok, result.error
    assert [(o.location, o.kind, o.rows) for o in result.outputs] == [(str(tmp_path / "a"), "file", 38), (None, "embedded", 38)]
    assert (result.rejected_output.location, result.rejected_output.rows) == (str(tmp_path / "bad"), 2)


SPARK_ML_MODEL = """
import os
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

# modelop.init
def begin():
    global MODEL
    MODEL = PipelineModel.load(os.path.abspath("pipeline"))  # Spark resolves paths from the JVM's folder

# modelop.score
def action(df: DataFrame) -> DataFrame:
    return MODEL.transform(df).select("id", "prediction")
"""


def test_spark_function_with_a_saved_spark_ml_pipeline(spark, numbers, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    training = spark.read.parquet(numbers).selectExpr("x", "cast(x > 10 as double) as label")
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="features"), LogisticRegression(maxIter=20)])
    snapshot = make_snapshot(tmp_path / "sparkml", SPARK_ML_MODEL)
    pipeline.fit(training).save(str(snapshot / "pipeline"))
    rejected = {"url": str(tmp_path / "rejected"), "format": "json"}
    result = run_job(job(snapshot, numbers, tmp_path / "out", rejected_output=rejected), spark=spark)
    assert result.ok, result.error
    predictions = {r.id: r.prediction for r in spark.read.parquet(str(tmp_path / "out")).collect()}
    assert len(predictions) == 40 and predictions["37"] == 1.0 and predictions["0"] == 0.0
    # A named quarantine output is written even when a Spark function rejects nothing: empty.
    assert result.rejected_output.rows == 0 and (tmp_path / "rejected").is_dir()


PYSPARK_CONVENTION_MODEL = """
from pyspark.sql import SparkSession

# modelop.init
def begin():
    pass

# modelop.score
def score(external_inputs, external_outputs, external_model_assets):
    spark = SparkSession.getActiveSession()
    source = external_inputs[0]
    factor = float(open(external_model_assets["factor.txt"]["fileUrl"].replace("file://", "")).read())
    threshold = float(spark.conf.get("modelop.jobParameters.threshold"))
    df = spark.read.parquet(source["fileUrl"]).filter(f"x >= {threshold}")
    df.selectExpr("id", f"x * {factor} as scaled").write.mode("overwrite").parquet(external_outputs[0]["fileUrl"])
"""


def test_modelop_pyspark_convention(spark, numbers, tmp_path):
    snapshot = make_snapshot(tmp_path / "pyspark", PYSPARK_CONVENTION_MODEL, files={"factor.txt": "3"})
    result = run_job(job(snapshot, numbers, tmp_path / "out", parameters={"threshold": 0}), spark=spark)
    assert result.ok, result.error
    assert result.rows.rows_in == 40 and result.outputs[0].rows == 38
    assert spark.read.parquet(str(tmp_path / "out")).agg({"scaled": "max"}).collect()[0][0] == 37 * 3


def test_rerunning_a_job_never_duplicates_its_output(spark, numbers, record_snapshot, tmp_path):
    out = tmp_path / "out"
    for _ in range(2):
        assert run_job(job(record_snapshot, numbers, out), spark=spark).ok
    assert spark.read.parquet(str(out)).count() == 38
    appending = {"outputs": [{"url": str(out / "appended"), "format": "parquet", "mode": "append"}]}
    for _ in range(2):
        assert run_job(job(record_snapshot, numbers, out, **appending), spark=spark).ok
    assert spark.read.parquet(str(out / "appended")).count() == 38  # same job id: replaced, not added
    assert run_job(job(record_snapshot, numbers, out, job_id="another-job", **appending), spark=spark).ok
    assert spark.read.parquet(str(out / "appended")).count() == 76  # a different job appends


def test_a_failed_job_leaves_no_output(spark, numbers, record_snapshot, tmp_path):
    out = tmp_path / "out"
    result = run_job(job(record_snapshot, numbers, out, options={"on_model_error": "fail"}), spark=spark)
    assert result.status == "ERROR" and result.error["code"] == "MODEL_ERROR"
    assert "negative x" in result.error["message"] and "\n" not in result.error["message"]
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_mode_error_refuses_an_existing_target_before_scoring(spark, numbers, record_snapshot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    document = job(record_snapshot, numbers, out, outputs=[{"url": str(out), "format": "parquet", "mode": "error"}])
    result = run_job(document, spark=spark)
    assert result.status == "ERROR" and "already exists and mode is 'error'" in result.error["message"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_embedded_input_and_output(spark, record_snapshot):
    document = {
        "job_type": "scoring",
        "snapshot": str(record_snapshot),
        "inputs": [{"records": [{"x": 1.5}, {"x": -1.0}, {"x": 4.0}]}],
        "outputs": [{"kind": "embedded", "name": "scores"}],
    }
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    assert sorted(r["doubled"] for r in result.outputs[0].records) == [3.0, 8.0]
    assert result.rejected_output.records[0]["_reasons"] == ["score raised ValueError: negative x"]


def test_embedded_output_past_its_cap_fails_cleanly(spark, numbers, record_snapshot):
    document = {
        "job_type": "scoring",
        "snapshot": str(record_snapshot),
        "inputs": [{"url": numbers, "format": "parquet"}],
        "outputs": [{"kind": "embedded", "options": {"max_rows": 10}}],
    }
    result = run_job(document, spark=spark)
    assert result.status == "ERROR" and "more than 10 rows for an embedded output" in result.error["message"]


def test_empty_and_missing_inputs_say_which_asset(spark, record_snapshot, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("id,x\n")
    result = run_job(job(record_snapshot, str(empty), tmp_path / "out", inputs=[{"name": "daily", "url": str(empty)}], options={}), spark=spark)
    assert result.status == "ERROR" and result.error["message"].startswith("input daily: no rows to score")
    assert not (tmp_path / "out").exists()
    missing = run_job(job(record_snapshot, str(tmp_path / "nope.parquet"), tmp_path / "out", options={}), spark=spark)
    assert missing.status == "ERROR" and "nothing at" in missing.error["message"] and "check the path" in missing.error["message"]


def test_no_score_function_is_a_clear_error(spark, numbers, tmp_path):
    snapshot = make_snapshot(tmp_path / "nothing", "# modelop.init\ndef begin():\n    pass\n")
    result = run_job(job(snapshot, numbers, tmp_path / "out"), spark=spark)
    assert result.error["code"] == "INVALID_SNAPSHOT" and "no score function" in result.error["message"]


def test_init_receives_the_job_as_modelop_does(spark, tmp_path):
    model = """
import json
# modelop.init
def init(init_param):
    global GROUP
    GROUP = json.loads(init_param["rawJson"])["jobParameters"]["group"]

# modelop.score
def score(datum):
    return {"group": GROUP, "value": datum["value"]}
"""
    document = {
        "jobType": "MODEL_BATCH_JOB",
        "inputData": [{"assetType": "EMBEDDED", "data": [{"value": 1}, {"value": 2}]}],
        "outputData": [{"assetType": "EMBEDDED"}],
        "model": {"storedModel": {"modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "sourceCode": model}]}},
        "jobParameters": {"group": "A"},
    }
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    assert result.outputs[0].records == [{"group": "A", "value": 1}, {"group": "A", "value": 2}]


def test_notebook_api(spark, numbers, record_snapshot):
    frame = spark.read.parquet(numbers).filter("x >= 0")
    scored = ms.score(frame, record_snapshot, key_columns=["id"])
    assert_df_equality(scored, expected_doubles(spark, range(0, 38)), ignore_row_order=True)
    both = ms.score_with_rejects(spark.read.parquet(numbers), ms.load_snapshot(record_snapshot), key_columns=["id"])
    assert both.counts() == {
        "rows_in": 40, "rows_rejected": 2, "rows_out": 38, "rejected_read": 0, "rejected_input_schema": 0, "rejected_model": 2,
    }  # fmt: skip
    assert sorted(r.id for r in both.rejected().collect()) == ["0", "1"]


def test_the_fraud_example_and_its_modelop_job(spark, fraud_example, monkeypatch):
    root, snapshot = fraud_example
    monkeypatch.chdir(root)
    own = json.loads((Path(__file__).resolve().parent.parent / "examples/fraud/jobs/score.json").read_text())
    own["snapshot"] = str(snapshot)
    own["inputs"][0]["url"] = str(root / "data" / "transactions.csv")
    result = run_job(own, spark=spark)
    assert result.ok, result.error
    assert result.rows.rows_in == 2000 and result.rows.rows_rejected == 3
    assert "lacks a feature value" in spark.read.json(str(root / "out" / "fraud_rejected")).first()._reasons[0]
    modelop = json.loads((Path(__file__).resolve().parent.parent / "examples/fraud/jobs/modelop_score.json").read_text())
    modelop["inputData"][0]["fileUrl"] = str(root / "data" / "transactions.csv")
    modelop["model"]["storedModel"]["modelAssets"][0]["repositoryInfo"]["repositoryDirectory"] = str(snapshot)
    result = run_job(modelop, spark=spark)
    assert result.ok, result.error
    lines = (root / "out" / "modelop_scores.json").read_text().splitlines()
    assert len(lines) == 1997 and set(json.loads(lines[0])) == {"transaction_id", "fraud_probability", "is_fraud_predicted"}


def test_cli_runs_a_job_and_sets_the_exit_code(spark, numbers, record_snapshot, tmp_path, capsys):
    from modelop_spark.cli import main

    path = tmp_path / "job.json"
    path.write_text(json.dumps(job(record_snapshot, numbers, tmp_path / "out")))
    assert main(["run", str(path), "--result", str(tmp_path / "result.json")]) == 0
    assert "rows in 40, scored 38, rejected 2" in capsys.readouterr().out
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "COMPLETE"
    path.write_text(json.dumps(job(record_snapshot, numbers, tmp_path / "out", options={"on_model_error": "fail"})))
    assert main(["run", str(path)]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    path.write_text("{}")
    assert main(["run", str(path)]) == 1
    assert "job: (top level): 'job_type' is a required property" in capsys.readouterr().err
    assert os.path.exists(tmp_path / "out")


TWO_OUTPUTS_MODEL = """
# modelop.score
def action(record):
    if record["x"] < 0:
        raise ValueError("negative x")
    value = "oops" if record["x"] == 30 else record["x"]
    return [{"v": value}, {"v": record["x"] * 2}]
"""


def test_an_input_whose_outputs_do_not_fit_is_rejected_once(spark, numbers, tmp_path):
    snapshot = make_snapshot(tmp_path / "two", TWO_OUTPUTS_MODEL)
    result = run_job(job(snapshot, numbers, tmp_path / "out"), spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() == {"in": 40, "scored": 37, "rejected": 3, "out": 74, "rejected_by_stage": {"model": 3}}
    reasons = {r.id: r._reasons[0] for r in spark.read.json(result.rejected_output.location).collect()}
    assert reasons["32"].startswith("output field v:") and reasons["0"] == "score raised ValueError: negative x"


BAD_BATCH_OUTPUT_MODEL = """
import pandas as pd

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"v": [("oops" if x == 30 else x) for x in df["x"]]})
"""


def test_a_batch_output_that_does_not_fit_rejects_only_its_input_row(spark, numbers, tmp_path):
    snapshot = make_snapshot(tmp_path / "badbatch", BAD_BATCH_OUTPUT_MODEL)
    result = run_job(job(snapshot, numbers, tmp_path / "out"), spark=spark)
    assert result.ok, result.error
    assert (result.rows.rows_scored, result.rows.rows_rejected) == (39, 1)
    rejected = spark.read.json(result.rejected_output.location).collect()
    assert [r.id for r in rejected] == ["32"] and rejected[0]._reasons[0].startswith("output field v:")


def test_rows_the_input_checks_marked_skip_the_model():
    import pyarrow as pa

    from modelop_spark.quarantine import REJECTED_MARK
    from modelop_spark.runtime.executor import split_off_rejected

    mark = {"stage": "input_schema", "reasons": ["x: expected double, found '?'"], "record": '{"id": "b", "x": "?"}'}
    batch = pa.RecordBatch.from_pydict({"id": ["a", "b"], "x": [1.0, None], REJECTED_MARK: [None, json.dumps(mark)]})
    to_score, set_aside = split_off_rejected(batch)
    assert to_score.schema.names == ["id", "x"] and to_score.column("id").to_pylist() == ["a"]
    assert set_aside.column("id").to_pylist() == ["b"]
    to_score, set_aside = split_off_rejected(batch.slice(0, 1))  # nothing marked: no rows set aside
    assert to_score.num_rows == 1 and set_aside is None


SEEN_COLUMNS_MODEL = """
    # modelop.score
    def action(record):
        if record["x"] < 0:
            raise ValueError("negative x")
        yield {"seen": ",".join(sorted(record))}
"""


def test_a_snapshot_that_says_what_it_reads_gets_only_those_and_the_keys(spark, tmp_path):
    """Wide inputs: columns the score function does not read never travel to the Python workers."""
    snapshot = make_snapshot(tmp_path / "reads", SEEN_COLUMNS_MODEL, manifest={"name": "reads", "reads": ["x"]})
    frame = spark.range(6).selectExpr("cast(id as string) as id", "cast(id - 1 as double) as x", "repeat('n', 10000) as note")
    both = ms.score_with_rejects(frame, ms.load_snapshot(snapshot), key_columns=["id"])
    assert {r.seen for r in both.outputs().collect()} == {"id,x"}
    (rejected,) = both.rejected().collect()
    assert json.loads(rejected._record) == {"id": "0", "x": -1.0} and rejected._reasons == ["score raised ValueError: negative x"]
    assert both.counts()["rows_in"] == 6 and both.counts()["rows_out"] == 5
    # An input without a column the snapshot reads is sent whole: the model decides what happens.
    other = make_snapshot(tmp_path / "reads-z", SEEN_COLUMNS_MODEL, manifest={"name": "reads-z", "reads": ["x", "z"]})
    assert {r.seen for r in ms.score(frame.where("x >= 0"), other, key_columns=["id"]).collect()} == {"id,note,x"}


def test_reads_in_the_manifest_must_be_column_names(tmp_path):
    snapshot = make_snapshot(tmp_path / "bad", SEEN_COLUMNS_MODEL, manifest={"name": "bad", "reads": "x"})
    with pytest.raises(SnapshotError, match="reads must be a list of the input column names"):
        ms.load_snapshot(snapshot)


LINED_UP_MODEL = """
import pandas as pd

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    if (df["x"] < 0).any():
        raise ValueError("negative x")
    if (df["x"] == 1000).any():  # a batch that does not line up with its inputs
        return pd.DataFrame({"doubled": [0.0]})
    return pd.DataFrame({"doubled": df["x"] * 2})
"""


def test_a_batch_model_lined_up_with_its_rows_keeps_each_key_with_its_prediction(spark, tmp_path):
    """One output row per input and no keys in it: Spark keeps the keys beside the rows, and the
    model sees only what it reads; failures are bisected down to the failing rows."""
    snapshot = make_snapshot(tmp_path / "lined", LINED_UP_MODEL, manifest={"name": "lined", "reads": ["x"]})
    frame = spark.range(300).selectExpr("concat('k', id) as id", "cast(if(id % 37 = 5, -id, id) as double) as x", "'wide' as note").repartition(3)
    both = ms.score_with_rejects(frame, ms.load_snapshot(snapshot), key_columns=["id"])
    assert both.counts() == {
        "rows_in": 300, "rows_out": 292, "rows_rejected": 8, "rejected_read": 0, "rejected_input_schema": 0, "rejected_model": 8,
    }  # fmt: skip
    assert all(r.doubled == 2 * int(r.id[1:]) for r in both.outputs().collect())
    rejected = sorted(both.rejected().collect(), key=lambda r: int(r.id[1:]))
    assert [r.id for r in rejected] == [f"k{i}" for i in range(300) if i % 37 == 5]
    assert rejected[0]._reasons == ["score raised ValueError: negative x"] and json.loads(rejected[0]._record) == {"x": -5.0}


def test_a_batch_model_that_stops_lining_up_fails_with_one_clear_line(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "lined", LINED_UP_MODEL, manifest={"name": "lined"})
    frame = spark.range(50).selectExpr("concat('k', id) as id", "cast(if(id = 40, 1000, id) as double) as x")
    with pytest.raises(Exception, match="score returned 1 rows for .* inputs here but one per input on the sample"):
        ms.score_with_rejects(frame, ms.load_snapshot(snapshot), key_columns=["id"]).outputs().collect()


KEYED_FILTER_MODEL = """
import pandas as pd

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    kept = df[df["x"] % 2 == 0]
    return pd.DataFrame({"id": kept["id"], "half": kept["x"] / 2})
"""


def test_a_batch_model_that_returns_its_own_keys_may_return_fewer_rows(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "keyed", KEYED_FILTER_MODEL)
    frame = spark.range(20).selectExpr("concat('k', id) as id", "cast(id as double) as x").repartition(2)
    scored = ms.score(frame, snapshot, key_columns=["id"]).collect()
    assert sorted((r.id, r.half) for r in scored) == sorted((f"k{i}", i / 2) for i in range(0, 20, 2))


BATCH_SIZE_MODEL = """
import pandas as pd

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"batch_rows": [len(df)] * len(df)})
"""


def test_wide_rows_reach_the_model_in_batches_bounded_by_bytes(spark, tmp_path):
    """1,000 rows of 64 KiB each: the 10,000-row bound alone would send all of them at once."""
    snapshot = make_snapshot(tmp_path / "sizes", BATCH_SIZE_MODEL)
    frame = spark.range(1000).selectExpr("cast(id as string) as id", "repeat('w', 65536) as wide").coalesce(1)
    sizes = [r.batch_rows for r in ms.score(frame, snapshot, key_columns=["id"]).collect()]
    assert len(sizes) == 1000 and max(sizes) <= 32 * 1024 * 1024 // 65536
