"""Schema checks inside a scoring job: every stage quarantines its rows, and rows in = scored +
rejected."""

from __future__ import annotations

import json

import pytest

from modelop_spark.jobs.runner import run_job
from tests.snapshots import make_snapshot

MODEL = """
    # modelop.score
    def action(record):
        if record["x"] == 13:
            raise ValueError("unlucky")
        yield {"doubled": record["x"] * 2}
"""
INPUT_SCHEMA = {
    "type": "record",
    "name": "In",
    "fields": [
        {"name": "id", "type": "string", "role": "identifier"},
        {"name": "x", "type": "double", "minimum": 0},
        {"name": "channel", "type": {"type": "enum", "name": "Channel", "symbols": ["web", "store"]}},
    ],
}
OUTPUT_SCHEMA = {
    "type": "record",
    "name": "Out",
    "fields": [
        {"name": "id", "type": "string", "role": "identifier"},
        {"name": "doubled", "type": "double", "maximum": 60, "role": "score"},
    ],
}
CSV = "id,x,channel\na,1,web\nb,abc,web\nc,-1,web\nd,13,web\ne,40,web\nf,2,fax\ng,3,store\nh,4\n"


def _snapshot_with_schemas(folder, model):
    return make_snapshot(
        folder,
        model,
        manifest={
            "name": "checked",
            "version": "1.0.0",
            "source": "model.py",
            "functions": {"score": "action"},
            "schemas": {"input": "input_schema.avsc", "output": "output_schema.avsc"},
        },
        files={"input_schema.avsc": json.dumps(INPUT_SCHEMA), "output_schema.avsc": json.dumps(OUTPUT_SCHEMA)},
    )


@pytest.fixture
def checked_snapshot(tmp_path):
    return _snapshot_with_schemas(tmp_path / "snap", MODEL)


