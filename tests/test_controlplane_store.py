"""The control plane's operations over a real SQLite database, without HTTP: migrations, atomic
claims, lease take-over, results counted once, DOWN runtimes. The clock is passed in, so nothing
here waits."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from modelop_spark.controlplane.app import create_app
from modelop_spark.controlplane.auth import TOKEN_ENV, Principal, TokenBook
from modelop_spark.controlplane.blobs import BlobStore
from modelop_spark.controlplane.client import Client
from modelop_spark.controlplane.database import default_url, make_engine, upgrade
from modelop_spark.controlplane.leases import Timing
from modelop_spark.controlplane.notifications import Notifier
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.controlplane.services.idempotency import Idempotent, fingerprint
from modelop_spark.controlplane.store import Conflict, Store
from modelop_spark.controlplane.wakeups import SAFETY_POLL_SECONDS
from tests.servers import moto_s3, postgres  # noqa: F401  (fixtures)

ADMIN = Principal("admin", frozenset({"admin"}))
TIMING = Timing(heartbeat_interval=1, missed_heartbeats=3, lease_seconds=5)


def claim(plane: ControlPlane, runtime_id: str) -> dict | None:
    """One claim without waiting, as the HTTP route's long poll makes it."""
    return asyncio.run(plane.dispatch.claim(runtime_id, wait=0))


def build(tmp_path) -> ControlPlane:
    engine = make_engine(default_url(tmp_path))
    upgrade(engine)
    store = Store(engine)
    return ControlPlane(store, BlobStore(tmp_path / "blobs"), timing=TIMING, notifier=Notifier(store))


@pytest.fixture
def plane(tmp_path):
    cp = build(tmp_path)
    cp.models.create("cc-fraud")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as bundle:
        manifest = json.dumps({"name": "cc-fraud", "version": "1.0.0"}).encode()
        entry = tarfile.TarInfo("snapshot.json")
        entry.size = len(manifest)
        bundle.addfile(entry, io.BytesIO(manifest))
    blob = cp.blobs.put_bytes(archive.getvalue())
    cp.snapshots.add(model="cc-fraud", archive=blob, archive_name="s.tar.gz", version=None, description=None, service_tags=["cc-fraud"], runtimes=[])
    return cp


def register(cp, name, *tags):
    stages = [t for t in tags if t.isupper()]
    return cp.runtimes.register({"name": name, "stage_tags": stages, "service_tags": [t for t in tags if t not in stages]})["runtime"]["id"]


def new_job(cp, stage="DEV"):
    request = {"job_type": "batchjob", "snapshot": "cc-fraud", "stage": stage,
               "inputs": [{"kind": "embedded", "records": [{"x": 1}]}], "outputs": [{"kind": "embedded", "name": "out"}]}
    return cp.jobs.create(request, principal=ADMIN)["id"]


def result(status="COMPLETE"):
    return {"attempt": 1, "status": status, "result": {"status": status, "outputs": []}}


