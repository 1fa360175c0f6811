"""Bounds a job cannot run past: a model call that never returns (a default from conf/), a whole
job (options.timeout_seconds), a job that rejects most of its rows (options.max_rejected), and an
input none of whose records parses (JSON nested too deep)."""

from __future__ import annotations

import pytest

from modelop_spark.config import MODEL_TIMEOUT_CONF, model_call_timeout
from modelop_spark.jobs.reject_limit import RejectLimit
from modelop_spark.jobs.runner import run_job
from tests.snapshots import make_snapshot

RECORD = "import time\n\n# modelop.score\ndef score(record):\n"
BATCH = "import time\nimport pandas as pd\n\n# modelop.score\ndef score(df: pd.DataFrame) -> pd.DataFrame:\n"


@pytest.fixture
def job(spark, tmp_path):
    rows = str(tmp_path / "rows")
    spark.range(40).selectExpr("cast(id as string) as id", "id as x").coalesce(1).write.parquet(rows)

    def job(code: str, **options):
        name = f"m{abs(hash(code))}"
        return {
            "job_id": f"limits-{name}",
            "job_type": "scoring",
            "snapshot": str(make_snapshot(tmp_path / name, code)),
            "inputs": [{"url": rows, "format": "parquet"}],
            "outputs": [{"url": str(tmp_path / f"out-{name}"), "format": "parquet"}],
            "rejected_output": {"url": str(tmp_path / f"rejected-{name}"), "format": "json"},
            "options": {"key_columns": ["id"], "arrow_batch_size": 10, **options},
        }

    return job


def test_model_calls_have_a_default_bound_from_conf_and_zero_means_none():
    assert model_call_timeout(None, None) == 600
    assert model_call_timeout(None, "30") == 30 and model_call_timeout(5, "30") == 5
    assert model_call_timeout(0, "30") is None and model_call_timeout(None, "0") is None


ITER = "import time\nfrom typing import Iterator\n\nimport pandas as pd\n\n# modelop.score\ndef score(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:\n    for df in frames:\n"
# A slow call at x == 33 (outside the driver's 20-row sample), on each path that calls a model
# and isolates rows; batch_iter and compiled have tests of their own below.
SLOW_AT_33 = {
    "record": RECORD + "    if record['x'] == 33:\n        time.sleep(6)\n    yield {'y': record['x']}\n",
    "batch aligned (Arrow UDF)": BATCH + "    if (df['x'] == 33).any():\n        time.sleep(6)\n    return pd.DataFrame({'y': df['x']})\n",
    "batch with keys": BATCH + "    if (df['x'] == 33).any():\n        time.sleep(6)\n    return pd.DataFrame({'id': df['id'], 'y': df['x']})\n",
}
# A call that never returns once x reaches 20 (past the sample).
HANGS = {
    "record": RECORD + "    if record['x'] >= 20:\n        time.sleep(120)\n    yield {'y': record['x']}\n",
    "batch aligned (Arrow UDF)": BATCH + "    if (df['x'] >= 20).any():\n        time.sleep(120)\n    return pd.DataFrame({'y': df['x']})\n",
    "batch_iter": ITER + "        if (df['x'] >= 20).any():\n            time.sleep(120)\n        yield pd.DataFrame({'id': df['id'], 'y': df['x']})\n",
}
# Every row but x == 0 fails.
FAILING = {
    "record": RECORD + "    if record['x'] > 0:\n        raise ValueError('no score for this one')\n    yield {'y': 1}\n",
    "batch aligned (Arrow UDF)": BATCH + "    if (df['x'] > 0).any():\n        raise ValueError('no score for this one')\n    return pd.DataFrame({'y': df['x']})\n",
    "batch with keys": BATCH + "    if (df['x'] > 0).any():\n        raise ValueError('no score for this one')\n    return pd.DataFrame({'id': df['id'], 'y': df['x']})\n",
}


@pytest.mark.parametrize("shape", list(SLOW_AT_33))
def test_a_model_call_past_the_conf_default_rejects_its_rows(spark, job, shape):
    """The session's conf (conf/spark-defaults.conf's spark.modelop.modelTimeoutSeconds) bounds
    every model call when the job sets no limit: the slow rows are rejected, the job ends."""
    spark.conf.set(MODEL_TIMEOUT_CONF, "2")
    try:
        result = run_job(job(SLOW_AT_33[shape]), spark=spark)
    finally:
        spark.conf.unset(MODEL_TIMEOUT_CONF)
    assert result.ok, result.error
    assert result.rows.rows_rejected == 1 and result.rows.rows_scored == 39
    reasons = [r._reasons[0] for r in spark.read.json(result.rejected_output.location).collect()]
    assert reasons == ["score raised ModelTimeout: did not return within 2s (options.model_timeout_seconds)"]


def test_an_iterator_function_past_the_model_timeout_ends_the_job_error(spark, job, tmp_path):
    """batch_iter sees the whole partition, so a call that does not return fails the job (which
    input rows it was on is not known) rather than holding it RUNNING."""
    document = job(HANGS["batch_iter"], model_timeout_seconds=2)
    result = run_job(document, spark=spark)
    assert result.status == "ERROR", result.error
    assert "ModelTimeout: did not return within 2s (options.model_timeout_seconds)" in result.error["message"]
    assert not (tmp_path / document["outputs"][0]["url"]).exists()


@pytest.mark.parametrize("shape", list(HANGS))
def test_a_job_past_its_timeout_seconds_ends_error_and_publishes_nothing(spark, job, tmp_path, shape):
    document = job(HANGS[shape], timeout_seconds=8, model_timeout_seconds=0)
    result = run_job(document, spark=spark)
    assert result.status == "ERROR" and result.error["code"] == "JOB_TIMEOUT", result.error
    assert result.error["message"].startswith("the job ran longer than options.timeout_seconds (8s) and was stopped")
    assert not (tmp_path / document["outputs"][0]["url"]).exists()


