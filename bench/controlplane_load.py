"""The control plane under load, as a fleet of runtimes sees it: PostgreSQL on loopback, two
control-plane processes on one database and one ``--data``, N simulated runtimes speaking the
runtime API (register, heartbeat, long-poll claims with their tokens, results; each job "runs"
``job_seconds``), a burst of jobs through ``POST /jobs`` (each with its Idempotency-Key, sent
again with it when the answer is lost), one process SIGKILLed and restarted during the drain,
then jobs at a steady rate onto idle runtimes, then the runtimes idle.

It counts what a user would: jobs lost (created, never COMPLETE), run twice (claimed by two
attempts), created twice (more jobs than creations), and measures jobs/s through the burst, the
creation -> claim latency at the steady rate, and the database's transactions per second while
the runtimes idle. ``bench/bench_controlplane.py`` prints the figures; the test of the same name
runs a smaller form and asserts nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.servers import PostgresServer, free_port, postgres_server, stop_process, wait_for_port

TOKEN = "bench-token"
JOB = {
    "job_type": "batchjob", "snapshot": "cc-fraud", "stage": "DEV",
    "inputs": [{"kind": "embedded", "records": [{"x": 1}]}], "outputs": [{"kind": "embedded", "name": "out"}],
}


@dataclass
class Figures:
    burst_jobs: int = 0
    burst_seconds: float = 0.0
    created: int = 0  # jobs the control plane holds at the end
    creations: int = 0  # creations asked for (each once, whatever its retries)
    lost: int = 0
    run_twice: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    idle_transactions_per_second: float = 0.0
    idle_runtimes: int = 0

    @property
    def jobs_per_second(self) -> float:
        return self.burst_jobs / self.burst_seconds if self.burst_seconds else 0.0

    @property
    def created_twice(self) -> int:
        return self.created - self.creations

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else float("nan")

    def lines(self) -> list[str]:
        return [
            f"burst: {self.burst_jobs} jobs created, dispatched and finished in {self.burst_seconds:.1f} s = {self.jobs_per_second:.0f} jobs/s",
            f"lost {self.lost}, run twice {self.run_twice}, created twice {self.created_twice}",
            f"creation -> claim at the steady rate ({len(self.latencies_ms)} jobs): p50 {self.percentile(0.5):.0f} ms, "
            f"p99 {self.percentile(0.99):.0f} ms, max {max(self.latencies_ms, default=float('nan')):.0f} ms",
            f"{self.idle_runtimes} idle runtimes: {self.idle_transactions_per_second:.1f} database transactions/s",
        ]


class FailoverClient:
    """The runtime API over several control-plane URLs, as behind a load balancer: each request
    goes to ``first`` and, when that one does not answer, to the next, and again until
    ``patience`` runs out (a restarted process gets its share back at once)."""

    def __init__(self, urls: list[str], *, patience: float = 60.0, first: int = 0) -> None:
        self.urls, self.patience, self.first = urls, patience, first
        self._http = httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx.Timeout(60.0, connect=2.0),
                                       limits=httpx.Limits(max_connections=None, max_keepalive_connections=400))

    async def post(self, path: str, body: Any = None, *, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        deadline = time.monotonic() + self.patience
        tried = self.first
        while True:
            url = self.urls[tried % len(self.urls)]
            try:
                response = await self._http.post(url + "/api/v1" + path, json=body or {}, params=params, headers=headers)
            except httpx.TransportError:
                tried += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            if response.status_code >= 500 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                continue
            response.raise_for_status()
            return response

    async def close(self) -> None:
        await self._http.aclose()


@dataclass
class Fleet:
    """The simulated runtimes and what they saw; runtime i talks to control plane i mod 2 first
    (as behind a load balancer), and to the other when that one does not answer."""

    clients: list[FailoverClient]
    job_seconds: float
    claims: Counter[str] = field(default_factory=Counter)
    claimed_at: dict[str, float] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def runtime(self, index: int) -> None:
        client = self.clients[index % len(self.clients)]
        registered = (await client.post("/runtimes", {"name": f"sim-{index:03d}", "stage_tags": ["DEV"], "service_tags": ["cc-fraud"]})).json()
        runtime_id, timing = registered["runtime"]["id"], registered["timing"]
        running: dict[str, int] = {}
        beat = asyncio.create_task(self._heartbeats(client, runtime_id, running, float(timing["heartbeat_interval"])))
        token = uuid.uuid4().hex
        try:
            while not self.stop.is_set():
                answer = await client.post(f"/runtimes/{runtime_id}/claim", wait=float(timing["long_poll_seconds"]), token=token)
                token = uuid.uuid4().hex
                if answer.status_code == 204:
                    continue
                claimed = answer.json()
                job_id, attempt = claimed["job"]["id"], int(claimed["attempt"])
                self.claims[job_id] += 1
                self.claimed_at.setdefault(job_id, time.monotonic())
                running[job_id] = attempt
                await asyncio.sleep(self.job_seconds)
                done = (await client.post(f"/jobs/{job_id}/result", {"attempt": attempt, "status": "COMPLETE", "result": {"status": "COMPLETE"}},
                                               runtime_id=runtime_id)).json()
                running.pop(job_id, None)
                if done["accepted"] or done["job"]["status"] == "COMPLETE":
                    self.finished.add(job_id)
        finally:
            beat.cancel()

    async def _heartbeats(self, client: FailoverClient, runtime_id: str, running: dict[str, int], every: float) -> None:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(httpx.HTTPError):
                await client.post(f"/runtimes/{runtime_id}/heartbeat", {"running": [{"job_id": j, "attempt": a} for j, a in running.items()]})


async def create_jobs(clients: list[FailoverClient], count: int, *, concurrency: int, created_at: dict[str, float], rate: float | None = None) -> list[str]:
    """``count`` jobs, each POSTed with its own Idempotency-Key (sent again with it when no answer
    came back); at most ``rate`` a second when given."""
    ids: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    started = time.monotonic()

    async def creator(client: FailoverClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            if rate:
                await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            sent = time.monotonic()
            job = (await client.post("/jobs", JOB, headers={"Idempotency-Key": uuid.uuid4().hex})).json()
            created_at[job["id"]] = sent
            ids.append(job["id"])

    await asyncio.gather(*(creator(clients[i % len(clients)]) for i in range(concurrency)))
    return ids


@dataclass
class ControlPlaneProcesses:
    data: Path
    database: str  # its URL (no password: that goes in PGPASSWORD, never on a command line)
    name: str  # the database's name, for its statistics
    ports: list[int]
    password: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self, index: int) -> None:
        command = [sys.executable, "-m", "modelop_spark.cli", "control-plane", "serve", "--port", str(self.ports[index]),
                   "--data", str(self.data), "--database", self.database]
        log = (self.data.parent / f"controlplane-{index}.log").open("a")
        env = {**os.environ, "MODELOP_TOKEN": TOKEN, "PGPASSWORD": self.password}
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.ports[index], process=process, timeout=90)
        if index < len(self.processes):
            self.processes[index] = process
        else:
            self.processes.append(process)

    def kill(self, index: int) -> None:
        self.processes[index].send_signal(signal.SIGKILL)
        self.processes[index].wait()

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process, timeout=20)


@contextlib.contextmanager
def control_planes(work: Path, server: PostgresServer, database: str = "controlplane") -> Iterator[ControlPlaneProcesses]:
    with server.connect() as connection:
        connection.execute(f"CREATE DATABASE {database}")
    url = f"postgresql://{server.user}@{server.host}:{server.port}/{database}"
    planes = ControlPlaneProcesses(work / "data", url, database, [free_port(), free_port()], password=server.password)
    planes.data.mkdir(parents=True, exist_ok=True)
    try:
        for index in range(2):
            planes.start(index)
        yield planes
    finally:
        planes.stop()


def transactions(server: PostgresServer, database: str = "controlplane") -> int:
    with server.connect() as connection:
        row = connection.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (database,)).fetchone()
    return int(row[0]) if row else 0


async def scenario(planes: ControlPlaneProcesses, server: PostgresServer, *, jobs: int, runtimes: int, job_seconds: float = 0.2,
                   kill: bool = True, steady_rate: float = 50.0, steady_seconds: float = 10.0, idle_seconds: float = 20.0,
                   concurrency: int = 32) -> Figures:
    figures = Figures(idle_runtimes=runtimes)
    clients = [FailoverClient(planes.urls, first=i) for i in range(len(planes.urls))]
    await clients[0].post("/models", {"name": "cc-fraud"})
    await clients[0].post("/snapshots", model="cc-fraud", location="s3://models/cc-fraud.tar.gz", service_tag="cc-fraud")
    fleet = Fleet(clients, job_seconds)
    workers = [asyncio.create_task(fleet.runtime(i)) for i in range(runtimes)]
    created_at: dict[str, float] = {}
    started = time.monotonic()
    creating = asyncio.create_task(create_jobs(clients, jobs, concurrency=concurrency, created_at=created_at))
    if kill:  # one process dies during the drain and comes back
        while len(fleet.finished) < jobs // 3:
            await asyncio.sleep(0.05)
        planes.kill(0)
        await asyncio.to_thread(planes.start, 0)
    burst = await creating
    deadline = time.monotonic() + max(120.0, jobs / 10)
    while not set(burst) <= fleet.finished and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    figures.burst_jobs, figures.burst_seconds = len(fleet.finished & set(burst)), time.monotonic() - started
    steady_created: dict[str, float] = {}
    steady = await create_jobs(clients, int(steady_rate * steady_seconds), concurrency=concurrency, created_at=steady_created, rate=steady_rate)
    deadline = time.monotonic() + 60
    while not set(steady) <= fleet.finished and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    figures.latencies_ms = [(fleet.claimed_at[j] - steady_created[j]) * 1000 for j in steady if j in fleet.claimed_at]
    await asyncio.sleep(2.0)  # the last results are in; the fleet idles
    before, idle_start = transactions(server, planes.name), time.monotonic()
    await asyncio.sleep(idle_seconds)
    figures.idle_transactions_per_second = (transactions(server, planes.name) - before) / (time.monotonic() - idle_start)
    everything = burst + steady
    figures.creations = len(everything)
    counts = (await clients[1]._http.get(planes.urls[1] + "/api/v1/jobs/counts")).json()
    figures.created = sum(counts.values())
    figures.lost = len(set(everything) - fleet.finished)
    figures.run_twice = sum(1 for job_id in everything if fleet.claims[job_id] > 1)
    fleet.stop.set()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    for client in clients:
        await client.close()
    return figures


def run(work: Path, **settings: Any) -> Figures:
    with postgres_server() as server, control_planes(work, server) as planes:
        return asyncio.run(scenario(planes, server, **settings))


__all__ = ["Figures", "control_planes", "run", "scenario"]
