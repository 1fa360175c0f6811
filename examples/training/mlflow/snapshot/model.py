"""Customer churn trained into an MLflow model.

train(df) returns the fitted scikit-learn estimator: the training job saves it as an MLflow model
in mlflow_model/ (skops format: loading it does not unpickle code), logs the run to MLflow and
registers a model version when options.mlflow is set. Score loads the pyfunc once per worker.
"""

import os

import mlflow.pyfunc
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

FEATURES = ["tenure", "monthly_charges"]
LABEL = "churned"
MODEL = None


# modelop.init
def begin():
    global MODEL
    if os.path.isdir("mlflow_model"):  # absent before the first training
        MODEL = mlflow.pyfunc.load_model("mlflow_model")


# modelop.score
def action(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"churn": MODEL.predict(df[FEATURES])})


# modelop.train
def train(df):
    model = LogisticRegression(max_iter=1000).fit(df[FEATURES], df[LABEL])
    yield {"accuracy": accuracy_score(df[LABEL], model.predict(df[FEATURES]))}
    yield model
