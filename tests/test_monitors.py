"""The built-in monitors on Spark against the same figures computed by hand with scipy/numpy on
the whole data (the monitors' values must be those, not estimates)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from modelop_spark.errors import SpecError
from modelop_spark.evaluation.drift import psi
from modelop_spark.evaluation.monitor_config import config_from_schema
from modelop_spark.evaluation.monitors import MonitorSettings, run_monitor
from modelop_spark.evaluation.report import write_report
from modelop_spark.schema.loader import load_schema

SCHEMA = load_schema({
    "type": "record", "name": "loan",
    "fields": [
        {"name": "income", "type": ["null", "double"], "driftCandidate": True, "specialValues": [-1.0]},
        {"name": "age", "type": "int", "driftCandidate": True},
        {"name": "grade", "type": "string", "driftCandidate": True},
        {"name": "region", "type": "string", "driftCandidate": True, "scoringOptional": True},
        {"name": "gender", "type": "string", "protectedClass": True},
        {"name": "label", "type": "string", "role": "label", "positiveClassLabel": "bad"},
        {"name": "score", "type": "double", "role": "score"},
    ],
})


def frame(n, shift, seed):
    rng = np.random.default_rng(seed)
    income = np.round(rng.normal(50 + shift, 10, n), 1)  # rounded: many ties, as real data has
    income[rng.random(n) < 0.03] = -1.0  # the special value "unknown"
    score = np.clip(rng.beta(2, 5, n) + shift / 100, 0, 1)
    bad = rng.random(n) < score
    df = pd.DataFrame({
        "income": income,
        "age": rng.integers(18, 80, n).astype("int32"),
        "grade": rng.choice(list("ABCD"), n, p=[0.4, 0.3, 0.2, 0.1] if not shift else [0.25, 0.25, 0.25, 0.25]),
        "gender": rng.choice(["f", "m"], n),
        "label": np.where(bad, "bad", "good"),
        "score": score,
    })
    df.loc[df.index[:7], "income"] = np.nan  # missing values: counted apart, never dropped
    return df


@pytest.fixture(scope="module")
def data(spark):
    baseline, comparator = frame(6000, 0, 1), frame(5000, 5, 2)
    return baseline, comparator, spark.createDataFrame(baseline), spark.createDataFrame(comparator)


def hand_histogram(values, edges):
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def test_data_drift_equals_scipy_on_the_whole_data(data, tmp_path):
    baseline, comparator, b, c = data
    config = config_from_schema(SCHEMA)
    doc = run_monitor("data-drift", baseline=b, comparator=c, config=config)
    income = doc["drift"]["features"]["income"]
    valid_b = baseline.income[(baseline.income != -1) & baseline.income.notna()]
    valid_c = comparator.income[(comparator.income != -1) & comparator.income.notna()]
    expected = stats.ks_2samp(valid_b, valid_c, method="asymp")
    assert income["ks"]["statistic"] == pytest.approx(expected.statistic, abs=1e-12)  # exact, with ties
    assert income["ks"]["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    edges = np.array(income["bins"]["edges"])
    hb, hc = hand_histogram(valid_b, edges), hand_histogram(valid_c, edges)
    assert income["bins"]["baseline"] == hb.tolist() and income["bins"]["comparator"] == hc.tolist()
    assert income["js_distance"] == pytest.approx(jensenshannon(hb, hc, base=2), rel=1e-9)
    assert income["psi"] == pytest.approx(psi(hb.astype(float), hc.astype(float)), rel=1e-9)
    assert income["missing"] == {"baseline": 7, "comparator": 7}
    assert income["special_values"]["baseline"] == {"-1": int((baseline.income == -1).sum())}
    # Edges are the baseline's deciles: each bin holds about a tenth of the baseline.
    assert max(hb) / hb.sum() < 0.13
    age = doc["drift"]["features"]["age"]
    assert age["ks"]["statistic"] == pytest.approx(stats.ks_2samp(baseline.age, comparator.age).statistic, abs=1e-12)
    grade = doc["drift"]["features"]["grade"]
    table = pd.crosstab(pd.concat([baseline.grade, comparator.grade]), ["b"] * 6000 + ["c"] * 5000)
    chi2 = stats.chi2_contingency(table.to_numpy().T, correction=False)
    assert grade["chi_square"]["p_value"] == pytest.approx(chi2.pvalue, rel=1e-9)
    assert grade["js_distance"] == pytest.approx(jensenshannon(table["b"], table["c"], base=2), rel=1e-9)
    assert doc["not_compared"] == {"region": "scoringOptional and absent from the baseline"}
    assert doc["metrics"]["grade_psi"] == grade["psi"] and doc["metrics"]["max_psi"] >= grade["psi"]
    assert doc["metrics"]["min_ks_p_value"] <= income["ks"]["p_value"]
    files = write_report(doc, tmp_path / "report")
    assert "drift_psi" in files.plots and "Drift" in files.html.read_text()


def test_concept_drift_compares_score_and_label(data):
    baseline, comparator, b, c = data
    doc = run_monitor("concept-drift", baseline=b, comparator=c, config=config_from_schema(SCHEMA))
    assert set(doc["drift"]["features"]) == {"score", "label"}
    assert doc["metrics"]["score_ks_statistic"] == pytest.approx(stats.ks_2samp(baseline.score, comparator.score).statistic, abs=1e-12)
    assert doc["drift"]["features"]["label"]["type"] == "categorical"


def test_performance_honours_the_positive_class_label(data, tmp_path):
    _, comparator, _, c = data
    doc = run_monitor("performance", comparator=c, config=config_from_schema(SCHEMA))
    y = comparator.label == "bad"
    predicted = comparator.score >= 0.5
    m = doc["metrics"]
    assert m["auc"] == pytest.approx(roc_auc_score(y, comparator.score), abs=2e-4)
    assert m["f1"] == pytest.approx(f1_score(y, predicted))
    assert (m["precision"], m["recall"]) == (pytest.approx(precision_score(y, predicted)), pytest.approx(recall_score(y, predicted)))
    assert m["confusion_tp"] == int((y & predicted).sum())
    assert "roc" in write_report(doc, tmp_path / "perf").plots


def test_performance_of_a_regression(spark):
    rng = np.random.default_rng(3)
    y = rng.normal(size=2000)
    pdf = pd.DataFrame({"y": y, "yhat": y + rng.normal(0, 0.3, 2000)})
    schema = load_schema({"type": "record", "name": "r", "fields": [
        {"name": "y", "type": "double", "role": "label"}, {"name": "yhat", "type": "double", "role": "score"}]})
    m = run_monitor("performance", comparator=spark.createDataFrame(pdf), config=config_from_schema(schema))["metrics"]
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((pdf.yhat - pdf.y) ** 2)))
    assert m["r2"] == pytest.approx(1 - np.sum((pdf.yhat - pdf.y) ** 2) / np.sum((pdf.y - pdf.y.mean()) ** 2))


def test_bias_per_protected_class(data):
    _, comparator, _, c = data
    doc = run_monitor("bias", comparator=c, config=config_from_schema(SCHEMA))
    rates = comparator.assign(sel=comparator.score >= 0.5).groupby("gender").sel.mean()
    assert doc["metrics"]["gender_demographic_parity_difference"] == pytest.approx(rates.max() - rates.min())
    assert doc["fairness"][0]["column"] == "gender"


def test_stability_psi_of_score_and_csi_per_characteristic(data):
    baseline, comparator, b, c = data
    doc = run_monitor("stability", baseline=b, comparator=c, config=config_from_schema(SCHEMA), settings=MonitorSettings(bins=20))
    section = doc["drift"]["features"]["score"]
    edges = np.array(section["bins"]["edges"])
    assert len(edges) == 19
    expected = psi(hand_histogram(baseline.score, edges).astype(float), hand_histogram(comparator.score, edges).astype(float))
    assert doc["metrics"]["stability_index"] == pytest.approx(expected, rel=1e-9)
    assert {"income_csi", "age_csi", "grade_csi", "max_csi"} <= set(doc["metrics"])


def test_a_monitor_without_what_it_needs_says_so(data):
    _, _, b, c = data
    with pytest.raises(SpecError, match="needs a baseline"):
        run_monitor("data-drift", comparator=c, config=config_from_schema(SCHEMA))
    with pytest.raises(SpecError, match="not built in"):
        run_monitor("feature-importance", comparator=c, config=config_from_schema(SCHEMA))
    with pytest.raises(SpecError, match="no protected field"):
        run_monitor("bias", comparator=c, config=config_from_schema(SCHEMA).with_overrides(protected=()).__class__())
