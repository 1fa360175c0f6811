"""Customer churn: a ModelOp-style model trained by a training job.

train(df) gets the labeled data as a pandas DataFrame, writes model.pkl into its working
directory (the new snapshot) and returns its metrics; init/score use that artifact.
"""

import os
import pickle

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

FEATURES = ["tenure", "monthly_charges"]
LABEL = "churned"
MODEL = None


# modelop.init
def begin():
    global MODEL
    # init also runs before train, when there is no trained artifact yet.
    if os.path.exists("model.pkl"):
        with open("model.pkl", "rb") as handle:
            MODEL = pickle.load(handle)


# modelop.score
def action(record):
    features = pd.DataFrame([{name: record[name] for name in FEATURES}])
    probability = float(MODEL.predict_proba(features)[0, 1])
    yield {"churn_probability": probability, "churn": int(probability >= 0.5)}


# modelop.train
def train(df):
    model = LogisticRegression(max_iter=1000).fit(df[FEATURES], df[LABEL])
    with open("model.pkl", "wb") as handle:  # relative path: lands in the new snapshot
        pickle.dump(model, handle)
    probabilities = model.predict_proba(df[FEATURES])[:, 1]
    return {
        "auc": roc_auc_score(df[LABEL], probabilities),
        "accuracy": accuracy_score(df[LABEL], probabilities >= 0.5),
        "rows": len(df),
    }
