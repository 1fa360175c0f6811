"""The monitors' Spark layer: numerical distributions of two frames, with the exact KS statistic.

Per numerical field, over baseline and comparator together (one plan; nothing collects rows):
1. the baseline's quantiles (``percentile_approx``): ``bins`` histogram bins and ``KS_BUCKETS``
   finer buckets;
2. one aggregation: per field, side and histogram bin the count, with null/NaN counted as missing
   and each special value counted apart (bounded: fields x (bins + specials + 2) x 2 rows);
3. the exact two-sample KS statistic: counts per distinct value (``groupBy(field, bucket, x)``,
   kept on the executors), each bucket's totals to the driver (bounded: fields x KS_BUCKETS),
   their prefix sums back as a broadcast table, and a running sum inside each bucket (a window
   partitioned by field and bucket, so it spreads over the cluster): the ECDFs of both sides at
   every distinct value, exactly as scipy's ``ks_2samp`` sees them, and their largest gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pyspark import StorageLevel
from pyspark.ml.feature import Bucketizer
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

__all__ = ["KS_BUCKETS", "numeric_distributions"]

KS_BUCKETS = 1000  # buckets of the exact KS pass: their totals are what reaches the driver

_VALID, _MISSING, _SPECIAL = 0, 1, 2


def _status(x: Column, specials: Sequence[Any]) -> Column:
    missing = x.isNull() | F.isnan(x)
    status = F.when(missing, F.lit(_MISSING))
    if specials:
        status = status.when(x.isin([float(v) for v in specials]), F.lit(_SPECIAL))
    return status.otherwise(F.lit(_VALID))


def _splits(edges: Sequence[float]) -> list[float]:
    """Bins ``[e_i, e_i+1)`` open at both ends: a value's bin is the number of inner edges <= it."""
    return [-float("inf"), *edges, float("inf")]


def _edges(values: Sequence[float] | None, bins: int) -> list[float]:
    if not values:
        return []
    return sorted({float(v) for v in values})[: bins - 1]


def numeric_distributions(
    baseline: DataFrame, comparator: DataFrame, *, fields: Sequence[str], bins: int,
    special_values: Mapping[str, Sequence[Any]],
) -> dict[str, dict[str, Any]]:
    """Per field: inner ``edges``; ``baseline``/``comparator`` histogram counts over them;
    missing and special-value counts per side; the exact ``ks_statistic``; row counts."""
    if not fields:
        return {}
    probs = [i / bins for i in range(1, bins)]
    ks_probs = [i / KS_BUCKETS for i in range(1, KS_BUCKETS)]
    valid = {f: _status(F.col(f).cast("double"), special_values.get(f, ())) == _VALID for f in fields}
    quantiles = baseline.select(*[
        F.percentile_approx(F.when(valid[f], F.col(f).cast("double")), probs + ks_probs, 10_000).alias(f"q{i}")
        for i, f in enumerate(fields)
    ]).first()
    assert quantiles is not None  # an aggregate always has its one row
    edges = {f: _edges((quantiles[f"q{i}"] or [])[: len(probs)], bins) for i, f in enumerate(fields)}
    ks_edges = {f: sorted({float(v) for v in (quantiles[f"q{i}"] or [])[len(probs):]}) for i, f in enumerate(fields)}

    def side(frame: DataFrame, tag: int) -> DataFrame:
        wide = frame.select(*[F.col(f).cast("double").alias(f"x{i}") for i, f in enumerate(fields)])
        x = [f"x{i}" for i in range(len(fields))]
        # Bucketizer's binary search (bins [s_i, s_i+1)), as numpy's searchsorted(side="right").
        wide = Bucketizer(
            splitsArray=[_splits(edges[f]) for f in fields] + [_splits(ks_edges[f]) for f in fields],
            inputCols=x + x, outputCols=[f"b{i}" for i in range(len(fields))] + [f"k{i}" for i in range(len(fields))],
            handleInvalid="keep",
        ).transform(wide)
        cells = []
        for i, f in enumerate(fields):
            status = _status(F.col(f"x{i}"), special_values.get(f, ()))
            valid_row = status == _VALID
            cells.append(F.struct(
                F.lit(i).alias("f"), status.alias("st"), F.col(f"x{i}").alias("x"),
                F.when(valid_row, F.col(f"b{i}").cast("int")).alias("b"),
                F.when(valid_row, F.col(f"k{i}").cast("int")).alias("k"),
            ))
        return wide.select(F.lit(tag).alias("side"), F.inline(F.array(*cells)))

    long = side(baseline, 0).unionByName(side(comparator, 1))
    histogram = (
        long.groupBy("f", "side", "st", "b", F.when(F.col("st") == _SPECIAL, F.col("x")).alias("special"))
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()  # bounded: fields * (bins + specials + 2) * 2 rows
    )
    out: dict[str, dict[str, Any]] = {}
    for f in fields:
        size = len(edges[f]) + 1
        out[f] = {
            "edges": edges[f],
            "baseline": np.zeros(size, dtype=np.int64), "comparator": np.zeros(size, dtype=np.int64),
            "missing": {"baseline": 0, "comparator": 0},
            "special": {"baseline": {}, "comparator": {}},
        }
    for r in histogram:
        entry = out[fields[r["f"]]]
        name = "baseline" if r["side"] == 0 else "comparator"
        if r["st"] == _MISSING:
            entry["missing"][name] += r["n"]
        elif r["st"] == _SPECIAL:
            key = _special_key(r["special"])
            entry["special"][name][key] = entry["special"][name].get(key, 0) + r["n"]
        else:
            entry[name][r["b"]] += r["n"]
    statistics = _exact_ks(long.where(F.col("st") == _VALID), fields)
    for i, f in enumerate(fields):
        out[f]["ks_statistic"] = statistics.get(i)
    return out


