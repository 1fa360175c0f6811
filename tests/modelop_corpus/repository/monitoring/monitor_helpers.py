"""Helpers of the corpus drift monitor (a SOURCE_CODE asset beside the primary source)."""

from pyspark.sql import functions as F


def read_csv(spark, url):
    return spark.read.format("csv").option("header", True).option("inferSchema", True).load(url)


def standardized_mean_shift(baseline, comparator, column):
    """(comparator mean - baseline mean) / baseline standard deviation (sample)."""
    b = baseline.agg(F.mean(column).alias("m"), F.stddev_samp(column).alias("s")).first()
    c = comparator.agg(F.mean(column).alias("m")).first()
    return float((c["m"] - b["m"]) / b["s"])


def new_categories(baseline, comparator, column):
    """How many categories the comparator has that the baseline never had."""
    return comparator.select(column).distinct().join(baseline.select(column).distinct(), column, "left_anti").count()
