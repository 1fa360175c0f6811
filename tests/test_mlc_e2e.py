"""Model life cycles end to end: one control plane (SQLite, the shipped processes) and three
runtime agents DEV, SIT and PROD for cc-fraud on loopback, driven through `moc` and the API.

The agents run in this process on the session SparkSession (local); life cycles poll every
0.3 s. Users come from a tokens file: an admin (MODELOP_TOKEN), an `approver`, a `reviewer`
(may approve stages that ask for no role) and an `operator` (may not approve at all).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelop_spark.moc.cli import main as moc
from tests.snapshots import make_snapshot
from tests.test_controlplane_e2e import (
    TOKEN,
    control_plane,
    moc_json,
    run_moc,
    start_agent,
    start_control_plane,
    stop,
    wait_for,
    webhook_receiver,
)

pytestmark = pytest.mark.controlplane

TOKENS = {"approver-ann": ("approver", "ann-token-71b2"), "reviewer-rob": ("reviewer", "rob-token-93ce"), "operator-olga": ("operator", "olga-token-4d0a")}

MODEL = """
    # modelop.score
    def action(record):
        yield {"id": record["id"], "flagged": record["prediction"]}

    # modelop.metrics
    def metrics(df):
        positives = df[df["label"] == 1]
        yield {"tpr": float((positives["prediction"] == 1).mean()), "rows": len(df)}

    # modelop.train
    def train(df):
        with open("trained.txt", "w") as handle:
            handle.write(str(len(df)))
