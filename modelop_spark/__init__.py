"""modelop_spark: run governed ModelOp model snapshots as batch jobs on Apache Spark."""
