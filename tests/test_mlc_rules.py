"""Model life cycles without a server: DMN thresholds, which process handles a snapshot, the
engine reading Camunda Modeler files and resuming from its serialized state, the SVG pictures."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelop_spark.errors import SpecError
from modelop_spark.mlc import dmn, engine
from modelop_spark.mlc.diagram import render_svg
from modelop_spark.mlc.processes import DEFAULT_FOLDER, Catalog, ProcessInfo, describe, select

DATA = Path(__file__).parent / "data" / "mlc"

ISSUE_TABLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="tpr_check" name="TPR check">
    <decisionTable id="t" hitPolicy="COLLECT">
      <input id="i"><inputExpression id="e" typeRef="double"><text>tpr</text></inputExpression></input>
      <input id="i2"><inputExpression id="e2" typeRef="double"><text>rows</text></inputExpression></input>
      <output id="o1" name="passes" typeRef="boolean"/>
      <output id="o2" name="reason" typeRef="string"/>
      <rule id="r1"><inputEntry id="a"><text>&gt; 0.45</text></inputEntry><inputEntry id="a2"><text></text></inputEntry>
        <outputEntry id="b"><text>true</text></outputEntry><outputEntry id="c"><text>"TPR greater than threshold"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="d"><text>&lt;= 0.45</text></inputEntry><inputEntry id="d2"><text></text></inputEntry>
        <outputEntry id="f"><text>false</text></outputEntry><outputEntry id="g"><text>"TPR at or below 0.45"</text></outputEntry></rule>
      <rule id="r3"><inputEntry id="h"><text></text></inputEntry><inputEntry id="h2"><text>&lt; 10</text></inputEntry>
        <outputEntry id="j"><text>false</text></outputEntry><outputEntry id="k"><text>"fewer than 10 test rows"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


# -- DMN thresholds -------------------------------------------------------------------------------

def test_a_collect_table_passes_when_every_matched_rule_passes():
    verdict = dmn.evaluate(ISSUE_TABLE, {"tpr": 0.8, "rows": 50})
    assert verdict.passes and verdict.reasons == ("TPR greater than threshold",)


def test_a_failing_rule_fails_the_verdict_and_its_reason_comes_first():
    verdict = dmn.evaluate(ISSUE_TABLE, {"tpr": 0.8, "rows": 5})
    assert not verdict.passes and verdict.reasons == ("fewer than 10 test rows", "TPR greater than threshold")
    assert dmn.evaluate(ISSUE_TABLE, {"tpr": 0.2, "rows": 50}).reasons == ("TPR at or below 0.45",)


def test_the_default_table_judges_tpr():
    assert dmn.evaluate(dmn.default_dmn(), {"tpr": 0.5}).passes
    failed = dmn.evaluate(dmn.default_dmn(), {"tpr": 0.45})
    assert not failed.passes and failed.summary == "TPR at or below threshold 0.45"


def test_a_metric_the_table_reads_but_the_job_did_not_return_is_one_clear_error():
    with pytest.raises(SpecError, match=r"reads tpr, which the test job's metrics do not have \(they have accuracy\)"):
        dmn.evaluate(dmn.default_dmn(), {"accuracy": 0.9})


def test_a_file_that_is_not_xml_is_named():
    with pytest.raises(SpecError, match="mine.dmn: not well-formed XML"):
        dmn.evaluate(b"<definitions", {}, filename="mine.dmn")


# -- which process handles a snapshot -----------------------------------------------------------

def _process(name: str, tags: tuple[str, ...] = (), pattern: str = "*", trigger: str = "snapshot-created") -> ProcessInfo:
    return ProcessInfo(name, f"{name}.bpmn", name, name, trigger, tags, pattern, ("DEV",))


def test_the_most_specific_process_handles_a_snapshot():
    general, fraud, fraud_v2, retrain = _process("general"), _process("fraud", ("cc-fraud",)), _process("fraud-v2", ("CC-FRAUD",), "fraud-v2*"), _process("retrain", trigger="start")
    processes = [general, fraud, fraud_v2, retrain]
    assert select(processes, service_tags=["cc-fraud"], model_name="fraud-v2-gbm") == fraud_v2
    assert select(processes, service_tags=["cc-fraud"], model_name="fraud-v1") == fraud
    assert select(processes, service_tags=["churn"], model_name="x") == general
    assert select([fraud, retrain], service_tags=["churn"], model_name="x") is None


def test_the_shipped_processes_declare_what_they_handle_and_their_stages():
    catalog = Catalog.load(DEFAULT_FOLDER)
    described = {name: p.to_dict() for name, p in catalog.processes.items()}
    assert described["operationalize-batch-model"]["stages"] == ["DEV", "SIT", "PROD"]
    assert described["operationalize-batch-model"]["handles"] == {"service_tags": ["*"], "model_name_pattern": "*"}
    assert described["retrain"]["trigger"] == "start"
    with pytest.raises(SpecError, match="no life-cycle process 'nope'; deployed: operationalize-batch-model, retrain"):
        catalog.get("nope")


def test_a_folder_with_a_process_the_engine_refuses_does_not_load(tmp_path):
    (tmp_path / "mine.bpmn").write_bytes((DEFAULT_FOLDER / "retrain.bpmn").read_bytes().replace(b' camunda:topic="trainingjob"', b""))
    with pytest.raises(SpecError, match='mine.bpmn: a service task needs camunda:type="external" and camunda:topic'):
        Catalog.load(tmp_path)


def test_an_unknown_trigger_is_refused_naming_the_file():
    bpmn = (DATA / "risk-review.bpmn").read_bytes().replace(
        b'isExecutable="true">', b'isExecutable="true"><bpmn:extensionElements><camunda:properties><camunda:property name="trigger" value="nightly" /></camunda:properties></bpmn:extensionElements>'
    )
    with pytest.raises(SpecError, match="x.bpmn: process property trigger='nightly'; expected one of snapshot-created, start"):
        describe(bpmn, name="x", file="x.bpmn")


# -- the engine ---------------------------------------------------------------------------------

def test_a_camunda_modeler_bpmn_and_dmn_pair_loads_unchanged_and_runs():
    bpmn, table = (DATA / "risk-review.bpmn").read_bytes(), (DATA / "risk-review.dmn").read_bytes()
    automatic = engine.load_definition(bpmn, dmn=[table]).new_workflow({"auc": 0.9})
    engine.advance(automatic)
    assert automatic.is_completed() and automatic.data["review"] == "automatic"
    manual = engine.load_definition(bpmn, dmn=[table]).new_workflow({"auc": 0.6})
    engine.advance(manual)
    resumed = engine.deserialize(engine.serialize(manual))  # what a restarted control plane reads back
    task = engine.waiting_user_task(resumed)
    assert task.task_spec.bpmn_id == "Task_Review" and engine.properties(task) == {"stage": "UAT", "role": "approver"}
    task.run()
    engine.advance(resumed)
    assert resumed.is_completed()


def test_camunda_conditions_in_juel_read_as_python():
    assert engine.python_expression("${approved && !rejected || passes == true}") == "approved  and   not rejected  or  passes == true"
    assert engine.python_expression("passes != True") == "passes != True"
    bpmn = (DATA / "risk-review.bpmn").read_bytes().replace(b'review == "manual"', b'${review == "manual"}')
    workflow = engine.load_definition(bpmn, dmn=[(DATA / "risk-review.dmn").read_bytes()]).new_workflow({"auc": 0.5})
    engine.advance(workflow)
    assert engine.waiting_user_task(workflow).task_spec.bpmn_id == "Task_Review"


def test_the_operationalize_process_resumes_from_its_saved_state_at_the_same_task():
    definition = engine.load_definition((DEFAULT_FOLDER / "operationalize-batch-model.bpmn").read_bytes())
    workflow = definition.new_workflow({"snapshot_id": "s"})
    engine.advance(workflow)
    task = engine.waiting_service_task(workflow)
    task.internal_data["job_id"] = "job-1"
    resumed = engine.deserialize(engine.serialize(workflow))
    again = engine.waiting_service_task(resumed)
    assert again.task_spec.bpmn_id == "Task_TestDev" and again.internal_data == {"job_id": "job-1"}
    assert engine.properties(again) == {"stage": "DEV", "topic": "testjob"}


def test_every_shipped_and_test_file_is_valid_bpmn_2_and_dmn_by_their_schemas():
    for bpmn in [*DEFAULT_FOLDER.glob("*.bpmn"), DATA / "risk-review.bpmn"]:
        engine.load_definition(bpmn.read_bytes(), dmn=[p.read_bytes() for p in [*DEFAULT_FOLDER.glob("*.dmn"), *DATA.glob("*.dmn")]], filename=bpmn.name)
    broken = (DATA / "risk-review.bpmn").read_bytes().replace(b"<bpmn:incoming>Flow_3</bpmn:incoming>", b"<bpmn:arrival>Flow_3</bpmn:arrival>")
    with pytest.raises(SpecError, match="risk-review.bpmn: .*arrival"):
        engine.load_definition(broken, dmn=[(DATA / "risk-review.dmn").read_bytes()], filename="risk-review.bpmn")


def test_a_service_task_without_a_topic_is_refused_at_load():
    bpmn = (DEFAULT_FOLDER / "retrain.bpmn").read_bytes().replace(b' camunda:type="external" camunda:topic="trainingjob"', b"")
    with pytest.raises(SpecError, match='retrain.bpmn: a service task needs camunda:type="external" and camunda:topic'):
        engine.load_definition(bpmn, filename="retrain.bpmn")


# -- pictures -----------------------------------------------------------------------------------

def test_the_svg_is_drawn_from_the_diagram_with_the_current_step_marked():
    svg = render_svg((DEFAULT_FOLDER / "operationalize-batch-model.bpmn").read_bytes(), "Task_ApproveProd")
    assert svg.startswith("<svg") and svg.count("<rect") == 9 and svg.count("<polygon") == 3 and svg.count("<circle") == 4
    assert '<g id="Task_ApproveProd" class="element userTask current">' in svg and svg.count(" current") == 1
    assert '<tspan x="1290" y="' in svg  # at the shape's centre from its dc:Bounds
    assert "M 1430 225 L 1430 290 L 1220 290 L 1220 300" in svg  # the rejected flow's waypoints


def test_the_committed_pictures_are_the_renderer_s_output():
    for name in ("operationalize-batch-model", "retrain"):
        committed = (Path(__file__).parents[1] / "docs" / f"mlc-{name}.svg").read_text()
        assert committed == render_svg((DEFAULT_FOLDER / f"{name}.bpmn").read_bytes(), None)


def test_a_bpmn_without_a_diagram_is_one_clear_error():
    with pytest.raises(SpecError, match="no diagram"):
        render_svg(b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"/></definitions>')


# -- modelop-spark mlc check|diagram ------------------------------------------------------------

def test_check_lists_a_folder_s_processes_and_refuses_a_bad_one_in_one_line(tmp_path, capsys):
    from modelop_spark.cli import main

    assert main(["mlc", "check"]) == 0
    assert "operationalize-batch-model: Operationalize batch model (operationalize-batch-model.bpmn); trigger snapshot-created" in capsys.readouterr().out
    (tmp_path / "mine.bpmn").write_bytes((DATA / "risk-review.bpmn").read_bytes().replace(b"<bpmn:process ", b"<bpmn:proces "))
    assert main(["mlc", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: mine.bpmn:") and err.count("\n") == 1


def test_diagram_writes_the_picture_of_a_file(tmp_path):
    from modelop_spark.cli import main

    target = tmp_path / "risk.svg"
    assert main(["mlc", "diagram", str(DATA / "risk-review.bpmn"), "--highlight", "Task_Review", "-o", str(target)]) == 0
    assert target.read_text() == render_svg((DATA / "risk-review.bpmn").read_bytes(), "Task_Review")
