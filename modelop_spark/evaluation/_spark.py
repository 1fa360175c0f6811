"""The Spark layer: one aggregation per section, returning bounded aggregates to the driver.

Nothing here collects rows. Each function runs a ``groupBy``/``agg`` whose result size is fixed by
an option (score bins, classes, groups, categories), checks that bound before collecting, and
hands plain numbers to the pure formula modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from modelop_spark.errors import SpecError
from modelop_spark.evaluation.binary import BinaryAggregates, Confusion

__all__ = [
    "NULL_GROUP",
    "OTHER_CATEGORY",
    "binary_aggregates",
    "categorical_counts",
    "confusion_counts",
    "equals_value",
    "group_confusions",
    "identifier_columns",
    "numeric_bin_counts",
    "regression_distribution_counts",
    "regression_sums",
    "require_columns",
    "score_column",
]

NULL_GROUP = "__null__"
OTHER_CATEGORY = "__other__"
_EPS = float(np.finfo(np.float64).eps)  # scikit-learn clips probabilities to [eps, 1 - eps]

_VALID, _MISSING, _OUT_OF_RANGE = 0, 1, 2


def require_columns(df: DataFrame, names: Sequence[str | None], *, what: str) -> None:
    present = set(df.columns)
    for name in names:
        if name is not None and name not in present:
            raise SpecError(
                f"{what}: column {name!r} is not in the data; found {', '.join(df.columns[:30])}; "
                "name the right column in the job's evaluation options or schema roles"
            )


def score_column(df: DataFrame, name: str) -> Column:
    """The score as a double; a Spark ML probability vector gives its positive-class element."""
    dtype = df.schema[name].dataType
    if isinstance(dtype, T.UserDefinedType) and dtype.simpleString() == "vector":
        from pyspark.ml.functions import vector_to_array

        return vector_to_array(F.col(name))[1]
    if not isinstance(dtype, T.NumericType):
        raise SpecError(f"evaluation: column {name!r} must be numeric (a probability), found {dtype.simpleString()}")
    return F.col(name).cast("double")


def equals_value(df: DataFrame, name: str, value: Any) -> Column:
    """``column == value`` without relying on implicit casts (ANSI mode rejects bool = int)."""
    dtype = df.schema[name].dataType
    col = F.col(name)
    if isinstance(dtype, T.BooleanType):
        return col if str(value).lower() in ("1", "true", "1.0") else ~col
    if isinstance(dtype, T.NumericType):
        try:
            return col.cast("double") == F.lit(float(value))
        except (TypeError, ValueError):
            raise SpecError(
                f"evaluation option 'positive_label': {value!r} cannot match numeric column {name!r}"
            ) from None
    return col.cast("string") == F.lit(str(value))


def binary_aggregates(
    df: DataFrame, *, label: str, score: str, positive_label: Any, thresholds: Sequence[float], score_bins: int
) -> tuple[BinaryAggregates, dict[str, int]]:
    """One pass: per fine score bin and label, the count, score sum and log-loss sum; a flag per
    threshold in the grouping key makes the confusion counts at each threshold exact."""
    s = score_column(df, score)
    status = (
        F.when(F.col(label).isNull() | s.isNull() | F.isnan(s), F.lit(_MISSING))
        .when((s < 0) | (s > 1), F.lit(_OUT_OF_RANGE))
        .otherwise(F.lit(_VALID))
    )
    valid = status == _VALID
    positive = equals_value(df, label, positive_label)
    keys = [
        status.alias("status"),
        # Bins are (lower, upper], as scikit-learn's calibration_curve bins; 0.0 joins the first.
        F.when(valid, F.greatest(F.ceil(s * score_bins) - 1, F.lit(0)).cast("int")).alias("bin"),
        F.when(valid, positive).alias("pos"),
    ] + [F.when(valid, s >= F.lit(float(t))).alias(f"ge{i}") for i, t in enumerate(thresholds)]
    p = F.least(F.greatest(s, F.lit(_EPS)), F.lit(1 - _EPS))
    log_loss = F.when(valid, F.when(positive, -F.log(p)).otherwise(-F.log(1 - p)))
    rows = (
        df.select(*keys, F.when(valid, s).alias("s"), log_loss.alias("ll"))
        .groupBy("status", "bin", "pos", *[f"ge{i}" for i in range(len(thresholds))])
        .agg(F.count(F.lit(1)).alias("n"), F.sum("s").alias("s"), F.sum("ll").alias("ll"))
        .collect()  # bounded: at most 2 * score_bins + 2 * len(thresholds) + 2 rows
    )
    pos = np.zeros(score_bins, dtype=np.int64)
    neg = np.zeros(score_bins, dtype=np.int64)
    sums = np.zeros(score_bins, dtype=np.float64)
    confusion = [[0, 0, 0, 0] for _ in thresholds]  # tp, fp, tn, fn
    counts = {"input": 0, "evaluated": 0, "missing": 0, "out_of_range": 0}
    log_loss_sum = 0.0
    for r in rows:
        counts["input"] += r["n"]
        if r["status"] == _MISSING:
            counts["missing"] += r["n"]
            continue
        if r["status"] == _OUT_OF_RANGE:
            counts["out_of_range"] += r["n"]
            continue
        counts["evaluated"] += r["n"]
        (pos if r["pos"] else neg)[r["bin"]] += r["n"]
        sums[r["bin"]] += r["s"]
        log_loss_sum += r["ll"]
        for i in range(len(thresholds)):
            index = (0 if r["pos"] else 1) if r[f"ge{i}"] else (3 if r["pos"] else 2)
            confusion[i][index] += r["n"]
    if counts["out_of_range"]:
        raise SpecError(
            f"evaluation: {counts['out_of_range']} value(s) of score column {score!r} are outside [0, 1]; "
            "binary evaluation needs the probability of the positive class; set kind to 'regression' "
            "for a numeric prediction, or give a probability column"
        )
    at = {float(t): Confusion(*c) for t, c in zip(thresholds, confusion, strict=True)}
    return BinaryAggregates(pos, neg, sums, log_loss_sum, at), counts


def _bounded_collect(df: DataFrame, limit: int, *, what: str, option: str) -> list[Any]:
    rows = df.limit(limit + 1).collect()
    if len(rows) > limit:
        raise SpecError(
            f"evaluation: {what} has more than {limit} distinct values; raise the evaluation option "
            f"{option!r} if that is expected, or check that the right column is named"
        )
    return rows


def confusion_counts(
    df: DataFrame, *, label: str, prediction: str, max_classes: int
) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Multiclass confusion matrix over the union of label and predicted classes."""
    y, p = F.col(label).cast("string"), F.col(prediction).cast("string")
    grouped = df.groupBy(y.alias("y"), p.alias("p")).agg(F.count(F.lit(1)).alias("n"))
    rows = _bounded_collect(grouped, max_classes * max_classes + max_classes * 2 + 1,
                            what=f"the pair ({label}, {prediction})", option="max_classes")
    missing = sum(r["n"] for r in rows if r["y"] is None or r["p"] is None)
    valid = [r for r in rows if r["y"] is not None and r["p"] is not None]
    labels = sorted({r["y"] for r in valid} | {r["p"] for r in valid}, key=_class_order)
    if len(labels) > max_classes:
        raise SpecError(
            f"evaluation: columns {label!r}/{prediction!r} hold {len(labels)} classes, more than "
            f"max_classes={max_classes}; raise the option if that is expected"
        )
    index = {c: i for i, c in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for r in valid:
        matrix[index[r["y"]], index[r["p"]]] += r["n"]
    total = sum(r["n"] for r in rows)
    return labels, matrix, {"input": total, "evaluated": total - missing, "missing": missing}


def _class_order(value: str) -> tuple[int, float, str]:
    # Numeric classes sort numerically ("2" before "10"), as scikit-learn's sorted labels do.
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def regression_sums(df: DataFrame, *, label: str, score: str) -> tuple[dict[str, float], dict[str, int]]:
    y, yhat = F.col(label).cast("double"), F.col(score).cast("double")
    valid = y.isNotNull() & yhat.isNotNull() & ~F.isnan(y) & ~F.isnan(yhat)
    err = F.when(valid, yhat - y)
    row = df.agg(
        F.count(F.lit(1)).alias("input"),
        F.count(err).alias("n"),
        F.sum(F.abs(err)).alias("abs_error"),
        F.sum(err * err).alias("squared_error"),
        # scikit-learn's MAPE divides by max(|y|, eps).
        F.sum(F.abs(err) / F.greatest(F.abs(y), F.lit(_EPS))).alias("abs_percentage_error"),
        F.var_pop(F.when(valid, y)).alias("label_var_pop"),
    ).first()
    assert row is not None  # an aggregate always has its one row
    sums = {k: (row[k] if row[k] is not None else 0.0) for k in
            ("n", "abs_error", "squared_error", "abs_percentage_error", "label_var_pop")}
    counts = {"input": row["input"], "evaluated": row["n"], "missing": row["input"] - row["n"]}
    return sums, counts


IDENTIFIER_MIN_ROWS = 100
IDENTIFIER_DISTINCT_SHARE = 0.95


def identifier_columns(df: DataFrame, names: Sequence[str]) -> list[str]:
    """String and integer columns whose values are (nearly) all distinct: identifiers, which no
    drift measure can compare (every value is new). One approximate aggregation; a small frame
    (under ``IDENTIFIER_MIN_ROWS`` rows) tells nothing, so none are found there."""
    kinds = (T.StringType, T.IntegerType, T.LongType)
    candidates = [n for n in names if isinstance(df.schema[n].dataType, kinds)]
    if not candidates:
        return []
    row = df.agg(F.count(F.lit(1)).alias("_rows"), *[F.approx_count_distinct(n).alias(f"_d{i}") for i, n in enumerate(candidates)]).first()
    assert row is not None  # an aggregate without grouping has one row
    if row["_rows"] < IDENTIFIER_MIN_ROWS:
        return []
    return [n for i, n in enumerate(candidates) if row[f"_d{i}"] >= IDENTIFIER_DISTINCT_SHARE * row["_rows"]]


def _bucket(value: Column, low: float, high: float, bins: int) -> Column:
    if high <= low:
        return F.lit(0)
    return F.least(F.floor((value - F.lit(low)) / F.lit((high - low) / bins)), F.lit(bins - 1)).cast("int")


def regression_distribution_counts(df: DataFrame, *, label: str, score: str, bins: int) -> dict[str, Any] | None:
    """Ranges and binned counts of residuals and of (actual, predicted) pairs over every row with
    both values: at most ``bins`` + ``bins``² numbers reach the driver. None without such rows."""
    y, yhat = F.col(label).cast("double"), F.col(score).cast("double")
    valid = df.where(y.isNotNull() & yhat.isNotNull() & ~F.isnan(y) & ~F.isnan(yhat))
    bounds = valid.agg(
        F.least(F.min(y), F.min(yhat)).alias("low"), F.greatest(F.max(y), F.max(yhat)).alias("high"),
        F.min(yhat - y).alias("residual_low"), F.max(yhat - y).alias("residual_high"),
    ).first()
    assert bounds is not None  # an aggregate without grouping has one row
    if bounds["low"] is None:
        return None
    low, high, r_low, r_high = (float(bounds[k]) for k in ("low", "high", "residual_low", "residual_high"))
    residuals = valid.groupBy(_bucket(yhat - y, r_low, r_high, bins).alias("b")).count().collect()
    pairs = valid.groupBy(_bucket(y, low, high, bins).alias("a"), _bucket(yhat, low, high, bins).alias("p")).count().collect()
    return {
        "range": (low, high),
        "residual_range": (r_low, r_high),
        "residual_counts": {int(r["b"]): int(r["count"]) for r in residuals},
        "pair_counts": {(int(r["a"]), int(r["p"])): int(r["count"]) for r in pairs},
    }


def group_confusions(
    df: DataFrame, *, column: str, positive: Column, predicted: Column, max_groups: int
) -> dict[str, Confusion]:
    """Confusion counts per value of a protected column (null is its own group)."""
    group = F.coalesce(F.col(column).cast("string"), F.lit(NULL_GROUP))
    grouped = (
        df.where(positive.isNotNull() & predicted.isNotNull())
        .groupBy(group.alias("g"), positive.alias("y"), predicted.alias("p"))
        .agg(F.count(F.lit(1)).alias("n"))
    )
    rows = _bounded_collect(grouped, 4 * max_groups, what=f"protected column {column!r}", option="max_groups")
    cells: dict[str, list[int]] = {}
    for r in rows:
        c = cells.setdefault(r["g"], [0, 0, 0, 0])
        c[(0 if r["y"] else 1) if r["p"] else (3 if r["y"] else 2)] += r["n"]
    if len(cells) > max_groups:
        raise SpecError(
            f"evaluation: protected column {column!r} has {len(cells)} groups, more than max_groups={max_groups}"
        )
    return {g: Confusion(*c) for g, c in cells.items()}


def _sided(baseline: DataFrame, sample: DataFrame, columns: Sequence[str]) -> DataFrame:
    # Both sides in one plan, so one pass reads baseline and sample together.
    b = baseline.select(*[F.col(c) for c in columns], F.lit(0).alias("_side"))
    s = sample.select(*[F.col(c) for c in columns], F.lit(1).alias("_side"))
    return b.unionByName(s)


def numeric_bin_counts(
    baseline: DataFrame, sample: DataFrame, *, features: Sequence[str], psi_bins: int, ks_bins: int
) -> dict[str, dict[str, Any]]:
    """Per numeric feature: counts of baseline and sample over the baseline's quantile bins (one
    pass for the quantiles, one pass for all counts). Null/NaN values are counted as missing."""
    splits = _quantile_splits(baseline, features, psi_bins=psi_bins, ks_bins=ks_bins)
    if not splits:
        return {}
    usable = list(splits)
    out: dict[str, dict[str, Any]] = {}
    for f, (psi, ks) in splits.items():
        out[f] = {
            "psi_expected": np.zeros(len(psi) - 1), "psi_actual": np.zeros(len(psi) - 1),
            "ks_expected": np.zeros(len(ks) - 1), "ks_actual": np.zeros(len(ks) - 1),
            "missing_expected": 0, "missing_actual": 0,
            "psi_edges": psi[1:-1],
        }
    for r in _bucket_counts(baseline, sample, splits):
        feature = out[usable[r["f"]]]
        prefix = "psi" if r["kind"] == 0 else "ks"
        side = "expected" if r["_side"] == 0 else "actual"
        counts = feature[f"{prefix}_{side}"]
        b = r["b"]
        if b is not None and b < len(counts):
            counts[int(b)] += r["n"]
        elif prefix == "psi":  # Bucketizer leaves null as null and puts NaN past the end: missing
            feature[f"missing_{side}"] += r["n"]
    return out


def _quantile_splits(baseline: DataFrame, features: Sequence[str], *, psi_bins: int, ks_bins: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per feature with a value in the baseline: its PSI and KS bin edges (the baseline's
    quantiles, open-ended at both sides), from one aggregation."""
    probs = sorted({i / psi_bins for i in range(1, psi_bins)} | {i / ks_bins for i in range(1, ks_bins)})
    accuracy = max(10_000, 10 * ks_bins)
    quantiles = baseline.select(
        *[F.percentile_approx(F.col(f).cast("double"), probs, accuracy).alias(f"q{i}") for i, f in enumerate(features)]
    ).first()
    assert quantiles is not None  # an aggregate always has its one row
    splits: dict[str, tuple[list[float], list[float]]] = {}
    for i, f in enumerate(features):
        q = quantiles[f"q{i}"]
        if q is None:  # the baseline has no value for this feature
            continue
        by_p = dict(zip(probs, q, strict=True))
        psi, ks = ([-float("inf"), *sorted({float(by_p[j / bins]) for j in range(1, bins)}), float("inf")] for bins in (psi_bins, ks_bins))
        splits[f] = (psi, ks)
    return splits


def _bucket_counts(baseline: DataFrame, sample: DataFrame, splits: dict[str, tuple[list[float], list[float]]]) -> list[Any]:
    """One pass over both sides: rows (f, kind 0 = PSI / 1 = KS, bucket b, _side, n)."""
    from pyspark.ml.feature import Bucketizer

    usable = list(splits)
    both = _sided(baseline, sample, usable).select(
        "_side", *[F.col(f).cast("double").alias(f"x{i}") for i, f in enumerate(usable)]
    )
    x = [f"x{i}" for i in range(len(usable))]
    bucketed = Bucketizer(
        splitsArray=[psi for psi, _ in splits.values()] + [ks for _, ks in splits.values()],
        inputCols=x + x,
        outputCols=[f"p{i}" for i in range(len(usable))] + [f"k{i}" for i in range(len(usable))],
        handleInvalid="keep",  # null/NaN go to one extra bucket: counted as missing, never dropped
    ).transform(both)
    pairs = [F.struct(F.lit(i).alias("f"), F.lit(0).alias("kind"), F.col(f"p{i}").alias("b")) for i in range(len(usable))]
    pairs += [F.struct(F.lit(i).alias("f"), F.lit(1).alias("kind"), F.col(f"k{i}").alias("b")) for i in range(len(usable))]
    return (
        bucketed.select("_side", F.inline(F.array(*pairs)))
        .groupBy("f", "kind", "b", "_side")
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()  # bounded: features * (psi_bins + ks_bins + 2) * 2 rows
    )


def categorical_counts(
    baseline: DataFrame, sample: DataFrame, *, features: Sequence[str], max_categories: int
) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """Per categorical feature: category counts on each side. The ``max_categories`` most frequent
    categories (both sides together) are kept; the rest are summed into ``__other__`` in Spark."""
    from pyspark.sql.window import Window

    if not features:
        return {}
    both = _sided(baseline, sample, features)
    pairs = [
        F.struct(F.lit(i).alias("f"), F.coalesce(F.col(f).cast("string"), F.lit(NULL_GROUP)).alias("v"))
        for i, f in enumerate(features)
    ]
    counts = (
        both.select("_side", F.inline(F.array(*pairs)))
        .groupBy("f", "v")
        .agg(
            F.sum(F.when(F.col("_side") == 0, 1).otherwise(0)).alias("b"),
            F.sum(F.when(F.col("_side") == 1, 1).otherwise(0)).alias("s"),
        )
    )
    ranked = counts.withColumn(
        "rank", F.row_number().over(Window.partitionBy("f").orderBy(F.desc(F.col("b") + F.col("s")), "v"))
    )
    rows = (
        ranked.withColumn("v", F.when(F.col("rank") <= max_categories, F.col("v")).otherwise(F.lit(OTHER_CATEGORY)))
        .groupBy("f", "v")
        .agg(F.sum("b").alias("b"), F.sum("s").alias("s"))
        .collect()  # bounded: features * (max_categories + 1) rows
    )
    out: dict[str, tuple[dict[str, int], dict[str, int]]] = {f: ({}, {}) for f in features}
    for r in rows:
        expected, actual = out[features[r["f"]]]
        expected[r["v"]] = int(r["b"])
        actual[r["v"]] = int(r["s"])
    return out
