"""A ModelOp Center-style PySpark model, written as ModelOp's public PySpark examples are: one
session made at import, functions in the PySpark convention that read and write with it, Spark's
default error-if-exists writes, and SPARK.stop() at the end of every function."""

import json

from pyspark.ml import Pipeline
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import MinMaxScaler, VectorAssembler
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

SPARK = SparkSession.builder.appName("modelop-corpus").getOrCreate()


def parse_assets(external_inputs, external_outputs):
    """As ModelOp's examples check their assets: exactly one input and one output."""
    if len(external_inputs) != 1:
        raise ValueError(f"Only one input asset should be provided, got {len(external_inputs)}")
    if len(external_outputs) != 1:
        raise ValueError(f"Only one output asset should be provided, got {len(external_outputs)}")
    return external_inputs[0]["fileUrl"], external_outputs[0]["fileUrl"]


def read_csv(url):
    return SPARK.read.format("csv").option("header", True).option("inferSchema", True).load(url)


# modelop.init
def begin():
    pass


# modelop.score
def score(external_inputs, external_outputs, external_model_assets):
    input_url, output_url = parse_assets(external_inputs, external_outputs)
    # an older model's habit: its assets looked up by file name
    with open(external_model_assets["threshold.json"]["fileUrl"].replace("file://", "")) as handle:
        threshold = json.load(handle)["threshold"]
    scored = read_csv(input_url).select("id", (F.col("score") >= threshold).cast("int").alias("prediction"))
    scored.write.parquet(output_url)  # Spark's default mode: error if it exists
    SPARK.stop()


# modelop.metrics
def metrics(external_inputs, external_outputs, external_model_assets):
    input_url, output_url = parse_assets(external_inputs, external_outputs)
    df = read_csv(input_url).withColumn("label", F.col("label").cast("double"))
    auc = BinaryClassificationEvaluator(rawPredictionCol="score", labelCol="label").evaluate(df)
    SPARK.createDataFrame([(float(auc), df.count())], "auc double, rows long").coalesce(1).write.json(output_url)
    SPARK.stop()  # and returns None: the metrics are in the output


# modelop.train
def train(external_inputs, external_outputs, external_model_assets):
    input_url, output_url = parse_assets(external_inputs, external_outputs)
    df = read_csv(input_url)
    pipeline = Pipeline(stages=[  # a light estimator: the corpus is about conventions, not learning
        VectorAssembler(inputCols=["x1", "x2"], outputCol="raw"),
        MinMaxScaler(inputCol="raw", outputCol="features"),
    ])
    pipeline.fit(df).save(output_url)  # Spark ML's save: error if it exists
    SPARK.stop()
