"""The control plane under a fleet's load, in small (``bench/bench_controlplane.py`` is the full
form and prints the figures): PostgreSQL, two control-plane processes on one database, 20
simulated runtimes, 1,000 jobs in a burst with one process SIGKILLed and restarted during the
drain. Nothing may be lost, run twice, or created twice by a creation sent again after its
answer was lost in the kill."""

from __future__ import annotations

import asyncio

from bench.controlplane_load import control_planes, scenario
from tests.servers import postgres  # noqa: F401  (a fixture)


def test_a_thousand_jobs_through_two_control_planes_and_a_kill_lose_nothing_and_run_nothing_twice(postgres, tmp_path):  # noqa: F811
    with control_planes(tmp_path, postgres, database="scale") as planes:
        figures = asyncio.run(scenario(planes, postgres, jobs=1000, runtimes=20, steady_rate=20, steady_seconds=2, idle_seconds=0.5))
    assert figures.burst_jobs == 1000  # every job of the burst finished
    assert (figures.lost, figures.run_twice, figures.created_twice) == (0, 0, 0)
    assert len(figures.latencies_ms) == 40  # and the jobs after it were claimed
