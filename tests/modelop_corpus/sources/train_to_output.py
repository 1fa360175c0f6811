"""A ModelOp PySpark training model: it fits a Spark ML pipeline and saves it to its output asset
(Spark ML's save: error if it exists); the job's product is that folder, not a snapshot."""

from pyspark.ml import Pipeline
from pyspark.ml.feature import MinMaxScaler, VectorAssembler
from pyspark.sql import SparkSession


# modelop.train
def train(external_inputs, external_outputs, external_model_assets):
    spark = SparkSession.builder.getOrCreate()
    df = spark.read.option("header", True).option("inferSchema", True).csv(external_inputs[0]["fileUrl"])
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["x1", "x2"], outputCol="raw"), MinMaxScaler(inputCol="raw", outputCol="features")])
    pipeline.fit(df).save(external_outputs[0]["fileUrl"])
    spark.stop()
