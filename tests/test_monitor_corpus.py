"""A ModelOp PySpark monitor model with its own ModelOp job file (roles on the inputs, a helper
module as a second SOURCE_CODE asset, an unreachable README and DMN the model never reads, the
extended schema in modelMetaData) runs unchanged, twice, and gives what a hand computation gives."""

import json
from pathlib import Path
from string import Template

import pandas as pd
import pytest

import modelop_spark as ms
from tests.modelop_corpus import HERE, render_corpus


def render_monitor_job(folder: Path) -> Path:
    render_corpus(folder)
    text = Template((HERE / "jobs" / "drift_monitor.json").read_text()).substitute(CORPUS=folder / "corpus", OUT=folder / "out")
    path = folder / "drift_monitor.json"
    path.write_text(text)
    return path


def by_hand(corpus: Path) -> dict:
    b = pd.read_csv(corpus / "data" / "drift_baseline.csv")
    c = pd.read_csv(corpus / "data" / "drift_comparator.csv")
    shifts = {f"{n}_mean_shift": (c[n].mean() - b[n].mean()) / b[n].std(ddof=1) for n in ("age", "income")}
    return {**shifts, "max_mean_shift": max(abs(v) for v in shifts.values()),
            "region_new_categories": len(set(c.region) - set(b.region))}


def test_the_monitor_model_runs_unchanged_twice_and_matches_the_hand_computation(spark, tmp_path):
    job = render_monitor_job(tmp_path)
    expected = by_hand(tmp_path / "corpus")
    assert expected["region_new_categories"] == 1 and expected["income_mean_shift"] > 0.2
    output = tmp_path / "out" / "drift_monitor_result"
    for _ in range(2):  # the rerun replaces the output the first run wrote (the model writes error-if-exists)
        result = ms.run_job(str(job), spark=spark)
        assert result.ok, result.error
        assert result.details["metrics_function"] == "modelop_pyspark"
        assert set(result.metrics) == set(expected)
        for key, value in expected.items():
            assert result.metrics[key] == pytest.approx(value, rel=1e-9), key
        parts = [p for p in output.iterdir() if p.name.startswith("part-")]
        assert len(parts) == 1
        written = [json.loads(line) for line in parts[0].read_text().splitlines()]
        assert len(written) == 1 and written[0]["region_new_categories"] == 1
    # The DMN among the model's assets sits at an address this runtime cannot reach, and it is
    # not an input with that role: the job does not read it, so no judgement is attempted.
    assert "judgement" not in result.details
