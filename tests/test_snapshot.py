import io
import shutil
import tarfile
import zipfile

import pytest

from modelop_spark.errors import ModelFunctionError, SnapshotError
from modelop_spark.runtime.functions import ModelFunctions
from modelop_spark.runtime.snapshot import load_snapshot
from tests.snapshots import RECORD_MODEL, make_snapshot


@pytest.fixture
def record_snapshot(tmp_path):
    return make_snapshot(
        tmp_path / "snap",
        RECORD_MODEL,
        files={"factor.txt": "2"},
        manifest={"name": "doubler", "version": "3", "tags": ["math"], "source": "model.py", "assets": ["factor.txt"]},
    )


def test_folder_snapshot_with_manifest_and_smart_tags(record_snapshot):
    snapshot = load_snapshot(record_snapshot)
    assert (snapshot.name, snapshot.version) == ("doubler", "3")
    assert snapshot.function("init") == "begin" and snapshot.function("score") == "action"
    assert len(snapshot.digest) == 64


def test_zip_and_tar_gz_snapshots_load_the_same(record_snapshot, tmp_path):
    archive_zip = shutil.make_archive(str(tmp_path / "snap"), "zip", record_snapshot)
    archive_tgz = shutil.make_archive(str(tmp_path / "snap"), "gztar", record_snapshot.parent, "snap")
    folder = load_snapshot(record_snapshot)
    for archive in (archive_zip, archive_tgz):
        loaded = load_snapshot(archive)
        assert loaded.digest == folder.digest and loaded.function("score") == "action"


def test_manifest_function_names_and_job_overrides(tmp_path):
    folder = make_snapshot(
        tmp_path / "s",
        "def first(r):\n    return r\n\ndef second(r):\n    return r\n",
        manifest={"name": "n", "functions": {"score": "first"}},
    )
    assert load_snapshot(folder).function("score") == "first"
    assert load_snapshot(folder, functions={"score": "second"}).function("score") == "second"


def test_checksum_mismatch_is_refused(record_snapshot):
    (record_snapshot / "factor.txt").write_text("3")
    with pytest.raises(SnapshotError, match="factor.txt.*fails its checksum"):
        load_snapshot(record_snapshot)


def test_missing_asset_is_named(record_snapshot):
    (record_snapshot / "factor.txt").unlink()
    with pytest.raises(SnapshotError, match="asset 'factor.txt' listed in snapshot.json is missing"):
        load_snapshot(record_snapshot)


def test_syntax_error_names_file_and_line(tmp_path):
    folder = make_snapshot(tmp_path / "s", "# modelop.score\ndef action(r):\n    return r +\n")
    with pytest.raises(SnapshotError, match=r"model.py:3: syntax error"):
        load_snapshot(folder)


def test_import_error_names_file_line_and_module(tmp_path):
    folder = make_snapshot(tmp_path / "s", "import os\nimport not_a_real_package_xyz\n\n# modelop.score\ndef action(r):\n    return r\n")
    snapshot = load_snapshot(folder)
    with pytest.raises(SnapshotError, match=r"model.py:2: import failed: No module named 'not_a_real_package_xyz'"):
        ModelFunctions.resolve(snapshot)


def test_no_score_function_is_reported_by_the_runner(tmp_path):
    folder = make_snapshot(tmp_path / "s", "# modelop.init\ndef begin():\n    pass\n")
    assert not ModelFunctions.resolve(load_snapshot(folder)).has("score")


def test_init_failure_is_our_error(tmp_path):
    folder = make_snapshot(tmp_path / "s", "# modelop.init\ndef begin():\n    open('nope.pkl')\n\n# modelop.score\ndef action(r):\n    return r\n")
    with pytest.raises(ModelFunctionError, match="init function begin raised FileNotFoundError"):
        ModelFunctions.resolve(load_snapshot(folder))


def test_archive_entries_that_escape_are_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("model.py", "def score(r):\n    return r\n")
        bundle.writestr("../../escaped.txt", "gotcha")
    with pytest.raises(SnapshotError, match="outside the extraction folder"):
        load_snapshot(archive)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_links_in_tar_archives_are_refused(tmp_path):
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        data = b"def score(r):\n    return r\n"
        info = tarfile.TarInfo("model.py")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("secrets")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        bundle.addfile(link)
    with pytest.raises(SnapshotError, match="is a link"):
        load_snapshot(archive)


def test_missing_location_and_bad_manifest(tmp_path):
    with pytest.raises(SnapshotError, match="snapshot not found"):
        load_snapshot(tmp_path / "nowhere")
    folder = make_snapshot(tmp_path / "s", "def score(r):\n    return r\n")
    (folder / "snapshot.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="invalid JSON at line 1"):
        load_snapshot(folder)


def test_every_calling_convention_can_be_declared_in_the_manifest(tmp_path):
    # "batch_iter", as the README documents, was refused by the manifest check.
    for name in ("record", "batch", "batch_iter", "spark", "modelop_pyspark"):
        folder = make_snapshot(tmp_path / name, "def score(x):\n    return x\n", manifest={"name": name, "shapes": {"score": name}})
        assert ModelFunctions.resolve(load_snapshot(folder)).convention("score").name == name


def test_an_unknown_convention_lists_the_valid_ones(tmp_path):
    folder = make_snapshot(tmp_path / "s", "def score(x):\n    return x\n", manifest={"name": "s", "shapes": {"score": "rows"}})
    with pytest.raises(SnapshotError, match="shapes.score must be one of record, batch, batch_iter, spark, modelop_pyspark, found 'rows'"):
        load_snapshot(folder)


def test_a_private_copy_of_the_model_is_loaded_from_its_folder_and_released(tmp_path):
    # Training resolves the functions in its draft: init runs there, and nothing is left behind.
    import shutil
    import sys

    source = "# modelop.init\ndef begin():\n    open('init-ran', 'w').write('x')\n\n# modelop.train\ndef train(df):\n    pass\n"
    snapshot = load_snapshot(make_snapshot(tmp_path / "s", source))
    draft = tmp_path / "draft"
    shutil.copytree(snapshot.root, draft)
    functions = ModelFunctions.resolve(snapshot, job_document={"job_type": "training"}, root=draft)
    assert functions.root == draft and (draft / "init-ran").is_file() and not (snapshot.root / "init-ran").exists()
    assert functions.convention("train").whole_input == "pandas"
    module = functions.payload.module_name
    assert module in sys.modules
    functions.release()
    assert module not in sys.modules and str(draft) not in sys.path


def test_inline_model_source_is_kept_under_the_cache_folder(tmp_path, monkeypatch):
    # The cache folder is defined once; inline ModelOp source used to ignore MODELOP_SPARK_CACHE.
    from modelop_spark.jobs.model_source import snapshot_for
    from modelop_spark.jobs.spec import ModelRef

    monkeypatch.setenv("MODELOP_SPARK_CACHE", str(tmp_path / "cache"))
    snapshot = snapshot_for(ModelRef(source_code="def score(r):\n    return r\n", name="inline"))
    assert snapshot.root.is_relative_to(tmp_path / "cache" / "inline")
