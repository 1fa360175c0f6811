"""The control plane served on loopback, runtime agents claiming and running its jobs, and `moc`
driving it all: what a user of the control plane does, end to end.

One control plane process (SQLite) and two agents for the module: ``dev-1`` (DEV + cc-fraud) and
``prod-1`` (PROD + other-svc). The agents run in this process on the session's SparkSession (a JVM
per agent would cost seconds each); the PostgreSQL test runs the agent as its own
``modelop-spark runtime serve`` process. Heartbeats are fast here (0.5 s) so DOWN takes seconds;
lease expiry is tested on a clock passed in (test_controlplane_store.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelop_spark.agent.agent import Agent, AgentSettings, split_tags
from modelop_spark.agent.executors import InProcessExecutor
from modelop_spark.moc.cli import main as moc
from tests.servers import free_port, postgres, stop_process, wait_for_port  # noqa: F401  (postgres: a fixture)
from tests.snapshots import make_snapshot

pytestmark = pytest.mark.controlplane

TOKEN = "e2e-admin-token-5c1d"
# Fast heartbeats so DOWN takes seconds; a long lease so a starved test machine never loses one.
TIMING_ARGS = ["--heartbeat-interval", "0.5", "--missed-heartbeats", "8", "--lease-seconds", "60", "--long-poll-seconds", "2"]

SCORING_MODEL = """
    import time

    DELAY = 0.0

    # modelop.init
    def begin(job):
        global DELAY
        DELAY = float((job.get("parameters") or {}).get("delay", 0))

    # modelop.score
    def action(record):
        time.sleep(DELAY)
        yield {"id": record["id"], "doubled": record["x"] * 2}
"""

METRICS_MODEL = """
    # modelop.metrics
    def metrics(df):
        yield {"rows": len(df), "accuracy": float((df["label"] == df["prediction"]).mean())}
"""

TRAINING_MODEL = """
    FACTOR = 1.0

    # modelop.init
    def begin():
        global FACTOR
        try:
            FACTOR = float(open("factor.txt").read())
        except FileNotFoundError:
            FACTOR = 1.0

    # modelop.score
    def action(record):
        yield {"id": record["id"], "y": record["x"] * FACTOR}

    # modelop.train
    def train(df):
        factor = float((df["y"] / df["x"]).mean())
        with open("factor.txt", "w") as handle:
            handle.write(str(factor))
        return {"factor": factor}
"""


@dataclass
class ControlPlaneProcess:
    port: int
    data: Path
    process: subprocess.Popen
    log: Path
    database: str | None = None
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def control_plane(
    data: Path, *, port: int | None = None, database: str | None = None, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()
) -> Iterator[ControlPlaneProcess]:
    server = start_control_plane(data, port=port or free_port(), database=database, env=env, extra=extra)
    try:
        yield server
    finally:
        stop(server.process)


def start_control_plane(
    data: Path, *, port: int, database: str | None = None, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()
) -> ControlPlaneProcess:
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"controlplane-{port}.log"
    command = [sys.executable, "-m", "modelop_spark.cli", "control-plane", "serve", "--port", str(port), "--data", str(data), *TIMING_ARGS, *extra]
    if database:
        command += ["--database", database]
    with log.open("a") as handle:
        process = subprocess.Popen(command, env={**os.environ, "MODELOP_TOKEN": TOKEN, **(env or {})}, stdout=handle, stderr=subprocess.STDOUT)
    wait_for_port(port, process=process, timeout=90)
    return ControlPlaneProcess(port, data, process, log, database, extra)


def stop(process: subprocess.Popen) -> None:
    stop_process(process, timeout=20)


def start_agent(url: str, name: str, tags: list[str], work: Path, spark) -> Agent:
    stages, services = split_tags(tags)
    settings = AgentSettings(control_plane=url, name=name, work_dir=work, stage_tags=tuple(stages), service_tags=tuple(services), token=TOKEN)
    agent = Agent(settings, InProcessExecutor(spark))
    agent.start()
    return agent


def run_moc(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = moc(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def moc_json(capsys, *args: str):
    code, out, err = run_moc(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def wait_for(predicate, *, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def job_status(capsys, job_id: str) -> str:
    return moc_json(capsys, "job", "status", job_id)["status"]


@dataclass
class Plane:
    server: ControlPlaneProcess
    agents: dict[str, Agent]
    root: Path
    webhook: list[dict]


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict]]]:
    """A loopback HTTP server that keeps every JSON body POSTed to it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def plane(spark, tmp_path_factory) -> Iterator[Plane]:
    root = tmp_path_factory.mktemp("controlplane")
    with webhook_receiver() as (hook, received), control_plane(root / "data", extra=("--webhook", hook, "--log-format", "json")) as server:
        agents = {
            "dev-1": start_agent(server.url, "dev-1", ["DEV", "cc-fraud"], root / "agent-dev", spark),
            "prod-1": start_agent(server.url, "prod-1", ["PROD", "other-svc"], root / "agent-prod", spark),
        }
        current = Plane(server, agents, root, received)
        try:
            yield current
        finally:
            for agent in agents.values():
                agent.stop(wait_for_jobs=False, timeout=5)
            stop(current.server.process)  # the process a test restarted, if one did


