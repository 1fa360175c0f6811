"""``options.max_rejected``: the error threshold past which a job that rejected too many rows
ends ERROR and publishes nothing (as Azure ML batch endpoints' ``error_threshold`` and SageMaker's
failed-record limits do). A count (an integer, 0 allows none) or a fraction of the rows in
(a number between 0 and 1). Pure logic; the scoring runner applies it after the one count pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelop_spark.errors import RejectLimitExceeded

__all__ = ["RejectLimit"]


@dataclass(frozen=True)
class RejectLimit:
    value: float  # a count when ``fraction`` is False

    @classmethod
    def from_option(cls, value: float | None) -> RejectLimit | None:
        return None if value is None else cls(float(value))

    @property
    def fraction(self) -> bool:
        return 0 < self.value < 1

    def allowed(self, rows_in: int) -> int:
        """How many rejected rows ``rows_in`` rows may have."""
        return int(self.value * rows_in) if self.fraction else int(self.value)

    def exceeded(self, rows_in: int, rows_rejected: int) -> bool:
        return rows_rejected > self.allowed(rows_in)

    def check(self, rows_in: int, rows_rejected: int, reasons: Sequence[tuple[str, int]]) -> None:
        """Raise RejectLimitExceeded naming the count and the commonest ``(reason, rows)``."""
        if not self.exceeded(rows_in, rows_rejected):
            return
        limit = f"{self.value:g} of the rows in ({self.allowed(rows_in)} of {rows_in})" if self.fraction else f"{self.allowed(rows_in)}"
        commonest = "; ".join(f"{count} x {reason[:160]}" for reason, count in reasons)
        raise RejectLimitExceeded(
            f"{rows_rejected} of {rows_in} rows were rejected, more than options.max_rejected allows ({limit}); "
            f"nothing was published, the rejected rows are in the rejected output. Commonest reasons: {commonest or 'none recorded'}"
        )
