"""ModelOp Center models and job files run unchanged: the corpus in tests/modelop_corpus (PySpark
score, metrics and train that stop the session and write in error-if-exists mode; job files as
ModelOp writes them) through ``modelop-spark run`` and ``spark-submit``, twice each; a notebook
session that outlives a model's ``stop()``; the job-file translation; metrics documents."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import modelop_spark as ms
from modelop_spark.errors import SpecError
from modelop_spark.jobs.spark_settings import session_conf_for_job
from modelop_spark.jobs.spec import JobSpec, load_job_file
from tests.cluster import spark_env
from tests.modelop_corpus import JOBS, REFUSED, render_corpus
from tests.snapshots import RECORD_MODEL, make_snapshot

ROOT = Path(__file__).resolve().parent.parent


def _staging_left(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob(".modelop-staging")]


def _assert_one_copy_of_each_output(out: Path) -> None:
    assert len(pd.read_parquet(out / "scores.parquet")) == 60  # not 120: the rerun replaced it
    for model_folder in ("trained_model", "pipeline_model"):  # Spark ML saves, from a repository and from inline source
        assert (out / model_folder / "metadata").is_dir() and (out / model_folder / "stages").is_dir()
    lines = [json.loads(p.read_text()) for p in (out / "metrics").glob("part-*.json")]
    assert len(lines) == 1 and lines[0]["rows"] == 60
    # a score that yields bare numbers: one column, named by the output schema's single field
    bare = pd.read_json(out / "bare_scores.json", lines=True)
    assert list(bare.columns) == ["id", "probability"] and len(bare) == 60
    labeled = pd.read_csv(out.parent / "corpus" / "data" / "labeled.csv")
    assert sorted(bare["probability"].round(9)) == sorted(labeled["score"].astype(float).round(9))
    # ... and, without one, `prediction`, which score_first hands to the evaluation
    evaluation = pd.read_json(out / "bare_evaluation", lines=True)
    assert len(evaluation) == 1 and evaluation["rows"][0]["input"] == 60
    assert not (out / "xlsx_scores.json").exists() and not (out / "broken_scores.json").exists()
    assert _staging_left(out) == []


# -- the corpus, as a user runs it from a shell ----------------------------------------------------
@pytest.mark.parametrize("entry_point", ["modelop-spark run", "spark-submit"])
def test_corpus_runs_twice_from_the_command_line(entry_point, tmp_path):
    jobs = render_corpus(tmp_path)
    files = [str(jobs[name]) for name in (*JOBS, *REFUSED)] * 2  # every job, then every job again
    env = spark_env(tmp_path)
    if entry_point == "spark-submit":
        command = [str(Path(env["SPARK_HOME"]) / "bin" / "spark-submit"), "--master", "local[2]",
                   "--conf", "spark.ui.enabled=false", str(ROOT / "submit" / "run_job.py"), *files]
    else:
        command = [sys.executable, "-m", "modelop_spark.cli", "-v", "run", *files, "--conf", "spark.ui.enabled=false",
                   "--master", "local[2]"]
    run = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-3000:]  # the refused jobs
    assert run.stdout.count(": COMPLETE") == 2 * len(JOBS), run.stdout[-3000:] + run.stderr[-3000:]
    _assert_refusals(run.stdout, times=2)
    # PySpark metrics returned None: the metrics it wrote are read back into the result
    assert "output metrics ->" in run.stdout
    _assert_one_copy_of_each_output(tmp_path / "out")
    # training jobs whose product is the model folder they write ask for no snapshot version
    assert not list((tmp_path / "corpus").glob("corpus-*"))
    if entry_point == "modelop-spark run":
        # the first job's spark-submit flags started Spark; its "--master yarn" lost to the runtime's master
        assert "starting Spark with spark.executor.instances=2, spark.executor.memory=512MB" in run.stderr
        assert "job asks for Spark master yarn; running on this runtime's master local[2]" in run.stderr
        assert "jobParameters -v has no meaning in this runtime; ignored" in run.stderr
        assert "the model called SparkSession.stop() on the runtime's Spark session: ignored" in run.stderr


def _assert_refusals(stdout: str, *, times: int) -> None:
    """Each refused job is named with its snapshot, with its one-line reason."""
    expected = {
        "job corpus-xlsx-0001 (scoring, snapshot corpus-bare-model 7): ERROR":
            "fileFormat XLSX is not a format this runtime reads or writes (CSV, JSON, PARQUET, AVRO, DELTA",
        "job corpus-syntax-0001 (scoring, snapshot corpus-broken-model 1): ERROR":
            "error INVALID_SNAPSHOT: broken.py:2: syntax error in model source: expected ':'",
        "job corpus-location-0001 (scoring, snapshot corpus-spark-model 3): ERROR": "is inside the model snapshot",
    }
    # The summaries' indented "error CODE: ..." lines; spark-submit's Python runner also merges the
    # one-line stderr message ("error: ...") into stdout, which is not counted here.
    summary_errors = [line for line in stdout.splitlines() if line.startswith("  error ")]
    for summary, reason in expected.items():
        assert stdout.count(summary) == times, stdout
        assert sum(reason in line for line in summary_errors) == times, stdout


def test_jobs_the_checks_refuse_never_start_spark(tmp_path):
    """With no Java at all, the refusals are still each job's own reason: the JVM never starts."""
    jobs = render_corpus(tmp_path)
    env = {**spark_env(tmp_path), "JAVA_HOME": str(tmp_path / "no-java")}
    run = subprocess.run([sys.executable, "-m", "modelop_spark.cli", "run", *[str(jobs[name]) for name in REFUSED]],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    _assert_refusals(run.stdout, times=1)
    assert "Java" not in run.stdout + run.stderr


# -- a notebook session outlives the model's stop() ------------------------------------------------
def test_notebook_session_survives_a_model_that_stops_it(spark, tmp_path):
    jobs = render_corpus(tmp_path)
    for _ in range(2):  # the rerun's error-if-exists write succeeds: the model writes to staging
        result = ms.run_job(str(jobs["score"]))
        assert result.ok, result.error
        assert result.rows.rows_in == 60 and result.outputs[0].rows == 60
        assert result.outputs[0].details["written_by_model"] is True
    assert len(pd.read_parquet(tmp_path / "out" / "scores.parquet")) == 60
    # the session the notebook owns is still the active one and still works
    assert ms.load_snapshot  # the API keeps working:
    record = make_snapshot(tmp_path / "record", RECORD_MODEL, files={"factor.txt": "3"})
    scored = ms.score(spark.createDataFrame([(1.0,), (2.0,)], "x double"), record)
    assert sorted(r.doubled for r in scored.collect()) == [3.0, 6.0]
    again = ms.run_job({"job_type": "scoring", "snapshot": str(record), "inputs": [{"kind": "embedded", "records": [{"x": 4.0}]}],
                        "outputs": [{"kind": "embedded"}]})
    assert again.ok and again.outputs[0].records == [{"doubled": 12.0}]
    # and stop() is the real one again outside a model call
    assert not hasattr(type(spark).stop, "__wrapped__") and not hasattr(type(spark.sparkContext).stop, "__wrapped__")


PYSPARK_FAILS_AFTER_WRITING = """
from pyspark.sql import SparkSession

# modelop.score
def score(external_inputs, external_outputs, external_model_assets):
    spark = SparkSession.getActiveSession()
    spark.range(5).write.parquet(external_outputs[0]["fileUrl"])
    spark.sparkContext.stop()
    raise RuntimeError("the model failed after writing")
"""


def test_a_pyspark_model_that_raises_leaves_the_targets_as_they_were(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "snap", PYSPARK_FAILS_AFTER_WRITING)
    out = tmp_path / "out" / "scores"
    job = {"job_type": "scoring", "snapshot": str(snapshot), "inputs": [{"kind": "embedded", "records": [{"x": 1}]}],
           "outputs": [{"url": str(out), "format": "parquet"}]}
    result = ms.run_job(job, spark=spark)
    assert result.status == "ERROR" and "the model failed after writing" in result.error["message"]
    assert not out.exists() and _staging_left(tmp_path) == []
    spark.range(3).write.parquet(str(out))  # an earlier run's output stays untouched
    assert not ms.run_job(job, spark=spark).ok
    assert len(pd.read_parquet(out)) == 3 and _staging_left(tmp_path) == []


PYSPARK_WRITES_ONE_FILE = """
# modelop.score
def score(external_inputs, external_outputs, external_model_assets):
    import pandas as pd
    path = external_outputs["scores.csv"]["fileUrl"].replace("file://", "")
    pd.DataFrame({"id": [1, 2, 3]}).to_csv(path, index=False)  # plain Python, no Spark
"""


def test_a_pyspark_model_writing_one_file_itself_gets_it_committed_on_each_run(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "snap", PYSPARK_WRITES_ONE_FILE)
    target = tmp_path / "out" / "scores.csv"
    job = {"id": "one-file", "jobType": "MODEL_BATCH_JOB",
           "inputData": [{"assetType": "EMBEDDED", "data": [{"x": 1}]}],
           "outputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": f"file://{target}", "filename": "scores.csv", "fileFormat": "CSV"}],
           "model": {"storedModel": {"modelMetaData": {"repositoryInfo": {"repositoryDirectory": str(snapshot)}},
                                     "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "sourceCodeFilePath": "model.py"}]}}}
    for _ in range(2):
        result = ms.run_job(job, spark=spark)
        assert result.ok, result.error
        assert result.outputs[0].rows == 3 and result.outputs[0].details == {"written_by_model": True}
    assert target.read_text().splitlines() == ["id", "1", "2", "3"] and _staging_left(tmp_path) == []


PYSPARK_METRICS_TO_CSV = """
# modelop.metrics
def metrics(external_inputs, external_outputs, external_model_assets):
    import pandas as pd
    if external_outputs:
        pd.DataFrame({"auc": [0.75], "rows": [60]}).to_csv(external_outputs[0]["fileUrl"], index=False)
"""


def test_a_pyspark_metrics_returning_none_has_its_csv_read_back_and_writing_nothing_is_an_error(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "snap", PYSPARK_METRICS_TO_CSV)
    out = tmp_path / "metrics.csv"
    job = {"job_type": "metrics", "snapshot": str(snapshot), "inputs": [{"kind": "embedded", "records": [{"x": 1}]}],
           "outputs": [{"url": str(out), "format": "csv"}]}
    result = ms.run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.metrics == {"auc": 0.75, "rows": 60} and result.outputs[0].details == {"written_by_model": True}
    result = ms.run_job({**job, "outputs": []}, spark=spark)
    assert result.error["message"] == (
        "model.py: metrics returned nothing and the job has no output asset for it to write; "
        "return or yield a dict of metrics, or write them to external_outputs")


def test_an_asset_without_a_data_format_is_the_pyspark_models_own_business(spark, tmp_path):
    """A PySpark model may read a folder with no data format (its Spark ML model); a model the
    runtime feeds cannot, and hears so in one line."""
    folder = tmp_path / "model_folder"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00")
    snapshot = make_snapshot(tmp_path / "snap", PYSPARK_WRITES_ONE_FILE)
    target = tmp_path / "out" / "scores.csv"
    job = {"id": "no-format", "jobType": "MODEL_BATCH_JOB",
           "inputData": [{"assetType": "EMBEDDED", "data": [{"x": 1}, {"x": 2}]},
                         {"assetType": "EXTERNAL_FILE", "fileUrl": f"file://{folder}", "filename": "model_folder"}],
           "outputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": f"file://{target}", "filename": "scores.csv", "fileFormat": "CSV"}],
           "model": {"storedModel": {"modelMetaData": {"repositoryInfo": {"repositoryDirectory": str(snapshot)}},
                                     "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "sourceCodeFilePath": "model.py"}]}}}
    result = ms.run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.rows.rows_in == 2  # the data input; the model's folder is not data
    record = make_snapshot(tmp_path / "record", RECORD_MODEL, files={"factor.txt": "3"})
    job["model"]["storedModel"]["modelMetaData"]["repositoryInfo"]["repositoryDirectory"] = str(record)
    job["inputData"] = job["inputData"][1:]
    result = ms.run_job(job, spark=spark)
    assert result.error["message"] == (
        f"input model_folder: no data format for file://{folder}; set the asset's format "
        "(ModelOp fileFormat: csv, json, parquet or avro) or give the URL an extension")


# -- job files as ModelOp writes them ------------------------------------------------------------
def test_job_files_translate_with_repository_info_in_each_place(tmp_path):
    jobs = render_corpus(tmp_path)
    repository = str(tmp_path / "corpus" / "repository")
    for name in ("train", "score", "metrics"):  # modelMetaData only; the asset (and importedRepository); both
        spec = load_job_file(str(jobs[name]))
        assert (spec.model.snapshot, spec.model.source_name, spec.model.name) == (repository, "spark_model.py", "corpus-spark-model")
    score = load_job_file(str(jobs["score"]))
    assert score.parameters == {}  # spark-submit flags never reach the model as its parameters
    assert score.spark_conf == {"spark.executor.memory": "512MB", "spark.cores.max": "10", "spark.master": "yarn"}
    train = load_job_file(str(jobs["train"]))
    assert train.parameters == {"learning_rate": "0.1"}
    assert train.spark_conf["spark.executor.memory"] == "512MB"  # the job's flag over the engine's default
    assert train.spark_conf["spark.executor.instances"] == "2"


def test_repository_host_and_port_name_the_file_system():
    from modelop_spark.assets.hdfs import hdfs_url
    from modelop_spark.assets.s3_settings import S3Settings

    hdfs = {"repositoryType": "HDFS_REPOSITORY", "host": "namenode", "port": 8020, "repositoryDirectory": "/data"}
    assert hdfs_url("scores", hdfs, environ={}, where="output") == "hdfs://namenode:8020/data/scores"
    s3 = {"repositoryType": "S3_REPOSITORY", "host": "minio.internal", "port": 9000, "bucket": "models"}
    assert S3Settings.from_asset(s3, {}, environ={}).endpoint == "https://minio.internal:9000"


def test_a_placeholder_source_without_a_repository_is_one_clear_error():
    job = {"jobType": "MODEL_BATCH_JOB", "inputData": [], "outputData": [],
           "model": {"storedModel": {"modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True,
                                                      "sourceCode": "model.py", "sourceCodeFilePath": "model.py"}]}}}
    with pytest.raises(SpecError, match=r"sourceCode is a placeholder \('model.py'\) and no repositoryInfo.repositoryDirectory"):
        JobSpec.from_dict(job)


def test_the_runtime_master_wins_unless_the_caller_allows_the_jobs(caplog):
    asked = {"spark.master": "yarn", "spark.submit.deployMode": "cluster", "spark.executor.memory": "512MB"}
    with caplog.at_level(logging.INFO, logger="modelop_spark"):
        assert session_conf_for_job(asked, running=False, use_job_master=False, runtime_master=None) == (
            None, {"spark.executor.memory": "512MB"})
        assert "job asks for Spark master yarn; running on this runtime's master (the default)" in caplog.text
        assert session_conf_for_job(asked, running=False, use_job_master=True, runtime_master=None) == (
            "yarn", {"spark.executor.memory": "512MB", "spark.submit.deployMode": "cluster"})
        assert session_conf_for_job(asked, running=True, use_job_master=True, runtime_master=None) == (None, {})
        assert "the Spark application is already running, so these do not apply" in caplog.text


# -- metrics documents written by the runtime ------------------------------------------------------
SCORE_AND_METRICS = """
# modelop.score
def score(record):
    yield {"id": record["id"], "label": record["label"], "p": record["score"]}
"""


def test_a_metrics_document_is_json_lines_in_a_file_named_by_the_job(spark, tmp_path):
    """An output URL without an extension whose asset says fileFormat JSON is that file, one JSON
    object per line; the report and plots go beside it, named after it."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "model.py").write_text(SCORE_AND_METRICS)
    out = tmp_path / "out" / "evaluation"
    job = {
        "jobType": "MODEL_BATCH_TEST_JOB",
        "inputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": str(ROOT / "tests" / "modelop_corpus" / "data" / "labeled.csv"),
                       "fileFormat": "CSV"}],
        "outputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": f"file://{out}", "filename": "evaluation", "fileFormat": "JSON"}],
        "model": {"storedModel": {"modelMetaData": {"name": "m", "repositoryInfo": {"repositoryDirectory": str(tmp_path / "repo")}},
                                  "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "sourceCodeFilePath": "model.py"}]}},
        "jobParameters": {"score_first": True,
                          "evaluation": {"columns": {"label": "label", "score": "p"}}},
        "options": {"key_columns": ["id"]},
    }
    result = ms.run_job(job, spark=spark)
    assert result.ok, result.error
    assert out.is_file() and len(out.read_text().splitlines()) == 1
    read = pd.read_json(out, lines=True)
    assert len(read) == 1 and read["rows"][0]["input"] == 60
    assert (tmp_path / "out" / "evaluation_report" / "report.html").is_file()
    assert result.outputs[0].details["report"].endswith("evaluation_report/report.html")


def test_a_spark_connect_session_is_kept_too(connect_spark):
    from modelop_spark.runtime.session_guard import runtime_session_kept

    with runtime_session_kept(connect_spark):
        connect_spark.stop()
    assert connect_spark.range(4).count() == 4


# -- a score function that yields bare values, on every path that runs one --------------------------
BARE_VALUES = """
# modelop.score
def score(record):
    if record["kind"] == "number":
        yield record["x"] * 0.5
    elif record["kind"] == "text":
        yield "approve" if record["x"] > 1 else "decline"
    else:
        yield [record["x"], 1.0 - record["x"]]
"""


def test_bare_values_become_one_column_on_every_path(spark, tmp_path):
    from modelop_spark.runtime.conventions import record_outputs

    # the one reading of a record function's result (a dict and a list of dicts stay rows)
    def yielded():
        yield 0
        yield {"a": 1}
        yield "approve"

    assert record_outputs(yielded()) == [{"prediction": 0}, {"a": 1}, {"prediction": "approve"}]
    assert record_outputs([0.2, 0.8], column="p") == [{"p": [0.2, 0.8]}] and record_outputs([{"a": 1}, {"a": 2}]) == [{"a": 1}, {"a": 2}]
    numbers = make_snapshot(tmp_path / "numbers", BARE_VALUES)
    frame = spark.createDataFrame([(1, "number", 2.0), (2, "number", 3.0)], "id int, kind string, x double")
    # ms.score and ms.score_with_rejects: no output schema, so the column is `prediction`
    assert sorted((r.id, r.prediction) for r in ms.score(frame, numbers, key_columns=["id"]).collect()) == [(1, 1.0), (2, 1.5)]
    assert ms.score_with_rejects(frame, numbers).counts()["rows_out"] == 2
    # ms.udf: the output schema's single field names it
    typed = make_snapshot(tmp_path / "typed", BARE_VALUES, files={"output_schema.avsc": json.dumps(
        {"type": "record", "name": "out", "fields": [{"name": "half", "type": "double"}]})},
        manifest={"name": "typed", "schemas": {"output": "output_schema.avsc"}})
    assert sorted(r.half for r in frame.select(ms.udf(typed, output="half")("kind", "x").alias("half")).collect()) == [1.0, 1.5]
    # a job with embedded output (as a life cycle's smoke job runs), text and lists of values too
    records = [{"kind": "text", "x": 2.0}, {"kind": "text", "x": 0.5}, {"kind": "list", "x": 0.25}]
    for record, expected in zip(records, ("approve", "decline", [0.25, 0.75]), strict=True):
        result = ms.run_job({"job_type": "scoring", "snapshot": str(numbers), "inputs": [{"kind": "embedded", "records": [record]}],
                             "outputs": [{"kind": "embedded", "name": "smoke.json"}]}, spark=spark)
        assert result.ok, result.error
        assert result.outputs[0].records == [{"prediction": expected}]


# -- placeholders and broken source ----------------------------------------------------------------
def test_only_a_token_or_a_file_name_is_a_placeholder_and_broken_source_says_where(no_spark_needed, tmp_path):
    from modelop_spark.jobs.modelop_job import is_real_source

    assert not any(is_real_source(text) for text in ("CHANGEME", " model.py\n", "<placeholder>", "${SOURCE_CODE}", "", None))
    assert is_real_source("def score(r):\n    return r\n") and is_real_source("def score(r)\n    return r\n")
    broken = "# modelop.score\ndef score(record):\n    return {'y': record['x'] +}\n"
    modelop = {"jobType": "MODEL_BATCH_JOB", "inputData": [{"assetType": "EMBEDDED", "data": [{"x": 1}]}], "outputData": [],
               "model": {"storedModel": {"modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True,
                                                          "filename": "scorer.py", "sourceCode": broken}]}}}
    runtime = {"job_type": "scoring", "model": {"source_code": broken, "source_name": "scorer.py"},
               "inputs": [{"kind": "embedded", "records": [{"x": 1}]}], "outputs": [{"kind": "embedded"}]}
    folder = make_snapshot(tmp_path / "broken", broken, source_name="scorer.py")
    in_folder = {**runtime, "model": {}, "snapshot": str(folder)}
    for job in (modelop, runtime, in_folder):  # whatever the job's form
        result = ms.run_job(job)
        assert result.status == "ERROR"
        assert result.error["message"] == "scorer.py:3: syntax error in model source: invalid syntax"


@pytest.fixture
def no_spark_needed(monkeypatch):
    from modelop_spark.jobs import runner

    def refuse(*args, **kwargs):
        raise AssertionError("a SparkSession was requested")

    monkeypatch.setattr(runner, "get_or_create_session", refuse)


# -- file formats ----------------------------------------------------------------------------------
def test_modelop_file_formats_map_and_an_unreadable_one_is_refused_before_spark(no_spark_needed, tmp_path):
    from modelop_spark.jobs.modelop_job import translate_asset

    def translated(file_format, url="file:///data/in.csv"):
        return translate_asset({"assetType": "EXTERNAL_FILE", "fileUrl": url, "fileFormat": file_format}, where="inputData[0]", output=False)

    for given, expected in (("CSV", "csv"), ("JSON", "json"), ("PARQUET", "parquet"), ("AVRO", "avro")):
        assert translated(given, "file:///data/in").format == expected
    assert translated("UNKNOWN").format == "csv" and translated("UNKNOWN", "file:///data/in.parquet").format == "parquet"
    assert translated("UNKNOWN", "file:///data/model_folder").format is None
    assert translated("XLSX").format is None  # never read as csv, whatever the URL says
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "3"})
    job = {"jobType": "MODEL_BATCH_JOB",
           "inputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": f"file://{tmp_path}/in.csv", "filename": "in.csv", "fileFormat": "XLSX"}],
           "outputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": f"file://{tmp_path}/out.json", "fileFormat": "JSON"}],
           "model": {"storedModel": {"modelMetaData": {"name": "m", "repositoryInfo": {"repositoryDirectory": str(snapshot)}},
                                     "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "sourceCodeFilePath": "model.py"}]}}}
    result = ms.run_job(job)
    assert result.error["message"].startswith("input in.csv: fileFormat XLSX is not a format this runtime reads or writes "
                                              "(CSV, JSON, PARQUET, AVRO, DELTA")
    assert result.summary().startswith("job ") and "(scoring, snapshot m): ERROR" in result.summary()
    # a PySpark model reads such a file itself: its job passes the checks
    from modelop_spark.jobs.runner import check_job

    pyspark = make_snapshot(tmp_path / "pyspark", PYSPARK_WRITES_ONE_FILE)
    job["model"]["storedModel"]["modelMetaData"]["repositoryInfo"]["repositoryDirectory"] = str(pyspark)
    check_job(JobSpec.from_dict(job))
