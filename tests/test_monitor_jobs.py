"""Monitors, judgements and champion/challenger as metrics jobs the runtime runs, and from a
notebook (``ms.monitor`` / ``ms.compare``) without a control plane."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

import modelop_spark as ms
from modelop_spark.jobs.spec import JobSpec
from tests.snapshots import make_snapshot
from tests.test_monitor_formulas import MIN_AUC as DRIFT_DMN

INPUT_SCHEMA = {
    "type": "record", "name": "loan",
    "fields": [
        {"name": "id", "type": "long", "role": "identifier"},
        {"name": "income", "type": "double", "driftCandidate": True},
        {"name": "grade", "type": "string", "driftCandidate": True},
        {"name": "label", "type": "int", "role": "label"},
        {"name": "p", "type": "double", "role": "score"},
    ],
}

SPARK_MODEL = """
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# modelop.schema.0: input_schema.avsc

# modelop.score
def score(df: DataFrame) -> DataFrame:
    return df.withColumn("p", F.least(F.greatest((F.col("income") - 20) / 60 + F.lit(OFFSET), F.lit(0.0)), F.lit(1.0)))
"""


def loans(n, shift, seed):
    rng = np.random.default_rng(seed)
    income = rng.normal(50 + shift, 10, n).round(2)
    p = np.clip((income - 20) / 60, 0, 1)
    return pd.DataFrame({"id": np.arange(n), "income": income, "grade": rng.choice(list("ABC"), n),
                         "label": (rng.random(n) < p).astype(int), "p": p})


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("monitoring")
    loans(3000, 0, 1).to_csv(root / "baseline.csv", index=False)
    loans(2000, 0, 2).to_csv(root / "same.csv", index=False)
    loans(2000, 12, 3).to_csv(root / "drifted.csv", index=False)
    (root / "drift.dmn").write_bytes(DRIFT_DMN)
    for name, offset in (("champion", 0.0), ("challenger", 0.05)):
        make_snapshot(root / name, SPARK_MODEL.replace("OFFSET", str(offset)),
                      files={"input_schema.avsc": json.dumps(INPUT_SCHEMA)},
                      manifest={"name": name, "version": "1"})
    return root


def drift_job(folder, comparator, *, dmn=True):
    inputs = [{"url": str(folder / "baseline.csv"), "role": "TRAINING_DATA"},
              {"url": str(folder / comparator), "role": "COMPARATOR_DATA"}]
    if dmn:
        inputs.append({"url": str(folder / "drift.dmn"), "role": "TEST_RESULT_COMPARATOR"})
    return {"job_type": "metrics", "snapshot": str(folder / "champion"), "inputs": inputs,
            "outputs": [{"url": str(folder / "out" / f"drift-{comparator}.json")}],
            "options": {"monitor": {"type": "data-drift"}}}


def test_a_drift_monitor_job_is_judged_by_its_dmn(spark, folder):
    failed = ms.run_job(drift_job(folder, "drifted.csv"), spark=spark)
    assert failed.ok, failed.error
    assert failed.details["judgement"]["status"] == "FAILED"
    assert failed.details["judgement"]["reasons"] == ["PSI at or above 0.2: the data drifted"]
    written = json.loads((folder / "out" / "drift-drifted.csv.json").read_text())
    assert written["judgement"]["status"] == "FAILED" and written["monitor"] == "data-drift"
    base, drifted = pd.read_csv(folder / "baseline.csv"), pd.read_csv(folder / "drifted.csv")
    ks = stats.ks_2samp(base.income, drifted.income, method="asymp")
    assert written["metrics"]["income_ks_statistic"] == pytest.approx(ks.statistic, abs=1e-12)
    assert set(written["drift"]["features"]) == {"income", "grade"}  # the schema's drift candidates
    assert (folder / "out" / "drift-drifted.csv_report" / "report.html").is_file()
    assert failed.rows.rows_in == 2000

    passed = ms.run_job(drift_job(folder, "same.csv"), spark=spark)
    assert passed.details["judgement"]["status"] == "PASSED"


def test_a_monitor_job_names_what_is_missing_before_spark(folder):
    job = drift_job(folder, "drifted.csv")
    job["inputs"] = job["inputs"][1:]
    result = ms.run_job(job)
    assert result.status == "ERROR"
    assert "TRAINING_DATA or BASELINE_DATA" in result.error["message"]
    with pytest.raises(ms.SpecError, match="monitor"):
        JobSpec.from_dict({**drift_job(folder, "same.csv"), "options": {"monitor": {"type": "drift"}}})


def test_an_unreadable_dmn_makes_the_judgement_error_not_the_job(spark, folder):
    job = drift_job(folder, "same.csv")
    job["inputs"][2]["url"] = str(folder / "nowhere.dmn")
    result = ms.run_job(job, spark=spark)
    assert result.ok
    assert result.details["judgement"]["status"] == "ERROR"
    assert "cannot be read" in result.details["judgement"]["reasons"][0]


def test_notebook_monitor_and_compare_without_a_control_plane(spark, folder):
    base = spark.read.csv(str(folder / "baseline.csv"), header=True, inferSchema=True)
    drifted = spark.read.csv(str(folder / "drifted.csv"), header=True, inferSchema=True)
    doc = ms.monitor("data-drift", drifted, baseline=base, schema=str(folder / "champion"), dmn=folder / "drift.dmn")
    assert doc["judgement"]["status"] == "FAILED"
    perf = ms.monitor("performance", drifted, schema=folder / "champion" / "input_schema.avsc")
    pdf = pd.read_csv(folder / "drifted.csv")
    assert perf["metrics"]["auc"] == pytest.approx(roc_auc_score(pdf.label, pdf.p), abs=2e-4)

    labeled = base.drop("p")
    table = ms.compare(labeled, {"champ": folder / "champion", "chall": folder / "challenger"}, label="label",
                       score="p", gate={"metric": "accuracy", "min_absolute_change": 0.5})
    assert set(table["models"]) == {"champ", "chall"} and table["rows"]["input"] == 3000
    pb = pd.read_csv(folder / "baseline.csv")
    for name, offset in (("champ", 0.0), ("chall", 0.05)):
        p = np.clip((pb.income - 20) / 60 + offset, 0, 1)
        assert table["models"][name]["metrics"]["accuracy"] == pytest.approx(((p >= 0.5) == pb.label).mean())
    best = table["side_by_side"]["accuracy"]["best"]
    assert best == [max(("champ", "chall"), key=lambda n: table["models"][n]["metrics"]["accuracy"])]
    assert table["gate"]["results"]["chall"]["passes"] is False  # nobody gains 0.5 accuracy


def test_a_comparison_job_names_each_snapshot(spark, folder):
    job = {"job_type": "metrics", "snapshot": str(folder / "champion"),
           "inputs": [{"url": str(folder / "same.csv"), "role": "TEST_DATA"}],
           "outputs": [{"kind": "embedded"}],
           "options": {"compare": {"challengers": [str(folder / "challenger")], "label": "label",
                                   "gate": {"metric": "auc", "min_absolute_change": 0.0}}}}
    result = ms.run_job(job, spark=spark)
    assert result.ok, result.error
    models = result.metrics["models"]
    assert list(models) == ["champion@1", "challenger@1"]
    assert models["champion@1"]["score_column"] == "p"  # from the schema's score role
    assert "challenger@1" in result.metrics["gate"]["results"]