def _special_key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _exact_ks(valid: DataFrame, fields: Sequence[str]) -> dict[int, float | None]:
    counts = (
        valid.groupBy("f", "k", "x")
        .agg(F.sum(1 - F.col("side")).alias("nb"), F.sum(F.col("side")).alias("nc"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        totals = counts.groupBy("f", "k").agg(F.sum("nb").alias("nb"), F.sum("nc").alias("nc")).collect()
        by_field: dict[int, list[Any]] = {}
        for r in totals:  # bounded: fields * (KS_BUCKETS + 1) rows
            by_field.setdefault(r["f"], []).append(r)
        offsets = []
        sizes: dict[int, tuple[int, int]] = {}
        for f, rows in by_field.items():
            rows.sort(key=lambda r: r["k"])
            n_b, n_c = sum(r["nb"] for r in rows), sum(r["nc"] for r in rows)
            sizes[f] = (n_b, n_c)
            run_b = run_c = 0
            for r in rows:
                offsets.append((f, r["k"], run_b, run_c, n_b, n_c))
                run_b += r["nb"]
                run_c += r["nc"]
        usable = [f for f, (n_b, n_c) in sizes.items() if n_b and n_c]
        if not usable:
            return {}
        table = valid.sparkSession.createDataFrame(
            [o for o in offsets if o[0] in usable], "f int, k int, ob long, oc long, n_b long, n_c long"
        )
        window = Window.partitionBy("f", "k").orderBy("x").rowsBetween(Window.unboundedPreceding, Window.currentRow)
        gaps = counts.join(F.broadcast(table), ["f", "k"]).select(
            "f",
            F.abs((F.col("ob") + F.sum("nb").over(window)) / F.col("n_b")
                  - (F.col("oc") + F.sum("nc").over(window)) / F.col("n_c")).alias("gap"),
        )
        rows = gaps.groupBy("f").agg(F.max("gap").alias("d")).collect()  # one row per field
        return {r["f"]: float(r["d"]) for r in rows}
    finally:
        counts.unpersist()
