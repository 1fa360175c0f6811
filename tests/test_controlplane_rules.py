"""The control plane's rules without a server: transitions, matching, leases, tokens, moc's
INPUT/OUTPUT words, the spark-submit command line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelop_spark.agent.agent import split_tags
from modelop_spark.agent.submit import ENTRY, spark_submit_command
from modelop_spark.controlplane.auth import AuthError, TokenBook
from modelop_spark.controlplane.leases import (
    Timing,
    is_down,
    lease_after_restart,
    lease_expired,
    result_decision,
)
from modelop_spark.controlplane.matching import (
    Assigned,
    Busy,
    JobNeeds,
    NoMatch,
    RuntimeView,
    choose_runtime,
)
from modelop_spark.controlplane.states import JobStatus, TransitionError, can_move, check_move
from modelop_spark.errors import SpecError
from modelop_spark.moc.assets import input_asset, output_asset

# -- transitions -------------------------------------------------------------------------------

def test_a_job_moves_forward_and_finished_jobs_never_move():
    assert can_move("CREATED", "WAITING") and can_move("WAITING", "RUNNING") and can_move("RUNNING", "COMPLETE")
    assert can_move("RUNNING", "WAITING")  # a lease expired: queued again
    assert not can_move("CREATED", "RUNNING") and not can_move("WAITING", "COMPLETE")
    for done in ("COMPLETE", "ERROR", "CANCELLED"):
        assert JobStatus(done).finished
        with pytest.raises(TransitionError, match=f"is {done} and cannot become RUNNING .allowed: none"):
            check_move("j1", done, "RUNNING")


# -- matching ----------------------------------------------------------------------------------

def runtime(name, stage, *services, status="UP", load=0, capacity=2, type="Apache Spark"):
    return RuntimeView(id=name, name=name, status=status, stage_tags=frozenset({stage}), service_tags=frozenset(services),
                       capacity=capacity, load=load, type=type)


DEV_FRAUD = JobNeeds(stage="DEV", service_tags=frozenset({"cc-fraud"}))


def test_a_job_goes_to_an_up_runtime_with_its_stage_and_a_service_tag():
    runtimes = [runtime("prod", "PROD", "cc-fraud"), runtime("dev-other", "DEV", "churn"), runtime("dev", "dev", "CC-Fraud", "x")]
    decision = choose_runtime(DEV_FRAUD, runtimes)
    assert isinstance(decision, Assigned) and decision.runtime.name == "dev"  # tags compare without case


def test_down_runtimes_and_other_types_never_match():
    decision = choose_runtime(DEV_FRAUD, [runtime("dev", "DEV", "cc-fraud", status="DOWN"), runtime("py", "DEV", "cc-fraud", type="Python")])
    assert isinstance(decision, NoMatch)
    assert "stage tag DEV" in decision.message("j1")


def test_no_match_names_the_missing_tags():
    decision = choose_runtime(DEV_FRAUD, [runtime("dev", "DEV", "churn"), runtime("prod", "PROD", "cc-fraud")])
    assert isinstance(decision, NoMatch)
    assert decision.missing == ("service tag cc-fraud on a DEV runtime",)
    assert "job j1 is WAITING" in decision.message("j1")
    named = choose_runtime(JobNeeds(runtime_name="gpu-1"), [runtime("dev", "DEV", "cc-fraud")])
    assert isinstance(named, NoMatch) and "runtime gpu-1" in named.missing[0]


def test_the_least_loaded_match_wins_and_full_runtimes_wait():
    busy, idle = runtime("a", "DEV", "cc-fraud", load=1), runtime("b", "DEV", "cc-fraud", load=0)
    assert choose_runtime(DEV_FRAUD, [busy, idle]).runtime.name == "b"
    full = [runtime("a", "DEV", "cc-fraud", load=2), runtime("b", "DEV", "cc-fraud", load=2)]
    assert choose_runtime(DEV_FRAUD, full) == Busy(("a", "b"))


def test_a_named_runtime_is_used_whatever_its_tags():
    decision = choose_runtime(JobNeeds(stage="DEV", service_tags=frozenset({"x"}), runtime_name="prod"), [runtime("prod", "PROD")])
    assert isinstance(decision, Assigned)


# -- leases ------------------------------------------------------------------------------------

def test_timing_refuses_a_lease_shorter_than_two_heartbeats():
    with pytest.raises(ValueError, match="must cover at least two heartbeats"):
        Timing(heartbeat_interval=10, lease_seconds=15)


def test_leases_and_liveness():
    timing = Timing(heartbeat_interval=1, missed_heartbeats=3, lease_seconds=5)
    assert not lease_expired(105.0, now=104.9) and lease_expired(105.0, now=105.0) and not lease_expired(None, now=1e9)
    assert not is_down(100.0, now=103.0, timing=timing) and is_down(100.0, now=103.1, timing=timing)
    assert lease_after_restart(50.0, started_at=100.0, timing=timing) == 105.0  # downtime does not count
    assert lease_after_restart(200.0, started_at=100.0, timing=timing) == 200.0


def test_a_result_counts_once_and_only_from_the_current_claim():
    assert result_decision(current_attempt=2, owner="r1", finished=False, attempt=2, runtime_id="r1") == "accept"
    assert result_decision(current_attempt=2, owner="r1", finished=True, attempt=2, runtime_id="r1") == "duplicate"
    assert result_decision(current_attempt=3, owner="r2", finished=False, attempt=2, runtime_id="r1") == "stale"
    assert result_decision(current_attempt=2, owner=None, finished=False, attempt=2, runtime_id="r1") == "stale"


# -- tokens ------------------------------------------------------------------------------------

def test_tokens_from_the_environment_and_a_file(tmp_path):
    tokens = tmp_path / "tokens.toml"
    digest = hashlib.sha256(b"alice-token").hexdigest()
    tokens.write_text(
        f'[[user]]\nname = "alice"\nroles = ["operator"]\ntoken_sha256 = "{digest}"\n\n'
        '[[user]]\nname = "ann"\nroles = ["approver"]\ntoken = "ann-token"\n'
    )
    book = TokenBook.load(tokens_file=tokens, environ={"MODELOP_TOKEN": "admin-token"})
    assert book.identify("Bearer admin-token").can("admin")
    alice = book.identify("Bearer alice-token")
    assert alice.name == "alice" and alice.can("write") and not alice.can("run") and not alice.can("approve")
    assert book.identify("bearer ann-token").can("approve")
    with pytest.raises(AuthError, match="not valid"):
        book.identify("Bearer nope")
    with pytest.raises(AuthError, match="missing Authorization"):
        book.identify(None)


def test_a_tokens_file_with_an_unknown_role_is_refused(tmp_path):
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[[user]]\nname = "bob"\nroles = ["boss"]\ntoken = "t"\n')
    with pytest.raises(AuthError, match="has unknown role.s. boss; known: admin, approver"):
        TokenBook.load(tokens_file=tokens, environ={})
    with pytest.raises(AuthError, match="MODELOP_TOKEN is not set and no --tokens FILE"):
        TokenBook.load(environ={})


# -- moc's INPUT and OUTPUT --------------------------------------------------------------------

def test_moc_input_words(tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_text("id,x\n1,1.5\n2,3\n")
    assert input_asset(str(csv)) == {"kind": "embedded", "name": "in.csv", "records": [{"id": 1, "x": 1.5}, {"id": 2, "x": 3.0}]}
    lines = tmp_path / "in.json"
    lines.write_text('{"a": 1}\n{"a": 2}\n')
    assert input_asset(str(lines))["records"] == [{"a": 1}, {"a": 2}]
    described = tmp_path / "asset.json"
    described.write_text('{"assetType": "EXTERNAL_FILE", "fileUrl": "s3://bucket/data.csv", "filename": "data.csv"}')
    assert input_asset(str(described))["url"] == "s3://bucket/data.csv"
    assert input_asset("sql:SELECT 1 AS x") == {"kind": "sql", "name": "query", "query": "SELECT 1 AS x"}
    assert input_asset("hdfs://nn:8020/data/x.parquet") == {"name": "x.parquet", "url": "hdfs://nn:8020/data/x.parquet"}
    with pytest.raises(SpecError, match="not a file here, nor a URL"):
        input_asset(str(tmp_path / "missing.csv"))


def test_moc_output_words():
    assert output_asset("output.json") == {"kind": "embedded", "name": "output.json"}
    assert output_asset("s3://b/out/scores.csv") == {"name": "scores", "url": "s3://b/out/scores.csv", "options": {"single_file": True, "presign": True}}
    assert output_asset("file:///tmp/out/scores") == {"name": "scores", "url": "file:///tmp/out/scores"}
    with pytest.raises(SpecError, match="plain file name means an embedded output"):
        output_asset("out/scores.json")


# -- the agent's command lines -----------------------------------------------------------------

def test_tags_split_into_stage_and_service_tags():
    assert split_tags(["DEV", "cc-fraud", "prod", "churn"]) == (["DEV", "prod"], ["cc-fraud", "churn"])


def test_the_spark_submit_command_line():
    command = spark_submit_command(
        master="spark://10.0.0.5:7077", job_file=Path("/w/job.json"), result_file=Path("/w/result.json"), job_id="j1",
        python="/venv/bin/python", conf={"spark.executor.memory": "4g"},
    )
    assert command == [
        "spark-submit", "--master", "spark://10.0.0.5:7077", "--deploy-mode", "client", "--name", "modelop-job-j1",
        "--conf", "spark.pyspark.python=/venv/bin/python", "--conf", "spark.pyspark.driver.python=/venv/bin/python",
        "--conf", "spark.executor.memory=4g", str(ENTRY), "/w/job.json", "--result", "/w/result.json",
    ]
