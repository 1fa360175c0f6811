"""One decision of output types for every scoring path (record, batch lined up with its rows: the
Arrow UDF, batch not lined up, batch_iter, compiled): types widen over the driver's whole sample;
a later value is written as produced or converted losslessly, else its row is rejected with the
reason, never cast (an object column's 30.7 is not 30). Types in the sample that no one type fits
fail the job before anything is written, naming the column, unless an output schema declares it."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType

from modelop_spark.jobs.runner import run_job
from modelop_spark.runtime.compiled.spark_plan import compiled_scores
from modelop_spark.runtime.compiled.translate import CompiledModel
from modelop_spark.runtime.output_types import conform, decide_type
from tests.snapshots import make_snapshot

BATCH = "import pandas as pd\nfrom typing import Iterator\n\n# modelop.score\ndef score(df: pd.DataFrame) -> pd.DataFrame:\n"
ITER = "import pandas as pd\nfrom typing import Iterator\n\n# modelop.score\ndef score(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:\n"
# The model's column as Python objects (an object column): 0..29 integers, 30.7.. floats later.
LATE_FLOATS = "pd.Series([x + 0.7 if x >= 30 else x for x in df['x']], dtype=object, index=df.index)"
# Integers and strings inside the sample (the first 20 rows).
MIXED = "pd.Series([x if x % 2 else str(x) for x in df['x']], dtype=object, index=df.index)"

PATHS = {
    "record": ("# modelop.score\ndef score(record):\n    x = record['x']\n", "    yield {{'y': {value}}}\n"),
    "batch aligned (Arrow UDF)": (BATCH, "    return pd.DataFrame({{'y': {series}}})\n"),
    "batch with keys": (BATCH, "    return pd.DataFrame({{'id': df['id'], 'y': {series}}})\n"),
    "batch_iter": (ITER + "    for df in frames:\n", "        yield pd.DataFrame({{'id': df['id'], 'y': {series}}})\n"),
}
RECORD_VALUES = {LATE_FLOATS: "x + 0.7 if x >= 30 else x", MIXED: "x if x % 2 else str(x)"}


def source(path: str, series: str) -> str:
    head, body = PATHS[path]
    return head + body.format(value=RECORD_VALUES[series], series=series)


@pytest.fixture
def run(spark, tmp_path):
    rows = str(tmp_path / "rows")
    spark.range(40).selectExpr("cast(id as string) as id", "id as x").coalesce(1).write.parquet(rows)

    def run(code: str, *, output_schema=None):
        out = tmp_path / f"out-{abs(hash(code))}"
        job = {
            "job_id": "types",
            "job_type": "scoring",
            "snapshot": str(make_snapshot(tmp_path / f"model-{abs(hash(code))}", code)),
            "inputs": [{"url": rows, "format": "parquet"}],
            "outputs": [{"url": str(out), "format": "parquet"}],
            "options": {"key_columns": ["id"], "arrow_batch_size": 10, "scoring_path": "python"},
        }
        if output_schema:
            job["model"] = {"output_schema": output_schema}
        result = run_job(job, spark=spark)
        if not result.ok:
            return result, None, None
        scored = {r.id: r.y for r in spark.read.parquet(str(out)).collect()}
        rejected = {r.id: r._reasons[0] for r in spark.read.json(result.rejected_output.location).collect()} if result.rejected_output else {}
        assert result.rows.rows_in == len(scored) + len(rejected) == 40
        return result, scored, rejected

    return run


@pytest.mark.parametrize("path", list(PATHS))
def test_a_float_after_an_integer_sample_is_rejected_never_cast(run, path):
    result, scored, rejected = run(source(path, LATE_FLOATS))
    assert result.ok, result.error
    assert scored == {str(i): i for i in range(30)}  # written as produced
    assert set(rejected) == {str(i) for i in range(30, 40)}
    assert rejected["31"].startswith("output field y:") and "float" in rejected["31"]


@pytest.mark.parametrize("path", list(PATHS))
def test_integers_and_strings_in_the_sample_fail_before_writing_naming_the_column(run, path):
    result, _, _ = run(source(path, MIXED))
    assert result.status == "ERROR" and result.error["code"] == "SCHEMA_VIOLATION"
    message = result.error["message"]
    assert message.startswith("output column 'y': the first rows' outputs hold ")
    assert "integer" in message and "string" in message and "declare the column's type in the snapshot's output schema" in message


def test_a_declared_string_column_takes_the_numbers_as_their_text(run):
    schema = {"type": "record", "name": "out", "fields": [{"name": "y", "type": ["null", "string"]}]}
    result, scored, rejected = run(source("record", MIXED), output_schema=schema)
    assert result.ok and rejected == {}, result.error
    assert scored["3"] == "3" and scored["4"] == "4"


def test_the_decision_widens_numbers_and_never_narrows():
    assert decide_type("y", [pa.int64(), pa.float64()]) == pa.float64()
    assert decide_type("y", [pa.int32(), pa.int64(), pa.null()]) == pa.int64()
    with pytest.raises(pa.ArrowInvalid):  # a boolean is not a number here: not written as 1.0
        conform(pa.array([True]), pa.field("y", pa.float64()))
    with pytest.raises(pa.ArrowInvalid):  # 2**53 + 1 has no exact double
        conform(pa.array([2**53 + 1]), pa.field("y", pa.float64()))


def test_the_compiled_path_rejects_a_fraction_where_the_sample_typed_an_integer(spark):
    """A compiled plan whose value is not whole where the Python path's sample said integer: the
    row is rejected with the reason (Spark's cast would have truncated it)."""
    df = spark.createDataFrame([(str(i), float(i) + (0.7 if i >= 3 else 0.0)) for i in range(5)], "id string, x double")
    compiled = CompiledModel(features={"x": "double"}, layers=((("variable", "`x`"),),), outputs=("variable",))
    schema = StructType([
        StructField("id", StringType()), StructField("y", LongType()),
        *[StructField(n, t) for n, t in (("_ms_kind", StringType()), ("_ms_n", LongType()), ("_ms_reason", StringType()), ("_ms_record", StringType()))],
    ])  # fmt: skip
    rows = {r.id: r for r in compiled_scores(df, compiled, outputs={"y": "variable"}, schema=schema, key_columns=["id"]).collect()}
    assert [rows[str(i)].y for i in range(3)] == [0, 1, 2] and {rows[str(i)]._ms_kind for i in range(3)} == {"out"}
    assert rows["3"]._ms_kind == "model" and rows["3"].y is None
    assert "output field y: a float value where the output column is integer" in rows["4"]._ms_reason
