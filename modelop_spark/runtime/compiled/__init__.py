"""Compiled scoring: a scikit-learn model as Spark column expressions, no Python worker.

``decide.choose_scoring_path`` is the one decision point (called by ``runtime.apply``);
``source`` finds the model in a snapshot, ``translate`` turns it into Spark SQL through orbital,
``spark_plan`` applies it with ``select``, ``check`` compares it with the Python path.
"""

from modelop_spark.runtime.compiled.decide import (
    SCORING_PATHS,
    PathChoice,
    check_scoring_path,
    choose_scoring_path,
)

__all__ = ["SCORING_PATHS", "PathChoice", "check_scoring_path", "choose_scoring_path"]
