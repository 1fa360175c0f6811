"""Writing a new snapshot version: checksums, lineage, one-step commit, rerun rules. No Spark."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from modelop_spark.errors import SnapshotError
from modelop_spark.runtime.lineage import (
    InputLineage,
    Lineage,
    MlflowLineage,
    ParentRef,
    clean_metrics,
    delta_table_version,
)
from modelop_spark.runtime.snapshot import load_snapshot, sha256_file
from modelop_spark.runtime.snapshot_writer import (
    bump_version,
    read_target_manifest,
    start_snapshot,
    write_snapshot,
)

SOURCE = """\
import pickle

# modelop.init
def begin():
    global factor
    with open("factor.pkl", "rb") as f:
        factor = pickle.load(f)

# modelop.score
def action(record):
    yield {"y": record["x"] * factor}
"""


@pytest.fixture
def parent(tmp_path: Path) -> Path:
    root = tmp_path / "parent"
    root.mkdir()
    (root / "model.py").write_text(SOURCE)
    (root / "factor.pkl").write_bytes(b"\x80\x04K\x02.")  # pickle of 2
    manifest = {"name": "doubler", "version": "1.0.0", "tags": ["doubler"], "source": "model.py",
                "functions": {"init": "begin", "score": "action"}, "assets": [{"path": "factor.pkl"}]}  # fmt: skip
    (root / "snapshot.json").write_text(json.dumps(manifest))
    return root


def _lineage(job_id: str = "job-1") -> Lineage:
    return Lineage(
        training_job_id=job_id,
        parent=ParentRef(name="doubler", version="1.0.0", location="s3://user:hunter22@bucket/parent"),
        inputs=(InputLineage(location="/data/train.csv", kind="file", format="csv", rows=10),
                InputLineage(location="/data/delta", kind="delta", rows=5, delta_version=3)),  # fmt: skip
        metrics={"auc": 0.91, "nan": float("nan")},
        created_at="2026-11-25T20:00:00Z",
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1.0.0", "1.0.1"), ("3", "4"), ("v2", "v3"), ("2024.1-rc09", "2024.1-rc10"), (None, "1"), ("latest", "latest.1")],
)
def test_bump_version(given, expected):
    assert bump_version(given) == expected


def test_committed_folder_loads_with_checksums_and_lineage(parent, tmp_path):
    draft = start_snapshot(str(tmp_path / "out" / "v2"), job_id="job-1", parent_root=parent,
                           parent_manifest=json.loads((parent / "snapshot.json").read_text()))  # fmt: skip
    (draft.folder / "factor.pkl").write_bytes(b"\x80\x04K\x03.")  # the training wrote a new artifact
    (draft.folder / "extra").mkdir()
    (draft.folder / "extra" / "notes.txt").write_text("trained")
    assert not (tmp_path / "out" / "v2").exists()  # nothing visible before the commit
    written = draft.commit(version="1.0.1", lineage=_lineage())

    snapshot = load_snapshot(written.location)
    assert (snapshot.name, snapshot.version) == ("doubler", "1.0.1")
    assert snapshot.digest == written.digest
    manifest = json.loads((Path(written.location) / "snapshot.json").read_text())
    assert manifest["functions"] == {"init": "begin", "score": "action"}
    assets = {a["path"]: a["sha256"] for a in manifest["assets"]}
    assert set(assets) == {"model.py", "factor.pkl", "extra/notes.txt"}
    assert assets["factor.pkl"] == sha256_file(Path(written.location) / "factor.pkl")
    lineage = manifest["lineage"]
    assert lineage["training_job_id"] == "job-1"
    assert lineage["parent"] == {"name": "doubler", "version": "1.0.0", "location": "s3://user:***@bucket/parent"}
    assert lineage["rows"] == 15
    assert lineage["inputs"][1]["delta_version"] == 3
    assert lineage["metrics"] == {"auc": 0.91, "nan": None}
    assert Lineage.from_dict(lineage).to_dict() == lineage
    assert not (tmp_path / "out" / ".modelop-staging").exists()


def test_tampered_asset_fails_the_checksum_on_load(parent, tmp_path):
    written = write_snapshot(parent, str(tmp_path / "v2"), job_id="job-1", version="1.0.1")
    (Path(written.location) / "factor.pkl").write_bytes(b"\x80\x04K\x09.")
    with pytest.raises(SnapshotError, match="factor.pkl.*checksum"):
        load_snapshot(written.location)


@pytest.mark.parametrize("name", ["v2.tar.gz", "v2.zip"])
def test_archive_target_loads_directly(parent, tmp_path, name):
    written = write_snapshot(parent, str(tmp_path / name), job_id="job-1", version="1.0.1", lineage=_lineage())
    assert written.archive and Path(written.location).is_file()
    opener = zipfile.ZipFile if name.endswith(".zip") else tarfile.open
    with opener(written.location) as bundle:
        names = bundle.namelist() if name.endswith(".zip") else bundle.getnames()
    assert sorted(names) == ["factor.pkl", "model.py", "snapshot.json"]
    snapshot = load_snapshot(written.location)
    assert snapshot.version == "1.0.1"
    assert read_target_manifest(written.location)["lineage"]["training_job_id"] == "job-1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("name", ["v2", "v2.tar.gz"])
def test_rerun_of_the_same_job_replaces_its_own_output(parent, tmp_path, name):
    target = str(tmp_path / name)
    write_snapshot(parent, target, job_id="job-1", version="1.0.1", lineage=_lineage())
    (parent / "factor.pkl").write_bytes(b"\x80\x04K\x05.")
    again = write_snapshot(parent, target, job_id="job-1", version="1.0.1", lineage=_lineage())
    assert load_snapshot(again.location).digest == again.digest
    folder = load_snapshot(again.location).root
    assert (folder / "factor.pkl").read_bytes() == b"\x80\x04K\x05."


def test_another_jobs_snapshot_is_not_overwritten(parent, tmp_path):
    target = str(tmp_path / "v2")
    write_snapshot(parent, target, job_id="job-1", version="1.0.1", lineage=_lineage("job-1"))
    with pytest.raises(SnapshotError, match=r"written by training job 'job-1'.*this is 'job-2'"):
        start_snapshot(target, job_id="job-2", parent_root=parent)
    replaced = write_snapshot(parent, target, job_id="job-2", version="1.0.1", lineage=_lineage("job-2"), if_exists="replace")
    assert read_target_manifest(replaced.location)["lineage"]["training_job_id"] == "job-2"


def test_discarded_draft_leaves_the_previous_snapshot_untouched(parent, tmp_path):
    target = tmp_path / "v2"
    write_snapshot(parent, str(target), job_id="job-1", version="1.0.1", lineage=_lineage())
    before = load_snapshot(str(target)).digest
    draft = start_snapshot(str(target), job_id="job-1", parent_root=parent)
    (draft.folder / "factor.pkl").write_bytes(b"half")
    draft.discard()
    assert load_snapshot(str(target)).digest == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parent", "v2"]


def test_a_killed_attempt_is_cleared_by_the_rerun(parent, tmp_path):
    draft = start_snapshot(str(tmp_path / "v2"), job_id="job-1", parent_root=parent)
    (draft.folder / "junk.bin").write_bytes(b"partial")  # the process died here
    written = write_snapshot(parent, str(tmp_path / "v2"), job_id="job-1", version="1.0.1")
    assert not (Path(written.location) / "junk.bin").exists()


def test_clean_metrics_makes_json_values():
    import numpy as np

    cleaned = clean_metrics({"a": np.float64(0.5), "b": np.int64(3), "c": float("inf"), "d": np.array([1, 2]), "e": {"x": 1}})
    assert cleaned == {"a": 0.5, "b": 3, "c": None, "d": [1, 2], "e": {"x": 1}}
    json.dumps(cleaned)


def test_mlflow_lineage_redacts_the_tracking_uri():
    lineage = MlflowLineage(run_id="r1", tracking_uri="https://bob:s3cr3tpw@mlflow.example/")
    assert "s3cr3tpw" not in json.dumps(lineage.to_dict())


def test_delta_table_version(tmp_path):
    import pandas as pd
    from deltalake import write_deltalake

    url = str(tmp_path / "delta")
    write_deltalake(url, pd.DataFrame({"x": [1]}))
    write_deltalake(url, pd.DataFrame({"x": [2]}), mode="append")
    assert delta_table_version(url) == 1
    assert delta_table_version(str(tmp_path / "missing")) is None
