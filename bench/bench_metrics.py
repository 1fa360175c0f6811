"""Built-in binary evaluation vs Spark ML's evaluators computing the same set, and driver memory.

    python -m bench.bench_metrics [--rows 10000000] [--repeat 2] [--memory-rows 1000000]

Same Parquet input for both sides (label, score, prediction, probability vector):
- ours: ``modelop_spark.evaluation.evaluate`` (binary): confusion matrix at 0.5, accuracy, precision,
  recall, F1, ROC + AUC, PR + average precision, log loss, calibration bins, in one aggregation;
- Spark ML: ``BinaryClassificationEvaluator`` (areaUnderROC, areaUnderPR) and
  ``MulticlassClassificationEvaluator`` (accuracy, weightedPrecision, weightedRecall, f1, logLoss,
  precisionByLabel, recallByLabel, fMeasureByLabel), one ``evaluate`` call per metric as Spark ML
  is used. Target: ours / Spark ML <= 1.0.
Driver memory: the Python driver's peak RSS while evaluating ``--memory-rows`` and ``--rows``
rows, each in its own process (target: flat, as only bounded aggregates reach the driver).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONF = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8", "spark.driver.memory": "6g"}


def _session():
    from modelop_spark.runtime.session import get_or_create_session

    return get_or_create_session(master="local[2]", conf=CONF)


def _make_input(spark, path: str, rows: int) -> None:
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    label = (F.rand(1) < 0.3).cast("double")
    frame = spark.range(rows, numPartitions=8).select(label.alias("label"))
    score = F.least(F.greatest(F.randn(2) * 0.2 + 0.35 + 0.3 * F.col("label"), F.lit(0.0)), F.lit(1.0))
    frame = frame.select("label", score.alias("score"))
    frame.select(
        "label", "score",
        (F.col("score") >= 0.5).cast("double").alias("prediction"),
        array_to_vector(F.array(1 - F.col("score"), F.col("score"))).alias("probability"),
    ).write.mode("overwrite").parquet(path)


def _ours(spark, path: str) -> dict:
    from modelop_spark.evaluation import EvaluationColumns, EvaluationOptions, evaluate

    return evaluate(spark.read.parquet(path), columns=EvaluationColumns(label="label", score="score"),
                    options=EvaluationOptions(kind="binary"))


def _spark_ml(spark, path: str) -> dict:
    from pyspark.ml.evaluation import (
        BinaryClassificationEvaluator,
        MulticlassClassificationEvaluator,
    )

    df = spark.read.parquet(path)
    out = {}
    binary = BinaryClassificationEvaluator(labelCol="label", rawPredictionCol="score")
    for metric in ("areaUnderROC", "areaUnderPR"):
        out[metric] = binary.setMetricName(metric).evaluate(df)
    multi = MulticlassClassificationEvaluator(labelCol="label", predictionCol="prediction", probabilityCol="probability")
    for metric in ("accuracy", "weightedPrecision", "weightedRecall", "f1", "logLoss"):
        out[metric] = multi.setMetricName(metric).evaluate(df)
    for metric in ("precisionByLabel", "recallByLabel", "fMeasureByLabel"):
        out[metric] = multi.setMetricName(metric).setMetricLabel(1.0).evaluate(df)
    return out


def _timed(fn, *args, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _memory_probe(path: str) -> None:
    """Run in a child process: print the Python driver's peak RSS before and after evaluating."""
    spark = _session()
    spark.read.parquet(path).limit(1).collect()  # warm up the session and the reader
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _ours(spark, path)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "after_kib": after}))
    spark.stop()


def _probe(path: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.bench_metrics", "--memory-probe", path],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        _memory_probe(args.memory_probe)
        return 0

    work = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    try:
        spark = _session()
        big, small = str(work / "big"), str(work / "small")
        _make_input(spark, big, args.rows)
        _ours(spark, big)  # warm-up (JIT, first-job costs) for both sides
        ours_s, doc = _timed(_ours, spark, big, repeat=args.repeat)
        spark_s, ml = _timed(_spark_ml, spark, big, repeat=args.repeat)
        b, t = doc["binary"], doc["binary"]["thresholds"][0]
        print(f"rows {args.rows:,}  repeat {args.repeat} (median)")
        print(f"  built-in evaluation     {ours_s:8.2f} s")
        print(f"  Spark ML evaluators     {spark_s:8.2f} s")
        print(f"  ratio ours / Spark ML   {ours_s / spark_s:8.2f}x  (target <= 1.0)")
        print(f"  AUC ours {b['roc_auc']:.5f} vs Spark ML {ml['areaUnderROC']:.5f}; "
              f"AP {b['average_precision']:.5f} vs areaUnderPR {ml['areaUnderPR']:.5f}")
        print(f"  accuracy {t['accuracy']:.5f} vs {ml['accuracy']:.5f}; log loss {b['log_loss']:.5f} vs {ml['logLoss']:.5f}; "
              f"F1(1) {t['f1']:.5f} vs {ml['fMeasureByLabel']:.5f}")
        _make_input(spark, small, args.memory_rows)
        spark.stop()
        small_m, big_m = _probe(small), _probe(big)
        grow_small = small_m["after_kib"] - small_m["before_kib"]
        grow_big = big_m["after_kib"] - big_m["before_kib"]
        print(f"driver (Python) peak RSS: {args.memory_rows:,} rows {small_m['after_kib'] / 1024:.0f} MiB "
              f"(+{grow_small / 1024:.1f} MiB while evaluating); {args.rows:,} rows {big_m['after_kib'] / 1024:.0f} MiB "
              f"(+{grow_big / 1024:.1f} MiB)")
        print(f"  ratio peak {args.rows:,} / {args.memory_rows:,} rows: {big_m['after_kib'] / small_m['after_kib']:.2f}x (target flat, ~1.0)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
