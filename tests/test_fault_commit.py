"""Faults in the commit of a job's outputs: a process killed at each step, an error mid-way,
dead attempts, foreign targets. The commit is plain file operations, so these run without Spark;
the kill is a real process exit at the named step (``MODELOP_SPARK_FAULT_AT``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelop_spark.assets import commit
from modelop_spark.assets.filesystem import LocalFileSystem
from modelop_spark.errors import AssetError

JOB = "job-7"


def _stage(target: Path, text: str, *, attempt: str = "0000abcd") -> str:
    staging = Path(commit.staging_path(str(target), JOB, attempt))
    staging.mkdir(parents=True)
    (staging / "part-00000.csv").write_text(text)
    (staging / "_SUCCESS").write_text("")
    return str(staging)


def _ours(target: Path, text: str) -> None:
    target.mkdir(parents=True)
    (target / "part-old.csv").write_text(text)
    (target / commit.MARKER).write_text(json.dumps({"job_id": JOB, "commit": f"{JOB}.0ld0ld00"}))


def _content(target: Path) -> str:
    return "".join(p.read_text() for p in sorted(target.glob("*.csv"))) if target.is_dir() else target.read_text()


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".modelop-staging" in p.parts)


KILL_SCRIPT = """
import sys
from modelop_spark.assets import commit
from modelop_spark.assets.filesystem import LocalFileSystem
fs = LocalFileSystem()
a, sa, b, sb, mode = sys.argv[1:6]
plans = [commit.plan_publication(fs, sa, a, mode=mode, job_id="job-7"),
         commit.plan_publication(fs, sb, b, mode=mode, job_id="job-7")]
