"""A metrics job with interpretability: worker memory flat from 100k to 1M rows, and the driver
holding only bounded aggregates.

    python -m bench.bench_explain_memory [--small 100000] [--large 1000000]

Each size runs in a fresh process (its own SparkSession and Python workers): Spark writes the
input (8 float features, a label and a score, generated in the JVM), then a metrics job runs the
built-in evaluation and ``options.interpretability`` (TreeExplainer on a small random forest,
per-group importance over one protected attribute). A thread samples the peak RSS (``VmHWM``) of
every PySpark worker process under this one; the driver's own peak RSS and the metrics
document's size are printed beside it. Both should stay flat, within 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

FEATURES = [f"f{i}" for i in range(8)]

MODEL = """
    import pickle

    # modelop.init
    def begin():
        global MODEL
        with open("model.pkl", "rb") as handle:
            MODEL = pickle.load(handle)

    # modelop.score
    def action(record):
        yield {"probability": float(MODEL.predict_proba([[record[f] for f in %r]])[0, 1])}
"""


def _snapshot(folder: Path) -> Path:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, len(FEATURES)))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(x, y)
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(textwrap.dedent(MODEL % FEATURES))
    (folder / "model.pkl").write_bytes(pickle.dumps(model))
    (folder / "snapshot.json").write_text(json.dumps({"name": "explain-memory", "reads": FEATURES}))
    return folder


def _workers_under(pid: int) -> list[int]:
    """PySpark worker processes descending from ``pid`` (the JVM forks them from its daemon)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError):
                continue
    found = []
    for child in parents:
        ancestor = parents.get(child)
        while ancestor and ancestor != pid:
            ancestor = parents.get(ancestor)
        if ancestor == pid:
            try:
                if b"pyspark" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
            except OSError:
                continue
    return found


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class _WorkerPeak(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.stopped = 0, threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for worker in _workers_under(os.getpid()):
                try:
                    self.peak = max(self.peak, _peak_kib(worker))
                except OSError:
                    continue
            self.stopped.wait(0.25)


def _one_size(rows: int, snapshot: str, folder: str) -> None:
    from pyspark.sql import functions as F

    from modelop_spark.jobs.runner import run_job
    from modelop_spark.runtime.session import get_or_create_session

    spark = get_or_create_session()
    data = f"{folder}/input-{rows}.parquet"
    frame = spark.range(rows).select(F.col("id"), *[F.randn(seed=i).alias(f) for i, f in enumerate(FEATURES)])
    frame = frame.select("*", (F.col("f0") + F.col("f1") * F.col("f2") > 0).cast("int").alias("label"),
                         (F.lit(1.0) / (F.lit(1.0) + F.exp(-F.col("f0")))).alias("score"),
                         F.when(F.col("f3") > 0, "A").otherwise("B").alias("group"))
    frame.write.mode("overwrite").parquet(data)
    watcher = _WorkerPeak()
    watcher.start()
    began = time.perf_counter()
    result = run_job({
        "job_id": f"explain-memory-{rows}", "job_type": "metrics", "snapshot": snapshot,
        "inputs": [{"url": data, "format": "parquet"}],
        "outputs": [{"url": f"{folder}/metrics-{rows}.json", "format": "json"}],
        "options": {"report": False, "evaluation": {"columns": {"label": "label", "score": "score", "protected": ["group"]}},
                    "interpretability": {"method": "tree"}},
    }, spark=spark)
    seconds = time.perf_counter() - began
    watcher.stopped.set()
    watcher.join()
    assert result.ok, result.error
    section = result.metrics["interpretability"]
    print(json.dumps({
        "rows": section["rows_explained"], "worker_peak_kib": watcher.peak, "seconds": seconds,
        "driver_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "document_bytes": len(json.dumps(result.metrics)), "top": section["top_features"][:3],
    }))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one_size(args.one, args.snapshot, args.folder)
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-explain-memory-"))
    snapshot = _snapshot(folder / "snapshot")
    figures = {}
    for rows in (args.small, args.large):
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_explain_memory", "--one", str(rows), "--snapshot", str(snapshot), "--folder", str(folder)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        figures[rows] = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{'rows':>12}{'worker peak RSS':>18}{'driver peak RSS':>18}{'document':>12}{'seconds':>10}")
    for rows, figure in figures.items():
        assert figure["rows"] == rows, figure
        print(f"{rows:>12,}{figure['worker_peak_kib'] / 1024:>14,.0f} MiB{figure['driver_peak_kib'] / 1024:>14,.0f} MiB"
              f"{figure['document_bytes']:>10,} B{figure['seconds']:>10.1f}")
    small, large = figures[args.small], figures[args.large]
    for what in ("worker_peak_kib", "driver_peak_kib"):
        ratio = large[what] / small[what]
        print(f"{what.split('_peak')[0]} peak {args.large:,} / {args.small:,} rows: {ratio:.2f}x "
              f"(target <= 1.10: {'yes' if ratio <= 1.10 else 'no'})")


if __name__ == "__main__":
    main()
