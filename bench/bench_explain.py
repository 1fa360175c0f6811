"""Our SHAP explanations on Spark against ``shap`` run in one process, on the same model and rows.

    python -m bench.bench_explain [--rows 200000] [--agnostic-rows 50000]

Two cases, each timed in this one run (the ratios are what to read; the machine may be shared):
- tree: a random forest (scikit-learn) explained by ``shap.TreeExplainer`` (path-dependent);
- model-agnostic: a batch score function explained by the permutation explainer (a 10-row
  seeded background, the fewest model calls shap allows: ``max_evals = 2 * features + 1``).
The peer is shap itself over the whole numpy array in this process; ours is ``ms.explain`` from
the Parquet input to the mean |SHAP| per feature aggregated on Spark (local[*]). Both read the
same rows; the tree case also prints the largest difference between the two results.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = [f"f{i}" for i in range(8)]

TREE_MODEL = """
    import pickle

    # modelop.init
    def begin():
        global MODEL
        with open("model.pkl", "rb") as handle:
            MODEL = pickle.load(handle)

    # modelop.score
    def action(record):
        yield {"probability": float(MODEL.predict_proba([[record[f] for f in FEATURES]])[0, 1])}

    FEATURES = %r
"""

BATCH_FUNCTION = """
    import numpy as np
    import pandas as pd

    # modelop.score
    def action(df: pd.DataFrame) -> pd.DataFrame:
        x = df.to_numpy(dtype=float)
        return pd.DataFrame({"score": np.tanh(x[:, 0] * x[:, 1] + x[:, 2]) + 0.5 * x[:, 3] - x[:, 4] ** 2 + x[:, 5:].sum(axis=1)})
"""


def _agnostic(x: np.ndarray) -> np.ndarray:
    return np.tanh(x[:, 0] * x[:, 1] + x[:, 2]) + 0.5 * x[:, 3] - x[:, 4] ** 2 + x[:, 5:].sum(axis=1)


def _snapshot(folder: Path, source: str, files: dict[str, bytes] | None = None) -> str:
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(textwrap.dedent(source))
    for name, content in (files or {}).items():
        (folder / name).write_bytes(content)
    (folder / "snapshot.json").write_text(json.dumps({"name": folder.name, "reads": FEATURES}))
    return str(folder)


def _ours(spark, data: str, snapshot: str, **settings) -> tuple[float, dict[str, float], pd.DataFrame]:
    from pyspark.sql import functions as F

    import modelop_spark as ms

    began = time.perf_counter()
    explained = ms.explain(spark.read.parquet(data), snapshot, key_columns=["id"], **settings)
    means = explained.agg(*[F.avg(F.abs(f)).alias(f) for f in FEATURES]).collect()[0].asDict()
    seconds = time.perf_counter() - began
    first = ms.explain(spark.read.parquet(data).where(F.col("id") < 50), snapshot, key_columns=["id"], **settings)
    first = first.toPandas().sort_values("id")
    return seconds, means, first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    # shap's permutation explainer costs about 1 ms a row in one process even on a quiet machine:
    # 200k rows is minutes for each side; pass --agnostic-rows 200000 for the full size.
    parser.add_argument("--agnostic-rows", type=int, default=50_000)
    args = parser.parse_args()

    import shap
    from sklearn.ensemble import RandomForestClassifier

    from modelop_spark.runtime.session import get_or_create_session

    rng = np.random.default_rng(0)
    x = rng.normal(size=(max(args.rows, args.agnostic_rows), len(FEATURES)))
    y = (x[:, 0] + x[:, 1] * x[:, 2] - x[:, 3] + 0.5 * rng.normal(size=len(x)) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0, n_jobs=1).fit(x[:20_000], y[:20_000])
    folder = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    tree_snapshot = _snapshot(folder / "tree", TREE_MODEL % FEATURES, {"model.pkl": pickle.dumps(model)})
    agnostic_snapshot = _snapshot(folder / "agnostic", BATCH_FUNCTION)
    spark = get_or_create_session()
    cores = spark.sparkContext.defaultParallelism
    print(f"cores: {cores} (os.cpu_count {os.cpu_count()}), load average before: {os.getloadavg()[0]:.1f}")

    rows = {}
    for name, n in (("tree", args.rows), ("agnostic", args.agnostic_rows)):
        path = str(folder / f"{name}.parquet")
        pd.DataFrame(x[:n], columns=FEATURES).assign(id=np.arange(n)).to_parquet(path, row_group_size=10_000)
        rows[name] = (path, n)

    # tree
    path, n = rows["tree"]
    began = time.perf_counter()
    peer = shap.TreeExplainer(model).shap_values(x[:n], check_additivity=False)[:, :, 1]
    peer_tree = time.perf_counter() - began
    ours_tree, means, first = _ours(spark, path, tree_snapshot, method="tree")
    difference = np.abs(first[FEATURES].to_numpy() - peer[:50]).max()
    mean_difference = max(abs(means[f] - np.abs(peer[:, j]).mean()) for j, f in enumerate(FEATURES))

    # model-agnostic
    path, n = rows["agnostic"]
    evals = 2 * len(FEATURES) + 1
    background = x[:10]
    began = time.perf_counter()
    explainer = shap.PermutationExplainer(_agnostic, shap.maskers.Independent(background, max_samples=10), seed=0)
    explainer(x[:n], max_evals=evals, silent=True)
    peer_agnostic = time.perf_counter() - began
    ours_agnostic, _, _ = _ours(spark, path, agnostic_snapshot, method="permutation", background_size=10, max_evals=evals)

    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"{'case':<34}{'rows':>10}{'shap, one process':>20}{'ours on Spark':>16}{'ratio':>8}")
    for case, n, peer_s, ours_s in (
        ("tree (random forest, 20 x depth 8)", args.rows, peer_tree, ours_tree),
        (f"permutation (batch fn, {evals} evals)", args.agnostic_rows, peer_agnostic, ours_agnostic),
    ):
        print(f"{case:<34}{n:>10,}{peer_s:>18.1f} s{ours_s:>14.1f} s{peer_s / ours_s:>7.2f}x")
    print(f"\ntree: largest |difference| from shap, first 50 rows {difference:.2e}; of mean |SHAP| {mean_difference:.2e}")
    ratio = peer_tree / ours_tree
    print(f"tree ratio {ratio:.2f}x (target >= 1.6 on 2 cores: {'yes' if ratio >= 1.6 else 'no'})")


if __name__ == "__main__":
    main()