def assert_stopped_past_max_rejected(spark, result, document, tmp_path, rejected: int, reason: str) -> None:
    assert result.status == "ERROR" and result.error["code"] == "TOO_MANY_REJECTED", result.error
    message = result.error["message"]
    assert message.startswith(f"{rejected} of 40 rows were rejected, more than options.max_rejected allows"), message
    assert reason in message, message
    assert not (tmp_path / document["outputs"][0]["url"]).exists()  # nothing published
    assert spark.read.json(document["rejected_output"]["url"]).count() == rejected  # the rejected rows, for a look


@pytest.mark.parametrize(("limit", "shape"), [(0.5, "record"), (3, "batch aligned (Arrow UDF)"), (3, "batch with keys")])
def test_past_max_rejected_the_job_ends_error_naming_the_count_and_reasons(spark, job, tmp_path, limit, shape):
    document = job(FAILING[shape], max_rejected=limit)
    result = run_job(document, spark=spark)
    assert_stopped_past_max_rejected(spark, result, document, tmp_path, 39, "39 x score raised ValueError: no score for this one")


def test_past_max_rejected_an_iterator_function_ends_error(spark, job, tmp_path):
    """batch_iter rejects the output rows that do not fit (here a fraction where the sample typed
    an integer): past the limit the job ends ERROR as on the other paths."""
    code = ITER + "        yield pd.DataFrame({'id': df['id'], 'y': pd.Series([x if x < 20 else x + 0.5 for x in df['x']], dtype=object)})\n"
    document = job(code, max_rejected=0.25)
    result = run_job(document, spark=spark)
    assert_stopped_past_max_rejected(spark, result, document, tmp_path, 20, "20 x output field y:")


def test_past_max_rejected_a_compiled_job_ends_error(spark, tmp_path):
    """The compiled path sends rows with a missing feature to the model, which rejects them:
    they count against options.max_rejected like any other rejection."""
    import numpy as np

    from tests.test_compiled_scoring import fitted, generated, mlflow_model

    model, columns = fitted("logistic regression")
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    data = generated(40, seed=4)
    data.loc[10:, "x0"] = np.nan  # 30 rows with a feature the model has no imputer for
    data.to_parquet(tmp_path / "input.parquet")
    document = {
        "job_type": "scoring",
        "snapshot": str(folder),
        "inputs": [{"url": str(tmp_path / "input.parquet"), "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "rejected_output": {"url": str(tmp_path / "rejected"), "format": "json"},
        "options": {"key_columns": ["id"], "scoring_path": "compiled", "max_rejected": 0.5},
    }
    result = run_job(document, spark=spark)
    assert_stopped_past_max_rejected(spark, result, document, tmp_path, 30, "30 x ")


def test_under_max_rejected_the_job_completes():
    RejectLimit.from_option(0.1).check(100, 10, [])  # 10 of 100 is allowed
    with pytest.raises(Exception, match="11 of 100 rows were rejected"):
        RejectLimit.from_option(10).check(100, 11, [("x", 11)])


def test_json_nested_deeper_than_the_reader_allows_says_the_records_could_not_be_parsed(spark, tmp_path):
    deep = '{"id": "1", "x": ' + "[" * 1200 + "]" * 1200 + "}\n"
    (tmp_path / "deep.json").write_text(deep * 3)
    job = {
        "job_id": "deep",
        "job_type": "scoring",
        "snapshot": str(make_snapshot(tmp_path / "m", RECORD + "    yield {'y': 1}\n")),
        "inputs": [{"url": str(tmp_path / "deep.json"), "format": "json"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"]},
    }
    result = run_job(job, spark=spark)
    assert result.status == "ERROR" and result.error["code"] == "ASSET_ERROR"
    message = result.error["message"]
    assert "its records could not be parsed: no line is valid JSON (JSON nested deeper than 1000 levels" in message
    assert "line 1: '{\"id\": \"1\", \"x\": [[[" in message


def test_the_control_plane_ends_a_running_job_past_its_timeout_seconds(tmp_path):
    """The backstop for a runtime that heartbeats but never reports: past timeout_seconds and a
    grace, the sweeper's check ends the job ERROR, once."""
    import time

    from modelop_spark.controlplane.job_timeouts import GRACE_SECONDS, end_overdue_jobs
    from tests.test_controlplane_store import ADMIN, build, register

    plane = build(tmp_path)
    plane.models.create("m")
    plane.snapshots.add(model="m", archive=None, archive_name=None, version="1", description=None, service_tags=["m"], runtimes=[], location=str(tmp_path))
    runtime = register(plane, "dev", "DEV", "m")
    request = {"job_type": "batchjob", "snapshot": "m", "stage": "DEV", "options": {"timeout_seconds": 30},
               "inputs": [{"kind": "embedded", "records": [{"x": 1}]}], "outputs": [{"kind": "embedded", "name": "out"}]}  # fmt: skip
    job_id = plane.jobs.create(request, principal=ADMIN)["id"]
    assert plane.dispatch.claim_next(runtime)["job"]["id"] == job_id
    now = time.time()
    assert end_overdue_jobs(plane.store, plane.blobs.read, now + 30) == []  # within the limit and its grace
    assert end_overdue_jobs(plane.store, plane.blobs.read, now + 30 + GRACE_SECONDS + 1) == [job_id]
    job = plane.jobs.get(job_id)
    assert job["status"] == "ERROR" and "options.timeout_seconds (30s)" in job["error"]["message"]
    assert end_overdue_jobs(plane.store, plane.blobs.read, now + 1000) == []