@pytest.fixture
def env(plane, monkeypatch):
    monkeypatch.setenv("MODELOP_URL", plane.server.url)
    monkeypatch.setenv("MODELOP_TOKEN", TOKEN)
    return plane


@pytest.fixture(scope="module")
def models(plane, tmp_path_factory):
    """The models and snapshots the tests use, registered once through moc."""
    folder = tmp_path_factory.mktemp("snapshots")
    make_snapshot(folder / "fraud", SCORING_MODEL)
    make_snapshot(folder / "metrics", METRICS_MODEL)
    make_snapshot(folder / "churn", TRAINING_MODEL, manifest={"name": "churn", "version": "1.0.0"})
    make_snapshot(folder / "late", SCORING_MODEL)
    make_snapshot(folder / "prod", SCORING_MODEL)
    os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"] = plane.server.url, TOKEN
    try:
        for name, path, tag in (("cc-fraud", "fraud", "cc-fraud"), ("fraud-metrics", "metrics", "cc-fraud"), ("churn", "churn", "cc-fraud"),
                                ("late-model", "late", "late-svc"), ("prod-model", "prod", "other-svc")):
            assert moc(["model", "create", name]) == 0
            assert moc(["snapshot", "create", str(folder / path), "--model", name, "--service-tag", tag]) == 0
    finally:
        del os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"]
    return folder


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "input.csv"
    path.write_text("id,x\n" + "".join(f"{i},{i * 1.5}\n" for i in range(1, 5)))
    return path


def slow_input(tmp_path, rows: int) -> Path:
    path = tmp_path / "slow.json"
    path.write_text("\n".join(json.dumps({"id": i, "x": float(i)}) for i in range(rows)))
    return path


# -- auth and discovery ------------------------------------------------------------------------

def test_every_route_but_health_needs_a_valid_token(plane, capsys, monkeypatch):
    assert httpx.get(plane.server.url + "/health").json()["status"] == "ok"
    assert "/api/v1/jobs" in httpx.get(plane.server.url + "/openapi.json").json()["paths"]
    monkeypatch.setenv("MODELOP_URL", plane.server.url)
    monkeypatch.delenv("MODELOP_TOKEN", raising=False)
    code, _, err = run_moc(capsys, "job", "list")
    assert code == 3 and "UNAUTHORIZED: missing Authorization header" in err
    monkeypatch.setenv("MODELOP_TOKEN", "not-the-token")
    code, _, err = run_moc(capsys, "runtime", "list")
    assert code == 3 and "the token is not valid" in err and "not-the-token" not in err


def test_both_runtimes_are_registered_up_with_their_tags(env, capsys):
    runtimes = {r["name"]: r for r in moc_json(capsys, "runtime", "list")}
    assert runtimes["dev-1"]["status"] == "UP" and runtimes["dev-1"]["stage_tags"] == ["DEV"] and runtimes["dev-1"]["service_tags"] == ["cc-fraud"]
    assert runtimes["prod-1"]["type"] == "Apache Spark" and runtimes["prod-1"]["details"]["mode"] == "in-process"
    first = runtimes["dev-1"]["last_heartbeat"]
    wait_for(lambda: {r["name"]: r for r in moc_json(capsys, "runtime", "list")}["dev-1"]["last_heartbeat"] > first, what="a heartbeat")
    code, out, _ = run_moc(capsys, "runtime", "list")
    assert code == 0 and "dev-1" in out and "cc-fraud" in out


# -- jobs end to end ---------------------------------------------------------------------------