"""

# the table, as Camunda Modeler writes it, shipped inside the snapshot
SNAPSHOT_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Definitions_fraud" name="Fraud thresholds" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="fraud_thresholds" name="Fraud thresholds">
    <decisionTable id="DecisionTable_fraud" hitPolicy="COLLECT">
      <input id="Input_tpr" label="TPR"><inputExpression id="InputExpression_tpr" typeRef="double"><text>tpr</text></inputExpression></input>
      <output id="Output_passes" name="passes" typeRef="boolean" />
      <output id="Output_reason" name="reason" typeRef="string" />
      <rule id="Rule_pass"><inputEntry id="In_pass"><text>&gt; 0.45</text></inputEntry>
        <outputEntry id="Out_pass"><text>true</text></outputEntry><outputEntry id="Why_pass"><text>"TPR greater than threshold"</text></outputEntry></rule>
      <rule id="Rule_fail"><inputEntry id="In_fail"><text>&lt;= 0.45</text></inputEntry>
        <outputEntry id="Out_fail"><text>false</text></outputEntry><outputEntry id="Why_fail"><text>"TPR below the fraud team's 0.45"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def labeled(path: Path, hits: int, misses: int) -> Path:
    """Test data whose true positive rate is hits / (hits + misses)."""
    rows = [{"id": i, "label": 1, "prediction": 1} for i in range(hits)]
    rows += [{"id": hits + i, "label": 1, "prediction": 0} for i in range(misses)]
    rows += [{"id": 100 + i, "label": 0, "prediction": 0} for i in range(2)]
    path.write_text("id,label,prediction\n" + "".join(f"{r['id']},{r['label']},{r['prediction']}\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def plane(spark, tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("mlc")
    tokens = root / "tokens.toml"
    tokens.write_text("".join(f'[[user]]\nname = "{name}"\nroles = ["{role}"]\ntoken = "{token}"\n\n' for name, (role, token) in TOKENS.items()))
    with webhook_receiver() as (hook, received), control_plane(root / "data", extra=("--tokens", str(tokens), "--mlc-poll-seconds", "0.3", "--webhook", hook)) as server:
        agents = [start_agent(server.url, f"{stage.lower()}-1", [stage, "cc-fraud"], root / f"agent-{stage}", spark) for stage in ("DEV", "SIT", "PROD")]
        state = {"server": server, "root": root, "webhook": received}
        os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"] = server.url, TOKEN
        try:
            assert moc(["model", "create", "cc-fraud"]) == 0
            yield state
        finally:
            del os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"]
            for agent in agents:
                agent.stop(wait_for_jobs=False, timeout=5)
            stop(state["server"].process)  # the process a test restarted, if one did


@pytest.fixture
def env(plane, monkeypatch):
    monkeypatch.setenv("MODELOP_URL", plane["server"].url)
    monkeypatch.setenv("MODELOP_TOKEN", TOKEN)
    return plane


def create_snapshot(capsys, tmp_path: Path, name: str, *, test_data: Path, dmn: bool, version: str) -> dict:
    folder = make_snapshot(tmp_path / name, MODEL, files={"thresholds.dmn": SNAPSHOT_DMN} if dmn else None)
    return moc_json(capsys, "snapshot", "create", str(folder), "--model", "cc-fraud", "--service-tag", "cc-fraud",
                    "--version", version, "--test-data", str(test_data))


def instance_of(capsys, snapshot_id: str) -> dict:
    found = moc_json(capsys, "mlc", "list", "--snapshot", snapshot_id)
    assert len(found) == 1
    return found[0]


def wait_state(capsys, instance_id: str, *states: str, timeout: float = 180) -> dict:
    def reached():
        current = moc_json(capsys, "mlc", "show", instance_id)
        assert current["state"] not in {"FAILED", "REJECTED", "COMPLETE"} - set(states), current
        return current if current["state"] in states else None

    return wait_for(reached, timeout=timeout, what=f"life cycle {instance_id} to be {' or '.join(states)}")


def as_user(monkeypatch, user: str) -> None:
    monkeypatch.setenv("MODELOP_TOKEN", TOKENS[user][1])


def jobs_of(capsys, snapshot_id: str) -> list[dict]:
    return [j for j in moc_json(capsys, "job", "list", "--limit", "500") if j["snapshot_id"] == snapshot_id]


# -- the shipped processes ------------------------------------------------------------------------

def test_the_deployed_processes_and_their_pictures(env, capsys):
    processes = {p["name"]: p for p in moc_json(capsys, "mlc", "processes")}
    assert processes["operationalize-batch-model"]["stages"] == ["DEV", "SIT", "PROD"]
    assert set(processes["operationalize-batch-model"]) >= {"name", "file", "handles", "stages"}
    code, out, _ = run_moc(capsys, "mlc", "processes")
    assert code == 0 and "DEV -> SIT -> PROD" in out
    response = httpx.get(f"{env['server'].url}/api/v1/mlc/processes/retrain/diagram.svg", params={"highlight": "Task_Train"},
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.headers["content-type"].startswith("image/svg+xml") and 'class="element serviceTask current"' in response.text


# -- the scenarios of the issue -------------------------------------------------------------------

def test_a_passing_snapshot_walks_dev_sit_prod_with_two_approvals(env, capsys, tmp_path, monkeypatch):
    snapshot = create_snapshot(capsys, tmp_path, "good", test_data=labeled(tmp_path / "good.csv", 4, 1), dmn=True, version="1.0.0")
    assert snapshot["test_data"] == {"path": "test_data/good.csv"}
    instance = wait_state(capsys, instance_of(capsys, snapshot["id"])["id"], "WAITING_APPROVAL")
    assert instance["waiting_for"] == {"stage": "SIT", "role": None} and instance["stage"] == "DEV"
    evaluated = next(h for h in instance["history"] if h["step"] == "Task_Evaluate")
    assert evaluated["outcome"] == "passes (thresholds.dmn): TPR greater than threshold"  # the snapshot's own DMN

    as_user(monkeypatch, "operator-olga")  # no approve permission at all
    code, _, err = run_moc(capsys, "mlc", "approve", instance["id"])
    assert code == 3 and "may not approve" in err
    as_user(monkeypatch, "reviewer-rob")
    code, out, _ = run_moc(capsys, "mlc", "approve", instance["id"], "--comment", "SIT please")
    assert code == 0 and "approved by reviewer-rob" in out
    instance = wait_state(capsys, instance["id"], "WAITING_APPROVAL")
    assert instance["waiting_for"] == {"stage": "PROD", "role": "approver"} and instance["stage"] == "SIT"
    before = moc_json(capsys, "mlc", "show", instance["id"])
    code, _, err = run_moc(capsys, "mlc", "approve", instance["id"])  # a reviewer is not an approver
    assert code == 3 and "promotion to PROD needs role approver; user reviewer-rob has reviewer; nothing changed" in err
    assert moc_json(capsys, "mlc", "show", instance["id"]) == before
    as_user(monkeypatch, "approver-ann")
    assert run_moc(capsys, "mlc", "approve", instance["id"], "--comment", "go")[0] == 0
    done = wait_state(capsys, instance["id"], "COMPLETE")

    assert done["stage"] == "PROD" and moc_json(capsys, "snapshot", "show", snapshot["id"])["stage"] == "PROD"
    approvals = [(h["name"], h["user"], h["comment"], h["outcome"]) for h in done["history"] if h["user"]]
    assert approvals == [("Approve promotion to SIT", "reviewer-rob", "SIT please", "approved"), ("Approve promotion to PROD", "approver-ann", "go", "approved")]
    assert all(h["at"].endswith("Z") for h in done["history"])
    jobs = {j["id"]: j for j in jobs_of(capsys, snapshot["id"])}
    ran = sorted((jobs[i]["job_type"], jobs[i]["runtime"], jobs[i]["status"]) for h in done["history"] for i in h["job_ids"])
    assert ran == [("metrics", "dev-1", "COMPLETE"), ("scoring", "dev-1", "COMPLETE"), ("scoring", "prod-1", "COMPLETE"), ("scoring", "sit-1", "COMPLETE")]
    assert len(jobs) == 4
    code, out, _ = run_moc(capsys, "mlc", "show", done["id"])
    assert code == 0 and "COMPLETE" in out and "approver-ann" in out and "metrics: rows=7, tpr=0.8" in out
    code, out, _ = run_moc(capsys, "snapshot", "show", snapshot["id"])
    assert code == 0 and "PROD" in out and done["id"] in out and "operationalize-batch-model" in out


def test_a_snapshot_whose_dmn_fails_stops_after_the_dev_test_with_the_rule_s_reason(env, capsys, tmp_path):
    snapshot = create_snapshot(capsys, tmp_path, "weak", test_data=labeled(tmp_path / "weak.csv", 1, 3), dmn=False, version="1.0.1")
    instance = wait_state(capsys, instance_of(capsys, snapshot["id"])["id"], "FAILED")
    assert instance["stage"] is None and [j["job_type"] for j in jobs_of(capsys, snapshot["id"])] == ["metrics"]
    notes = [n for n in moc_json(capsys, "notifications") if n["kind"] == "MLC_FAILED" and instance["id"] in n["message"]]
    assert len(notes) == 1 and "failed its test: TPR at or below threshold 0.45" in notes[0]["message"]  # the default table's rule
    wait_for(lambda: any(n["id"] == notes[0]["id"] for n in env["webhook"]), what="the MLC_FAILED notification at the webhook (a ticket)")
    code, _, err = run_moc(capsys, "mlc", "approve", instance["id"])
    assert code == 3 and f"life cycle {instance['id']} is FAILED, not waiting for an approval; nothing changed" in err


def test_a_control_plane_restart_resumes_the_life_cycle_with_no_job_run_twice_and_a_rejection_ends_it(env, capsys, tmp_path, monkeypatch):
    snapshot = create_snapshot(capsys, tmp_path, "restart", test_data=labeled(tmp_path / "restart.csv", 3, 1), dmn=True, version="1.0.2")
    instance_id = instance_of(capsys, snapshot["id"])["id"]
    wait_for(lambda: jobs_of(capsys, snapshot["id"]), what="the DEV test job")  # created, the step not yet complete
    env["server"].process.kill()  # SIGKILL between the job's creation and the step's completion
    env["server"].process.wait()
    server = env["server"]
    env["server"] = start_control_plane(server.data, port=server.port, extra=server.extra)
    instance = wait_state(capsys, instance_id, "WAITING_APPROVAL")
    jobs = jobs_of(capsys, snapshot["id"])
    assert sorted(j["job_type"] for j in jobs) == ["metrics", "scoring"] and all(j["attempt"] == 1 for j in jobs)
    assert [h["step"] for h in instance["history"]] == ["StartEvent_SnapshotCreated", "Task_TestDev", "Task_Evaluate", "Task_DeployDev"]

    as_user(monkeypatch, "reviewer-rob")
    with pytest.raises(SystemExit) as refused:  # a rejection says why
        moc(["mlc", "reject", instance_id])
    assert refused.value.code == 2 and "the following arguments are required: --comment" in capsys.readouterr().err
    code, out, _ = run_moc(capsys, "mlc", "reject", instance_id, "--comment", "drift in the SIT data")
    assert code == 0 and "rejected by reviewer-rob" in out
    done = wait_state(capsys, instance_id, "REJECTED")
    assert done["stage"] == "DEV" and done["history"][-1]["name"] == "Notify: rejected"
    notes = [n["message"] for n in moc_json(capsys, "notifications") if n["kind"] == "MLC_REJECTED" and instance_id in n["message"]]
    assert len(notes) == 1 and "rejected by reviewer-rob: drift in the SIT data" in notes[0]
    assert len(jobs_of(capsys, snapshot["id"])) == 2


def test_a_retrain_produces_a_child_snapshot_that_enters_the_life_cycle(env, capsys, tmp_path):
    parent = moc_json(capsys, "snapshot", "show", "cc-fraud")
    new_data = labeled(tmp_path / "fresh.csv", 5, 1)
    code, out, _ = run_moc(capsys, "mlc", "start", "retrain", "--model", "cc-fraud", "--data", str(new_data))
    assert code == 0 and "(retrain) started for model cc-fraud" in out
    retrain = moc_json(capsys, "mlc", "list", "--snapshot", parent["id"])
    retrain = next(i for i in retrain if i["process"] == "retrain")
    done = wait_state(capsys, retrain["id"], "COMPLETE")
    child_id = next(h for h in done["history"] if h["step"] == "Task_Train")["outcome"].split()[2]
    child = moc_json(capsys, "snapshot", "show", child_id)
    assert child["parent_id"] == parent["id"] and child["trained_by_job"] and child["test_data"] == parent["test_data"]
    child_cycle = instance_of(capsys, child_id)
    assert child_cycle["process"] == "operationalize-batch-model"
    assert done["history"][-1]["outcome"] == f"snapshot {child_id} entered life cycle {child_cycle['id']}"
    tested = wait_state(capsys, child_cycle["id"], "WAITING_APPROVAL")
    assert tested["stage"] == "DEV"
    code, _, err = run_moc(capsys, "mlc", "start", "operationalize-batch-model", "--model", "cc-fraud")
    assert code == 2 and "starts by itself for new snapshots" in err


def test_bad_requests_are_one_clear_line_and_change_nothing(env, capsys, tmp_path):
    before = moc_json(capsys, "mlc", "list")
    code, _, err = run_moc(capsys, "mlc", "start", "nightly", "--model", "cc-fraud")
    assert code == 2 and "no life-cycle process 'nightly'; deployed: operationalize-batch-model, retrain" in err
    code, _, err = run_moc(capsys, "mlc", "show", "not-an-id")
    assert code == 3 and "no life cycle not-an-id" in err
    response = httpx.post(f"{env['server'].url}/api/v1/mlc/instances/{before[0]['id']}/reject", json={},
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400 and "a rejection needs a comment" in response.json()["detail"]
    code, _, err = run_moc(capsys, "snapshot", "create", str(tmp_path), "--model", "cc-fraud", "--service-tag", "x", "--test-data", str(tmp_path / "missing.csv"))
    assert code == 2 and "--test-data" in err and "not a file here" in err
    assert moc_json(capsys, "mlc", "list") == before
    assert json.dumps(before).count(TOKEN) == 0