commit.commit_publications(plans, job_id="job-7")
"""


def _killed_commit(tmp_path: Path, step: str, *, mode: str = "overwrite") -> tuple[Path, Path]:
    a, b = tmp_path / "scores", tmp_path / "rejected"
    _ours(a, "old-a")
    _ours(b, "old-b")
    sa, sb = _stage(a, "new-a"), _stage(b, "new-b")
    env = {**os.environ, commit.FAULT_ENV: step}
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(a), sa, str(b), sb, mode], env=env, capture_output=True, text=True)
    assert done.returncode == commit.FAULT_EXIT_CODE, done.stderr
    return a, b


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("prepared", "old"),
        ("swapped-0", "old"),
        ("aside-0", "old"),
        ("published-0", "old"),
        ("aside-1", "old"),
        ("published-1", "old"),
        ("committed", "new"),
        ("cleaned-0", "new"),
    ],
)
def test_a_commit_killed_at_any_step_is_all_old_or_all_new_after_the_next_run(tmp_path, step, expected):
    a, b = _killed_commit(tmp_path, step)
    done = commit.recover(lambda _: LocalFileSystem(), [str(a), str(b)], JOB)
    assert done and "rolled" in done[0]
    assert (_content(a), _content(b)) == (f"{expected}-a", f"{expected}-b")
    assert _leftovers(tmp_path) == []  # no staging, backup or journal left anywhere


@pytest.mark.parametrize(("step", "expected"), [("aside-0", "old"), ("published-1", "old"), ("committed", "new")])
def test_an_append_killed_mid_commit_never_leaves_a_second_copy(tmp_path, step, expected):
    a, b = tmp_path / "scores", tmp_path / "rejected"
    for target in (a, b):  # an earlier run of this job appended its part to a shared folder
        target.mkdir()
        (target / "part-other-job.csv").write_text("other;")
        (target / f"part-{JOB}-00000.csv").write_text("old;")
    sa, sb = _stage(a, "new;"), _stage(b, "new;")
    env = {**os.environ, commit.FAULT_ENV: step}
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(a), sa, str(b), sb, "append"], env=env, check=False)
    commit.recover(lambda _: LocalFileSystem(), [str(a), str(b)], JOB)
    assert _content(a) == _content(b)
    assert sorted(_content(a).split(";")) == sorted(["other", expected, ""])
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("step", ["prepared", "swapped-0", "aside-0", "published-0", "swapped-1", "aside-1", "published-1", "committed"])
def test_a_reader_finds_the_old_or_the_new_output_at_every_moment_of_an_overwrite(tmp_path, step):
    """The overwrite is one atomic swap (renameat2 RENAME_EXCHANGE) on a local file system: a
    process killed at any step leaves each target whole, old or new, even before recovery."""
    a, b = _killed_commit(tmp_path, step)
    assert _content(a) in ("old-a", "new-a") and _content(b) in ("old-b", "new-b")


def test_outputs_of_different_attempts_are_told_apart_by_their_commit_records(tmp_path):
    fs = LocalFileSystem()
    a, b = _killed_commit(tmp_path, "published-0")  # the first output is new, the second old
    first, second = commit.commit_record(fs, str(a)), commit.commit_record(fs, str(b))
    assert first["commit"] != second["commit"] and str(b) in first["outputs"]
    commit.recover(lambda _: fs, [str(a), str(b)], JOB)  # the next run of the job, then its commit
    plans = [commit.plan_publication(fs, _stage(t, f"new-{t.name}", attempt="0000beef"), str(t), mode="overwrite", job_id=JOB) for t in (a, b)]
    commit.commit_publications(plans, job_id=JOB)
    first, second = commit.commit_record(fs, str(a)), commit.commit_record(fs, str(b))
    assert first["commit"] == second["commit"] and first["commit"].startswith(f"{JOB}.") and first["job_id"] == JOB


def test_modelop_spark_recover_repairs_every_journal_under_a_folder_without_the_job(tmp_path):
    a, b = _killed_commit(tmp_path, "published-0")
    done = subprocess.run([sys.executable, "-m", "modelop_spark.cli", "recover", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"rolled back the interrupted commit of job {JOB}"
    assert (_content(a), _content(b)) == ("old-a", "old-b")
    assert not list(tmp_path.rglob("*.commit.json"))
    again = subprocess.run([sys.executable, "-m", "modelop_spark.cli", "recover", str(tmp_path)], capture_output=True, text=True)
    assert again.stdout.startswith("no interrupted commit under")


def test_an_error_while_publishing_restores_every_output(tmp_path, monkeypatch):
    a, b = tmp_path / "scores", tmp_path / "rejected"
    _ours(a, "old-a")
    _ours(b, "old-b")
    fs = LocalFileSystem()
    plans = [commit.plan_publication(fs, _stage(t, f"new-{t.name}"), str(t), mode="overwrite", job_id=JOB) for t in (a, b)]
    real_rename = LocalFileSystem.rename

    def failing_rename(self, source, target):
        if target == str(b) and ".previous" not in source:  # publishing b fails; restoring works
            raise OSError("disk full")
        real_rename(self, source, target)

    monkeypatch.setattr(LocalFileSystem, "rename", failing_rename)
    monkeypatch.setattr(LocalFileSystem, "exchange", lambda self, first, second: False)  # the two-step path
    with pytest.raises(OSError, match="disk full"):
        commit.commit_publications(plans, job_id=JOB)
    assert (_content(a), _content(b)) == ("old-a", "old-b")
    assert _leftovers(tmp_path) == []


def test_the_next_run_removes_dead_attempts_of_its_job_only(tmp_path):
    target = tmp_path / "scores"
    dead = Path(_stage(target, "x", attempt="deadbeef"))
    Path(f"{dead}.previous").mkdir()
    other_job = Path(commit.staging_path(str(target), "job-8", "0000abcd"))
    other_job.mkdir(parents=True)
    done = commit.recover(lambda _: LocalFileSystem(), [str(target)], JOB)
    assert len(done) == 2
    assert not dead.exists() and other_job.exists()


def test_overwrite_refuses_a_folder_this_runtime_did_not_write(tmp_path):
    target = tmp_path / "reports"
    target.mkdir()
    (target / "thesis.docx").write_text("years of work")
    staging = _stage(target, "new")
    with pytest.raises(AssetError, match=r"did not write.*replace_foreign"):
        commit.plan_publication(LocalFileSystem(), staging, str(target), mode="overwrite", job_id=JOB)
    assert (target / "thesis.docx").exists()
    plan = commit.plan_publication(LocalFileSystem(), staging, str(target), mode="overwrite", job_id=JOB, replace_foreign=True)
    commit.commit_publications([plan], job_id=JOB)
    assert _content(target) == "new"
    assert json.loads((target / commit.MARKER).read_text())["job_id"] == JOB  # ours from now on


def test_a_single_file_output_refuses_a_foreign_file_and_replaces_its_own(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("someone else's")
    with pytest.raises(AssetError, match="did not write"):
        commit.check_foreign(LocalFileSystem(), str(target), "overwrite", label="scores")
    target.unlink()
    for text in ("first", "second"):
        commit.commit_single_file(LocalFileSystem(), _stage(target, text, attempt=f"{len(text):08x}"), str(target), mode="overwrite", job_id=JOB)
    assert target.read_text() == "second"
    assert _leftovers(tmp_path) == []


def test_the_job_lock_is_released_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time\nfrom pathlib import Path\nfrom modelop_spark.assets.commit import job_lock\n"
         "with job_lock('job-7', folder=Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(600)\n", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    with commit.job_lock(JOB, folder=tmp_path):  # would block forever if the dead process held it
        pass


OBJECT_STORE_SCRIPT = """
import sys
import pyarrow.fs as pa_fs
from modelop_spark.assets import commit, staging
from modelop_spark.assets.arrow_io import WrittenFile
from modelop_spark.assets.s3 import _publication
fs = pa_fs.LocalFileSystem()
target = sys.argv[1]
folder = staging.staging_dir(target, "job-7")
fs.create_dir(folder)
with fs.open_output_stream(folder + "/part-x.csv") as sink:
    sink.write(b"new")
