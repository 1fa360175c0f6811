"""Malformed and odd input data is rejected with its raw text, not reshaped: CSV fields holding
newlines and doubled quotes, lines with extra or missing fields, broken JSON lines, dotted column
names, a file whose content is not its extension's format."""

from __future__ import annotations

import json

import pytest

from modelop_spark.jobs.runner import run_job
from tests.snapshots import make_snapshot

ECHO = """
# modelop.score
def score(record):
    yield {"seen": json.dumps(record, sort_keys=True)}

import json
"""


@pytest.fixture
def job(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "model", ECHO)

    def job(url: str, key: str = "id", **asset):
        document = {
            "job_id": "data",
            "job_type": "scoring",
            "snapshot": str(snapshot),
            "inputs": [{"url": url, **asset}],
            "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
            "options": {"key_columns": [key]},
        }
        result = run_job(document, spark=spark)
        seen = [json.loads(r.seen) for r in spark.read.parquet(str(tmp_path / "out")).collect()] if result.ok else []
        rejected = spark.read.json(result.rejected_output.location).collect() if result.ok and result.rejected_output else []
        return result, seen, rejected

    return job


def test_csv_fields_with_newlines_and_doubled_quotes_are_one_record_each(job, tmp_path):
    lines = ["id,note"] + [f'{i},"line one\nline two of {i}, with ""quotes"""' for i in range(1000)]
    (tmp_path / "notes.csv").write_text("\n".join(lines) + "\n")
    result, seen, rejected = job(str(tmp_path / "notes.csv"))
    assert result.ok, result.error
    assert result.rows.rows_in == 1000 and len(seen) == 1000 and rejected == []
    assert {"id": 7, "note": 'line one\nline two of 7, with "quotes"'} in seen


def test_csv_lines_with_extra_or_missing_fields_are_quarantined_with_their_text(job, tmp_path):
    (tmp_path / "in.csv").write_text("id,x\n1,10\n2,20,oops\n3\n4,40\n")
    result, seen, rejected = job(str(tmp_path / "in.csv"))
    assert result.ok, result.error
    assert result.rows.to_dict() == {"in": 4, "scored": 2, "rejected": 2, "out": 2, "rejected_by_stage": {"read": 2}}
    assert sorted(r["id"] for r in seen) == [1, 4]
    assert {r._record: r._reasons[0] for r in rejected} == {
        "2,20,oops": "malformed CSV record: does not fit the schema (extra fields)",
        "3": "malformed CSV record: does not fit the schema (empty or unparsed: x)",
    }


def test_a_broken_json_line_is_quarantined_not_scored_as_nulls(job, tmp_path):
    (tmp_path / "in.json").write_text('{"id": 1, "x": 1}\n{"id": 2, "x": \n{"id": 3, "x": 3}\n')
    result, seen, rejected = job(str(tmp_path / "in.json"))
    assert result.ok, result.error
    assert sorted(r["id"] for r in seen) == [1, 3]
    assert [(r._stage, r._record) for r in rejected] == [("read", '{"id": 2, "x": ')]


def test_dotted_and_odd_column_names_work_as_data_and_as_keys(job, tmp_path):
    (tmp_path / "in.csv").write_text("user.id,amount (EUR),x`y\n1,2.5,a\n2,3.5,b\n")
    result, seen, _ = job(str(tmp_path / "in.csv"), key="user.id")
    assert result.ok, result.error
    assert sorted(seen, key=lambda r: r["user.id"])[0] == {"user.id": 1, "amount (EUR)": 2.5, "x`y": "a"}


def test_a_parquet_file_named_csv_is_one_clear_line(spark, job, tmp_path):
    spark.range(3).coalesce(1).write.parquet(str(tmp_path / "p"))
    (part,) = (tmp_path / "p").glob("part-*.parquet")
    part.rename(tmp_path / "data.csv")
    result, _, _ = job(str(tmp_path / "data.csv"))
    assert result.error["message"] == f"input {tmp_path / 'data.csv'}: {tmp_path / 'data.csv'} is parquet, not csv; set the asset's format to match the file"


def test_an_empty_input_with_allow_empty_input_and_an_output_schema_writes_an_empty_output(spark, tmp_path):
    (tmp_path / "in.csv").write_text("id,x\n")
    schema = {"type": "record", "name": "scores", "fields": [{"name": "seen", "type": ["null", "string"]}]}
    document = {
        "job_id": "empty",
        "job_type": "scoring",
        "snapshot": str(make_snapshot(tmp_path / "model", ECHO)),
        "model": {"output_schema": schema},
        "inputs": [{"url": str(tmp_path / "in.csv")}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"], "allow_empty_input": True},
    }
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    assert result.rows.rows_in == 0
    assert spark.read.parquet(str(tmp_path / "out")).columns == ["id", "seen"]
