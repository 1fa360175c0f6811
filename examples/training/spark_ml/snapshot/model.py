"""Customer churn with a Spark ML pipeline: trained and scored on Spark DataFrames.

train(df) returns the fitted PipelineModel; the training job saves it into the new snapshot as
spark_model/ (PipelineModel.save). init loads it back by absolute path: Spark's JVM resolves a
relative path against its own start directory, not the model's working directory.
"""

import os

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

FEATURES = ["tenure", "monthly_charges"]
LABEL = "churned"
MODEL = None


# modelop.init
def begin():
    global MODEL
    if os.path.isdir("spark_model"):  # absent before the first training
        MODEL = PipelineModel.load(os.path.abspath("spark_model"))


# modelop.score
def action(df: DataFrame) -> DataFrame:
    scored = MODEL.transform(df)
    return scored.select(
        "customer_id",
        vector_to_array("probability")[1].alias("churn_probability"),
        F.col("prediction").cast("int").alias("churn"),
    )


# modelop.train
def train(df: DataFrame):
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURES, outputCol="features"),
            LogisticRegression(labelCol=LABEL, maxIter=50),
        ]
    )
    model = pipeline.fit(df.withColumn(LABEL, F.col(LABEL).cast("double")))
    evaluator = BinaryClassificationEvaluator(labelCol=LABEL)
    yield {"auc": evaluator.evaluate(model.transform(df.withColumn(LABEL, F.col(LABEL).cast("double"))))}
    yield model