def test_the_migrations_build_exactly_the_tables_the_code_uses(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from modelop_spark.controlplane.tables import Base

    engine = make_engine(default_url(tmp_path))
    upgrade(engine)
    upgrade(engine)  # a second start migrates nothing
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_snapshot_takes_its_version_from_its_manifest_and_a_model_name_finds_the_newest(plane):
    assert plane.snapshots.get("cc-fraud")["version"] == "1.0.0"
    assert plane.snapshots.get("cc-fraud")["manifest"]["name"] == "cc-fraud"


def test_a_snapshot_by_location_is_handed_to_the_runtime_as_it_is(plane):
    plane.models.create("remote")
    snapshot = plane.snapshots.add(model="remote", archive=None, archive_name=None, version=None, description=None,
                                  service_tags=["cc-fraud"], runtimes=[], location="s3://models/remote/1.tar.gz")
    assert snapshot["version"] == "1" and snapshot["archive"] is None
    dev = register(plane, "dev", "DEV", "cc-fraud")
    request = {"job_type": "batchjob", "snapshot": "remote", "stage": "DEV", "inputs": [{"kind": "sql", "query": "SELECT 1 AS x"}]}
    plane.jobs.create(request, principal=ADMIN)
    assert claim(plane, dev)["snapshot"]["location"] == "s3://models/remote/1.tar.gz"


def test_a_job_is_claimed_once(plane):
    dev = register(plane, "dev", "DEV", "cc-fraud")
    other = register(plane, "dev-2", "DEV", "churn")
    job_id = new_job(plane)
    assert plane.jobs.get(job_id)["runtime"] == "dev"
    assert claim(plane, other) is None  # not its job
    claimed = claim(plane, dev)
    assert claimed["job"]["id"] == job_id and claimed["attempt"] == 1 and claimed["document"]["snapshot"].startswith("controlplane-snapshot:")
    assert claim(plane, dev) is None
    assert plane.jobs.get(job_id)["status"] == "RUNNING"


def test_an_expired_lease_lets_another_runtime_take_over_and_the_late_result_does_not_count(plane):
    first = register(plane, "dev-a", "DEV", "cc-fraud")
    job_id = new_job(plane)
    assert claim(plane, first)["attempt"] == 1
    second = register(plane, "dev-b", "DEV", "cc-fraud")
    plane.sweeper.sweep(time.time() + 1)  # lease still held: nothing moves
    assert plane.jobs.get(job_id)["status"] == "RUNNING"
    plane.runtimes.heartbeat(second, {})
    plane.sweeper.sweep(time.time() + TIMING.lease_seconds + 1)  # first is silent: DOWN, and its lease expired
    job = plane.jobs.get(job_id)
    assert job["status"] == "WAITING"
    if job["runtime"] != "dev-b":  # both were silent in that sweep; dev-b comes back first
        plane.runtimes.register({"name": "dev-b", "stage_tags": ["DEV"], "service_tags": ["cc-fraud"]})
    taken = claim(plane, second)
    assert taken["job"]["id"] == job_id and taken["attempt"] == 2
    late = plane.dispatch.report_result(job_id, first, result())
    assert late["decision"] == "stale" and late["job"]["status"] == "RUNNING"
    on_time = {**result(), "attempt": 2}
    assert plane.dispatch.report_result(job_id, second, on_time)["decision"] == "accept"
    assert plane.dispatch.report_result(job_id, second, on_time)["decision"] == "duplicate"
    ended = [line["line"] for line in plane.jobs.logs(job_id) if "ended" in line["line"]]
    assert ended == ["control plane: attempt 2 ended COMPLETE"]


def test_heartbeats_renew_leases_and_report_lost_jobs(plane):
    dev = register(plane, "dev", "DEV", "cc-fraud")
    job_id = new_job(plane)
    claim(plane, dev)
    answer = plane.runtimes.heartbeat(dev, {"running": [{"job_id": job_id, "attempt": 1, "progress": {"tasks_done": 1, "tasks_total": 4}, "log": ["hello"]}]})
    assert answer["lost"] == [] and answer["cancel"] == []
    assert plane.jobs.get(job_id)["progress"] == {"tasks_done": 1, "tasks_total": 4}
    assert plane.runtimes.heartbeat(dev, {"running": [{"job_id": job_id, "attempt": 7}]})["lost"] == [job_id]
    plane.jobs.cancel(job_id)
    assert plane.runtimes.heartbeat(dev, {})["cancel"] == [job_id]


def test_no_match_waits_with_one_notification_then_starts_when_a_runtime_registers(plane):
    register(plane, "prod", "PROD", "cc-fraud")
    job_id = new_job(plane, stage="UAT")
    assert plane.jobs.get(job_id)["status"] == "WAITING"
    plane.sweeper.sweep(time.time())
    notes = plane.notifications.recent(job_id=job_id)
    assert [n["kind"] for n in notes] == ["NO_MATCHING_RUNTIME"]
    assert "missing: stage tag UAT" in notes[0]["message"]
    uat = register(plane, "uat", "UAT", "cc-fraud")
    assert plane.jobs.get(job_id)["runtime"] == "uat"
    assert claim(plane, uat)["job"]["id"] == job_id


def test_a_silent_runtime_is_down_with_a_notification_and_its_queued_jobs_move(plane):
    a = register(plane, "dev-a", "DEV", "cc-fraud")
    job_id = new_job(plane)
    assert plane.jobs.get(job_id)["runtime"] == "dev-a"
    b = register(plane, "dev-b", "DEV", "cc-fraud")
    later = time.time() + TIMING.down_after + 1
    plane.store.heartbeat(b, later)
    plane.sweeper.sweep(later)
    statuses = {r["name"]: r["status"] for r in plane.runtimes.all()}
    assert statuses == {"dev-a": "DOWN", "dev-b": "UP"}
    assert plane.jobs.get(job_id)["runtime"] == "dev-b"
    assert any(n["kind"] == "RUNTIME_DOWN" and "dev-a is DOWN" in n["message"] for n in plane.notifications.recent())
    plane.runtimes.heartbeat(a, {})
    assert {r["name"]: r["status"] for r in plane.runtimes.all()}["dev-a"] == "UP"


def test_a_failed_job_is_a_notification(plane):
    dev = register(plane, "dev", "DEV", "cc-fraud")
    job_id = new_job(plane)
    claim(plane, dev)
    failed = {"attempt": 1, "status": "ERROR", "result": {"status": "ERROR", "error": {"code": "MODEL_ERROR", "message": "score raised KeyError: 'x'"}}}
    assert plane.dispatch.report_result(job_id, dev, failed)["job"]["error"]["code"] == "MODEL_ERROR"
    notes = plane.notifications.recent(job_id=job_id)
    assert notes[0]["kind"] == "JOB_ERROR" and notes[0]["severity"] == "ERROR" and "score raised KeyError" in notes[0]["message"]


def test_a_runtime_token_speaks_only_for_its_own_runtimes(plane):
    from modelop_spark.controlplane.auth import Forbidden

    dev_token = Principal("runtime-dev", frozenset({"runtime"}))
    other = Principal("runtime-other", frozenset({"runtime"}))
    dev = plane.runtimes.register({"name": "dev", "stage_tags": ["DEV"], "service_tags": ["cc-fraud"]}, principal=dev_token)["runtime"]["id"]
    plane.runtimes.check_owner(dev, dev_token)
    plane.runtimes.check_owner(dev, ADMIN)
    with pytest.raises(Forbidden, match="did not register runtime"):
        plane.runtimes.check_owner(dev, other)
    with pytest.raises(Forbidden, match="registered by another user"):
        plane.runtimes.register({"name": "dev"}, principal=other)


def test_a_cancelled_queued_job_ends_at_once(plane):
    job_id = new_job(plane)  # no runtime: WAITING
    assert plane.jobs.cancel(job_id)["status"] == "CANCELLED"


def test_a_bad_job_is_refused_before_it_is_queued(plane):
    from modelop_spark.errors import SpecError

    with pytest.raises(SpecError, match="inputs"):
        plane.jobs.create({"job_type": "batchjob", "snapshot": "cc-fraud", "inputs": []}, principal=ADMIN)
    with pytest.raises(SpecError, match="expected batchjob, testjob or trainingjob"):
        plane.jobs.create({"job_type": "nightly", "snapshot": "cc-fraud", "inputs": [{"kind": "sql", "query": "SELECT 1"}]}, principal=ADMIN)


@pytest.mark.s3
def test_blobs_in_an_s3_bucket(tmp_path, moto_s3):  # noqa: F811
    from modelop_spark.controlplane.blobs import ChecksumMismatch, S3BlobStore

    client = moto_s3.client()
    client.create_bucket(Bucket="cp-blobs")
    engine = make_engine(default_url(tmp_path))
    upgrade(engine)
    store = Store(engine)
    cp = ControlPlane(store, S3BlobStore(tmp_path / "staging", "s3://cp-blobs/prod", client=client), timing=TIMING, notifier=Notifier(store))
    cp.models.create("cc-fraud")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as bundle:
        manifest = json.dumps({"name": "cc-fraud", "version": "2.0.0"}).encode()
        entry = tarfile.TarInfo("snapshot.json")
        entry.size = len(manifest)
        bundle.addfile(entry, io.BytesIO(manifest))
    blob = cp.blobs.put_bytes(archive.getvalue())
    assert cp.snapshots.add(model="cc-fraud", archive=blob, archive_name="s.tar.gz", version=None, description=None,
                           service_tags=["cc-fraud"], runtimes=[])["version"] == "2.0.0"  # its manifest, read back from S3
    dev = register(cp, "dev", "DEV", "cc-fraud")
    job_id = new_job(cp)
    assert claim(cp, dev)["document"]["inputs"][0]["records"] == [{"x": 1}]
    cp.dispatch.report_result(job_id, dev, result())
    assert cp.jobs.result(job_id)["status"] == "COMPLETE"
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="cp-blobs", Prefix="prod/")["Contents"]}
    assert f"prod/{blob.sha256[:2]}/{blob.sha256}" in keys and len(keys) == 3  # archive, job document, result
    assert not any(p.name.startswith(".incoming") for p in (tmp_path / "staging").iterdir())
    client.put_object(Bucket="cp-blobs", Key=f"prod/{blob.sha256[:2]}/{blob.sha256}", Body=b"tampered")
    with pytest.raises(ChecksumMismatch, match="corrupt"):
        cp.snapshots.archive(cp.snapshots.get("cc-fraud")["id"])


