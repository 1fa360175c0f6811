"""Built-in evaluation through Spark, compared with scikit-learn, fairlearn and scipy on the
same data: exact for counts, within 1e-3 for areas from the bounded curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from modelop_spark.errors import SpecError
from modelop_spark.evaluation import EvaluationColumns, EvaluationOptions, drift, evaluate


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(7)
    n = 20_000
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    s[:500] = np.round(s[:500], 2)  # some ties
    g = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({"y": y, "s": s, "g": g})


@pytest.fixture(scope="module")
def scored_df(spark, scored):
    return spark.createDataFrame(scored).cache()


def test_binary_matches_sklearn(scored_df, scored):
    y, s = scored["y"].to_numpy(), scored["s"].to_numpy()
    df = scored_df
    doc = evaluate(df, columns=EvaluationColumns(label="y", score="s"),
                   options=EvaluationOptions(thresholds=(0.5, 0.3)))
    assert doc["kind"] == "binary"
    b = doc["binary"]
    assert doc["rows"] == {"input": len(y), "evaluated": len(y), "missing": 0}
    assert (b["positives"], b["negatives"]) == (int(y.sum()), int((1 - y).sum()))
    for t in b["thresholds"]:
        pred = s >= t["threshold"]
        tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
        assert t["confusion_matrix"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
        assert t["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
        assert t["precision"] == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
        assert t["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
        assert t["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    assert b["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-3)
    assert b["average_precision"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-3)
    assert b["log_loss"] == pytest.approx(skm.log_loss(y, s), rel=1e-9)
    assert len(b["roc_curve"]["fpr"]) <= 201 and len(b["pr_curve"]["precision"]) <= 201
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10)
    bins = b["calibration"]["bins"]
    assert [c["fraction_positive"] for c in bins] == pytest.approx(prob_true.tolist())
    assert [c["mean_predicted"] for c in bins] == pytest.approx(prob_pred.tolist())


def test_missing_labels_or_scores_are_counted_not_dropped(spark):
    pdf = pd.DataFrame({"y": [1, 0, None, 1, 0], "s": [0.9, 0.2, 0.5, None, float("nan")]})
    doc = evaluate(spark.createDataFrame(pdf), columns=EvaluationColumns(label="y", score="s"),
                   options=EvaluationOptions(kind="binary"))
    assert doc["rows"] == {"input": 5, "evaluated": 2, "missing": 3}
    assert doc["binary"]["roc_auc"] == 1.0


def test_boolean_label_and_out_of_range_score(spark):
    df = spark.createDataFrame(pd.DataFrame({"y": [True, False, True], "s": [0.8, 0.1, 0.6]}))
    assert evaluate(df, columns=EvaluationColumns(label="y", score="s"))["binary"]["positives"] == 2
    bad = spark.createDataFrame(pd.DataFrame({"y": [1, 0], "s": [3.5, -1.0]}))
    with pytest.raises(SpecError, match="2 value.*score column 's' are outside \\[0, 1\\]"):
        evaluate(bad, columns=EvaluationColumns(label="y", score="s"))


def test_unknown_column_is_named(spark, scored):
    with pytest.raises(SpecError, match="column 'proba' is not in the data; found y, s, g"):
        evaluate(spark.createDataFrame(scored.head(5)), columns=EvaluationColumns(label="y", score="proba"))


def test_multiclass_matches_sklearn(spark):
    rng = np.random.default_rng(8)
    classes = np.array(["cat", "dog", "emu", "yak"])
    y = classes[rng.integers(0, 4, 5000)]
    p = np.where(rng.random(5000) < 0.7, y, classes[rng.integers(0, 4, 5000)])
    doc = evaluate(spark.createDataFrame(pd.DataFrame({"y": y, "p": p})),
                   columns=EvaluationColumns(label="y", prediction="p"))
    m = doc["multiclass"]
    assert doc["kind"] == "multiclass" and m["classes"] == classes.tolist()
    assert m["confusion_matrix"]["matrix"] == skm.confusion_matrix(y, p, labels=classes).tolist()
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, p, labels=classes)
    for i, c in enumerate(classes):
        assert m["per_class"][c] == pytest.approx({"precision": prec[i], "recall": rec[i], "f1": f1[i], "support": sup[i]})
    for avg in ("macro", "weighted"):
        assert m[avg]["f1"] == pytest.approx(skm.f1_score(y, p, average=avg))
        assert m[avg]["recall"] == pytest.approx(skm.recall_score(y, p, average=avg))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p))


def test_regression_matches_sklearn(spark):
    rng = np.random.default_rng(9)
    y = rng.normal(100, 30, 8000)
    y[:10] = 0.0  # MAPE's eps floor
    yhat = y + rng.normal(0, 5, 8000)
    doc = evaluate(spark.createDataFrame(pd.DataFrame({"y": y, "yhat": yhat})),
                   columns=EvaluationColumns(label="y", score="yhat"))
    r = doc["regression"]
    assert doc["kind"] == "regression" and r["rows"] == 8000
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, yhat), rel=1e-9)
    assert r["mse"] == pytest.approx(skm.mean_squared_error(y, yhat), rel=1e-9)
    assert r["rmse"] == pytest.approx(skm.root_mean_squared_error(y, yhat), rel=1e-9)
    assert r["r2"] == pytest.approx(skm.r2_score(y, yhat), rel=1e-9)
    assert r["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, yhat), rel=1e-9)


def test_regression_distribution_counts_every_row_and_draws_both_plots(spark, tmp_path, caplog):
    from modelop_spark.evaluation.plots import write_plots

    rng = np.random.default_rng(3)
    y = rng.normal(50, 10, 3000)
    yhat = y + rng.normal(0, 2, 3000)
    frame = pd.DataFrame({"y": y, "yhat": yhat, "region": rng.choice(["n", "s"], 3000)})
    doc = evaluate(spark.createDataFrame(frame), columns=EvaluationColumns(label="y", score="yhat", protected=("region",)))
    residuals = doc["regression_distribution"]["residuals"]
    assert sum(residuals["counts"]) == 3000 and residuals["edges"][0] == pytest.approx((yhat - y).min())
    expected, _ = np.histogram(yhat - y, bins=residuals["edges"])
    assert residuals["counts"][1:-1] == expected.tolist()[1:-1]  # interior bins agree with numpy
    grid = doc["regression_distribution"]["predicted_vs_actual"]["counts"]
    assert sum(map(sum, grid)) == 3000 and len(grid) == 30
    # fairness cannot apply to a regression: said, not silently empty
    assert doc["fairness"] == [] and "region" in doc["warnings"][0]
    assert any("not evaluated for fairness" in r.getMessage() for r in caplog.records)
    written = write_plots(doc, tmp_path)
    assert {"residuals", "predicted_vs_actual"} <= set(written)
    assert all(written[k].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for k in ("residuals", "predicted_vs_actual"))


def test_drift_without_named_features_leaves_identifiers_out(spark):
    rng = np.random.default_rng(5)
    def frame(seed_offset):
        n = 500
        return pd.DataFrame({"transaction_id": [f"tx-{seed_offset}-{i}" for i in range(n)],
                             "amount": rng.normal(10, 2, n), "category": rng.choice(["a", "b"], n),
                             "label": rng.integers(0, 2, n), "score": rng.random(n)})
    doc = evaluate(spark.createDataFrame(frame(1)), columns=EvaluationColumns(label="label", score="score"),
                   baseline=spark.createDataFrame(frame(0)))
    assert set(doc["drift"]["features"]) == {"amount", "category"}
    assert list(doc["drift"]["not_compared"]) == ["transaction_id"]


def test_fairness_matches_fairlearn(scored_df, scored):
    y, s, g = scored["y"].to_numpy(), scored["s"].to_numpy(), scored["g"].to_numpy()
    doc = evaluate(scored_df, columns=EvaluationColumns(label="y", score="s", protected=("g",)),
                   options=EvaluationOptions(thresholds=(0.45,), reference_groups={"g": "b"}))
    (section,) = doc["fairness"]
    pred = (s >= 0.45).astype(int)
    frame = flm.MetricFrame(
        metrics={"sr": flm.selection_rate, "tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate,
                 "n": flm.count},
        y_true=y, y_pred=pred, sensitive_features=g,
    )
    ref = frame.by_group.loc["b"]
    for k in ("a", "b", "c"):
        got, want = section["groups"][k], frame.by_group.loc[k]
        tn, fp, fn, tp = skm.confusion_matrix(y[g == k], pred[g == k]).ravel()
        assert got["confusion_matrix"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
        assert got["size"] == want["n"]
        assert got["selection_rate"] == pytest.approx(want["sr"])
        assert got["statistical_parity_difference"] == pytest.approx(want["sr"] - ref["sr"])
        assert got["disparate_impact_ratio"] == pytest.approx(want["sr"] / ref["sr"])
        assert got["equal_opportunity_difference"] == pytest.approx(want["tpr"] - ref["tpr"])
        assert got["equalized_odds_difference"] == pytest.approx(
            max(abs(want["tpr"] - ref["tpr"]), abs(want["fpr"] - ref["fpr"])))
    summary = section["summary"]
    assert summary["demographic_parity_difference"] == pytest.approx(flm.demographic_parity_difference(y, pred, sensitive_features=g))
    assert summary["equalized_odds_difference"] == pytest.approx(flm.equalized_odds_difference(y, pred, sensitive_features=g))


def test_drift_numeric_and_categorical(spark):
    rng = np.random.default_rng(10)
    base = pd.DataFrame({"x": rng.normal(0, 1, 6000), "c": rng.choice(list("abc"), 6000, p=[0.5, 0.3, 0.2])})
    samp = pd.DataFrame({"x": rng.normal(0.3, 1.2, 4000), "c": rng.choice(list("abcd"), 4000, p=[0.4, 0.3, 0.2, 0.1])})
    samp.loc[:9, "x"] = None  # missing values are counted, not dropped
    doc = drift(spark.createDataFrame(base), spark.createDataFrame(samp))
    x, c = doc["features"]["x"], doc["features"]["c"]
    assert (x["baseline_rows"], x["sample_rows"], x["sample_missing"]) == (6000, 4000, 10)
    # PSI recomputed exactly on the reported shared edges (bins [e_i, e_i+1)).
    edges = np.array(x["psi_edges"])
    e = np.bincount(np.searchsorted(edges, base["x"], side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, samp["x"].dropna(), side="right"), minlength=len(edges) + 1)
    assert x["psi_bins"] == {"baseline": e.tolist(), "sample": a.tolist()}
    pe, pa = e / e.sum(), a / a.sum()
    assert x["psi"] == pytest.approx(float(np.sum((pa - pe) * np.log(pa / pe))))
    assert len(edges) == 9 and abs(pe - 0.1).max() < 0.01  # deciles of the baseline
    ks = stats.ks_2samp(base["x"], samp["x"].dropna())
    assert x["ks"]["statistic"] == pytest.approx(ks.statistic, abs=5e-3)
    assert c["categories"]["d"] == {"baseline": 0, "sample": int((samp["c"] == "d").sum())}
    table = pd.crosstab(pd.concat([base["c"], samp["c"]]), np.repeat([0, 1], [6000, 4000])).to_numpy().T
    assert c["chi_square"]["statistic"] == pytest.approx(stats.chi2_contingency(table, correction=False).statistic)


def test_drift_caps_categories_into_other(spark):
    base = spark.createDataFrame(pd.DataFrame({"id": [f"u{i}" for i in range(300)]}))
    doc = drift(base, base, options=EvaluationOptions(max_categories=5))
    cats = doc["features"]["id"]["categories"]
    assert len(cats) == 6 and cats["__other__"] == {"baseline": 295, "sample": 295}
    assert doc["features"]["id"]["psi"] == pytest.approx(0.0)


def test_spark_ml_probability_vector_is_read_as_the_positive_class(spark):
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    df = spark.createDataFrame(pd.DataFrame({"y": [1.0, 0.0, 1.0, 0.0], "p1": [0.9, 0.2, 0.6, 0.7]}))
    df = df.select("y", array_to_vector(F.array(1 - F.col("p1"), F.col("p1"))).alias("probability"))
    doc = evaluate(df, columns=EvaluationColumns(label="y", score="probability"))
    assert doc["kind"] == "binary"  # a 0.0/1.0 double label, as Spark ML writes labels
    assert doc["binary"]["roc_auc"] == pytest.approx(skm.roc_auc_score([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.7]))
