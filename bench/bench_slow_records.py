"""A small input and a slow model: does the scoring job use every core?

    python -m bench.bench_slow_records [--records 20000] [--ms 4] [--master local[2]]

A 20,000-record JSON lines file (one Spark partition as read) scored by a record function that
takes 4 ms a record, as a scoring job on ``local[2]``. Its limit is the model's own time spread
over the cores, records x 4 ms / cores (40 s here): the job's time is printed as a multiple of
it (lower is better; the target is at most 1.25x; one core alone would be 2x). On a busy
machine a 4 ms sleep takes longer: the model's own time per record is also measured in the same
run (a few hundred calls on the driver), and the job is printed against that limit as well.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import textwrap
import time
from pathlib import Path

SLOW_MODEL = """
import time

# modelop.score
def score(record):
    time.sleep({seconds!r})  # the model's own work: a lookup, a call, a heavy computation
    yield {{"id": record["id"], "score": record["x"] * 2.0}}
"""


def _measured_ms(seconds: float, calls: int = 300) -> float:
    """What one call of the model's sleep really takes on this machine now, in milliseconds."""
    started = time.perf_counter()
    for _ in range(calls):
        time.sleep(seconds)
    return (time.perf_counter() - started) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--ms", type=float, default=4.0, help="milliseconds the model takes per record")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    from modelop_spark.jobs.runner import run_job
    from modelop_spark.runtime.session import get_or_create_session

    spark = get_or_create_session(master=args.master, conf={"spark.ui.enabled": "false"})
    cores = spark.sparkContext.defaultParallelism
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as folder:
        work = Path(folder)
        data = work / "records.json"
        data.write_text("".join(json.dumps({"id": i, "x": float(i), "note": "n" * 20}) + "\n" for i in range(args.records)))
        snapshot = work / "snapshot"
        snapshot.mkdir()
        (snapshot / "model.py").write_text(textwrap.dedent(SLOW_MODEL.format(seconds=args.ms / 1000)))
        job = {"job_type": "scoring", "job_id": "bench-slow-records", "snapshot": str(snapshot),
               "inputs": [{"url": str(data), "format": "json"}], "outputs": [{"url": str(work / "scores"), "format": "parquet"}]}
        partitions = spark.read.json(str(data)).rdd.getNumPartitions()
        started = time.perf_counter()
        result = run_job(job, spark=spark)
        seconds = time.perf_counter() - started
        assert result.ok, result.error
        assert result.rows is not None and result.rows.rows_out == args.records
    measured = _measured_ms(args.ms / 1000)
    limit = args.records * args.ms / 1000 / cores
    measured_limit = args.records * measured / 1000 / cores
    print(f"  {args.records:,} records at {args.ms:g} ms on {args.master} ({partitions} input partition(s), {cores} cores)")
    print(f"  scoring job                              {seconds:8.2f} s")
    print(f"  limit: records x {args.ms:g} ms / cores        {limit:8.2f} s")
    print(f"  job / limit                              {seconds / limit:8.2f}x   (target <= 1.25x)")
    print(f"  the model's call measured now: {measured:.2f} ms; records x that / cores {measured_limit:8.2f} s")
    print(f"  job / measured limit                     {seconds / measured_limit:8.2f}x")


if __name__ == "__main__":
    main()