def test_a_claim_repeated_with_its_token_gets_the_same_job_and_attempt_and_no_other(plane):
    dev = plane.runtimes.register({"name": "dev", "stage_tags": ["DEV"], "service_tags": ["cc-fraud"], "capacity": 2})["runtime"]["id"]
    first, second = new_job(plane), new_job(plane)
    taken = plane.dispatch.claim_next(dev, "token-1")
    assert taken["job"]["id"] == first and taken["attempt"] == 1
    again = plane.dispatch.claim_next(dev, "token-1")  # the answer was lost; the runtime asks again
    assert again["job"]["id"] == first and again["attempt"] == 1
    assert plane.dispatch.claim_next(dev, "token-2")["job"]["id"] == second
    assert plane.dispatch.claim_next(dev, "token-3") is None
    assert [line["line"] for line in plane.jobs.logs(first)].count("control plane: attempt 1 claimed by runtime dev") == 1
    assert plane.dispatch.report_result(first, dev, result())["decision"] == "accept"
    assert plane.dispatch.claim_next(dev, "token-1") is None  # a finished job is never handed out again


def test_a_creation_sent_again_with_its_idempotency_key_makes_one_job_model_and_snapshot(plane):
    request = {"job_type": "batchjob", "snapshot": "cc-fraud", "inputs": [{"kind": "embedded", "records": [{"x": 1}]}],
               "outputs": [{"kind": "embedded", "name": "out"}]}
    first = plane.jobs.create(request, principal=ADMIN, idempotency_key="k-1")
    again = plane.jobs.create(request, principal=ADMIN, idempotency_key="k-1")
    assert again["id"] == first["id"] and len(plane.jobs.find()) == 1
    assert plane.jobs.create(request, principal=ADMIN)["id"] != first["id"]  # no key: a new job each time
    with pytest.raises(Conflict, match="different job request"):
        plane.jobs.create({**request, "stage": "PROD"}, principal=ADMIN, idempotency_key="k-1")
    other_user = Principal("bob", frozenset({"admin"}))
    assert plane.jobs.create(request, principal=other_user, idempotency_key="k-1")["id"] != first["id"]  # keys are per user
    key = Idempotent("admin", "model", "m-1", fingerprint(["churn", ""]))
    assert plane.models.create("churn", key=key)["id"] == plane.models.create("churn", key=key)["id"]
    snapshot_key = Idempotent("admin", "snapshot", "s-1", fingerprint("s"))
    once = {"model": "churn", "archive": None, "archive_name": None, "version": "2", "description": None,
            "service_tags": ["churn"], "runtimes": [], "location": "s3://models/churn-2.tar.gz"}
    told = []
    plane.snapshots.listeners.append(told.append)
    made = [plane.snapshots.add(key=snapshot_key, **once)["id"] for _ in range(2)]
    assert made[0] == made[1] and len(plane.snapshots.all("churn")) == 1 and len(told) == 1  # one life cycle


