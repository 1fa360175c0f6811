"""The extension point for data: a reader or writer per asset kind.

Life cycle: every method here runs on the driver. ``read`` returns a lazy DataFrame whose work
runs in Spark tasks; ``write`` runs the Spark job that writes, then commits once. Anything a
reader or writer hands to tasks (a Python data source, a UDF) must be picklable and must not hold
the SparkSession.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelop_spark.assets.spec import AssetSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType


@dataclass(frozen=True)
class WrittenAsset:
    """Where an output went. ``rows`` is filled in by the runner, which counted them already."""

    name: str | None
    kind: str
    location: str | None
    format: str | None = None
    rows: int | None = None
    records: list[dict[str, Any]] | None = None
    link: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "location": self.location}
        for key in ("format", "rows", "records", "link"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.details:
            out["details"] = dict(self.details)
        return out


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class StagedOutput:
    """An output written where no reader sees it yet. ``commit`` makes it visible in one step;
    ``abort`` removes it. A job stages every output before committing any."""

    written: WrittenAsset
    commit: Callable[[], None] = _nothing
    abort: Callable[[], None] = _nothing
    # File-system outputs: plan this output's share of the job's one commit transaction (its
    # publications: one per target; a metrics document and its report are two), instead of
    # committing on its own (``assets.commit.commit_staged_outputs``).
    prepare: Callable[[], Sequence[Any]] | None = None


class AssetReader(ABC):
    """Reads one kind of asset into a DataFrame (driver side)."""

    @abstractmethod
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        """True when this reader handles ``asset`` in this session."""

    @abstractmethod
    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        """A DataFrame over the asset; with ``schema``, read with it (no inference pass)."""

    def reads_text_lines(self, asset: AssetSpec, spark: SparkSession) -> bool:
        """True when Spark's own ``text`` source reads this asset line by line here (the schema
        checks read JSON Lines as text to see keys the schema does not name)."""
        return False


class AssetWriter(ABC):
    """Writes a DataFrame to one kind of asset (driver side), staged and committed once."""

    @abstractmethod
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        """True when this writer handles ``asset`` in this session."""

    @abstractmethod
    def stage(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
        """Write ``df`` out of sight, to be made visible by ``commit`` in one step (``abort``
        removes it). A job stages every output before committing any."""

    def write_text(self, spark: SparkSession, asset: AssetSpec, url: str, text: str) -> str:
        """Write one small text object at ``url`` beside the output (the job's result record);
        returns where it went. Only writers of file outputs have one."""
        raise NotImplementedError(f"output {asset.label}: no result file beside a {asset.kind} output")

    def write(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> WrittenAsset:
        """Stage and commit at once. On failure nothing is visible at the target; a rerun with
        the same ``job_id`` replaces that job's own output and never adds a second copy."""
        staged = self.stage(df, asset, job_id=job_id)
        staged.commit()
        return staged.written
