"""The evaluation's files: JSON with stable keys, valid PNG plots, one self-contained HTML report,
and MLflow logging to a local sqlite-backed store."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from modelop_spark.errors import AssetError
from modelop_spark.evaluation import (
    EvaluationColumns,
    evaluate,
    headline_metrics,
    log_evaluation,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def binary_doc(spark):
    rng = np.random.default_rng(11)
    n = 3000
    y = rng.integers(0, 2, n)
    pdf = pd.DataFrame({"y": y, "s": np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1),
                        "sex": rng.choice(["F", "M"], n), "age": rng.normal(40, 10, n)})
    df = spark.createDataFrame(pdf)
    baseline = spark.createDataFrame(pdf.assign(age=rng.normal(35, 10, n)))
    return evaluate(df, columns=EvaluationColumns(label="y", score="s", protected=("sex",), features=("age", "sex")),
                    baseline=baseline)


def test_json_has_the_documented_top_level_keys(binary_doc, tmp_path):
    files = write_report(binary_doc, tmp_path)
    loaded = json.loads(files.json.read_text())
    assert set(loaded) == {"format_version", "kind", "columns", "rows", "binary", "fairness", "drift", "options"}
    assert loaded["format_version"] == 1 and loaded["kind"] == "binary"
    assert {"roc_auc", "average_precision", "log_loss", "thresholds", "roc_curve", "pr_curve",
            "calibration"} <= set(loaded["binary"])
    assert loaded["drift"]["features"]["age"]["psi"] > 0.1  # the baseline's age was shifted


def test_plots_are_valid_pngs_and_the_html_inlines_them(binary_doc, tmp_path):
    files = write_report(binary_doc, tmp_path)
    assert set(files.plots) == {"roc", "pr", "confusion_matrix", "calibration", "fairness_sex", "drift_psi"}
    for path in files.plots.values():
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert imread(path).shape[0] > 100
    text = files.html.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(files.plots)
    assert "src=\"http" not in text and "src=\"plots/" not in text  # self-contained

    class Checker(HTMLParser):
        tags: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

    checker = Checker()
    checker.feed(text)
    assert {"html", "table", "img", "h2"} <= set(checker.tags)


def test_mlflow_logs_metrics_plots_and_report_to_sqlite(binary_doc, tmp_path):
    from mlflow.tracking import MlflowClient

    files = write_report(binary_doc, tmp_path / "out")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_id = log_evaluation(binary_doc, tracking_uri=uri, experiment="eval-test", artifacts=files.paths(),
                            artifact_location=str(tmp_path / "artifacts"))
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["binary.roc_auc"] == pytest.approx(binary_doc["binary"]["roc_auc"])
    assert run.data.metrics["binary.t0.5.f1"] == pytest.approx(binary_doc["binary"]["thresholds"][0]["f1"])
    assert "fairness.sex.demographic_parity_difference" in run.data.metrics
    logged = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"metrics.json", "report.html", "plots/roc.png", "plots/fairness_sex.png"} <= logged
    assert set(headline_metrics(binary_doc)) <= set(run.data.metrics)


def test_mlflow_failure_is_one_clear_line(binary_doc, tmp_path):
    with pytest.raises(AssetError, match="MLflow tracking at .*cannot log the evaluation"):
        log_evaluation(binary_doc, tracking_uri="nosuchscheme://x")
