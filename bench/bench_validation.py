"""Cost of schema validation on a scoring job, as a ratio to the same job without it.

    python -m bench.bench_validation [--rows 1000000] [--repeat 2]

Two pipelines, each on a clean input and on one with 0.1% broken rows (negative amounts):
- ``run_job``: the whole scoring job as a user runs it (Parquet in, a pandas batch model, Parquet
  out), with input and output schema checks ``off`` and ``quarantine``. This is the target's
  figure: rejected input rows travel marked through the one model pass, which sets them aside.
- the filtered library pipeline: read -> ``validate(...).valid`` -> an Arrow stand-in model
  (``mapInArrow``, almost free, so the worst case for the ratio) -> ``validate`` -> write. This
  is the path a Spark model function takes: counts come from Spark observations and the
  quarantine reads the input again only when a check saw a rejected row.
Target: validated / plain <= 1.15 for the scoring job. Times are medians of interleaved runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from modelop_spark.schema import load_schema, to_avro, validate

INPUT = load_schema(
    {
        "type": "record",
        "name": "Tx",
        "fields": [
            {"name": "id", "type": "long", "role": "identifier"},
            {"name": "amount", "type": "double", "minimum": 0},
            {"name": "channel", "type": {"type": "enum", "name": "Channel", "symbols": ["web", "store", "phone"]}},
            {"name": "country", "type": ["null", "string"], "pattern": "^[A-Z]{2}$"},
            {"name": "n_items", "type": ["null", "int"]},
            {"name": "opened", "type": ["null", {"type": "int", "logicalType": "date"}]},
        ],
    }
)
OUTPUT = load_schema(
    {
        "type": "record",
        "name": "Scores",
        "fields": [
            {"name": "id", "type": "long", "role": "identifier"},
            {"name": "probability", "type": "double", "minimum": 0, "maximum": 1, "role": "score"},
        ],
    }
)


def _make_input(spark, path: str, rows: int, *, broken_every: int | None) -> None:
    from pyspark.sql import functions as F

    i = F.col("id")
    amount = (i % 997) / 10.0
    if broken_every:  # negative amounts break the input schema's minimum
        amount = F.when(i % broken_every == 7, F.lit(-1.0)).otherwise(amount)
    spark.range(rows, numPartitions=4).select(
        i,
        amount.alias("amount"),
        F.element_at(F.array(F.lit("web"), F.lit("store"), F.lit("phone")), (i % 3 + 1).cast("int")).alias("channel"),
        F.when(i % 10 == 0, F.lit(None)).otherwise(F.lit("FR")).alias("country"),
        (i % 7).cast("int").alias("n_items"),
        F.date_add(F.lit("2024-01-01").cast("date"), (i % 365).cast("int")).alias("opened"),
    ).write.mode("overwrite").parquet(path)


def _score(batches):
    """A stand-in model: a logistic score computed with Arrow, as a batch model would."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for batch in batches:
        z = pc.add(pc.multiply(batch.column("amount"), -0.05), pc.multiply(pc.cast(batch.column("n_items"), pa.float64()), 0.3))
        probability = pc.divide(1.0, pc.add(1.0, pc.exp(pc.negate(z))))
        yield pa.RecordBatch.from_arrays([batch.column("id"), probability], names=["id", "probability"])


def _scored(df):
    return df.select("id", "amount", "n_items").mapInArrow(_score, "id bigint, probability double")


def plain_job(spark, source: str, out: Path) -> dict[str, int]:
    _scored(spark.read.parquet(source)).write.mode("overwrite").parquet(str(out / "plain"))
    return {}


def validated_job(spark, source: str, out: Path) -> dict[str, int]:
    checked_in = validate(spark.read.parquet(source), INPUT, mode="quarantine", stage="input_schema", key_columns=["id"])
    scored = _scored(checked_in.valid)
    checked_out = validate(scored, OUTPUT, mode="quarantine", stage="output_schema", key_columns=["id"])
    checked_out.valid.write.mode("overwrite").parquet(str(out / "valid"))
    # The write filled both observations: counts without another pass, and the quarantine is
    # only computed when a check saw a rejected row.
    parts = [r for r in (checked_in.rejected_if_any(), checked_out.rejected_if_any()) if r is not None]
    if parts:
        quarantine = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
        quarantine.write.mode("overwrite").parquet(str(out / "quarantine"))
    counts_in, counts_out = checked_in.counts(), checked_out.counts()
    return {"rows": counts_in.rows, "scored": counts_out.valid, "rejected": counts_in.rejected + counts_out.rejected}


