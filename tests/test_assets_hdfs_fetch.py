"""HDFS up to the namenode boundary (no namenode can run on these machines), and fetching
remote snapshots to the local disk (S3 against moto's server, https via a presigned link)."""

from __future__ import annotations

import io
import tarfile

import pytest

from modelop_spark.assets.fetch import fetch_to_local
from modelop_spark.assets.hdfs import HdfsReader, WebHdfs, WebHdfsSettings, hdfs_url, is_hdfs_asset
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError, SnapshotError
from tests import servers

pytest_plugins = ("tests.servers",)  # moto_s3, moto_s3_open, s3_env


def test_bare_paths_take_the_repository_file_system():
    repo = {"repositoryType": "HDFS_REPOSITORY", "hdfsUrl": "hdfs://nn:8020", "repositoryDirectory": "/data"}
    assert hdfs_url("in/scores.csv", repo, where="in") == "hdfs://nn:8020/data/in/scores.csv"
    assert hdfs_url("/abs/x.parquet", repo, where="in") == "hdfs://nn:8020/abs/x.parquet"
    assert hdfs_url("hdfs://other:9000/x", repo, where="in") == "hdfs://other:9000/x"
    assert hdfs_url("x.csv", {}, environ={"MODELOP_HDFS_URL": "nn:8020"}, where="in") == "hdfs://nn:8020/x.csv"


def test_a_bare_path_without_a_file_system_is_one_clear_line():
    with pytest.raises(AssetError, match="no HDFS file system is named; set repositoryInfo.hdfsUrl"):
        hdfs_url("x.csv", {}, environ={}, where="asset 'in'")
    with pytest.raises(AssetError, match="expected an hdfs:// URL"):
        hdfs_url("s3://b/x.csv", {"repositoryType": "HDFS_REPOSITORY"}, where="asset 'in'")


def test_hdfs_assets_are_recognised_by_scheme_or_repository():
    assert is_hdfs_asset(AssetSpec.from_dict({"url": "hdfs://nn/x.csv"}))
    assert is_hdfs_asset(AssetSpec.from_dict({"url": "x.csv", "repository": {"repositoryType": "HDFS_REPOSITORY"}}))
    assert not is_hdfs_asset(AssetSpec.from_dict({"url": "/tmp/x.csv"}))


def test_webhdfs_settings_come_from_repository_or_environment():
    assert WebHdfsSettings.from_sources({}, environ={}) is None
    settings = WebHdfsSettings.from_sources({}, environ={"MODELOP_WEBHDFS_URL": "nn:9870", "HADOOP_USER_NAME": "etl"})
    assert settings == WebHdfsSettings(url="http://nn:9870", user="etl", timeout=10.0)


def test_unreachable_namenode_is_one_clear_line(spark, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("MODELOP_WEBHDFS_URL", f"http://127.0.0.1:{free_port()}")
    asset = AssetSpec.from_dict({"name": "in", "url": "hdfs://127.0.0.1:1/data/in.csv"})
    with pytest.raises(AssetError, match=r"asset 'in': cannot check .*cannot be reached; check MODELOP_WEBHDFS_URL") as error:
        HdfsReader().read(spark, asset)
    assert "\n" not in str(error.value)


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers: a hung namenode."""
    with servers.silent_server() as url:
        yield url


def test_hung_namenode_is_bounded_by_the_timeout(silent_server):
    client = WebHdfs(WebHdfsSettings(url=silent_server, timeout=1))
    with pytest.raises(AssetError, match="did not answer within 1s"):
        client.exists("/data/in.csv")


def _snapshot_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        body = b'{"name": "demo", "version": "1"}'
        info = tarfile.TarInfo("snapshot.json")
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_fetch_an_archive_and_a_folder_from_s3(tmp_path, s3_env):
    client = s3_env.client()
    client.create_bucket(Bucket="snapshots")
    client.put_object(Bucket="snapshots", Key="demo/1.0.tar.gz", Body=_snapshot_archive())
    client.put_object(Bucket="snapshots", Key="folder/snapshot.json", Body=b"{}")
    client.put_object(Bucket="snapshots", Key="folder/assets/model.pkl", Body=b"pickle")
    archive = fetch_to_local("s3://snapshots/demo/1.0.tar.gz", tmp_path)
    assert archive.name == "1.0.tar.gz" and tarfile.is_tarfile(archive)
    folder = fetch_to_local("s3://snapshots/folder", tmp_path)
    assert (folder / "snapshot.json").read_bytes() == b"{}"
    assert (folder / "assets" / "model.pkl").read_bytes() == b"pickle"
    again = fetch_to_local("s3://snapshots/folder", tmp_path)  # refetch replaces, never nests
    assert again == folder and sorted(p.name for p in folder.iterdir()) == ["assets", "snapshot.json"]


def test_fetch_errors_name_the_location(tmp_path, s3_env, monkeypatch):
    with pytest.raises(SnapshotError, match="snapshot location s3://snapshots/absent: nothing there"):
        fetch_to_local("s3://snapshots/absent", tmp_path)
    with pytest.raises(SnapshotError, match="scheme ftp:// is not supported"):
        fetch_to_local("ftp://host/x.zip", tmp_path)
    monkeypatch.delenv("MODELOP_WEBHDFS_URL", raising=False)
    with pytest.raises(SnapshotError, match="set MODELOP_WEBHDFS_URL"):
        fetch_to_local("hdfs://nn:8020/snapshots/x.zip", tmp_path)
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".fetch-")] == []


def test_fetch_through_a_presigned_link(tmp_path, moto_s3_open):
    client = moto_s3_open.client()
    client.create_bucket(Bucket="linked-snapshots")
    client.put_object(Bucket="linked-snapshots", Key="demo.tar.gz", Body=_snapshot_archive())
    link = client.generate_presigned_url("get_object", Params={"Bucket": "linked-snapshots", "Key": "demo.tar.gz"})
    path = fetch_to_local(link, tmp_path)
    assert tarfile.is_tarfile(path)
