"""The monitors' pure formulas, the schema-driven configuration and the gate, without Spark."""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from modelop_spark.errors import SpecError
from modelop_spark.evaluation.champion import MetricGate, gate, side_by_side
from modelop_spark.evaluation.decision_table import judge
from modelop_spark.evaluation.monitor_config import config_from_schema
from modelop_spark.evaluation.monitor_formulas import js_distance, ks_p_value, metric_name
from modelop_spark.schema.loader import load_schema

SCHEMA = {
    "type": "record", "name": "loan",
    "fields": [
        {"name": "id", "type": "string", "role": "identifier"},
        {"name": "income", "type": "double", "driftCandidate": True, "specialValues": [{"values": [-1], "purpose": "unknown"}]},
        {"name": "term", "type": "int", "dataClass": "categorical", "driftCandidate": True},
        {"name": "channel", "type": ["null", "string"], "driftCandidate": True, "scoringOptional": True},
        {"name": "gender", "type": "string", "protectedClass": True},
        {"name": "amount", "type": "double", "isAmountField": True},
        {"name": "default", "type": "string", "role": "label", "positiveClassLabel": "yes"},
        {"name": "p", "type": "double", "role": "score"},
    ],
}


def test_the_schema_says_what_each_monitor_compares():
    config = config_from_schema(load_schema(SCHEMA))
    assert config.numerical == ("income",)
    assert config.categorical == ("term", "channel")  # dataClass wins over the int type
    assert (config.score, config.label, config.positive_label) == ("p", "default", "yes")
    assert config.protected == ("gender",)
    assert config.special_values == {"income": (-1,)}
    assert config.optional == ("channel",)
    assert config.amount_fields == ("amount",)


def test_js_distance_is_scipys_base_2_and_bounded():
    p, q = np.array([10, 20, 30, 0]), np.array([0, 25, 25, 10])
    assert js_distance(p, q) == pytest.approx(jensenshannon(p / p.sum(), q / q.sum(), base=2))
    assert js_distance(np.array([5, 0]), np.array([0, 5])) == pytest.approx(1.0)
    assert js_distance(np.array([0, 0]), q) is None


def test_ks_p_value_is_scipys_asymptotic_one():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=700), rng.normal(0.1, size=900)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert ks_p_value(float(expected.statistic), 700, 900) == pytest.approx(expected.pvalue, rel=1e-9)


def test_metric_names_are_identifiers_a_dmn_can_read():
    assert metric_name("credit score", "psi") == "credit_score_psi"
    assert metric_name("2nd", "ks_p_value").isidentifier()


MIN_AUC = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="drift" name="Drift thresholds">
    <decisionTable id="t" hitPolicy="COLLECT">
      <input id="i1"><inputExpression id="e1" typeRef="double"><text>max_psi</text></inputExpression></input>
      <output id="o1" name="passes" typeRef="boolean" /><output id="o2" name="reason" typeRef="string" />
      <rule id="r1"><inputEntry id="u1"><text>&lt; 0.2</text></inputEntry>
        <outputEntry id="p1"><text>true</text></outputEntry><outputEntry id="q1"><text>"PSI below 0.2"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="u2"><text>&gt;= 0.2</text></inputEntry>
        <outputEntry id="p2"><text>false</text></outputEntry><outputEntry id="q2"><text>"PSI at or above 0.2: the data drifted"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


def test_a_dmn_judges_a_result_passed_failed_or_error():
    assert judge(MIN_AUC, {"max_psi": 0.05}).to_dict()["status"] == "PASSED"
    failed = judge(MIN_AUC, {"max_psi": 0.4})
    assert (failed.status, failed.reasons) == ("FAILED", ("PSI at or above 0.2: the data drifted",))
    error = judge(MIN_AUC, {"auc": 0.9}, filename="drift.dmn")
    assert error.status == "ERROR" and "reads max_psi" in error.reasons[0]
    assert judge(b"<definitions", {}).status == "ERROR"


def test_challenger_must_beat_champion_by_the_margin():
    champion, challenger = {"auc": 0.80, "rmse": 2.0}, {"auc": 0.83, "rmse": 1.9}
    assert gate(champion, challenger, MetricGate("auc", min_absolute_change=0.02)).passes
    assert not gate(champion, challenger, MetricGate("auc", min_absolute_change=0.05)).passes
    assert gate(champion, challenger, MetricGate("rmse", min_relative_change=0.05)).passes  # 5% lower is better
    assert not gate(champion, challenger, MetricGate("rmse", min_relative_change=0.06)).passes
    assert not gate(champion, challenger, MetricGate("auc", threshold=0.9)).passes
    result = gate(champion, {"auc": None}, MetricGate("auc"))
    assert not result.passes and "no value" in result.reason
    with pytest.raises(SpecError, match="greater_is_better"):
        gate(champion, challenger, MetricGate("custom_score"))


def test_side_by_side_marks_the_better_value_per_metric():
    table = side_by_side({"champ": {"auc": 0.8, "rmse": 2.0, "rows": 10}, "chall": {"auc": 0.85, "rmse": 2.5, "rows": 10}})
    assert table["auc"]["best"] == ["chall"]
    assert table["rmse"]["best"] == ["champ"]
    assert table["rows"]["best"] == []  # no direction: nothing marked