def _timed(fn, *args) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    counts = fn(*args)
    return time.perf_counter() - start, counts


BATCH_MODEL = """
import numpy as np
import pandas as pd

# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    z = -0.05 * df["amount"] + 0.3 * df["n_items"]
    return pd.DataFrame({"probability": 1.0 / (1.0 + np.exp(-z))})
"""


def _runner_snapshot(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(BATCH_MODEL)
    (folder / "input_schema.avsc").write_text(json.dumps(to_avro(INPUT)))
    (folder / "output_schema.avsc").write_text(json.dumps(to_avro(OUTPUT)))
    manifest = {
        "name": "bench", "version": "1.0.0", "source": "model.py", "functions": {"score": "action"},
        "shapes": {"score": "batch"}, "schemas": {"input": "input_schema.avsc", "output": "output_schema.avsc"},
    }  # fmt: skip
    (folder / "snapshot.json").write_text(json.dumps(manifest))
    return folder


def runner_job(spark, snapshot: Path, source: str, out: Path, check: str) -> dict[str, int]:
    """The whole scoring job through ``run_job``, as a user runs it."""
    from modelop_spark.jobs.runner import run_job

    job = {
        "job_id": f"bench-{check}",
        "job_type": "scoring",
        "snapshot": str(snapshot),
        "inputs": [{"url": source, "format": "parquet"}],
        "outputs": [{"url": str(out / f"runner-{check}"), "format": "parquet"}],
        "rejected_output": {"url": str(out / f"runner-{check}-rejected"), "format": "parquet"},
        "options": {"key_columns": ["id"], "input_schema_check": check, "output_schema_check": check},
    }
    result = run_job(job, spark=spark)
    if not result.ok:
        raise RuntimeError(result.error)
    return {"rows": result.rows.rows_in, "scored": result.rows.rows_scored, "rejected": result.rows.rows_rejected}


def _compare(label: str, rows: int, repeat: int, plain, checked) -> None:
    for _ in range(2):  # warm up both alike: Python workers, file listing, the JVM's JIT
        plain(), checked()
    p_times, c_times = [], []
    counts: dict[str, int] = {}
    for _ in range(repeat):  # interleaved, so changes in machine load hit both alike
        seconds, _ = _timed(plain)
        p_times.append(seconds)
        seconds, counts = _timed(checked)
        c_times.append(seconds)
    assert counts["rows"] == rows == counts["scored"] + counts["rejected"], counts
    p, c = statistics.median(p_times), statistics.median(c_times)
    print(f"{label}: {rows:,} rows, {counts['scored']:,} scored, {counts['rejected']:,} rejected")
    print(f"  without validation: {p:.2f} s; with input + output validation and quarantine: {c:.2f} s (medians of {repeat})")
    print(f"  validation cost ratio: {c / p:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from modelop_spark.runtime.session import get_or_create_session

    spark = get_or_create_session(
        master="local[2]", conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    )
    spark.sparkContext.setLogLevel("ERROR")
    work = Path(tempfile.mkdtemp(prefix="bench-validation-"))
    try:
        source = str(work / "input")
        snapshot = _runner_snapshot(work / "snapshot")
        for label, broken_every in (("clean input", None), ("0.1% broken rows", 1000)):
            _make_input(spark, source, args.rows, broken_every=broken_every)
            _compare(
                f"run_job, pandas batch model, {label}", args.rows, args.repeat,
                lambda: runner_job(spark, snapshot, source, work, "off"),
                lambda: runner_job(spark, snapshot, source, work, "quarantine"),
            )  # fmt: skip
            _compare(
                f"filtered library pipeline, Arrow stand-in model (worst case), {label}", args.rows, args.repeat,
                lambda: plain_job(spark, source, work) or {},
                lambda: validated_job(spark, source, work),
            )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
