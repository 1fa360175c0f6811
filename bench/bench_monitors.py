"""Built-in data-drift and performance monitors vs the same figures with pandas/scipy in one process.

    python -m bench.bench_monitors [--rows 1000000 10000000] [--memory-probe ROWS]

The data is generated on Spark (``spark.range``), no files: a baseline and a comparator of the
same row count (the comparator shifted), with two numerical fields (one continuous, one with
ties), a categorical one, a label and a score.
- ours: ``run_monitor("data-drift")`` (PSI, JS distance and the exact KS per numerical field,
  chi-square/PSI/JS for the categorical one) and ``run_monitor("performance")``: only bounded
  aggregates reach the driver;
- peer: what ModelOp's own monitors do: ``toPandas()`` of both frames (Arrow on), then
  ``scipy.stats.ks_2samp(method="asymp")``, numpy histograms on our bin edges for PSI and
  ``scipy.spatial.distance.jensenshannon``, ``chi2_contingency``, scikit-learn's AUC/F1/precision/
  recall: the whole data in one process.
Printed per row count: both times and their ratio, the largest difference of every figure
(target: equal; AUC within the 10,000 score bins' tie error), and the Python driver's peak RSS
with each (child process per measure; target: ours flat from 1M to 10M rows).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

CONF = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8", "spark.driver.memory": "6g",
        "spark.sql.execution.arrow.pyspark.enabled": "true"}
FIELDS = ("x_cont", "x_ties", "segment")


def _session():
    from modelop_spark.runtime.session import get_or_create_session

    return get_or_create_session(master="local[2]", conf=CONF)


def _frames(spark, rows: int):
    from pyspark.sql import functions as F

    def side(seed: int, shift: float):
        base = spark.range(rows, numPartitions=8)
        label = (F.rand(seed) < 0.3).cast("int")
        score = F.least(F.greatest(F.randn(seed + 1) * 0.2 + 0.35 + 0.3 * F.col("label"), F.lit(0.0)), F.lit(1.0))
        segment = F.element_at(F.array(*[F.lit(s) for s in "ABCDE"]), (F.rand(seed + 2) * (5 - shift)).cast("int") + 1)
        return base.select(
            (F.randn(seed + 3) + F.lit(shift)).alias("x_cont"),
            F.round(F.randn(seed + 4) * 10 + F.lit(shift * 5)).alias("x_ties"),
            segment.alias("segment"), label.alias("label"),
        ).withColumn("score", score)

    return side(1, 0.0), side(11, 0.1)


def _config():
    from modelop_spark.evaluation.monitor_config import MonitorConfig

    return MonitorConfig(numerical=FIELDS[:2], categorical=FIELDS[2:], score="score", label="label")


def _ours(spark, rows: int) -> dict:
    from modelop_spark.evaluation.monitors import run_monitor

    baseline, comparator = _frames(spark, rows)
    return {"drift": run_monitor("data-drift", baseline=baseline, comparator=comparator, config=_config()),
            "performance": run_monitor("performance", comparator=comparator, config=_config())}


def _pandas_scipy(spark, rows: int, edges: dict) -> dict:
    """ModelOp's way: both frames to pandas, then scipy/scikit-learn on the whole data."""
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    from modelop_spark.evaluation.drift import psi

    baseline, comparator = (f.toPandas() for f in _frames(spark, rows))
    out: dict = {}
    for name in FIELDS[:2]:
        b, c = baseline[name].to_numpy(), comparator[name].to_numpy()
        ks = stats.ks_2samp(b, c, method="asymp")
        e = np.asarray(edges[name])
        hb = np.bincount(np.searchsorted(e, b, side="right"), minlength=len(e) + 1).astype(float)
        hc = np.bincount(np.searchsorted(e, c, side="right"), minlength=len(e) + 1).astype(float)
        out[name] = {"ks_statistic": float(ks.statistic), "ks_p_value": float(ks.pvalue), "psi": psi(hb, hc),
                     "js_distance": float(jensenshannon(hb, hc, base=2))}
    counts = np.array([baseline.segment.value_counts().sort_index(), comparator.segment.value_counts().sort_index()])
    out["segment"] = {"chi_square_p_value": float(stats.chi2_contingency(counts, correction=False).pvalue),
                      "psi": psi(counts[0].astype(float), counts[1].astype(float)),
                      "js_distance": float(jensenshannon(counts[0], counts[1], base=2))}
    y, p = comparator.label.to_numpy(), comparator.score.to_numpy()
    predicted = p >= 0.5
    out["performance"] = {"auc": float(roc_auc_score(y, p)), "f1": float(f1_score(y, predicted)),
                          "precision": float(precision_score(y, predicted)), "recall": float(recall_score(y, predicted))}
    return out


