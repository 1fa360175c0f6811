"""The agent's parts on their own: one real spark-submit per job, the outbox of results, and
`moc job result`'s printing of what a job wrote."""

from __future__ import annotations

import json
from pathlib import Path

from modelop_spark.agent.executors import SparkSubmitExecutor
from modelop_spark.agent.outbox import Outbox
from modelop_spark.moc.cli import print_result
from tests.snapshots import RECORD_MODEL, make_snapshot


def test_a_job_runs_as_one_spark_submit_and_its_result_comes_back(tmp_path):
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "3"})
    job = {
        "job_id": "submit-1", "job_type": "scoring", "snapshot": str(snapshot),
        "inputs": [{"kind": "embedded", "records": [{"x": 1.0}, {"x": 2.0}, {"x": -1.0}]}],
        "outputs": [{"kind": "embedded", "name": "scores"}],
    }
    work = tmp_path / "work"
    work.mkdir()
    job_file = work / "job.json"
    job_file.write_text(json.dumps(job))
    lines: list[str] = []
    result = SparkSubmitExecutor("local[1]", conf={"spark.ui.enabled": "false"}).run("submit-1", job_file, work, lines.append)
    assert result["status"] == "COMPLETE", result.get("error")
    assert result["outputs"][0]["records"] == [{"doubled": 3.0}, {"doubled": 6.0}]
    assert result["rows"]["rejected"] == 1  # the negative x, kept with its reason
    assert lines[0].startswith("spark-submit: ") and "--master local[1]" in lines[0] and "submit_entry.py" in lines[0]


def test_moc_prints_records_as_json_lines_and_links_for_external_outputs(capsys):
    print_result({"status": "COMPLETE", "outputs": [
        {"name": "scores", "kind": "embedded", "records": [{"a": 1}, {"a": 2}]},
        {"name": "copy", "kind": "file", "location": "s3://bucket/out/scores.csv", "link": "https://s3.example/bucket/out/scores.csv?X-Amz-Signature=abc"},
        {"name": "local", "kind": "file", "location": "file:///data/out/scores"},
    ]})
    assert capsys.readouterr().out.splitlines() == [
        '{"a": 1}', '{"a": 2}', "https://s3.example/bucket/out/scores.csv?X-Amz-Signature=abc", "file:///data/out/scores",
    ]
    print_result({"job_id": "j1", "status": "ERROR", "error": {"code": "MODEL_ERROR", "message": "score raised"}})
    assert capsys.readouterr().err.strip() == "job j1 ended ERROR: MODEL_ERROR score raised"


def test_the_outbox_lists_its_results_while_a_job_thread_removes_one(tmp_path, monkeypatch):
    # A job's own thread delivers its result and removes it from the outbox while the heartbeat
    # lists the outbox: the listing skips the vanished file (it used to end the heartbeat thread,
    # and the runtime went DOWN for good).
    outbox = Outbox(tmp_path / "outbox")
    outbox.put("job-a", {"attempt": 1, "status": "COMPLETE"})
    outbox.put("job-b", {"attempt": 1, "status": "COMPLETE"})
    real_stat = Path.stat

    def vanishing(path, *args, **kwargs):
        if path.name == "job-a.json":
            raise FileNotFoundError(path)  # removed between the listing and the look at it
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", vanishing)
    assert [job_id for job_id, _ in outbox.pending()] == ["job-b"]
