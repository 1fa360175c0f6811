"""The life-cycle runner over a real SQLite control plane, without HTTP or runtimes: schedules
fire once per due time, a job step creates its job once even when a second copy of the instance
advances, an instance nobody handles is not started. The clock is passed in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelop_spark.errors import SpecError
from modelop_spark.mlc import schedules
from modelop_spark.mlc.lifecycles import LifeCycles
from modelop_spark.mlc.processes import DEFAULT_FOLDER, Catalog
from tests.servers import postgres  # noqa: F401  (a fixture)
from tests.test_controlplane_store import build

SCHEDULE = """
[[schedule]]
name = "nightly-fraud-retrain"
process = "retrain"
model = "cc-fraud"
cron = "0 2 * * *"
data = "file:///data/labeled.csv"
"""
DAY = 86400.0
NIGHT = 20 * 365 * DAY + 2 * 3600  # 02:00 UTC, some day in 1990


@pytest.fixture
def lifecycles(tmp_path) -> LifeCycles:
    folder = tmp_path / "mlc"
    shutil.copytree(DEFAULT_FOLDER, folder)
    (folder / "schedules.toml").write_text(SCHEDULE)
    plane = build(tmp_path)
    plane.started_at = NIGHT - DAY / 2
    cycles = LifeCycles(plane, Catalog.load(folder))
    plane.models.create("cc-fraud")
    blob = plane.blobs.put_bytes(_archive())
    plane.snapshots.add(model="cc-fraud", archive=blob, archive_name="s.tar.gz", version="1", description=None, service_tags=["cc-fraud"],
                       runtimes=[], test_data="file:///data/test.csv")
    return cycles


def _archive(files: dict[str, bytes] | None = None) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, content in (files or {"model.py": b""}).items():
            entry = tarfile.TarInfo(name)
            entry.size = len(content)
            bundle.addfile(entry, io.BytesIO(content))
    return buffer.getvalue()


def test_test_data_named_in_snapshot_json_is_read_from_the_archive(lifecycles):
    plane = lifecycles.plane
    archive = _archive({"model.py": b"", "snapshot.json": b'{"test_data": "data/test.csv"}', "data/test.csv": b"id,x\n1,2\n"})
    snapshot = plane.snapshots.add(model="cc-fraud", archive=plane.blobs.put_bytes(archive), archive_name="s.tar.gz", version="3",
                                  description=None, service_tags=["cc-fraud"], runtimes=[])
    assert snapshot["test_data"] == {"path": "data/test.csv"}
    assert plane.snapshots.file(snapshot["id"], "data/test.csv") == b"id,x\n1,2\n"
    cycle = lifecycles.list(snapshot_id=snapshot["id"])[0]
    job = next(j for j in plane.jobs.find() if j["snapshot_id"] == snapshot["id"])
    assert cycle["current_step"]["id"] == "Task_TestDev" and job["inputs"][0] == {"kind": "embedded", "name": "test.csv", "records": 1}


def test_due_is_the_latest_fire_time_since_the_last_one():
    assert schedules.due("0 2 * * *", after=NIGHT - 60, now=NIGHT + 60) == NIGHT
    assert schedules.due("0 2 * * *", after=NIGHT, now=NIGHT + DAY - 1) is None  # fired already
    assert schedules.due("0 2 * * *", after=NIGHT - 3 * DAY, now=NIGHT) == NIGHT  # missed runs are not made up one by one


def test_a_bad_schedule_is_one_line_naming_the_entry(tmp_path):
    path = tmp_path / "schedules.toml"
    path.write_text(SCHEDULE.replace("0 2 * * *", "at night"))
    with pytest.raises(SpecError, match=r"schedule\[0\] in .*: cron 'at night' is not a cron expression"):
        schedules.load(path, processes={"retrain"})
    path.write_text(SCHEDULE)
    with pytest.raises(SpecError, match="no process 'retrain'; deployed: operationalize"):
        schedules.load(path, processes={"operationalize"})


def test_a_schedule_starts_the_retrain_once_per_due_time_with_its_data(lifecycles):
    plane = lifecycles.plane
    assert lifecycles.fire_schedules(NIGHT - 60) == []  # not due yet
    started = lifecycles.fire_schedules(NIGHT + 5)
    assert len(started) == 1 and lifecycles.fire_schedules(NIGHT + 30) == []  # once per due time
    instance = lifecycles.view(started[0])
    assert instance["process"] == "retrain" and instance["trigger"] == {"by": "schedule", "schedule": "nightly-fraud-retrain", "due": NIGHT}
    assert instance["state"] == "RUNNING" and instance["current_step"] == {"id": "Task_Train", "name": "Training job on DEV"}
    jobs = plane.jobs.find()
    training = [j for j in jobs if j["job_type"] == "training"]
    assert len(training) == 1 and training[0]["inputs"][0]["url"] == "file:///data/labeled.csv"
    assert training[0]["status"] == "WAITING" and training[0]["runtime"] is None  # no DEV runtime here
    assert len(lifecycles.fire_schedules(NIGHT + DAY + 1)) == 1  # the next night


def test_a_job_step_creates_its_job_once_however_often_it_is_advanced(lifecycles):
    snapshot_cycle = lifecycles.list()[0]  # the snapshot's operationalize life cycle, waiting for its test job
    assert snapshot_cycle["process"] == "operationalize-batch-model" and snapshot_cycle["current_step"]["id"] == "Task_TestDev"
    for _ in range(3):
        lifecycles.advance(snapshot_cycle["id"])
    assert [j["job_type"] for j in lifecycles.plane.jobs.find()] == ["metrics"]
    stale = lifecycles.store.get(snapshot_cycle["id"])
    assert lifecycles.store.save(lifecycles.store.get(snapshot_cycle["id"]), now=1.0, state="RUNNING") is not None  # another process moved on
    assert lifecycles.store.save(stale, now=2.0, state="FAILED") is None  # so the older copy changes nothing
    assert lifecycles.view(snapshot_cycle["id"])["state"] == "RUNNING"


def test_a_snapshot_without_service_tags_starts_no_life_cycle(lifecycles):
    plane = lifecycles.plane
    blob = plane.blobs.put_bytes(_archive())
    plane.snapshots.add(model="cc-fraud", archive=blob, archive_name="s.tar.gz", version="2", description=None, service_tags=[], runtimes=["dev-1"])
    assert len(lifecycles.list()) == 1


def test_the_shipped_folder_has_no_schedule():
    assert Catalog.load(Path(DEFAULT_FOLDER)).schedules == ()


@pytest.mark.postgres
def test_on_postgresql_a_life_cycle_starts_saves_its_workflow_and_guards_stale_saves(postgres, tmp_path, monkeypatch):  # noqa: F811
    from modelop_spark.controlplane.blobs import BlobStore
    from modelop_spark.controlplane.database import make_engine, upgrade
    from modelop_spark.controlplane.leases import Timing
    from modelop_spark.controlplane.notifications import Notifier
    from modelop_spark.controlplane.service import ControlPlane
    from modelop_spark.controlplane.store import Store

    with postgres.connect() as connection:
        connection.execute("CREATE DATABASE mlc")
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    engine = make_engine(f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/mlc")
    upgrade(engine)
    store = Store(engine)
    plane = ControlPlane(store, BlobStore(tmp_path / "blobs"), timing=Timing(heartbeat_interval=1), notifier=Notifier(store))
    cycles = LifeCycles(plane, Catalog.load(DEFAULT_FOLDER))
    plane.models.create("cc-fraud")
    snapshot = plane.snapshots.add(model="cc-fraud", archive=plane.blobs.put_bytes(_archive()), archive_name="s.tar.gz", version="1",
                                  description=None, service_tags=["cc-fraud"], runtimes=[], test_data="file:///data/test.csv")
    cycle = cycles.list(snapshot_id=snapshot["id"])[0]
    cycles.advance(cycle["id"])
    assert cycle["current_step"]["id"] == "Task_TestDev" and [j["job_type"] for j in plane.jobs.find()] == ["metrics"]
    stale = cycles.store.get(cycle["id"])
    assert cycles.store.save(cycles.store.get(cycle["id"]), now=1.0, state="RUNNING") is not None
    assert cycles.store.save(stale, now=2.0, state="FAILED") is None
    assert plane.snapshots.get(snapshot["id"])["test_data"] == {"url": "file:///data/test.csv"}
    engine.dispose()