staging.record_staged(fs, target, "job-7", [WrittenFile(path=folder + "/part-x.csv", rows=1, size=3, partition_values={})])
publication, _ = _publication(fs, target, job_id="job-7", mode="overwrite", single=False, extension=".csv", label="scores")
commit.commit_publications([publication], job_id="job-7")
"""


@pytest.mark.parametrize(("step", "expected"), [("published-0", "old"), ("committed", "new")])
def test_an_object_store_commit_killed_mid_way_is_recovered_the_same_way(tmp_path, step, expected):
    import pyarrow.fs as pa_fs

    from modelop_spark.assets.filesystem import ArrowFileSystem

    target = tmp_path / "scores"
    target.mkdir()
    (target / f"part-{JOB}-00000.csv").write_text("old")  # a previous run of this job
    env = {**os.environ, commit.FAULT_ENV: step}
    done = subprocess.run([sys.executable, "-c", OBJECT_STORE_SCRIPT, str(target)], env=env, capture_output=True, text=True)
    assert done.returncode == commit.FAULT_EXIT_CODE, done.stderr
    commit.recover(lambda _: ArrowFileSystem(pa_fs.LocalFileSystem()), [str(target)], JOB)
    assert _content(target) == expected
    assert _leftovers(tmp_path) == []


SINGLE_KILL_SCRIPT = """
import sys
from modelop_spark.assets import commit
from modelop_spark.assets.filesystem import LocalFileSystem
target, staging = sys.argv[1:3]
commit.commit_single_file(LocalFileSystem(), staging, target, mode="overwrite", job_id="job-7")
"""


@pytest.mark.parametrize("step", ["prepared", "swapped-0", "aside-0", "published-0", "committed"])
def test_a_single_file_overwrite_killed_at_any_step_leaves_the_old_or_the_new_file(tmp_path, step):
    """A single-file output is put over the old file in one atomic rename (the old one kept by a
    hard link for a roll back): the target is never missing, and recovery gives old or new whole."""
    target = tmp_path / "scores.csv"
    target.write_text("old")
    Path(commit.sidecar_marker(str(target))).write_text(json.dumps({"job_id": JOB, "commit": f"{JOB}.0ld0ld00"}))
    staging = _stage(target, "new")
    env = {**os.environ, commit.FAULT_ENV: step}
    done = subprocess.run([sys.executable, "-c", SINGLE_KILL_SCRIPT, str(target), staging], env=env, capture_output=True, text=True)
    assert done.returncode == commit.FAULT_EXIT_CODE, done.stderr
    assert target.read_text() in ("old", "new")
    commit.recover(lambda _: LocalFileSystem(), [str(target)], JOB)
    assert target.read_text() == ("new" if step == "committed" else "old")
