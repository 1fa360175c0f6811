"""Credit-card fraud classifier, written as a ModelOp Center model.

The smart tags name the functions; the runtime calls begin() once per Python worker, then
action() with a pandas DataFrame per Arrow batch. model.pkl sits beside this file and is read by
relative path, as ModelOp models do.
"""

import pickle

import pandas as pd

# modelop.schema.0: input_schema.avsc
# modelop.schema.1: output_schema.avsc

FEATURES = [
    "amount",
    "merchant_category",
    "hour",
    "distance_from_home_km",
    "is_online",
    "card_age_days",
    "transactions_last_24h",
]
MODEL = None
THRESHOLD = 0.5  # a job can set parameters.threshold


# modelop.init
def begin(job=None):
    global MODEL, THRESHOLD
    with open("model.pkl", "rb") as handle:
        MODEL = pickle.load(handle)
    parameters = (job or {}).get("parameters") or (job or {}).get("jobParameters") or {}
    THRESHOLD = float(parameters.get("threshold", THRESHOLD))


# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    missing = df[FEATURES].isna().any(axis=1)
    if missing.any():
        first = df.loc[missing].iloc[0]
        raise ValueError(f"transaction {first['transaction_id']} lacks a feature value")
    probability = MODEL.predict_proba(df[FEATURES])[:, 1]
    return pd.DataFrame(
        {
            "transaction_id": df["transaction_id"].to_numpy(),
            "fraud_probability": probability,
            "is_fraud_predicted": (probability >= THRESHOLD).astype("int32"),
        }
    )


# modelop.metrics
def metrics(df: pd.DataFrame):
    from sklearn.metrics import confusion_matrix, f1_score, recall_score, roc_auc_score

    probability = MODEL.predict_proba(df[FEATURES])[:, 1]
    predicted = (probability >= THRESHOLD).astype(int)
    yield {
        "auc": float(roc_auc_score(df["is_fraud"], probability)),
        "f1": float(f1_score(df["is_fraud"], predicted)),
        "tpr": float(recall_score(df["is_fraud"], predicted)),  # what the default life-cycle thresholds read
        "confusion_matrix": confusion_matrix(df["is_fraud"], predicted).tolist(),
    }
