from collections.abc import Iterator

import pandas as pd
from pyspark.sql import DataFrame

from modelop_spark.runtime.conventions import (
    CONVENTION_NAMES,
    detect_convention,
    pyspark_convention_in_source,
    takes_argument,
    takes_slot,
)


def detect_shape(fn, declared=None):
    return detect_convention(fn, declared).name


def record(datum):
    return datum


def record_with_slot(datum, slot_no):
    return datum


def batch(df: pd.DataFrame) -> pd.DataFrame:
    return df


def batch_iter(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield from batches


def spark_fn(df: DataFrame) -> DataFrame:
    return df


def pyspark_convention(external_inputs, external_outputs, external_model_assets):
    return None


def test_shape_comes_from_the_signature():
    assert detect_shape(record) == "record"
    assert detect_shape(record_with_slot) == "record" and takes_slot(record_with_slot)
    assert detect_shape(batch) == "batch"
    assert detect_shape(batch_iter) == "batch_iter"
    assert detect_shape(spark_fn) == "spark"
    assert detect_shape(pyspark_convention) == "modelop_pyspark"


def test_string_annotations_count_too():
    def scored(df: "pd.DataFrame"):
        return df

    def sparky(df: "pyspark.sql.DataFrame"):  # noqa: F821
        return df

    assert detect_shape(scored) == "batch"
    assert detect_shape(sparky) == "spark"


def test_the_manifest_overrides_the_signature():
    assert detect_shape(record, "batch") == "batch"


def test_init_with_or_without_the_job():
    assert not takes_argument(lambda: None)
    assert takes_argument(lambda job_json: None)


def test_each_convention_says_where_it_runs_and_what_a_whole_input_is():
    assert CONVENTION_NAMES == ("record", "batch", "batch_iter", "spark", "modelop_pyspark")
    sides = {n: (detect_convention(record, n).runs_on, detect_convention(record, n).whole_input) for n in CONVENTION_NAMES}
    assert sides == {
        "record": ("executors", "pandas"),
        "batch": ("executors", "pandas"),
        "batch_iter": ("executors", "pandas"),
        "spark": ("driver", "spark"),
        "modelop_pyspark": ("driver", "assets"),
    }


def test_the_pyspark_convention_is_read_from_the_source_before_it_runs():
    source = "def score(external_inputs, external_outputs, external_model_assets):\n    pass\n\ndef other(df):\n    pass\n"
    assert pyspark_convention_in_source(source, "score") is True
    assert pyspark_convention_in_source(source, "other") is False
    assert pyspark_convention_in_source(source, "missing") is None
