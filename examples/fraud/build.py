"""Build the fraud example: synthetic transactions, a trained classifier, the snapshot manifest.

    python examples/fraud/build.py [--rows N] [--out DIR]

Deterministic for a given seed. Writes DIR/data/transactions.csv (with a few rows that lack the
amount, so a run shows rejected rows kept with their reason), DIR/data/labeled.csv, and the
snapshot's model.pkl and snapshot.json (with sha256 checksums).
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelop_spark.commands.snapshot import build_manifest

HERE = Path(__file__).resolve().parent
CATEGORIES = ["grocery", "fuel", "travel", "electronics", "restaurants", "online_services", "jewelry"]
AGE_GROUPS = ["18-25", "26-40", "41-65", "65+"]
NUMERIC = ["amount", "hour", "distance_from_home_km", "is_online", "card_age_days", "transactions_last_24h"]
MISSING_AMOUNT_ROWS = 3
DESCRIPTION = "Credit-card fraud classifier (logistic regression on synthetic transactions)"
SCHEMAS = {"input": "input_schema.avsc", "output": "output_schema.avsc"}


def transactions(rows: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    category = rng.choice(CATEGORIES, size=rows, p=[0.3, 0.15, 0.08, 0.12, 0.2, 0.1, 0.05])
    amount = np.round(rng.lognormal(mean=3.6, sigma=1.0, size=rows), 2)
    hour = rng.integers(0, 24, size=rows)
    distance = np.round(rng.exponential(scale=12.0, size=rows), 2)
    online = rng.binomial(1, 0.35, size=rows)
    card_age = rng.integers(1, 3650, size=rows)
    recent = rng.poisson(2.0, size=rows)
    risky = np.isin(category, ["electronics", "jewelry", "online_services"]).astype(float)
    logit = (
        -6.0
        + 0.9 * np.log1p(amount) / 2
        + 1.2 * risky
        + 0.8 * ((hour < 5) | (hour > 22))
        + 0.02 * distance
        + 0.7 * online
        - 0.0006 * card_age
        + 0.25 * recent
    )
    fraud = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    return pd.DataFrame(
        {
            "transaction_id": [f"tx-{seed}-{i:07d}" for i in range(rows)],
            "amount": amount,
            "merchant_category": category,
            "hour": hour.astype("int32"),
            "distance_from_home_km": distance,
            "is_online": online.astype("int32"),
            "card_age_days": card_age.astype("int32"),
            "transactions_last_24h": recent.astype("int32"),
            "customer_age_group": rng.choice(AGE_GROUPS, size=rows),
            "is_fraud": fraud.astype("int32"),
        }
    )


def train(frame: pd.DataFrame) -> Pipeline:
    features = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["merchant_category"]),
            ("numbers", StandardScaler(), NUMERIC),
        ]
    )
    model = Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=500, class_weight="balanced"))])
    return model.fit(frame, frame["is_fraud"])


def build(out: Path = HERE, *, rows: int = 20_000, seed: int = 7) -> Path:
    """Write the example under ``out`` (its snapshot folder and data); return the snapshot path."""
    snapshot = out / "snapshot"
    if out != HERE:
        shutil.copytree(HERE / "snapshot", snapshot, dirs_exist_ok=True, ignore=shutil.ignore_patterns("model.pkl", "snapshot.json", "__pycache__"))
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    model = train(transactions(50_000, seed=seed))
    with (snapshot / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)
    scoring = transactions(rows, seed=seed + 1)
    scoring.loc[: MISSING_AMOUNT_ROWS - 1, "amount"] = np.nan
    scoring.drop(columns=["is_fraud"]).to_csv(data / "transactions.csv", index=False)
    transactions(rows, seed=seed + 2).to_csv(data / "labeled.csv", index=False)
    # What `modelop-spark snapshot build` writes: the source, the version, a sha256 per file.
    (snapshot / "snapshot.json").write_text(json.dumps({"tags": ["cc-fraud"], "schemas": SCHEMAS}) + "\n")
    manifest = build_manifest(snapshot, name="cc-fraud", version="1.0.0", description=DESCRIPTION)
    (snapshot / "snapshot.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    snapshot = build(args.out, rows=args.rows)
    print(f"example snapshot: {snapshot}")


if __name__ == "__main__":
    main()