def test_a_batchjob_with_embedded_input_and_output(env, models, data, capsys):
    job = moc_json(capsys, "job", "create", "batchjob", "cc-fraud", str(data), "output.json", "--stage", "DEV")
    assert job["status"] == "WAITING" and job["runtime"] == "dev-1"
    code, out, _ = run_moc(capsys, "job", "watch", job["id"], "--interval", "0.3")
    assert code == 0 and f"job {job['id']} COMPLETE" in out
    code, out, _ = run_moc(capsys, "job", "result", job["id"])
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [{"id": i, "doubled": i * 3.0} for i in range(1, 5)]
    assert moc_json(capsys, "job", "result", job["id"])["snapshot"]["name"] == "cc-fraud"
    finished = moc_json(capsys, "job", "status", job["id"])
    assert finished["progress"]["rows"] == {"in": 4, "scored": 4, "rejected": 0, "out": 4, "rejected_by_stage": {}}
    assert finished["progress"]["tasks_total"] >= 1
    logs = run_moc(capsys, "job", "logs", job["id"])[1]
    assert "attempt 1 claimed by runtime dev-1" in logs and "runtime dev-1: attempt 1 ended COMPLETE" in logs


def test_a_batchjob_from_a_file_url_to_a_file_url(env, models, data, capsys, tmp_path, spark):
    target = tmp_path / "out" / "scores.parquet"
    job = moc_json(capsys, "job", "create", "batchjob", "cc-fraud", data.resolve().as_uri(), target.as_uri(), "--stage", "DEV")
    assert run_moc(capsys, "job", "watch", job["id"])[0] == 0
    code, out, _ = run_moc(capsys, "job", "result", job["id"])
    assert code == 0 and out.strip() == target.as_uri()
    assert sorted(r["doubled"] for r in spark.read.parquet(str(target)).collect()) == [3.0, 6.0, 9.0, 12.0]


def test_a_testjob_returns_its_metrics(env, models, capsys, tmp_path):
    labeled = tmp_path / "labeled.json"
    labeled.write_text(json.dumps([{"label": 1, "prediction": 1}, {"label": 0, "prediction": 1}, {"label": 0, "prediction": 0}, {"label": 1, "prediction": 1}]))
    job = moc_json(capsys, "job", "create", "testjob", "fraud-metrics", str(labeled), "metrics.json", "--stage", "DEV")
    assert run_moc(capsys, "job", "watch", job["id"])[0] == 0
    result = moc_json(capsys, "job", "result", job["id"])
    assert result["metrics"]["rows"] == 4 and result["metrics"]["accuracy"] == 0.75
    code, out, _ = run_moc(capsys, "job", "result", job["id"])
    assert code == 0 and json.loads(out.splitlines()[0])["accuracy"] == 0.75


def test_a_trainingjob_registers_a_new_snapshot_that_the_next_job_runs(env, models, capsys, tmp_path):
    labeled = tmp_path / "train.csv"
    labeled.write_text("id,x,y\n1,1,3\n2,2,6\n3,4,12\n")
    job = moc_json(capsys, "job", "create", "trainingjob", "churn", str(labeled), "churn-next", "--stage", "DEV")
    assert run_moc(capsys, "job", "watch", job["id"])[0] == 0
    code, out, _ = run_moc(capsys, "job", "result", job["id"])
    assert code == 0 and "new snapshot" in out and "version 1.0.1" in out
    versions = [s["version"] for s in moc_json(capsys, "snapshot", "list", "--model", "churn")]
    assert versions == ["1.0.1", "1.0.0"]  # newest first
    scoring = moc_json(capsys, "job", "create", "batchjob", "churn", str(labeled), "scores.json", "--stage", "DEV")
    assert run_moc(capsys, "job", "watch", scoring["id"])[0] == 0
    records = [json.loads(line) for line in run_moc(capsys, "job", "result", scoring["id"])[1].splitlines()]
    assert [r["y"] for r in records] == [3.0, 6.0, 12.0]  # the trained factor, 3


def test_a_modelop_job_json_is_accepted_as_it_is(env, models, capsys, tmp_path):
    document = {
        "jobType": "MODEL_BATCH_JOB",
        "inputData": [{"assetType": "EMBEDDED", "data": [{"id": 1, "x": 2.0}, {"id": 2, "x": 5.0}]}],
        "outputData": [{"assetType": "EMBEDDED", "filename": "scores.json"}],
        "model": {"storedModel": {
            "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "name": "model.py",
                             "sourceCode": "def score(r):\n    yield {'id': r['id'], 'y': r['x'] + 1}\n", "scoreFunction": "score"}],
            "modelMetaData": {"name": "inline-model", "tags": ["cc-fraud"]},
        }},
    }
    path = tmp_path / "modelop_job.json"
    path.write_text(json.dumps(document))
    job = moc_json(capsys, "job", "submit", str(path), "--stage", "DEV")
    assert job["format"] == "modelop" and job["runtime"] == "dev-1"
    assert run_moc(capsys, "job", "watch", job["id"])[0] == 0
    assert [json.loads(line) for line in run_moc(capsys, "job", "result", job["id"])[1].splitlines()] == [{"id": 1, "y": 3.0}, {"id": 2, "y": 6.0}]


