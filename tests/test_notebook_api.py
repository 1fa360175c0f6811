"""The notebook API as a newcomer meets it: lazy calls stay lazy, ms.udf slots into withColumn."""

from __future__ import annotations

import pandas as pd
import pytest

import modelop_spark as ms
from tests.snapshots import RECORD_MODEL, make_snapshot


def test_score_stays_lazy_when_the_first_rows_fail_and_fails_when_run(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "2"})
    # Every sampled row fails at first, but later rows score: the call must not raise.
    df = spark.createDataFrame(pd.DataFrame({"id": [str(i) for i in range(40)], "x": [-1.0] * 20 + [1.0] * 20}))
    scores = ms.score(df, snapshot, key_columns=["id"])
    assert scores.columns == ["id", "doubled"]
    with pytest.raises(Exception, match="negative x"):
        scores.count()
    both = ms.score_with_rejects(df, snapshot, key_columns=["id"])
    assert both.counts()["rows_rejected"] == 20 and both.counts()["rows_out"] == 20


def test_the_snapshot_output_schema_replaces_the_sample(spark, fraud_example):
    root, snapshot = fraud_example
    df = spark.read.csv(str(root / "data" / "transactions.csv"), header=True, inferSchema=True)
    # The first rows lack a feature (the example ships them so): score() still returns at once.
    scores = ms.score(df, snapshot, key_columns=["transaction_id"])
    assert scores.columns == ["transaction_id", "fraud_probability", "is_fraud_predicted"]
    assert ms.score(df.dropna(), snapshot, key_columns=["transaction_id"]).count() == df.dropna().count()


def test_udf_in_with_column_gives_what_score_gives(spark, fraud_example):
    root, snapshot = fraud_example
    df = spark.read.csv(str(root / "data" / "labeled.csv"), header=True, inferSchema=True).limit(300)
    predict = ms.udf(snapshot)
    with_udf = df.withColumn("score", predict(*df.columns)).select("transaction_id", "score.fraud_probability")
    scored = ms.score(df, snapshot, key_columns=["transaction_id"]).select("transaction_id", "fraud_probability")
    got = dict(with_udf.collect())
    assert len(got) == 300 and got == pytest.approx(dict(scored.collect()))
    one = df.select(ms.udf(snapshot, output="is_fraud_predicted")(*df.columns).alias("flag"))
    assert {row.flag for row in one.collect()} <= {0, 1}


def test_udf_needs_a_result_type_without_an_output_schema(spark, tmp_path):
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "3"})
    with pytest.raises(ms.SpecError, match="result_type"):
        ms.udf(snapshot)
    df = spark.createDataFrame(pd.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0]}))
    tripled = df.select(ms.udf(snapshot, result_type="doubled double", output="doubled")("x").alias("y"))
    assert sorted(r.y for r in tripled.collect()) == [3.0, 6.0]
