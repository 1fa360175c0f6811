"""SHAP explanations on Spark equal shap's own on the same rows, and add up to the model's output."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import modelop_spark as ms
from modelop_spark.errors import SpecError
from modelop_spark.evaluation.job_options import MetricsOptions
from modelop_spark.interpretability import (
    ExplainOptions,
    explanation_plan,
    importance_drift,
    ranked,
)
from modelop_spark.interpretability.importance import decision_fields
from modelop_spark.jobs.runner import run_job
from modelop_spark.runtime.functions import ModelFunctions
from tests.snapshots import make_snapshot

FEATURES = ["a", "b", "c", "d"]

PICKLED_MODEL = """
    import pickle

    # modelop.init
    def begin():
        global MODEL
        with open("model.pkl", "rb") as handle:
            MODEL = pickle.load(handle)

    # modelop.score
    def action(record):
        row = [[record[f] for f in ("a", "b", "c", "d")]]
        probability = float(MODEL.predict_proba(row)[0, 1])
        yield {"probability": probability, "percent": 100.0 * probability}
"""

RECORD_FUNCTION = """
    # modelop.score
    def action(record):
        return {"score": record["a"] * record["b"] + 2.0 * record["c"] - record["d"] ** 2}
"""


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return x, y


def _frame(spark, x: np.ndarray, partitions: int = 4):
    rows = [(i, *map(float, r)) for i, r in enumerate(x)]
    return spark.createDataFrame(rows, ["id", *FEATURES]).repartition(partitions)


def _pickled(tmp_path, model) -> str:
    root = make_snapshot(tmp_path / "snapshot", PICKLED_MODEL, files={"model.pkl": pickle.dumps(model)},
                         manifest={"name": "pickled", "reads": FEATURES})
    return str(root)


def _by_id(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = sorted(frame.collect(), key=lambda r: r["id"])
    return (np.array([r["id"] for r in rows]), np.array([[r[f] for f in FEATURES] for r in rows]),
            np.array([r["expected_value"] for r in rows]))


def test_tree_values_equal_shap_and_add_up_to_the_positive_class_probability(spark, tmp_path):
    x, y = _data(600)
    model = RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(x, y)
    frame = ms.explain(_frame(spark, x), _pickled(tmp_path, model), key_columns=["id"], method="auto")
    assert frame.columns == ["id", *FEATURES, "expected_value"]
    ids, values, expected = _by_id(frame)
    reference = shap.TreeExplainer(model)
    np.testing.assert_allclose(values, reference.shap_values(x[ids])[:, :, 1], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(expected, reference.expected_value[1], rtol=1e-6)
    np.testing.assert_allclose(values.sum(axis=1) + expected, model.predict_proba(x[ids])[:, 1], rtol=1e-6)


def test_linear_values_equal_shap_with_the_whole_input_as_background(spark, tmp_path):
    # shap.LinearExplainer(model, X) keeps X whole up to 100 rows (it samples 100 of a larger X);
    # ours takes the exact means of the whole input on Spark, whatever its size.
    x, y = _data(90, seed=1)
    model = LogisticRegression().fit(x, y)
    frame = ms.explain(_frame(spark, x, partitions=3), _pickled(tmp_path, model), key_columns=["id"])
    ids, values, expected = _by_id(frame)
    reference = shap.LinearExplainer(model, x)
    np.testing.assert_allclose(values, reference.shap_values(x[ids]), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(values.sum(axis=1) + expected, model.decision_function(x[ids]), rtol=1e-6)


def _record_snapshot(tmp_path) -> str:
    return str(make_snapshot(tmp_path / "record", RECORD_FUNCTION, manifest={"name": "record", "reads": FEATURES}))


def _score(rows: np.ndarray) -> np.ndarray:
    return rows[:, 0] * rows[:, 1] + 2.0 * rows[:, 2] - rows[:, 3] ** 2


@pytest.mark.parametrize("method", ["permutation", "kernel"])
def test_model_agnostic_values_equal_shap_over_a_plain_record_function(spark, tmp_path, method):
    x, _ = _data(24, seed=2)
    df = _frame(spark, x, partitions=3)
    snapshot = _record_snapshot(tmp_path)
    settings = {"background_size": 12, "seed": 7, "max_evals": 90}
    frame = ms.explain(df, snapshot, key_columns=["id"], method=method, **settings)
    ids, values, expected = _by_id(frame)
    # The background shap gets is the one sample the driver drew (seeded, then broadcast).
    plan = explanation_plan(df, ModelFunctions.resolve(ms.load_snapshot(snapshot)), ExplainOptions(method=method, **settings))
    background = plan.background.value
    assert background.shape == (12, 4)
    if method == "permutation":  # shap's own, each row's permutations drawn from the seed
        reference = shap.PermutationExplainer(_score, shap.maskers.Independent(background, max_samples=12), seed=7)
        rows = []
        for row in x[ids]:
            np.random.seed(7)
            rows.append(reference(row[None, :], max_evals=90, silent=True).values[0])
        wanted = np.array(rows)
    else:
        wanted = shap.KernelExplainer(_score, background).shap_values(x[ids], silent=True)
    np.testing.assert_allclose(values, wanted, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(values.sum(axis=1) + expected, _score(x[ids]), rtol=1e-6, atol=1e-9)


def test_a_model_agnostic_explanation_names_the_output_when_there_are_several(spark, tmp_path):
    x, y = _data(50)
    model = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(x, y)
    df = _frame(spark, x)
    with pytest.raises(SpecError, match="name the score output"):
        ms.explain(df, _pickled(tmp_path, model), key_columns=["id"], method="permutation")  # probability and percent
    frame = ms.explain(df, _pickled(tmp_path, model), key_columns=["id"], method="permutation", output="probability",
                       background_size=5, max_evals=20)
    assert frame.count() == 50


def test_importance_is_ranked_with_shares_and_protected_ranks_feed_the_decision():
    importance = ranked({"age": 0.1, "income": 0.6, "region": 0.3})
    assert [r["feature"] for r in importance] == ["income", "region", "age"]
    assert sum(r["share"] for r in importance) == pytest.approx(1.0)
    decision = decision_fields(importance, ["age", "gender"])
    assert decision["protected_top_rank"] == 3 and decision["protected_in_top_3"] and decision["top_feature"] == "income"
    assert decision_fields(importance, ["gender"])["protected_in_top_3"] is False


def test_importance_drift_gives_the_difference_and_the_rank_change():
    drift = importance_drift({"a": 0.5, "b": 0.3, "c": 0.2, "d": 0.0}, {"a": 0.1, "b": 0.3, "c": 0.2, "d": 0.4})
    assert drift["features"]["d"]["rank_change"] == 3 and drift["features"]["a"]["rank_change"] == -3
    assert drift["features"]["a"]["difference"] == pytest.approx(-0.4)
    assert drift["top_3_changed"] and drift["max_rank_change"] == 3
    json.dumps(drift)


def test_bad_options_say_what_to_fix():
    with pytest.raises(SpecError, match="interpretability.method: 'shapley'"):
        ExplainOptions.from_dict({"method": "shapley"})
    with pytest.raises(SpecError, match="interpretability.background_sizes: unknown"):
        ExplainOptions.from_dict({"background_sizes": 10})


def test_a_metrics_job_reports_importances_per_group_writes_explanations_and_plots(spark, tmp_path):
    x, y = _data(800, seed=3)
    model = RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0).fit(x, y)
    frame = pd.DataFrame(x, columns=FEATURES).assign(id=np.arange(len(x)), label=y, group=np.where(x[:, 3] > 0, "A", "B"))
    frame.to_csv(tmp_path / "labeled.csv", index=False)
    out, rows_out = tmp_path / "evaluation", tmp_path / "explanations"
    document = {
        "job_id": "explain-job", "job_type": "metrics", "snapshot": _pickled(tmp_path, model),
        "inputs": [{"url": str(tmp_path / "labeled.csv"), "format": "csv"}],
        "outputs": [{"url": str(out), "format": "json"}, {"name": "explanations", "url": str(rows_out), "format": "parquet"}],
        "options": {
            "key_columns": ["id"], "score_first": True,
            "evaluation": {"columns": {"label": "label", "score": "probability", "protected": ["group"]}},
            "interpretability": {"method": "tree", "top_n": 3, "output_asset": "explanations"},
        },
    }
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    section = result.metrics["interpretability"]
    assert section["method"] == "tree" and section["rows_explained"] == 800
    reference = shap.TreeExplainer(model).shap_values(x)[:, :, 1]
    wanted = np.abs(reference).mean(axis=0)
    got = {r["feature"]: r["mean_abs_shap"] for r in section["global_importance"]}
    np.testing.assert_allclose([got[f] for f in FEATURES], wanted, rtol=1e-6)
    assert section["top_features"] == [FEATURES[i] for i in np.argsort(-wanted)[:3]]
    in_a = frame["group"].to_numpy() == "A"
    by_a = {r["feature"]: r["mean_abs_shap"] for r in section["by_group"]["group"]["groups"]["A"]["importance"]}
    for feature in by_a:
        assert by_a[feature] == pytest.approx(np.abs(reference[in_a, FEATURES.index(feature)]).mean(), rel=1e-6)
    assert section["decision"]["protected_in_top_3"] is False  # "group" is not a feature of the model
    assert set(section["summary"]) == set(FEATURES)
    # The per-row output: keys, one value per feature, the expected value; committed with the document.
    written = pd.read_parquet(rows_out).sort_values("id")
    assert list(written.columns) == ["id", *FEATURES, "expected_value"] and len(written) == 800
    np.testing.assert_allclose(written[FEATURES].to_numpy(), reference, rtol=1e-6, atol=1e-12)
    assert {"shap_importance.png", "shap_summary.png"} <= {p.name for p in (out / "plots").iterdir()}
    assert "Interpretability (tree" in (out / "report.html").read_text()
    assert result.rows.to_dict()["in"] == 800


def test_modelop_job_parameters_may_carry_interpretability_as_json_text():
    options = MetricsOptions.from_job({}, {"interpretability": '{"method": "linear", "top_n": 5}'})
    assert options.interpretability == ExplainOptions(method="linear", top_n=5)
    assert MetricsOptions.from_job({"interpretability": False}, {}).interpretability is None
    with pytest.raises(SpecError, match="options.interpretability: not valid JSON"):
        MetricsOptions.from_job({}, {"interpretability": "{method"})
