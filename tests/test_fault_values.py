"""No silent change of a value: the output types learned from the driver's sample are widened
over the sample, never narrowed; a later value that does not fit, or a key the sample never
had, rejects its input row with the reason. Nothing is cast to 0, wrapped or dropped."""

from __future__ import annotations

import pytest

from modelop_spark.jobs.runner import run_job
from modelop_spark.runtime.sampling import infer_record_schema
from tests.snapshots import make_snapshot

LATER = "record['x'] >= 30"  # the sample is the first 20 rows


def test_sampled_types_are_widened_not_failed():
    schema = infer_record_schema([{"a": 1}, {"a": 2.5, "b": "x"}, {"a": 3, "b": None}])
    assert str(schema.field("a").type) == "double" and str(schema.field("b").type) == "string"


@pytest.fixture
def run(spark, tmp_path):
    rows = str(tmp_path / "rows")
    spark.range(40).selectExpr("cast(id as string) as id", "cast(id as long) as x").coalesce(1).write.parquet(rows)

    def run(score_body: str, shape: str = "record"):
        header = "# modelop.score\ndef score(record):\n" if shape == "record" else "import pandas as pd\n\n# modelop.score\ndef score(df: pd.DataFrame) -> pd.DataFrame:\n"
        job = {
            "job_id": "values",
            "job_type": "scoring",
            "snapshot": str(make_snapshot(tmp_path / f"model-{abs(hash(score_body))}", header + score_body)),
            "inputs": [{"url": rows, "format": "parquet"}],
            "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
            "options": {"key_columns": ["id"]},
        }
        result = run_job(job, spark=spark)
        assert result.ok, result.error
        scored = {r.id: r for r in spark.read.parquet(str(tmp_path / "out")).collect()}
        rejected = {r.id: r._reasons[0] for r in spark.read.json(result.rejected_output.location).collect()} if result.rejected_output else {}
        assert result.rows.rows_in == len(scored) + len(rejected) == 40
        return scored, rejected

    return run


def test_floats_after_an_integer_sample_are_rejected_not_written_as_zero(run):
    scored, rejected = run(f"    yield {{'y': record['x'] + (0.5 if {LATER} else 0)}}\n")
    assert scored["29"].y == 29 and set(rejected) == {str(i) for i in range(30, 40)}
    assert rejected["31"].startswith("output field y:")


def test_a_value_past_the_learned_range_is_rejected_not_wrapped(run):
    scored, rejected = run(f"    yield {{'y': 2**70 if {LATER.replace('30', '35')} else record['x']}}\n")
    assert set(rejected) == {str(i) for i in range(35, 40)} and scored["34"].y == 34


def test_a_key_that_appears_after_the_sample_rejects_its_row_naming_it(run):
    scored, rejected = run(f"    out = {{'y': record['x']}}\n    if {LATER}:\n        out['late'] = 1\n    yield out\n")
    assert len(scored) == 30
    assert "'late' is not among the output columns learned from the first rows (id, y)" in rejected["30"]


def test_mixed_types_inside_the_sample_widen_instead_of_failing_the_job(run):
    scored, rejected = run("    yield {'y': record['x'] / 2 if record['x'] % 2 else record['x']}\n")
    assert rejected == {} and scored["3"].y == 1.5 and scored["4"].y == 4.0


def test_a_batch_function_value_that_does_not_fit_is_rejected_not_cast(run):
    body = "    import numpy as np\n    y = df['x'].astype('int64')\n    if (df['x'] >= 30).any():\n        y = np.where(df['x'] == 33, 1e30, df['x'])\n    return df[['id']].assign(y=y)\n"
    scored, rejected = run(body, shape="batch")
    assert list(rejected) == ["33"] and scored["32"].y == 32


def test_a_declared_output_schema_types_the_columns_the_sample_would_have_guessed(spark, tmp_path):
    rows = str(tmp_path / "rows")
    spark.range(40).selectExpr("cast(id as string) as id", "cast(id as long) as x").coalesce(1).write.parquet(rows)
    schema = {"type": "record", "name": "out", "fields": [{"name": "y", "type": ["null", "double"]}]}
    job = {
        "job_id": "declared",
        "job_type": "scoring",
        "snapshot": str(make_snapshot(tmp_path / "model", f"# modelop.score\ndef score(record):\n    yield {{'y': record['x'] + (0.5 if {LATER} else 0)}}\n")),
        "model": {"output_schema": schema},
        "inputs": [{"url": rows, "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"]},
    }
    result = run_job(job, spark=spark)
    assert result.ok and result.rows.rows_rejected == 0, result.error
    assert sorted(r.y for r in spark.read.parquet(str(tmp_path / "out")).collect())[-1] == 39.5
