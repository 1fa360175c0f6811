"""Secrets planted in every place a runtime prints: per-row reasons, errors, the JobResult, log
lines. Each is masked by value (the job's own secrets, credential variables) or by pattern."""

from __future__ import annotations

import json
import logging

import pytest

from modelop_spark._redact import redact, remember_secrets, secrets_in
from modelop_spark.jobs.runner import run_job
from tests.snapshots import make_snapshot

TOKEN = "tok-4f9a8b7c6d5e"  # looks like nothing in particular: only its value gives it away
DB_PASSWORD = "Zq9!plain"

LEAKY = """
# modelop.init
def begin(job):
    global PARAMS
    PARAMS = job["parameters"]
    if PARAMS.get("fail_init"):
        raise RuntimeError(f"login refused for token {PARAMS['api_token']}")

# modelop.score
def score(record):
    if record["x"] == 1:
        raise ValueError(f"upstream said: bad token {PARAMS['api_token']}")
    if record["x"] == 2:
        raise ConnectionError("cannot reach postgresql://scorer:%s@db:5432/features" % PARAMS["db"]["password"])
    if record["x"] == 3:
        raise ConnectionError("cannot reach s3://AKIAIOSFODNN7EXAMPLE:wJalr/XUtnFEMI+K7MDENG@bucket/x")
    if record["x"] == 4:
        raise ConnectionError("jdbc:oracle:thin:scott/tiger99@dbhost:1521/orcl refused")
    yield {"y": record["x"]}
"""


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("s3://AKIAIOSFODNN7EXAMPLE:wJalr/XUtnFEMI+K7MDENG@bucket/key", "wJalr/XUtnFEMI+K7MDENG"),
        ("s3a://someKeyId:abc/def+g==@bucket", "abc/def+g=="),
        ("jdbc:oracle:thin:scott/tiger99@dbhost:1521/orcl", "tiger99"),
        ("sqlplus scott/tiger99@dbhost:1521/orcl", "tiger99"),
        ("jdbc:sqlserver://db;user=sa;password=Pa55w0rd;encrypt=true", "Pa55w0rd"),
        ("https://user:p%40ss@example.com/x", "p%40ss"),
    ],
)
def test_patterns_mask_credentials_in_urls_of_any_scheme(text, secret):
    assert secret not in redact(text)


def test_the_secrets_of_a_job_are_found_by_name_by_mark_and_inside_urls(monkeypatch):
    monkeypatch.setenv("MY_DB_PW", "from-the-env-42")
    document = {
        "jobParameters": {"api_token": TOKEN, "threshold": "0.5", "salt": {"secret": True, "value": "pepper-123"}},
        "inputs": [{"url": "s3://KEYID1234:SECRET/5678@bucket/in.csv"}],
        "outputs": [{"kind": "jdbc", "options": {"url": "jdbc:oracle:thin:app/orapw1@db:1521/x", "password_env": "MY_DB_PW"}}],
        "flags": {"use_token": "true"},
    }
    found = set(secrets_in(document))
    assert found == {TOKEN, "pepper-123", "SECRET/5678", "orapw1", "from-the-env-42"}


def test_a_remembered_secret_is_masked_in_log_lines_whatever_it_looks_like(caplog):
    remember_secrets(["ordinary-looking-7781"])
    logger = logging.getLogger("modelop_spark.test")
    from modelop_spark._redact import redacted_logger

    redacted_logger("modelop_spark.test")
    with caplog.at_level(logging.INFO, logger="modelop_spark.test"):
        logger.info("connected as %s", "ordinary-looking-7781")
    assert "ordinary-looking-7781" not in caplog.text and "connected as ***" in caplog.text


@pytest.fixture
def leaky_job(spark, tmp_path):
    rows = str(tmp_path / "rows")
    spark.range(6).selectExpr("cast(id as string) as id", "cast(id as double) as x").coalesce(1).write.parquet(rows)
    return {
        "job_id": "leaky",
        "job_type": "scoring",
        "snapshot": str(make_snapshot(tmp_path / "model", LEAKY)),
        "inputs": [{"url": rows, "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"]},
        "parameters": {"api_token": TOKEN, "db": {"password": DB_PASSWORD}},
    }


def test_secrets_quoted_by_a_model_are_masked_in_the_rejected_rows_reasons(spark, leaky_job):
    result = run_job(leaky_job, spark=spark)
    assert result.ok, result.error
    reasons = {r.id: r._reasons[0] for r in spark.read.json(result.rejected_output.location).collect()}
    assert set(reasons) == {"1", "2", "3", "4"}
    text = json.dumps(reasons)
    for secret in (TOKEN, DB_PASSWORD, "wJalr/XUtnFEMI+K7MDENG", "AKIAIOSFODNN7EXAMPLE", "tiger99"):
        assert secret not in text
    assert reasons["1"] == "score raised ValueError: upstream said: bad token ***"


def test_an_init_error_quoting_a_job_parameter_is_masked_in_the_job_result(spark, leaky_job):
    leaky_job["parameters"]["fail_init"] = True
    result = run_job(leaky_job, spark=spark)
    assert result.status == "ERROR"
    assert "login refused for token ***" in result.error["message"]
    assert TOKEN not in result.to_json()


def test_an_s3_url_with_credentials_is_masked_in_the_error_and_the_result(spark, leaky_job):
    leaky_job["inputs"] = [{"url": "s3://AKIAIOSFODNN7EXAMPLE:wJalr/XUtnFEMI+K7MDENG@bucket/in.csv"}]
    result = run_job(leaky_job, spark=spark)
    assert result.status == "ERROR"
    text = result.to_json()
    assert "wJalr/XUtnFEMI+K7MDENG" not in text and "AKIAIOSFODNN7EXAMPLE" not in text