def test_a_prod_job_runs_on_the_prod_runtime(env, models, data, capsys):
    job = moc_json(capsys, "job", "create", "batchjob", "prod-model", str(data), "out.json", "--stage", "PROD")
    assert job["runtime"] == "prod-1"
    assert run_moc(capsys, "job", "watch", job["id"])[0] == 0


def test_no_matching_runtime_waits_notifies_and_starts_when_one_registers_then_down(env, models, data, capsys, spark):
    job = moc_json(capsys, "job", "create", "batchjob", "late-model", str(data), "out.json", "--stage", "UAT")
    assert job["status"] == "WAITING" and job["runtime"] is None
    code, _, err = run_moc(capsys, "job", "watch", job["id"], "--timeout", "0.5", "--interval", "0.2")
    assert code == 5 and "is still WAITING" in err
    notes = moc_json(capsys, "notifications", "--job", job["id"])
    assert notes[0]["kind"] == "NO_MATCHING_RUNTIME" and "stage tag UAT" in notes[0]["message"] and "late-svc" in notes[0]["message"]
    wait_for(lambda: any(n["job_id"] == job["id"] for n in env.webhook), what="the webhook POST")  # the ticketing hook
    logged = [json.loads(line) for line in env.server.log.read_text().splitlines() if line.startswith("{")]
    assert any((entry.get("notification") or {}).get("job_id") == job["id"] and entry["level"] == "WARNING" for entry in logged)
    late = start_agent(env.server.url, "uat-1", ["UAT", "late-svc"], env.root / "agent-uat", spark)
    try:
        assert run_moc(capsys, "job", "watch", job["id"])[0] == 0
        assert moc_json(capsys, "job", "status", job["id"])["runtime"] == "uat-1"
    finally:
        late.stop(timeout=5)
    wait_for(lambda: {r["name"]: r["status"] for r in moc_json(capsys, "runtime", "list")}["uat-1"] == "DOWN", what="uat-1 DOWN")
    assert any(n["kind"] == "RUNTIME_DOWN" and "uat-1" in n["message"] for n in moc_json(capsys, "notifications"))
    code, out, _ = run_moc(capsys, "notifications")
    assert code == 0 and "RUNTIME_DOWN" in out


def test_a_running_job_is_cancelled(env, models, capsys, tmp_path):
    job = moc_json(capsys, "job", "create", "batchjob", "cc-fraud", str(slow_input(tmp_path, 200)), "out.json", "--stage", "DEV", "--param", "delay=0.2")
    wait_for(lambda: job_status(capsys, job["id"]) == "RUNNING", what="the job to run")
    code, out, _ = run_moc(capsys, "job", "cancel", job["id"])
    assert code == 0 and "cancel requested" in out
    code, out, _ = run_moc(capsys, "job", "watch", job["id"])
    assert code == 1 and "CANCELLED" in out


def test_the_control_plane_killed_and_restarted_during_a_job_delivers_its_result_once(env, models, capsys, tmp_path):
    job = moc_json(capsys, "job", "create", "batchjob", "cc-fraud", str(slow_input(tmp_path, 30)), "out.json", "--stage", "DEV", "--param", "delay=0.2")
    wait_for(lambda: job_status(capsys, job["id"]) == "RUNNING", what="the job to run")
    env.server.process.kill()  # SIGKILL: no goodbye
    env.server.process.wait()
    assert run_moc(capsys, "job", "status", job["id"])[0] == 4  # unreachable
    time.sleep(1.5)  # the agent keeps running the job meanwhile
    env.server = start_control_plane(env.server.data, port=env.server.port, extra=env.server.extra)
    code, out, _ = run_moc(capsys, "job", "watch", job["id"])
    assert code == 0, out
    finished = moc_json(capsys, "job", "status", job["id"])
    assert finished["attempt"] == 1 and finished["progress"]["rows"]["in"] == 30
    logs = run_moc(capsys, "job", "logs", job["id"])[1]
    assert logs.count("ended COMPLETE") == 2  # the runtime's line and the control plane's, once each
    assert len(run_moc(capsys, "job", "result", job["id"])[1].splitlines()) == 30


