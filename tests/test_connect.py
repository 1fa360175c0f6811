"""The Python API on a Spark Connect session, as notebooks increasingly use."""

from __future__ import annotations

import modelop_spark as ms
from modelop_spark.jobs.runner import run_job
from tests.snapshots import RECORD_MODEL, make_snapshot

BATCH_MODEL = """
import pandas as pd

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"id": df["id"], "doubled": df["x"] * 2})
"""


def test_score_on_a_connect_session(connect_spark, tmp_path):
    assert type(connect_spark).__module__.startswith("pyspark.sql.connect")
    frame = connect_spark.range(30).selectExpr("cast(id as string) as id", "cast(id as double) as x")
    snapshot = make_snapshot(tmp_path / "batch", BATCH_MODEL)
    scored = ms.score(frame, snapshot, key_columns=["id"])
    expected = connect_spark.createDataFrame([(str(i), i * 2.0) for i in range(30)], "id string, doubled double")
    assert sorted((r.id, r.doubled) for r in scored.collect()) == sorted((r.id, r.doubled) for r in expected.collect())


def test_run_job_on_a_connect_session_keeps_rejected_rows(connect_spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "record", RECORD_MODEL, files={"factor.txt": "2"})
    source = str(tmp_path / "numbers")
    connect_spark.range(20).selectExpr("cast(id as string) as id", "cast(id - 1 as double) as x").write.parquet(source)
    document = {
        "job_type": "scoring",
        "snapshot": str(snapshot),
        "inputs": [{"url": source, "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"]},
    }
    result = run_job(document, spark=connect_spark)
    assert result.ok, result.error
    assert (result.rows.rows_in, result.rows.rows_scored, result.rows.rows_rejected) == (20, 19, 1)
    assert connect_spark.read.parquet(str(tmp_path / "out")).count() == 19


def test_udf_and_progress_on_a_connect_session(connect_spark, tmp_path):
    from modelop_spark.progress import watch_progress

    frame = connect_spark.range(10).selectExpr("cast(id as string) as id", "cast(id as double) as x")
    snapshot = make_snapshot(tmp_path / "batch", BATCH_MODEL)
    predict = ms.udf(snapshot, result_type="doubled double", output="doubled")
    with watch_progress(connect_spark, mode="log"):  # no status store on a Connect client: shows nothing
        got = sorted(r.y for r in frame.select(predict(frame.id, frame.x).alias("y")).collect())
    assert got == [i * 2.0 for i in range(10)]
