"""The Command Center's rules without a server or a browser: the wizard's field checks and the
job request it builds, uploads with their size limit, schema detection, and sessions."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from modelop_spark.ui import views, wizard
from modelop_spark.ui.sessions import SessionBook


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://bank-data/in/transactions.csv", None),
    ("hdfs://namenode:8020/data/in.parquet", None),
    ("file:///tmp/in.csv", None),
    ("s3://bank-data", "names a bucket but no object"),
    ("s3://Bad_Bucket/x.csv", "is not a valid S3 bucket name"),
    ("ftp://host/x.csv", "is not an S3, HDFS or file URL"),
    ("/tmp/in.csv", "is not an S3, HDFS or file URL"),
    ("hdfs://namenode:8020/", "has no path"),
    ("", "give a location"),
])
def test_locations_are_checked_before_anything_runs(url, expected):
    errors = wizard.check_location(url, field="input_url")
    assert (expected is None and errors == {}) or expected in errors["input_url"]


def test_sql_inputs_must_be_one_read_only_query():
    assert wizard.check_sql("SELECT id, amount FROM transactions WHERE amount > 10", field="q") == {}
    assert "read-only" in wizard.check_sql("DELETE FROM transactions", field="q")["q"]
    assert "2 statements" in wizard.check_sql("SELECT 1; DROP TABLE t", field="q")["q"]
    assert "is not a table name" in wizard.check_table("scores; drop", field="t")["t"]
    assert wizard.check_table("analytics.scores", field="t") == {}


def test_an_upload_becomes_records_within_its_size_limit():
    records, errors = wizard.read_upload("in.csv", b"id,x\n1,1.5\n2,3.0\n", limit=1000)
    assert errors == {} and records == [{"id": 1, "x": 1.5}, {"id": 2, "x": 3.0}]
    _, errors = wizard.read_upload("big.csv", b"id\n" + b"1\n" * 600, limit=1000)
    assert "uploads are limited to 0.0 MB" in errors["input_file"] and "S3 or HDFS" in errors["input_file"]
    _, errors = wizard.read_upload("model.pkl", b"\x80\x04", limit=1000)
    assert "unknown data format" in errors["input_file"]
    _, errors = wizard.read_upload("in.json", b"{not json", limit=1000)
    assert errors["input_file"].startswith("INPUT in.json: neither a JSON array nor JSON lines")


def _archive(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_schemas_are_found_in_the_manifest_or_by_smart_tags():
    snapshot = {"manifest": {}, "archive": {"name": "s.tar.gz"}}
    assert wizard.snapshot_has_schemas({"manifest": {"schemas": {"input": "in.avsc"}}}, None)
    assert wizard.snapshot_has_schemas(snapshot, _archive({"m/model.py": "# modelop.schema.0: input.avsc\n"}))
    assert not wizard.snapshot_has_schemas(snapshot, _archive({"m/model.py": "# modelop.score\ndef s(r): yield r\n"}))
    errors = wizard.check_step("schemas", {"schema_check": "on"}, has_schemas=False)
    assert "turn schema checking off" in errors["schema_check"]


def test_a_finished_draft_is_the_same_request_moc_sends():
    draft = {
        "model": "cc-fraud", "snapshot": "s-1", "runtime_choice": "match", "stage": "DEV", "job_type": "testjob",
        "label_column": "label", "score_column": "p", "schema_check": "", "input_kind": "url",
        "input_url": "s3://bank/in/labeled.csv", "output_kind": "url", "output_url": "s3://bank/out/metrics.json",
    }
    request = wizard.job_request(draft)
    assert request == {
        "job_type": "testjob", "snapshot": "s-1", "schema_check": False, "stage": "DEV",
        "inputs": [{"name": "labeled.csv", "url": "s3://bank/in/labeled.csv"}],
        "outputs": [{"name": "metrics", "url": "s3://bank/out/metrics.json", "options": {"single_file": True, "presign": True}}],
        "options": {"evaluation": {"columns": {"label": "label", "score": "p"}}},
    }
    named = wizard.job_request({**draft, "runtime_choice": "named", "runtime": "spark-prod-1", "job_type": "batchjob",
                                "input_kind": "sql", "input_sql": "SELECT * FROM t;", "output_kind": "table", "output_table": "db.scores"})
    assert named["runtime"] == "spark-prod-1" and "stage" not in named and "options" not in named
    assert named["inputs"] == [{"kind": "sql", "name": "query", "query": "SELECT * FROM t"}]
    assert named["outputs"] == [{"kind": "sql", "name": "scores", "table": "db.scores"}]
    lines = dict(wizard.review_lines({**draft, "input_kind": "upload", "input_filename": "in.csv", "input_records": [{"a": 1}]}, snapshot_label="cc-fraud 1"))
    assert lines["Input"] == "upload in.csv (1 records, embedded in the job)" and lines["Runtime"] == "matching decides (DEV)"


def test_every_step_names_the_field_it_needs():
    assert wizard.check_step("model", {"model": "nope"}, models={"cc-fraud"}) == {"model": "choose one of the registered models"}
    assert "runtime" in wizard.check_step("runtime", {"runtime_choice": "named", "runtime": "ghost"}, runtimes={"dev-1"})
    assert wizard.check_step("runtime", {"runtime_choice": "match", "stage": "PROD"}) == {}
    assert "input_kind" in wizard.check_step("inputs", {})
    assert "input_file" in wizard.check_step("inputs", {"input_kind": "upload"})
    assert wizard.check_step("outputs", {"output_kind": "embedded", "output_name": "scores.json"}) == {}
    assert wizard.STEPS[0] == "model" and wizard.next_step("outputs") == "review" and wizard.previous_step("model") == "model"


def test_sessions_end_when_idle_or_closed_and_keep_no_token_in_their_repr():
    book = SessionBook(idle_seconds=60)
    session = book.open(token="secret-token", user="ann", permissions=frozenset({"read"}), now=0)
    assert book.find(session.id, now=30) is session and book.find(session.id, now=85) is session  # a request renews it
    assert book.find(session.id, now=200) is None
    other = book.open(token="secret-token", user="ann", permissions=frozenset({"read"}), now=0)
    assert other.id != session.id and "secret-token" not in repr(other) and other.csrf not in repr(other)
    assert other.csrf_ok(other.csrf) and not other.csrf_ok("") and not other.csrf_ok(None)
    book.close(other.id)
    assert book.find(other.id, now=1) is None


def test_what_the_job_page_shows():
    assert views.progress_percent({"status": "RUNNING", "progress": {"tasks_total": 8, "tasks_done": 2}}) == 25
    assert views.progress_percent({"status": "WAITING", "progress": {}}) is None
    assert views.filters_of({"status": "COMPLETE", "model": " ", "page": "2", "other": "x"}) == {"status": "COMPLETE"}
    assert views.page_of({"page": "zero"}) == 1
    snapshot = {"manifest": {"lineage": {"parent": "p-1", "data": [{"url": "s3://b/k"}]}}, "description": "trained by job j-9"}
    assert views.lineage(snapshot) == [("parent", "p-1"), ("data", json.dumps([{"url": "s3://b/k"}])), ("training job", "j-9")]
    assert views.plots({"kind": "user metrics"}) == {}
    retrained = {"parent_id": "p-2", "trained_by_job": "j-3", "test_data": {"path": "test_data/t.csv"}, "manifest": {}}
    assert views.lineage(retrained) == [("parent", "p-2"), ("training job", "j-3"), ("test data", "test_data/t.csv")]


def test_after_login_only_a_path_on_this_site_is_followed():
    from modelop_spark.ui.pages.common import local_path

    assert local_path("/jobs?status=COMPLETE") == "/jobs?status=COMPLETE"
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        assert local_path(elsewhere) == "/"


def test_a_secure_cookie_needs_https_or_a_loopback_address():
    from modelop_spark.ui.sessions import secure_cookies_work

    assert secure_cookies_work("https", "cc.example.com") and secure_cookies_work("http", "127.0.0.1") and secure_cookies_work("http", "localhost")
    assert not secure_cookies_work("http", "10.0.0.5") and not secure_cookies_work("http", None)