def test_a_claim_whose_answer_is_lost_gets_its_job_again_at_the_same_attempt(env, models, capsys, tmp_path, spark):
    # The control plane commits the claim, then its answer never arrives (it died while replying,
    # or the connection broke): the runtime asks again with the same claim token and runs the job
    # at once, instead of the job sitting leased to nobody who knows it until the lease runs out.
    settings = AgentSettings(control_plane=env.server.url, name="sit-1", work_dir=tmp_path / "agent", stage_tags=("SIT",), service_tags=("cc-fraud",), token=TOKEN)
    agent = Agent(settings, InProcessExecutor(spark))
    send = agent.client._http.request
    lost = []

    def lose_the_first_claim_answer(method, url, **kwargs):
        response = send(method, url, **kwargs)
        if url.endswith("/claim") and response.status_code == 200 and not lost:
            lost.append(response.json()["job"]["id"])
            raise httpx.ReadError("connection reset by peer")
        return response

    agent.client._http.request = lose_the_first_claim_answer
    agent.start()
    try:
        job = moc_json(capsys, "job", "create", "batchjob", "cc-fraud", str(slow_input(tmp_path, 5)), "out.json", "--stage", "SIT")
        code, out, _ = run_moc(capsys, "job", "watch", job["id"], "--timeout", "40")  # the lease (60 s) never ran out
        assert code == 0, out
        assert lost == [job["id"]] and moc_json(capsys, "job", "status", job["id"])["attempt"] == 1
        assert run_moc(capsys, "job", "logs", job["id"])[1].count("claimed by runtime sit-1") == 1
    finally:
        agent.stop(timeout=5)


# -- PostgreSQL: two control-plane processes on one database, a runtime as its own process -----
# The runtime is given both URLs (fail-over); one process is SIGKILLed while the job runs.

def test_two_control_planes_on_postgresql_and_a_restart_lose_nothing(postgres, fraud_free_env, capsys, tmp_path, monkeypatch):  # noqa: F811
    with postgres.connect() as connection:
        connection.execute("CREATE DATABASE controlplane")
    url = f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/controlplane"
    secrets = {"PGPASSWORD": postgres.password}
    make_snapshot(tmp_path / "snap", SCORING_MODEL)
    shared = tmp_path / "data"  # archives and documents: a folder both processes see
    port_a = free_port()
    a = start_control_plane(shared, port=port_a, database=url, env=secrets)
    agent_log = (tmp_path / "agent.log").open("w")
    agent = None
    try:
        with control_plane(shared, database=url, env=secrets) as b:
            monkeypatch.setenv("MODELOP_URL", b.url)
            monkeypatch.setenv("MODELOP_TOKEN", TOKEN)
            agent = subprocess.Popen(
                [sys.executable, "-m", "modelop_spark.cli", "runtime", "serve", "--control-plane", f"{a.url},{b.url}", "--name", "pg-dev",
                 "--tag", "DEV", "--tag", "cc-fraud", "--work-dir", str(tmp_path / "agent"), "--conf", "spark.ui.enabled=false"],
                env={**os.environ, "MODELOP_TOKEN": TOKEN, "MODELOP_SPARK_MASTER": "local[1]"}, stdout=agent_log, stderr=subprocess.STDOUT,
            )
            assert run_moc(capsys, "model", "create", "cc-fraud")[0] == 0
            assert run_moc(capsys, "snapshot", "create", str(tmp_path / "snap"), "--model", "cc-fraud", "--service-tag", "cc-fraud")[0] == 0
            wait_for(lambda: any(r["name"] == "pg-dev" and r["status"] == "UP" for r in moc_json(capsys, "runtime", "list")), timeout=120, what="pg-dev to register")
            job = moc_json(capsys, "job", "create", "batchjob", "cc-fraud", str(slow_input(tmp_path, 24)), "out.json", "--stage", "DEV", "--param", "delay=0.2")
            wait_for(lambda: job_status(capsys, job["id"]) == "RUNNING", timeout=120, what="the job to run")
            a.process.kill()  # the control plane the agent talks to dies; it fails over to b
            a.process.wait()
            assert run_moc(capsys, "job", "watch", job["id"])[0] == 0
            a = start_control_plane(shared, port=port_a, database=url, env=secrets)
            monkeypatch.setenv("MODELOP_URL", a.url)  # the restarted process sees it all
            finished = moc_json(capsys, "job", "status", job["id"])
            assert finished["attempt"] == 1 and finished["runtime"] == "pg-dev"
            assert run_moc(capsys, "job", "logs", job["id"])[1].count("control plane: attempt 1 ended COMPLETE") == 1
            assert len(run_moc(capsys, "job", "result", job["id"])[1].splitlines()) == 24
    finally:
        if agent is not None:
            stop(agent)
        agent_log.close()
        stop(a.process)


@pytest.fixture
def fraud_free_env(monkeypatch):
    """No control plane settings leak in from the module's tests."""
    monkeypatch.delenv("MODELOP_URL", raising=False)