def test_a_refused_creation_leaves_its_key_free_for_the_corrected_request(plane):
    # the key is written in the job's own transaction: a request refused before it leaves none
    request = {"job_type": "batchjob", "snapshot": "cc-fraud", "inputs": [{"kind": "embedded", "records": [{"x": 1}]}],
               "outputs": [{"kind": "embedded", "name": "out"}]}
    with pytest.raises(Exception, match="snapshot"):
        plane.jobs.create({**request, "snapshot": ""}, principal=ADMIN, idempotency_key="k-10")
    assert plane.store.key_holder(Idempotent("admin", "job", "k-10", fingerprint({"request": request, "stage": None, "runtime": None}))) is None
    made = plane.jobs.create(request, principal=ADMIN, idempotency_key="k-10")
    assert [j["id"] for j in plane.jobs.find()] == [made["id"]]


def test_a_client_whose_answer_is_lost_sends_the_creation_again_and_gets_the_same_job(plane):
    class LoseFirstAnswer(httpx.BaseTransport):
        """The request reaches the control plane and is done; its answer never comes back."""

        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner, self.keys = inner, []

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self.inner.handle_request(request)
            if request.method == "POST":
                self.keys.append(request.headers.get("Idempotency-Key"))
                if len(self.keys) == 1:
                    response.read()
                    raise httpx.ReadError("connection reset by peer", request=request)
            return response

    app = create_app(plane, TokenBook.load(environ={TOKEN_ENV: "secret-token"}))
    served = TestClient(app)
    lossy = LoseFirstAnswer(served._transport)
    client = Client("http://testserver", token="secret-token")
    client._http = httpx.Client(transport=lossy, headers={"Authorization": "Bearer secret-token"})
    job = client.create_job({"job_type": "batchjob", "snapshot": "cc-fraud", "inputs": [{"kind": "embedded", "records": [{"x": 1}]}],
                             "outputs": [{"kind": "embedded", "name": "out"}]})
    assert len(lossy.keys) == 2 and lossy.keys[0] == lossy.keys[1]  # sent again, with its key
    assert [j["id"] for j in plane.jobs.find()] == [job["id"]]  # one job, not two


