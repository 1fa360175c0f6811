"""Compiled scoring: scikit-learn models run as Spark expressions give the Python path's answers,
and whatever cannot compile (or disagrees on the sample) runs in the Python workers instead."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import modelop_spark as ms
from modelop_spark.errors import SnapshotError
from modelop_spark.runtime.compiled import decide
from modelop_spark.runtime.compiled.check import ABS_TOLERANCE, REL_TOLERANCE
from tests.snapshots import make_snapshot

NUMBERS = ["x0", "x1", "x2", "x3"]
CATEGORIES = ["red", "green", "blue"]


def generated(rows: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(NUMBERS))) * [1, 3, 10, 0.5] + [0, 5, 100, 0], columns=NUMBERS)
    frame["colour"] = rng.choice(CATEGORIES, size=rows)
    frame.insert(0, "id", [f"r{i}" for i in range(rows)])
    return frame


def target(frame: pd.DataFrame, *, classify: bool) -> np.ndarray:
    value = frame.x0 + 0.2 * frame.x1 - 0.05 * frame.x2 + (frame.colour == "red") * 1.5
    return (value > value.median()).astype(int).to_numpy() if classify else value.to_numpy()


def numbers_only(model):
    return model


def with_preprocessing(model):
    prepare = ColumnTransformer(
        [
            ("scaled", StandardScaler(), ["x0", "x1"]),
            ("ranged", MinMaxScaler(), ["x2"]),
            ("filled", Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler())]), ["x3"]),
            ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
        ]
    )
    return Pipeline([("prepare", prepare), ("model", model)])


COVERED = {
    "linear regression": (LinearRegression(), False, numbers_only),
    "logistic regression": (LogisticRegression(), True, numbers_only),
    "decision tree": (DecisionTreeClassifier(max_depth=4, random_state=0), True, numbers_only),
    "random forest": (RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0), True, numbers_only),
    "gradient boosting": (GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0), True, numbers_only),
    "gradient boosting regressor": (GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0), False, numbers_only),
    "pipeline + logistic regression": (LogisticRegression(), True, with_preprocessing),
    "pipeline + linear regression": (LinearRegression(), False, with_preprocessing),
}


def mlflow_model(folder: Path, model, frame: pd.DataFrame) -> Path:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    features = frame.drop(columns=["id"])
    mlflow.sklearn.save_model(model, str(folder), serialization_format="cloudpickle", signature=infer_signature(features, model.predict(features)))
    return folder


def fitted(name: str):
    model, classify, wrap = COVERED[name]
    train = generated(400, seed=1)
    columns = NUMBERS + (["colour"] if wrap is with_preprocessing else [])
    return wrap(model).fit(train[columns], target(train, classify=classify)), columns


def assert_same_outputs(python: pd.DataFrame, compiled: pd.DataFrame, *, exact: list[str]) -> None:
    python = python.sort_values("id").reset_index(drop=True)
    compiled = compiled.sort_values("id").reset_index(drop=True)
    assert list(python.columns) == list(compiled.columns)
    for column in python.columns:
        if column in exact or python[column].dtype == object:
            assert python[column].tolist() == compiled[column].tolist(), column
        else:
            np.testing.assert_allclose(compiled[column], python[column], rtol=REL_TOLERANCE, atol=ABS_TOLERANCE)


@pytest.mark.parametrize("name", list(COVERED))
def test_each_covered_model_compiles_and_matches_the_python_path(spark, tmp_path, name):
    model, columns = fitted(name)
    scoring = generated(300, seed=2)[["id", *columns]]
    folder = mlflow_model(tmp_path / "model", model, scoring)
    compiled = ms.score_with_rejects(spark.createDataFrame(scoring), str(folder), key_columns=["id"], scoring_path="compiled")
    assert compiled.scoring_path == "compiled"
    classify = COVERED[name][1]
    outputs = compiled.outputs()
    assert outputs.dtypes == [("id", "string"), ("prediction", "bigint" if classify else "double")]
    expected = pd.DataFrame({"id": scoring["id"], "prediction": model.predict(scoring[columns])})  # what the Python path returns
    assert_same_outputs(expected, outputs.toPandas(), exact=["prediction"] if classify else [])


def test_an_unsupported_model_falls_back_with_the_reason_in_the_job_result(spark, tmp_path):
    train = generated(400, seed=1)
    model = HistGradientBoostingClassifier(max_iter=5).fit(train[NUMBERS], target(train, classify=True))
    folder = mlflow_model(tmp_path / "model", model, train[NUMBERS].assign(id=train["id"]))
    source = tmp_path / "input.parquet"
    generated(50, seed=2)[["id", *NUMBERS]].to_parquet(source)
    document = {
        "job_type": "scoring",
        "snapshot": str(folder),
        "inputs": [{"url": str(source), "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"]},
    }
    result = ms.run_job(document, spark=spark)
    assert result.ok, result.error
    assert result.details["scoring_path"] == "python"
    assert "HistGradientBoostingClassifier cannot be translated" in result.details["fallback_reason"]
    assert result.rows.rows_scored == 50

    refused = ms.run_job({**document, "options": {"key_columns": ["id"], "scoring_path": "compiled"}}, spark=spark)
    assert refused.error["code"] == "INVALID_SNAPSHOT"
    assert refused.error["message"].startswith("scoring_path compiled: snapshot ")
    assert "use scoring_path auto" in refused.error["message"]


def test_a_compiled_job_writes_what_the_python_path_writes(spark, tmp_path):
    model, columns = fitted("pipeline + logistic regression")
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    data = generated(200, seed=4)
    data.loc[5, "x0"] = np.nan  # the model has no imputer for x0: the row is rejected, as on the Python path
    source = tmp_path / "input.parquet"
    data.to_parquet(source)
    results = {}
    for path in ("compiled", "python"):
        document = {
            "job_type": "scoring",
            "snapshot": str(folder),
            "inputs": [{"url": str(source), "format": "parquet"}],
            "outputs": [{"url": str(tmp_path / path), "format": "parquet"}],
            "rejected_output": {"url": str(tmp_path / f"{path}_rejected"), "format": "json"},
            "options": {"key_columns": ["id"], "scoring_path": path},
        }
        results[path] = ms.run_job(document, spark=spark)
        assert results[path].ok, results[path].error
        assert results[path].details["scoring_path"] == path
    assert results["compiled"].rows == results["python"].rows
    assert results["compiled"].rows.to_dict() == {"in": 200, "scored": 199, "rejected": 1, "out": 199, "rejected_by_stage": {"model": 1}}
    written = {path: spark.read.parquet(str(tmp_path / path)) for path in results}
    assert written["compiled"].schema == written["python"].schema
    assert_same_outputs(written["python"].toPandas(), written["compiled"].toPandas(), exact=["prediction"])
    rejected = spark.read.json(str(tmp_path / "compiled_rejected")).collect()
    assert [(r.id, r._stage) for r in rejected] == [("r5", "model")]
    assert "contains NaN" in rejected[0]._reasons[0]  # the Python path's own reason
    assert json.loads(rejected[0]._record)["id"] == "r5"


def test_missing_and_infinite_features_are_handled_as_the_python_path_does(spark, tmp_path):
    model, columns = fitted("pipeline + linear regression")  # x3 goes through an imputer, x0 does not
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    data = generated(40, seed=5)
    data.loc[1, "x3"] = np.nan  # imputed: scored
    data.loc[2, "x0"] = np.nan  # not imputed: rejected
    data.loc[3, "x1"] = np.inf  # not finite: rejected
    data.loc[4, "colour"] = None  # an unknown category: all zeros, scored
    frame = spark.createDataFrame(data)
    compiled = ms.score_with_rejects(frame, str(folder), key_columns=["id"], scoring_path="compiled")
    python = ms.score_with_rejects(frame, str(folder), key_columns=["id"], scoring_path="python")
    assert compiled.counts() == python.counts()
    assert compiled.counts()["rejected_model"] == 2
    assert sorted(r.id for r in compiled.rejected().collect()) == ["r2", "r3"]
    assert_same_outputs(python.outputs().toPandas(), compiled.outputs().toPandas(), exact=[])
    assert not compiled.outputs().toPandas()["prediction"].isna().any()


def test_the_sample_check_catches_a_wrong_translation(spark, tmp_path, monkeypatch):
    model, columns = fitted("logistic regression")
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    translate = decide.compile_model

    def flipped(model, features, **kwargs):  # a translator bug: the label comes out inverted
        compiled = translate(model, features, **kwargs)
        last = tuple((name, f"1 - ({sql})" if name == "output_label" else sql) for name, sql in compiled.layers[-1])
        return replace(compiled, layers=(*compiled.layers[:-1], last))

    monkeypatch.setattr(decide, "compile_model", flipped)
    monkeypatch.setattr(decide, "_COMPILED", {})
    frame = spark.createDataFrame(generated(100, seed=6)[["id", *columns]])
    scored = ms.score_with_rejects(frame, str(folder), key_columns=["id"])
    assert scored.scoring_path == "python"
    assert scored.fallback_reason.startswith("the sample check failed: prediction differs on sample row 0")
    with pytest.raises(SnapshotError, match="the sample check failed"):
        ms.score(frame, str(folder), key_columns=["id"], scoring_path="compiled")


def test_a_snapshot_manifest_names_the_model_features_and_outputs(spark, tmp_path):
    model, columns = fitted("gradient boosting")
    source = """
        import pickle

        import pandas as pd

        # modelop.init
        def begin():
            global MODEL
            with open("model.pkl", "rb") as handle:
                MODEL = pickle.load(handle)

        # modelop.score
        def action(df: pd.DataFrame) -> pd.DataFrame:
            features = df[["x0", "x1", "x2", "x3"]]
            if features.isna().any(axis=None):
                raise ValueError("a feature is missing")
            return pd.DataFrame({"p_yes": MODEL.predict_proba(features)[:, 1], "label": MODEL.predict(features)})
    """
    manifest = {
        "name": "manifest-compiled",
        "assets": ["model.pkl"],
        "compiled": {"model": "model.pkl", "features": columns, "outputs": {"p_yes": "probability:1", "label": "label"}},
    }
    snapshot = make_snapshot(tmp_path / "snapshot", source, manifest=manifest, files={"model.pkl": pickle.dumps(model)})
    frame = spark.createDataFrame(generated(150, seed=7)[["id", *columns]])
    compiled = ms.score_with_rejects(frame, str(snapshot), key_columns=["id"])
    python = ms.score_with_rejects(frame, str(snapshot), key_columns=["id"], scoring_path="python")
    assert compiled.scoring_path == "compiled", compiled.fallback_reason
    assert compiled.outputs().columns == ["id", "p_yes", "label"]
    assert_same_outputs(python.outputs().toPandas(), compiled.outputs().toPandas(), exact=["label"])


def test_a_wrong_scoring_path_is_one_clear_line(spark, tmp_path):
    model, columns = fitted("linear regression")
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    with pytest.raises(ms.SpecError, match="scoring_path: 'fast' is not one of auto, compiled, python"):
        ms.score(spark.createDataFrame(generated(5, seed=1)[["id", *columns]]), str(folder), scoring_path="fast")
    with pytest.raises(ms.SpecError, match="options.scoring_path"):
        ms.JobSpec.from_dict({"job_type": "scoring", "snapshot": str(folder), "inputs": [{"url": "x.csv"}], "options": {"scoring_path": "fast"}})


@pytest.mark.connect
def test_compiled_scoring_on_a_connect_session(connect_spark, tmp_path):
    model, columns = fitted("random forest")
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    data = generated(120, seed=8)[["id", *columns]]
    frame = connect_spark.createDataFrame(data)
    scored = ms.score_with_rejects(frame, str(folder), key_columns=["id"], scoring_path="compiled")
    assert scored.scoring_path == "compiled"
    expected = pd.DataFrame({"id": data["id"], "prediction": model.predict(data[columns])})
    assert_same_outputs(expected, scored.outputs().toPandas(), exact=["prediction"])


@pytest.mark.cluster
def test_a_compiled_job_on_a_standalone_cluster(tmp_path):
    import subprocess

    from tests.cluster import spark_env, standalone_cluster

    model, columns = fitted("gradient boosting")
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    data = generated(500, seed=9)[["id", *columns]]
    data.loc[7, "x2"] = np.nan  # scored by the Python branch on the executors: rejected
    data.to_parquet(tmp_path / "input.parquet")
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "job_id": "compiled-cluster-job",
        "job_type": "scoring",
        "snapshot": str(folder),
        "inputs": [{"url": str(tmp_path / "input.parquet"), "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"], "scoring_path": "compiled"},
    }))
    env = spark_env(tmp_path)
    root = Path(__file__).resolve().parent.parent
    with standalone_cluster(tmp_path / "cluster") as master:
        run = subprocess.run(
            [str(Path(env["SPARK_HOME"]) / "bin" / "spark-submit"), "--master", master, "--conf", "spark.executor.memory=1g",
             "--conf", "spark.ui.enabled=false", str(root / "submit" / "run_job.py"), str(job), "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )
    assert "{" in run.stdout, run.stderr[-3000:]
    result = json.loads(run.stdout[run.stdout.index("{"):])
    assert result["status"] == "COMPLETE", result["error"]
    assert result["details"]["scoring_path"] == "compiled"
    assert result["rows"] == {"in": 500, "scored": 499, "rejected": 1, "out": 499, "rejected_by_stage": {"model": 1}}
    written = pd.read_parquet(tmp_path / "out").sort_values("id")
    expected = data.drop(index=7)
    assert sorted(written["id"]) == sorted(expected["id"])
    by_id = dict(zip(expected["id"], model.predict(expected[columns]), strict=True))
    assert [by_id[i] for i in written["id"]] == written["prediction"].tolist()


def test_auto_leaves_a_plan_too_large_to_pay_off_to_the_python_path(spark, tmp_path, monkeypatch):
    model, columns = fitted("gradient boosting")
    folder = mlflow_model(tmp_path / "model", model, generated(10, seed=3)[["id", *columns]])
    frame = spark.createDataFrame(generated(60, seed=8)[["id", *columns]])
    monkeypatch.setattr(decide, "AUTO_MAX_CHARS", 1_000)  # as if the ensemble had 100s of trees
    auto = ms.score_with_rejects(frame, str(folder), key_columns=["id"])
    assert auto.scoring_path == "python"
    assert "characters of SQL, over auto's 1000: a model this large scores faster in the Python path" in auto.fallback_reason
    forced = ms.score_with_rejects(frame, str(folder), key_columns=["id"], scoring_path="compiled")
    assert forced.scoring_path == "compiled"
    assert_same_outputs(auto.outputs().toPandas(), forced.outputs().toPandas(), exact=["prediction"])


# -- the compiled plan costs what the model costs (issue 32) ---------------------------------------

def physical_plan(frame) -> str:
    return frame._jdf.queryExecution().executedPlan().toString()


def test_a_compiled_plan_with_no_incomplete_row_scans_the_input_once_without_python(spark, tmp_path):
    model, columns = fitted("logistic regression")
    scoring = generated(200, seed=9)[["id", *columns]]
    folder = mlflow_model(tmp_path / "model", model, scoring)
    scoring.to_parquet(tmp_path / "input.parquet")
    outputs = ms.score(spark.read.parquet(str(tmp_path / "input.parquet")), str(folder), key_columns=["id"], scoring_path="compiled")
    plan = physical_plan(outputs)
    assert "Union" not in plan
    assert "ArrowEvalPython" not in plan and "MapInArrow" not in plan and "PythonUDF" not in plan
    assert plan.count("FileScan") == 1, plan
    # completeness tested once a row (one sum of the features, one comparison), in the filter;
    # no projection repeats it, no isnan(), no test per feature
    filter_line = next(line for line in plan.splitlines() if "Filter" in line)
    projections = [line for line in plan.splitlines() if "Project" in line]
    assert filter_line.count("< Infinity") == 1 and not any("Infinity" in p for p in projections), plan
    assert "isnan" not in plan and not any(f"abs({c}#" in plan for c in columns[1:]), plan
    predicted = outputs.toPandas().sort_values("id")
    by_id = dict(zip(scoring["id"], model.predict(scoring[columns]), strict=True))
    assert predicted["prediction"].tolist() == [by_id[i] for i in predicted["id"]]


def test_incomplete_rows_still_go_through_the_python_path(spark, tmp_path):
    model, columns = fitted("logistic regression")
    data = generated(60, seed=10)[["id", *columns]]
    data.loc[4, "x1"] = np.nan  # no imputer: the Python path rejects it with the model's reason
    folder = mlflow_model(tmp_path / "model", model, data.dropna())
    scored = ms.score_with_rejects(spark.createDataFrame(data), str(folder), key_columns=["id"], scoring_path="compiled")
    assert scored.scoring_path == "compiled"
    plan = physical_plan(scored.combined)
    assert "Union" in plan and ("ArrowEvalPython" in plan or "MapInArrow" in plan)
    assert scored.counts() == {"rows_in": 60, "rows_out": 59, "rejected_read": 0, "rejected_input_schema": 0, "rejected_model": 1, "rows_rejected": 1}
    rejected = scored.rejected().collect()
    assert [(r.id, r._stage) for r in rejected] == [("r4", "model")]
    assert "NaN" in rejected[0]._reasons[0]  # the Python path's own reason


def test_finite_features_whose_sum_overflows_are_scored_by_the_python_path(spark, tmp_path):
    model, columns = fitted("logistic regression")
    data = generated(30, seed=11)[["id", *columns]]
    folder = mlflow_model(tmp_path / "model", model, data)
    data.loc[7, columns[0]] = 1e308  # finite, each one: only their sum overflows
    data.loc[7, columns[1]] = 1e308
    scored = ms.score_with_rejects(spark.createDataFrame(data), str(folder), key_columns=["id"], scoring_path="compiled")
    assert scored.counts()["rows_out"] == 30 and scored.counts()["rows_rejected"] == 0
    predicted = scored.outputs().toPandas().set_index("id")["prediction"]
    assert predicted["r7"] == model.predict(data.loc[[7], columns])[0]
    assert predicted.sort_index().tolist() == model.predict(data.set_index("id").sort_index()[columns]).tolist()


def test_a_binary_linear_model_compiles_to_one_dot_product_and_a_comparison():
    model, columns = fitted("logistic regression")
    compiled = decide.compile_model(model, dict.fromkeys(columns, "double"))
    sql = " ".join(text for layer in compiled.layers for _, text in layer)
    assert sql.count("`x0` *") == 1  # orbital's own SQL has the decision function twice
    label = dict(compiled.layers[-1])["output_label"]
    assert label.count(">=") == 1 and "= 1" not in label  # no class index -> label CASE
    orbital = decide.compile_model(model, dict.fromkeys(columns, "double"), simplify=False)
    assert " ".join(text for layer in orbital.layers for _, text in layer).count("`x0` *") == 2
    assert compiled.size < orbital.size / 2


EDGE_VALUES = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e300, -1e300, 1e308, float("nan"), float("inf"), float("-inf"), None]


@pytest.mark.parametrize("name", ["logistic regression", "linear regression", "decision tree", "random forest", "gradient boosting", "gradient boosting regressor"])
def test_simplified_expressions_give_orbitals_values_bit_for_bit_and_the_models_predictions(spark, name):
    """On generated rows, edge values (zeros of both signs, tiny and huge numbers, NaN,
    infinities, null) and each tree threshold exactly, every output of the simplified plan equals
    orbital's own SQL's (NaN and null included), and its label is the model's on finite rows."""
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    from modelop_spark.runtime.compiled.spark_plan import compiled_scores

    model, columns = fitted(name)
    kinds = dict.fromkeys(columns, "double")
    rows = generated(300, seed=11)[columns]
    rng = np.random.default_rng(12)
    edges = pd.DataFrame(rng.choice(np.array(EDGE_VALUES, dtype=object), size=(200, len(columns))), columns=columns)
    thresholds = [t for tree in np.ravel(np.asarray(getattr(model, "estimators_", [model]), dtype=object)) if hasattr(tree, "tree_")
                  for t in tree.tree_.threshold[tree.tree_.feature >= 0]]
    at_thresholds = pd.DataFrame({c: np.resize(thresholds or [0.0], 50) for c in columns})
    data = pd.concat([rows, edges.astype(float), at_thresholds], ignore_index=True)
    data.insert(0, "row", range(len(data)))
    frame = spark.createDataFrame(data.astype(object).where(data.notna(), None), StructType([StructField("row", LongType()), *[StructField(c, DoubleType()) for c in columns]]))
    results = {}
    for simplify in (True, False):
        compiled = decide.compile_model(model, kinds, simplify=simplify)
        outputs = {name: name for name in compiled.outputs}
        schema = StructType([StructField("row", LongType()), *[StructField(n, DoubleType()) for n in outputs]])
        results[simplify] = compiled_scores(frame, compiled, outputs=outputs, schema=schema, key_columns=["row"], mark_incomplete=False)
    simplified, orbital = results[True], results[False]
    assert simplified.columns == orbital.columns
    joined = simplified.alias("s").join(orbital.alias("o"), "row")
    differs = " OR ".join(f"NOT (s.`{c}` <=> o.`{c}`)" for c in simplified.columns if c != "row")
    assert joined.where(differs).count() == 0
    label = "output_label" if "output_label" in simplified.columns else "variable"
    got = simplified.where(f"row < {len(rows)}").toPandas().sort_values("row")[label].to_numpy()
    expected = model.predict(rows)
    if label == "output_label":
        assert got.tolist() == expected.tolist()
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