def _job(snapshot, tmp_path, *, input_check="quarantine", output_check="quarantine"):
    data = tmp_path / "in.csv"
    data.write_text(CSV)
    return {
        "job_id": "schema-job",
        "job_type": "scoring",
        "snapshot": str(snapshot),
        "inputs": [{"url": str(data), "format": "csv"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "rejected_output": {"url": str(tmp_path / "rejected"), "format": "json"},
        "options": {"key_columns": ["id"], "input_schema_check": input_check, "output_schema_check": output_check},
    }


def test_every_stage_quarantines_with_reasons_and_rows_add_up(spark, checked_snapshot, tmp_path):
    result = run_job(_job(checked_snapshot, tmp_path), spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() == {
        "in": 8,
        "scored": 2,
        "rejected": 6,
        "out": 2,
        "rejected_by_stage": {"read": 2, "input_schema": 2, "model": 1, "output_schema": 1},
    }
    scored = spark.read.parquet(str(tmp_path / "out"))
    assert sorted((r.id, r.doubled) for r in scored.collect()) == [("a", 2.0), ("g", 6.0)]
    rejected = {r.id: r for r in spark.read.json(str(tmp_path / "rejected")).collect()}
    assert {k: (r._stage, r._reasons) for k, r in rejected.items()} == {
        "b": ("read", ["malformed CSV record: does not fit the schema (empty or unparsed: x)"]),
        "h": ("read", ["malformed CSV record: does not fit the schema (empty or unparsed: channel)"]),
        "c": ("input_schema", ["x: -1.0 is below the minimum 0"]),
        "f": ("input_schema", ["channel: 'fax' is not one of [web, store]"]),
        "d": ("model", ["score raised ValueError: unlucky"]),
        "e": ("output_schema", ["doubled: 80.0 is above the maximum 60"]),
    }
    assert rejected["b"]._record == "b,abc,web"  # the raw line, as read
    assert json.loads(rejected["c"]._record) == {"id": "c", "x": -1.0, "channel": "web"}


def test_checks_off_leave_the_job_as_before(spark, checked_snapshot, tmp_path):
    job = _job(checked_snapshot, tmp_path, input_check="off", output_check="off")
    job["inputs"][0]["url"] = str(tmp_path / "clean.csv")
    (tmp_path / "clean.csv").write_text("id,x,channel\na,1,web\nd,13,web\ne,40,web\n")
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() == {"in": 3, "scored": 2, "rejected": 1, "out": 2, "rejected_by_stage": {"model": 1}}


def test_strict_input_check_fails_the_job_with_examples_and_writes_nothing(spark, checked_snapshot, tmp_path):
    result = run_job(_job(checked_snapshot, tmp_path, input_check="strict", output_check="off"), spark=spark)
    assert not result.ok
    assert result.error["code"] == "SCHEMA_VIOLATION"
    assert "2 malformed line(s) do not fit the input schema" in result.error["message"]
    assert "'b,abc,web'" in result.error["message"]
    assert not (tmp_path / "out").exists()


def test_a_check_without_a_schema_is_refused_before_spark_work(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "bare", MODEL)
    result = run_job(_job(snapshot, tmp_path, output_check="off"), spark=spark)
    assert not result.ok
    assert "input schema checking is on (input_schema_check=quarantine) but neither the job nor snapshot" in result.error["message"]


SPARK_MODEL = """
    from pyspark.sql import DataFrame

    # modelop.score
    def action(df: DataFrame) -> DataFrame:
        return df.selectExpr("id", "x * 2 AS doubled")  # SQL text: the same on classic and Connect
"""


def test_a_spark_function_gets_only_valid_rows_and_the_rest_are_quarantined(spark, tmp_path):
    """A Spark model runs on the driver, so its input is filtered (not marked in band): the
    input checks' rows are counted by observations and quarantined by a second read."""
    snapshot = _snapshot_with_schemas(tmp_path / "snap", SPARK_MODEL)
    result = run_job(_job(snapshot, tmp_path), spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() == {
        "in": 8,
        "scored": 3,
        "rejected": 5,
        "out": 3,
        "rejected_by_stage": {"read": 2, "input_schema": 2, "output_schema": 1},
    }
    rejected = {r.id: r._stage for r in spark.read.json(str(tmp_path / "rejected")).collect()}
    assert rejected == {"b": "read", "h": "read", "c": "input_schema", "f": "input_schema", "e": "output_schema"}
    assert sorted(r.id for r in spark.read.parquet(str(tmp_path / "out")).collect()) == ["a", "d", "g"]


def test_strict_output_check_fails_the_job_with_examples_and_writes_nothing(spark, checked_snapshot, tmp_path):
    result = run_job(_job(checked_snapshot, tmp_path, input_check="quarantine", output_check="strict"), spark=spark)
    assert not result.ok
    assert result.error["code"] == "SCHEMA_VIOLATION"
    assert "1 row(s) do not match schema" in result.error["message"]
    assert "doubled: 80.0 is above the maximum 60" in result.error["message"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "rejected").exists()


def test_unknown_json_keys_are_rejected_with_the_raw_line(spark, checked_snapshot, tmp_path):
    """The JSON reader drops keys outside its schema; with extra_fields=reject a JSON Lines input
    is read as text so such a line is quarantined, whole, instead of silently losing the key."""
    lines = [
        '{"id": "a", "x": 1, "channel": "web"}',
        '{"id": "b", "x": 2, "channel": "web", "promo": "SPRING"}',
        '{"id": "c", "x": "two", "channel": "web"}',
        "",
        '{"id": "d",',
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    job = _job(checked_snapshot, tmp_path, output_check="off")
    job["inputs"] = [{"url": str(tmp_path / "in.jsonl"), "format": "json"}]
    job["options"]["extra_fields"] = "reject"
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() == {
        "in": 4, "scored": 1, "rejected": 3, "out": 1, "rejected_by_stage": {"read": 2, "input_schema": 1},
    }  # fmt: skip
    rejected = {r._record: (r._stage, r._reasons) for r in spark.read.json(str(tmp_path / "rejected")).collect()}
    assert rejected[lines[1]] == ("input_schema", ["promo: unknown field, not in the schema"])
    assert rejected[lines[2]][0] == "read" and rejected[lines[4]][0] == "read"


@pytest.mark.parametrize("model", [MODEL, SPARK_MODEL], ids=["record model, in band", "Spark model, filtered"])
def test_schema_checks_on_a_spark_connect_session(connect_spark, tmp_path, model):
    snapshot = _snapshot_with_schemas(tmp_path / "snap", model)
    result = run_job(_job(snapshot, tmp_path), spark=connect_spark)
    assert result.ok, result.error
    assert result.rows.rows_in == 8 == result.rows.rows_scored + result.rows.rows_rejected
    assert result.rows.rejected_by_stage["read"] == 2 and result.rows.rejected_by_stage["input_schema"] == 2
    stages = sorted(r._stage for r in connect_spark.read.json(str(tmp_path / "rejected")).collect())
    assert len(stages) == result.rows.rows_rejected and stages.count("read") == 2


def test_failing_on_model_errors_still_quarantines_rows_the_checks_rejected(spark, checked_snapshot, tmp_path):
    """on_model_error=fail is about the model: rows the input checks rejected never reach it."""
    job = _job(checked_snapshot, tmp_path, output_check="off")
    (tmp_path / "no13.csv").write_text("id,x,channel\na,1,web\nc,-1,web\nf,2,fax\n")
    job["inputs"][0]["url"] = str(tmp_path / "no13.csv")
    job["options"]["on_model_error"] = "fail"
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() == {"in": 3, "scored": 1, "rejected": 2, "out": 1, "rejected_by_stage": {"input_schema": 2}}
    (tmp_path / "with13.csv").write_text("id,x,channel\na,1,web\nd,13,web\n")
    job["inputs"][0]["url"] = str(tmp_path / "with13.csv")
    job["outputs"][0]["url"] = str(tmp_path / "out2")
    failed = run_job(job, spark=spark)
    assert not failed.ok and "unlucky" in failed.error["message"]
