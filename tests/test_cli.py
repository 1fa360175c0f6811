"""``modelop-spark`` as a scheduler and a newcomer use it: a JobResult for every failure, one-line
errors for bad arguments, parameter overrides, ``score`` without a job file, ``snapshot build``,
``--version``, progress, and what ``modelop-spark-submit`` sets (tests/test_readme.py runs it
from a bare shell)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from modelop_spark import __version__, load_snapshot
from modelop_spark.cli import main
from modelop_spark.commands.arguments import job_with_parameters, parameter_pairs
from modelop_spark.commands.submit import submit_command
from modelop_spark.errors import SnapshotError, SpecError
from modelop_spark.progress import Progress, _Watcher, choose_mode
from tests.snapshots import RECORD_MODEL, make_snapshot


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"modelop-spark {__version__}"


@pytest.mark.parametrize("argv", [["--conf", "foo"], ["--param", "=1"]])
def test_bad_arguments_are_one_line_and_still_give_a_result(tmp_path, capsys, argv):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"job_id": "j-1", "job_type": "scoring", "snapshot": "s", "inputs": [{"url": "in.csv"}]}))
    code = main(["run", str(job), *argv, "--result", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "expects KEY=VALUE" in err and "Traceback" not in err
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["status"] == "ERROR" and result["error"]["code"] == "INVALID_JOB" and result["job_id"] == "j-1"


def test_a_job_failing_validation_writes_the_result_and_prints_json(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"job_id": "bad-1", "job_type": "scoring", "snapshot": "s", "inputs": "nope"}))
    code = main(["run", str(job), "--json", "--result", str(tmp_path / "r.json")])
    printed = json.loads(capsys.readouterr().out)
    assert code == 1 and printed == json.loads((tmp_path / "r.json").read_text())
    assert printed["status"] == "ERROR" and "inputs" in printed["error"]["message"]
    assert (printed["job_id"], printed["job_type"]) == ("bad-1", "scoring")  # named as far as it was read


def test_parameters_are_parsed_as_json_else_text_and_override_either_job_format():
    assert parameter_pairs(["threshold=0.7", "region=emea", "flags=[1,2]"]) == {"threshold": 0.7, "region": "emea", "flags": [1, 2]}
    ours = job_with_parameters({"job_type": "scoring", "parameters": {"threshold": 0.5, "k": 1}}, {"threshold": 0.9})
    assert ours["parameters"] == {"threshold": 0.9, "k": 1}
    modelop = job_with_parameters({"jobType": "MODEL_BATCH_JOB", "jobParameters": '{"a": 1}'}, {"b": 2})
    assert modelop["jobParameters"] == {"a": 1, "b": 2}
    with pytest.raises(SpecError, match="--param expects KEY=VALUE"):
        parameter_pairs(["threshold"])


def test_score_without_a_job_file_takes_parameters(spark, fraud_example, tmp_path, capsys):
    root, snapshot = fraud_example
    output = tmp_path / "scores"
    code = main(["score", str(snapshot), str(root / "data" / "transactions.csv"), str(output),
                 "--key-column", "transaction_id", "--param", "threshold=2", "--json", "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["status"] == "COMPLETE"
    assert result["rows"]["in"] == 2000 and result["rows"]["rejected"] == 3
    table = pq.read_table(output).to_pandas()
    assert len(table) == 1997 and table["fraud_probability"].max() > 0.5
    assert table["is_fraud_predicted"].sum() == 0  # threshold=2 reached init(job) through --param


def test_snapshot_build_writes_version_and_checksums(tmp_path, capsys):
    folder = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "10"})
    assert load_snapshot(folder).version is None
    assert main(["snapshot", "build", str(folder)]) == 0
    assert "snapshot snap 1.0.0: 2 files with sha256" in capsys.readouterr().out
    manifest = json.loads((folder / "snapshot.json").read_text())
    assert manifest["version"] == "1.0.0" and manifest["source"] == "model.py"
    assert {a["path"] for a in manifest["assets"]} == {"model.py", "factor.txt"}
    assert load_snapshot(folder).version == "1.0.0"
    assert main(["snapshot", "build", str(folder), "--version", "1.1.0"]) == 0
    assert load_snapshot(folder).version == "1.1.0"
    (folder / "factor.txt").write_text("11")  # changed after the build: refused when loaded
    with pytest.raises(SnapshotError, match="factor.txt' fails its checksum"):
        load_snapshot(folder)


def test_progress_reads_rows_and_tasks_of_the_work_since_it_started(spark):
    import io

    stream = io.StringIO()
    watcher = _Watcher(spark, "log", 30, stream)  # not started: polled here, not on a timer
    spark.range(0, 1000, numPartitions=3).selectExpr("id % 7 AS k").collect()
    progress = watcher.poll()
    assert (progress.rows_read, progress.tasks_done, progress.tasks_total) == (1000, 3, 3)
    watcher.show(progress)
    assert stream.getvalue().startswith("progress: 1,000 rows read, tasks 3/3, ")
    line = Progress(rows_read=12345, rows_written=10, tasks_done=3, tasks_total=8, elapsed=75).line()
    assert line == "12,345 rows read, 10 rows written, tasks 3/8, 1:15 elapsed"
    assert choose_mode(quiet=True) == "off" and choose_mode(quiet=False, stream=stream) == "log"


def test_submit_wrapper_sets_what_spark_submit_needs_unless_given(tmp_path):
    log = tmp_path / "log4j2.properties"
    log.write_text("x")
    command, env = submit_command(["--master", "local[1]", "run_job.py", "job.json"], environ={"PATH": "/usr/bin"},
                                  python="/venv/bin/python", spark_home="/spark", log_config=log)
    assert command[0] == "/spark/bin/spark-submit" and command[3:] == ["--master", "local[1]", "run_job.py", "job.json"]
    assert command[1:3] == ["--driver-java-options", f"-Dlog4j2.configurationFile=file:{log}"]
    assert env["PYSPARK_PYTHON"] == env["PYSPARK_DRIVER_PYTHON"] == "/venv/bin/python" and env["SPARK_HOME"] == "/spark"
    own, env = submit_command(["--driver-java-options", "-Dx=1", "a.py"], environ={"SPARK_HOME": "/mine", "PYSPARK_PYTHON": "/py"},
                              python="/venv/bin/python", spark_home="/spark", log_config=log)
    assert own == ["/mine/bin/spark-submit", "--driver-java-options", "-Dx=1", "a.py"] and env["PYSPARK_PYTHON"] == "/py"