async def _claim_then_create(claiming: ControlPlane, runtime_id: str, creating: ControlPlane) -> tuple[str, dict | None, float]:
    """A long poll waits on ``claiming``; a job is created (and assigned) through ``creating``."""
    waiting = asyncio.create_task(claiming.dispatch.claim(runtime_id, wait=SAFETY_POLL_SECONDS + 5))
    await asyncio.sleep(0.5)  # the claim has looked once and sleeps
    created = time.monotonic()
    job_id = await asyncio.to_thread(new_job, creating)
    claimed = await waiting
    return job_id, claimed, time.monotonic() - created


def test_a_waiting_claim_wakes_when_its_runtime_gets_a_job_not_at_its_next_poll(plane):
    dev = register(plane, "dev", "DEV", "cc-fraud")
    job_id, claimed, took = asyncio.run(_claim_then_create(plane, dev, plane))
    assert claimed is not None and claimed["job"]["id"] == job_id
    assert took < SAFETY_POLL_SECONDS / 2  # woken by the assignment, not by the safety poll


def test_a_claim_waiting_on_one_control_plane_wakes_for_a_job_the_other_assigned(postgres, tmp_path):  # noqa: F811
    with postgres.connect() as connection:
        connection.execute("CREATE DATABASE wakeups")
    url = f"postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/wakeups"
    planes = []
    for _ in range(2):  # two control planes on one database, as two processes would be
        engine = make_engine(url)
        upgrade(engine)
        store = Store(engine)
        planes.append(ControlPlane(store, BlobStore(tmp_path / "blobs"), timing=TIMING, notifier=Notifier(store)))
    a, b = planes
    b.models.create("cc-fraud")
    b.snapshots.add(model="cc-fraud", archive=None, archive_name=None, version="1", description=None, service_tags=["cc-fraud"],
                    runtimes=[], location="s3://models/cc-fraud.tar.gz")
    dev = register(b, "dev", "DEV", "cc-fraud")
    assert a.listener is not None
    a.listener.start()  # only the listener: no sweeper of a's own assigns the job
    try:
        time.sleep(1.0)  # LISTEN is in place
        job_id, claimed, took = asyncio.run(_claim_then_create(a, dev, b))
    finally:
        a.context.stopping.set()
        a.listener.join()
    assert claimed is not None and claimed["job"]["id"] == job_id
    assert took < SAFETY_POLL_SECONDS / 2  # b's NOTIFY reached a's waiting claim


def test_a_burst_of_jobs_missing_one_runtime_is_one_notification_with_their_count(plane):
    register(plane, "dev", "DEV", "cc-fraud")
    first = new_job(plane, stage="UAT")
    burst = [new_job(plane, stage="UAT") for _ in range(4)]  # the same runtime is missing for each
    plane.dispatch.assign(time.time())
    notes = [n for n in plane.notifications.recent() if n["kind"] == "NO_MATCHING_RUNTIME"]
    assert len(notes) == 1 and first in notes[0]["message"]  # the others are held for a while, not one each
    plane.dispatch.assign(time.time() + 61)
    notes = [n for n in plane.notifications.recent() if n["kind"] == "NO_MATCHING_RUNTIME"]
    assert len(notes) == 2 and notes[0]["message"].startswith("4 jobs are WAITING") and all(j in notes[0]["message"] for j in burst)
    assert "missing: stage tag UAT" in notes[0]["message"]
