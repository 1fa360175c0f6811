"""The control plane at scale, against the figures of the issue's anchors.

    python -m bench.bench_controlplane [--jobs 10000] [--runtimes 100] [--rate 50]

PostgreSQL on loopback, two control-plane processes on one database, ``--runtimes`` simulated
runtimes (each job "runs" 0.2 s), a burst of ``--jobs`` jobs with one process SIGKILLed and
restarted during the drain, then ``--rate`` jobs a second onto idle runtimes, then the runtimes
idle (``bench/controlplane_load.py``). Printed against the targets: jobs/s through the burst
(>= 250), creation -> claim p99 at the steady rate (< 250 ms), the database's transactions a
second with every runtime idle (< 20), and lost / run twice / created twice (0 each).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.controlplane_load import run

TARGETS = {"jobs_per_second": 250.0, "p99_ms": 250.0, "idle_tps": 20.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runtimes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-controlplane-") as work:
        figures = run(Path(work), jobs=args.jobs, runtimes=args.runtimes, steady_rate=args.rate,
                      steady_seconds=args.steady_seconds, idle_seconds=args.idle_seconds)
    for line in figures.lines():
        print(line)
    print(f"jobs/s {figures.jobs_per_second:.0f} = {figures.jobs_per_second / TARGETS['jobs_per_second']:.2f}x the 250/s target (higher is better)")
    print(f"p99 {figures.percentile(0.99):.0f} ms = {figures.percentile(0.99) / TARGETS['p99_ms']:.2f}x the 250 ms target (lower is better)")
    print(f"idle {figures.idle_transactions_per_second:.1f} tx/s = {figures.idle_transactions_per_second / TARGETS['idle_tps']:.2f}x the 20/s target (lower is better)")


if __name__ == "__main__":
    main()
