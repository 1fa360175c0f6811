"""Test thresholds as DMN decision tables (the life cycle's name for them).

The evaluation itself lives in ``modelop_spark.evaluation.decision_table``, below this package,
so that a metrics job on the runtime judges a monitor's result with the very same code.
"""

from modelop_spark.evaluation.decision_table import (
    DEFAULT_DMN,
    Judgement,
    Verdict,
    default_dmn,
    evaluate,
    judge,
)

__all__ = ["DEFAULT_DMN", "Judgement", "Verdict", "default_dmn", "evaluate", "judge"]