def _differences(ours: dict, peer: dict) -> dict[str, float]:
    m, perf = ours["drift"]["metrics"], ours["performance"]["metrics"]
    diffs: dict[str, float] = {}
    for name, figures in peer.items():
        for key, value in figures.items():
            mine = perf[key] if name == "performance" else m[f"{name}_{key}"]
            rel = abs(mine - value) / max(abs(value), 1e-300)
            diffs[f"{name}.{key}"] = abs(mine - value) if key in ("ks_statistic", "auc") else rel
    return diffs


def _memory_probe(rows: int, side: str) -> None:
    """In a child process: the Python driver's peak RSS (KiB) after one side's computation."""
    spark = _session()
    spark.range(1).collect()  # the session and its JVM up before measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if side == "ours":
        _ours(spark, rows)
    else:
        edges = {f: [-1.0, 0.0, 1.0] for f in FIELDS[:2]}
        _pandas_scipy(spark, rows, edges)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "after_kib": after}))
    spark.stop()


def _probe(rows: int, side: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.bench_monitors", "--memory-probe", str(rows), "--side", side],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--side", default="ours", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        _memory_probe(args.memory_probe, args.side)
        return 0
    spark = _session()
    _ours(spark, 10_000)  # warm-up: first-job costs out of both timings
    peaks: dict[int, dict[str, float]] = {}
    for rows in args.rows:
        start = time.perf_counter()
        ours = _ours(spark, rows)
        ours_s = time.perf_counter() - start
        edges = {f: ours["drift"]["drift"]["features"][f]["bins"]["edges"] for f in FIELDS[:2]}
        start = time.perf_counter()
        peer = _pandas_scipy(spark, rows, edges)
        peer_s = time.perf_counter() - start
        diffs = _differences(ours, peer)
        worst = max(diffs, key=lambda k: diffs[k])
        print(f"rows {rows:,} per side (baseline + comparator)")
        print(f"  built-in monitors (Spark)        {ours_s:8.2f} s")
        print(f"  toPandas + scipy/scikit-learn    {peer_s:8.2f} s")
        print(f"  ratio ours / pandas+scipy        {ours_s / peer_s:8.2f}x")
        print(f"  KS statistic |diff| {max(v for k, v in diffs.items() if 'ks_statistic' in k):.1e}; "
              f"KS p-value rel {max(v for k, v in diffs.items() if 'ks_p_value' in k):.1e}; "
              f"PSI/JS/chi2 rel {max(v for k, v in diffs.items() if any(s in k for s in ('psi', 'js_', 'chi'))):.1e}; "
              f"AUC |diff| {diffs['performance.auc']:.1e}; F1/precision/recall rel "
              f"{max(diffs[f'performance.{k}'] for k in ('f1', 'precision', 'recall')):.1e}  (largest: {worst})")
    spark.stop()
    for rows in args.rows:
        peaks[rows] = {side: _probe(rows, side)["after_kib"] / 1024 for side in ("ours", "pandas")}
    print("driver (Python) peak RSS, MiB: " + "; ".join(
        f"{rows:,} rows: ours {p['ours']:.0f}, pandas+scipy {p['pandas']:.0f}" for rows, p in peaks.items()))
    if len(args.rows) > 1:
        first, last = args.rows[0], args.rows[-1]
        print(f"  ratio peak {last:,} / {first:,} rows: ours {peaks[last]['ours'] / peaks[first]['ours']:.2f}x (target flat, ~1.0), "
              f"pandas+scipy {peaks[last]['pandas'] / peaks[first]['pandas']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
