"""Hostile snapshot archives: bombs by size, by file count and by ratio are refused from the
archive's index, before a byte is written."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from modelop_spark.errors import SnapshotError
from modelop_spark.runtime.archive import ExtractLimits, extract_archive


def _zip(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return path


def test_a_zip_bomb_is_refused_by_its_ratio_before_anything_is_written(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"model.py": "", "zeros.bin": b"\0" * (64 << 20)})
    target = tmp_path / "out"
    with pytest.raises(SnapshotError, match=r"compression ratio of \d+ .*MODELOP_SPARK_MAX_EXTRACT_RATIO"):
        extract_archive(bomb, target)
    assert not any(target.iterdir())


def test_total_size_and_file_count_limits_apply_to_tar_and_zip(tmp_path):
    many = _zip(tmp_path / "many.zip", {f"f{i}.txt": "x" for i in range(30)})
    with pytest.raises(SnapshotError, match=r"30 entries \(limit 20"):
        extract_archive(many, tmp_path / "a", limits=ExtractLimits(max_files=20))
    buffer = io.BytesIO(b"y" * 5000)
    archive = tmp_path / "big.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        info = tarfile.TarInfo("data.bin")
        info.size = 5000
        bundle.addfile(info, buffer)
    with pytest.raises(SnapshotError, match=r"5000 bytes once extracted \(limit 4096"):
        extract_archive(archive, tmp_path / "b", limits=ExtractLimits(max_bytes=4096))
    extract_archive(archive, tmp_path / "c")  # within the defaults
    assert (tmp_path / "c" / "data.bin").stat().st_size == 5000


def test_limits_are_read_from_the_environment():
    limits = ExtractLimits.from_env({"MODELOP_SPARK_MAX_EXTRACT_FILES": "7", "MODELOP_SPARK_MAX_EXTRACT_RATIO": "9.5"})
    assert (limits.max_files, limits.max_ratio, limits.max_bytes) == (7, 9.5, ExtractLimits().max_bytes)


def test_a_folder_snapshot_with_a_link_outside_it_is_one_line_on_the_driver(tmp_path):
    from modelop_spark.runtime.archive import pack_folder

    (tmp_path / "secret.txt").write_text("outside")
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "model.py").write_text("")
    (snapshot / "inside.txt").write_text("in")
    (snapshot / "ok-link").symlink_to(snapshot / "inside.txt")
    pack_folder(snapshot)  # a link inside the snapshot is fine
    (snapshot / "data.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(SnapshotError, match=r"data.txt is a link to .*secret.txt, outside the snapshot"):
        pack_folder(snapshot)
