"""Scoring throughput: modelop_spark's Arrow path against what users run today.

    python -m bench.bench_scoring [--rows N]

Same fraud model, same machine, measured in this run, in two like-for-like pairs:
1. a vectorised model over --rows rows: modelop_spark's batch function (``action(df)`` through
   mapInArrow, init once per worker) against the usual hand-written Spark job, a row-at-a-time
   Python UDF with the model broadcast;
2. an unchanged ModelOp record function (``score(record)`` wrapping the same model) over
   --record-rows rows: run by modelop_spark on Spark against the original runtime's way, one
   record at a time on one machine.
Prints seconds and, for each pair, the peer's time as a multiple of ours (higher: we are faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RECORD_WRAPPER = '''
import pandas as pd
import fraud_model

# modelop.init
def begin():
    fraud_model.begin()

# modelop.score
def score(record):
    frame = pd.DataFrame([record])
    yield fraud_model.action(frame).iloc[0].to_dict()
'''


def _build(rows: int, out: Path) -> Path:
    spec = importlib.util.spec_from_file_location("fraud_build", ROOT / "examples" / "fraud" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(out, rows=rows)


def _timed(label: str, run) -> float:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    print(f"  {label:<40} {seconds:8.2f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--record-rows", type=int, default=10_000, help="rows for the record-function pair (slow on both sides)")
    args = parser.parse_args()

    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType

    import modelop_spark as ms
    from modelop_spark.runtime.session import get_or_create_session

    work = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    snapshot = _build(args.rows, work)
    record_snapshot = work / "record_snapshot"
    record_snapshot.mkdir()
    for name in ("fraud_model.py", "model.pkl"):
        (record_snapshot / name).write_bytes((snapshot / name).read_bytes())
    (record_snapshot / "wrapper.py").write_text(RECORD_WRAPPER)
    (record_snapshot / "snapshot.json").write_text('{"name": "record", "source": "wrapper.py"}')

    spark = get_or_create_session(conf={"spark.sql.shuffle.partitions": "4"})
    frame = spark.read.csv(str(work / "data" / "transactions.csv"), header=True, inferSchema=True).fillna({"amount": 0.0})
    frame = frame.repartition(4).cache()
    rows = frame.count()
    print(f"scoring {rows} rows on {spark.sparkContext.defaultParallelism} cores", flush=True)
    sink = lambda df: df.write.format("noop").mode("overwrite").save()  # noqa: E731

    ours = _timed("modelop_spark batch function", lambda: sink(ms.score(frame, snapshot, key_columns=["transaction_id"])))

    with (snapshot / "model.pkl").open("rb") as handle:
        model = spark.sparkContext.broadcast(pickle.load(handle))
    features = ["amount", "merchant_category", "hour", "distance_from_home_km", "is_online", "card_age_days", "transactions_last_24h"]

    @F.udf(DoubleType())
    def row_udf(*values):
        import pandas as pd

        return float(model.value.predict_proba(pd.DataFrame([values], columns=features))[0, 1])

    udf_seconds = _timed("peer: Spark row-at-a-time UDF", lambda: sink(frame.select("transaction_id", row_udf(*features).alias("p"))))

    import sys

    sys.path.insert(0, str(record_snapshot))
    import os

    previous = os.getcwd()
    os.chdir(record_snapshot)
    wrapper = importlib.import_module("wrapper")
    wrapper.begin()
    sample = pd.read_csv(work / "data" / "transactions.csv", nrows=args.record_rows).fillna({"amount": 0.0})

    def one_machine():
        for record in sample.to_dict("records"):
            list(wrapper.score(record))

    one_machine_seconds = _timed(f"peer: ModelOp one machine, {len(sample)} rows", one_machine)
    os.chdir(previous)
    records = frame.limit(len(sample)).repartition(4).cache()
    records.count()
    ours_record = _timed(f"modelop_spark record function, {len(sample)} rows", lambda: sink(ms.score(records, record_snapshot, key_columns=["transaction_id"])))
    print("peer time / modelop_spark time (higher: modelop_spark is faster):")
    print(f"  vectorised model vs Spark row-at-a-time UDF ({rows} rows)      {udf_seconds / ours:6.1f}x")
    print(f"  ModelOp record function vs one machine ({len(sample)} rows)     {one_machine_seconds / ours_record:6.1f}x")


if __name__ == "__main__":
    main()
