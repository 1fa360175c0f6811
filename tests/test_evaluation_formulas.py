"""The pure formula modules, checked against scikit-learn / fairlearn / scipy without Spark."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn import metrics as flm
from scipy import stats
from sklearn import metrics as skm

from modelop_spark.errors import SpecError
from modelop_spark.evaluation.binary import BinaryAggregates, Confusion, binary_metrics, downsample
from modelop_spark.evaluation.drift import categorical_drift, ks_from_counts, psi
from modelop_spark.evaluation.fairness import fairness_metrics
from modelop_spark.evaluation.multiclass import multiclass_metrics
from modelop_spark.evaluation.options import (
    EvaluationColumns,
    EvaluationOptions,
    columns_from_roles,
)
from modelop_spark.evaluation.regression import regression_metrics


def _confusion(y, p) -> Confusion:
    tn, fp, fn, tp = skm.confusion_matrix(y, p, labels=[0, 1]).ravel()
    return Confusion(int(tp), int(fp), int(tn), int(fn))


def test_binary_metrics_from_bins_match_sklearn_when_scores_sit_on_bin_edges():
    # Scores on a 0.001 grid with 1000 bins: every distinct score is its own bin, so the
    # bounded curves are exact, not approximate.
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    s = np.clip(np.round(rng.normal(0.4 + 0.2 * y, 0.2), 3), 0, 0.999)
    bins = np.round(s * 1000).astype(int)
    agg = BinaryAggregates(
        positives=np.bincount(bins[y == 1], minlength=1000),
        negatives=np.bincount(bins[y == 0], minlength=1000),
        score_sums=np.bincount(bins, weights=s, minlength=1000),
        log_loss_sum=float(skm.log_loss(y, s) * len(y)),
        at_threshold={0.5: _confusion(y, s >= 0.5)},
    )
    doc = binary_metrics(agg, curve_points=50, calibration_bins=10)
    assert doc["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert doc["average_precision"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    t = doc["thresholds"][0]
    assert t["f1"] == pytest.approx(skm.f1_score(y, s >= 0.5))
    assert t["precision"] == pytest.approx(skm.precision_score(y, s >= 0.5))
    assert len(doc["roc_curve"]["fpr"]) <= 50 and doc["roc_curve"]["fpr"][-1] == 1.0


def test_downsample_keeps_both_ends_and_the_bound():
    idx = downsample(10_001, 201)
    assert idx[0] == 0 and idx[-1] == 10_000 and len(idx) <= 201


def test_multiclass_metrics_match_sklearn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 2000)
    p = np.where(rng.random(2000) < 0.6, y, rng.integers(0, 4, 2000))
    labels = [0, 1, 2, 3]
    doc = multiclass_metrics([str(v) for v in labels], skm.confusion_matrix(y, p, labels=labels))
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    for i, c in enumerate(labels):
        got = doc["per_class"][str(c)]
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx((prec[i], rec[i], f1[i], sup[i]))
    for avg in ("macro", "weighted"):
        assert doc[avg]["f1"] == pytest.approx(skm.f1_score(y, p, average=avg))
        assert doc[avg]["precision"] == pytest.approx(skm.precision_score(y, p, average=avg))
    assert doc["accuracy"] == pytest.approx(skm.accuracy_score(y, p))


def test_regression_constant_label_follows_sklearn_r2_convention():
    perfect = regression_metrics({"n": 3, "abs_error": 0.0, "squared_error": 0.0, "abs_percentage_error": 0.0,
                                  "label_var_pop": 0.0})
    assert perfect["r2"] == skm.r2_score([2, 2, 2], [2, 2, 2])
    empty = regression_metrics({"n": 0, "abs_error": 0, "squared_error": 0, "abs_percentage_error": 0,
                                "label_var_pop": None})
    assert empty["rows"] == 0 and empty["mae"] is None


def test_fairness_matches_fairlearn_by_group_and_summary():
    rng = np.random.default_rng(3)
    g = rng.choice(["f", "m", "x"], 3000, p=[0.45, 0.45, 0.1])
    y = rng.integers(0, 2, 3000)
    p = (rng.random(3000) < np.where(g == "f", 0.4, 0.55)).astype(int)
    groups = {k: _confusion(y[g == k], p[g == k]) for k in ("f", "m", "x")}
    doc = fairness_metrics("gender", groups, reference_group="m")
    frame = flm.MetricFrame(
        metrics={"sr": flm.selection_rate, "tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate},
        y_true=y, y_pred=p, sensitive_features=g,
    )
    for k in ("f", "m", "x"):
        got = doc["groups"][k]
        assert got["selection_rate"] == pytest.approx(frame.by_group.loc[k, "sr"])
        assert got["statistical_parity_difference"] == pytest.approx(frame.by_group.loc[k, "sr"] - frame.by_group.loc["m", "sr"])
        assert got["disparate_impact_ratio"] == pytest.approx(frame.by_group.loc[k, "sr"] / frame.by_group.loc["m", "sr"])
        assert got["equal_opportunity_difference"] == pytest.approx(frame.by_group.loc[k, "tpr"] - frame.by_group.loc["m", "tpr"])
    s = doc["summary"]
    assert s["demographic_parity_difference"] == pytest.approx(flm.demographic_parity_difference(y, p, sensitive_features=g))
    assert s["equalized_odds_difference"] == pytest.approx(flm.equalized_odds_difference(y, p, sensitive_features=g))
    assert s["equal_opportunity_difference"] == pytest.approx(flm.equal_opportunity_difference(y, p, sensitive_features=g))
    assert doc["groups"]["m"]["statistical_parity_difference"] == 0.0


def test_fairness_default_reference_is_the_largest_group_and_unknown_reference_is_named():
    groups = {"a": Confusion(1, 1, 1, 1), "b": Confusion(5, 5, 5, 5)}
    assert fairness_metrics("c", groups)["reference_group"] == "b"
    with pytest.raises(SpecError, match=r"reference_groups\.c.*'z' is not in the data"):
        fairness_metrics("c", groups, reference_group="z")


def test_psi_and_ks_from_counts():
    e, a = np.array([50.0, 30, 20]), np.array([30.0, 30, 40])
    pe, pa = e / e.sum(), a / a.sum()
    assert psi(e, a) == pytest.approx(np.sum((pa - pe) * np.log(pa / pe)))
    assert ks_from_counts(e, a)["statistic"] == pytest.approx(0.2)
    chi = categorical_drift({"a": 50, "b": 30, "c": 20}, {"a": 30, "b": 30, "c": 40})["chi_square"]
    expected = stats.chi2_contingency(np.array([[50, 30, 20], [30, 30, 40]]), correction=False)
    assert chi["statistic"] == pytest.approx(expected.statistic) and chi["dof"] == 2


def test_options_reject_bad_values_with_the_field_named():
    with pytest.raises(SpecError, match="'thresholds': 1.5 is not a number in"):
        EvaluationOptions(thresholds=(1.5,))
    with pytest.raises(SpecError, match="unknown key.*tresholds"):
        EvaluationOptions.from_dict({"tresholds": [0.5]})
    with pytest.raises(SpecError, match="'kind'.*expected one of auto, binary"):
        EvaluationOptions.from_dict({"kind": "ranking"})
    opts = EvaluationOptions.from_dict({"thresholds": 0.3, "reference_groups": {"g": "a"}})
    assert EvaluationOptions.from_dict(opts.to_dict()) == opts


def test_columns_from_roles_prefers_job_options():
    class Roles:
        label, score, protected, drift_candidates = "y", "p", ("gender",), ("age",)

    cols = columns_from_roles(Roles(), score="proba")
    assert cols == EvaluationColumns(label="y", score="proba", protected=("gender",), features=("age",))
    assert EvaluationColumns.from_dict(cols.to_dict()) == cols


def test_user_metrics_become_one_json_ready_mapping():
    import pandas as pd

    from modelop_spark.errors import ModelFunctionError
    from modelop_spark.evaluation.user_metrics import collect_metrics

    def several():
        yield {"auc": np.float64(0.9), "cm": np.array([[1, 2], [3, 4]])}
        yield {"table": pd.DataFrame({"a": [1]}), "bad": float("nan")}

    assert collect_metrics({"n": np.int64(3)}, source="m.py") == {"n": 3}
    assert collect_metrics(several(), source="m.py") == {
        "results": [{"auc": 0.9, "cm": [[1, 2], [3, 4]]}, {"table": [{"a": 1}], "bad": None}]
    }
    with pytest.raises(ModelFunctionError, match="m.py: metrics returned float; return or yield a dict"):
        collect_metrics(0.5, source="m.py")
    with pytest.raises(ModelFunctionError, match="metrics yielded nothing"):
        collect_metrics(iter(()), source="m.py")


def test_metrics_job_options_name_the_bad_key():
    from modelop_spark.evaluation.job_options import MetricsOptions

    with pytest.raises(SpecError, match="options.builtin_evaluation: 'sometimes' is not valid"):
        MetricsOptions.from_dict({"builtin_evaluation": "sometimes"})
    with pytest.raises(SpecError, match="options.evaluation.columns.lable: unknown"):
        MetricsOptions.from_dict({"evaluation": {"columns": {"lable": "y"}}})
    with pytest.raises(SpecError, match="options.mlflow.tracking_uri"):
        MetricsOptions.from_dict({"mlflow": {"experiment": "x"}})
    opts = MetricsOptions.from_dict({"score_first": True, "evaluation": {"columns": {"label": "y"}, "thresholds": [0.4]}})
    assert opts.columns.label == "y" and opts.evaluation.thresholds == (0.4,)
    assert MetricsOptions.from_dict(opts.to_dict()) == opts
