"""The control plane's operations over a real SQLite database, without HTTP: migrations, atomic
claims, lease take-over, results counted once, DOWN runtimes. The clock is passed in, so nothing
here waits."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import time

import pytest

from modelop_spark.controlplane.auth import Principal
from modelop_spark.controlplane.blobs import BlobStore
from modelop_spark.controlplane.database import default_url, make_engine, upgrade
from modelop_spark.controlplane.leases import Timing
from modelop_spark.controlplane.notifications import Notifier
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.controlplane.store import Store
from tests.servers import moto_s3  # noqa: F401  (a fixture)

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
