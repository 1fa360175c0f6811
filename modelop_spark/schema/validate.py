"""Per-row validation on Spark, in one pass, with the reasons each rejected row broke the schema.

Every rule is a SQL condition with its reason (:mod:`modelop_spark.schema.sql_rules`); valid rows
only evaluate one boolean flag (compiled by Spark), and the reasons array is built for rejected
rows alone. A row is checked on the executors, in one projection, with no Python UDF. Valid rows come out cast to the schema's Spark types; rejected rows come out in the
quarantine shape (:func:`modelop_spark.jobs.quarantine.to_quarantine`). Nothing runs until the
caller acts on a result, except in strict mode, which must count the rejects to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelop_spark.errors import SchemaError
from modelop_spark.jobs.quarantine import Stage, to_quarantine
from modelop_spark.schema import rules
from modelop_spark.schema.model import Schema
from modelop_spark.schema.rules import ExtraFields, Mode
from modelop_spark.schema.sql_rules import SqlChecks, ident

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["MAX_EXAMPLES", "Validation", "ValidationCounts", "reasons_column", "validate"]

MAX_EXAMPLES = 20
_REASONS = "__modelop_reasons"
_CAST = "__modelop_cast_"
_BAD = "__modelop_bad"


@dataclass(frozen=True)
class ValidationCounts:
    rows: int
    rejected: int

    @property
    def valid(self) -> int:
        return self.rows - self.rejected

    def to_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "valid": self.valid, "rejected": self.rejected}


@dataclass(frozen=True)
class Validation:
    """Valid rows (cast to the schema) and, in quarantine mode, the rejected rows in the
    quarantine shape. Both are lazy DataFrames over the same input.

    ``valid`` carries a Spark observation: while the first action on it runs (the output write),
    Spark also counts the rows checked and rejected, so :meth:`counts` and :meth:`rejected_if_any`
    need no extra pass over the data, and a clean input is never scanned a second time for a
    quarantine that would be empty.
    """

    valid: DataFrame
    rejected: DataFrame | None
    mode: str
    stage: str
    observation: Any = field(default=None, compare=False, repr=False)

    def observed_counts(self) -> ValidationCounts | None:
        """The counts seen by the first finished action on ``valid``; None before (never blocks)."""
        if self.observation is None or not observation_done(self.observation):
            return None
        metrics = self.observation.get
        return ValidationCounts(rows=int(metrics["rows"]), rejected=int(metrics["rejected"] or 0))

    def counts(self) -> ValidationCounts:
        """Rows checked and rejected: observed when ``valid`` was already acted on, else counted."""
        observed = self.observed_counts()
        if observed is not None:
            return observed
        valid = self.valid.count()
        rejected = self.rejected.count() if self.rejected is not None else 0
        return ValidationCounts(rows=valid + rejected, rejected=rejected)

    def rejected_if_any(self) -> DataFrame | None:
        """``rejected`` unless the observation already shows there is nothing to quarantine."""
        if self.rejected is None:
            return None
        observed = self.observed_counts()
        if observed is not None and observed.rejected == 0:
            return None
        return self.rejected


def validate(
    df: DataFrame,
    schema: Schema,
    *,
    mode: Mode,
    stage: Stage = "input_schema",
    extra_fields: ExtraFields = "keep",
    key_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
    observe: bool = True,
) -> Validation:
    """Check every row of ``df`` against ``schema``.

    - ``off``: ``df`` is returned untouched.
    - ``strict``: raises :class:`SchemaError` with the count and the first 20 reasons when any
      row breaks the schema (this runs a Spark job); otherwise the cast rows.
    - ``quarantine``: the cast valid rows and the rejected rows; rows in = valid + rejected.

    ``extra_fields`` is the policy for input columns the schema does not name: ``keep`` them
    after the schema's columns, ``drop`` them, or ``reject`` rows with a value in one.
    ``key_columns`` stay on every valid and rejected row even when the schema does not name them.
    ``ignore_columns`` are neither checked nor kept (e.g. a reader's ``_corrupt_record``).
    ``observe`` attaches the counting observation to ``valid``: Spark fills it from the *first*
    action on ``valid``, so switch it off when that action may not read every row (a ``limit``
    sample); :meth:`Validation.counts` then counts with Spark jobs.
    """
    rules.check_options(mode=mode, extra_fields=extra_fields, stage=stage)
    if mode == "off":
        return Validation(valid=df, rejected=None, mode=mode, stage=stage)
    checked = _Checked.of(df, schema, extra_fields=extra_fields, key_columns=key_columns, ignore=ignore_columns)
    rejected = checked.rejected_rows(stage=stage)
    if mode == "strict":
        _raise_if_rejected(rejected, schema=schema, stage=stage)
        return Validation(valid=checked.valid_rows(), rejected=None, mode=mode, stage=stage)
    if not observe:
        return Validation(valid=checked.valid_rows(), rejected=rejected, mode=mode, stage=stage)
    observation, valid = checked.observed_valid_rows()
    return Validation(valid=valid, rejected=rejected, mode=mode, stage=stage, observation=observation)


def reasons_column(df: DataFrame, schema: Schema, *, extra_fields: ExtraFields = "keep") -> Column:
    """The array<string> of reasons for each row of ``df`` (empty when the row is valid)."""
    from pyspark.sql import functions as F

    plan = rules.plan_checks(schema, _columns(df), extra_fields=extra_fields)
    return F.expr(SqlChecks(plan).reasons())


def _columns(df: DataFrame) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in df.schema.fields}


def observation_done(observation: Any) -> bool:
    """Whether an action has filled the observation in, without waiting for one."""
    jo = getattr(observation, "_jo", None)
    if jo is None:
        return False  # Spark Connect, or not attached: the caller counts instead
    try:
        return bool(jo.future().isCompleted())
    except Exception:  # an internal Spark API: if it moves, fall back to counting
        return False


@dataclass(frozen=True)
class _Checked:
    """The input with each field's cast value and one ``bad`` flag, computed in one projection.

    The flag is a plain boolean expression Spark compiles to code, so valid rows cost little to
    check; the reasons array (slower: it builds and filters an array) is only made for the
    rejected rows.
    """

    frame: DataFrame
    checks: SqlChecks
    originals: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...]  # (internal column, output name)

    @classmethod
    def of(
        cls,
        df: DataFrame,
        schema: Schema,
        *,
        extra_fields: ExtraFields,
        key_columns: Sequence[str],
        ignore: Sequence[str],
    ) -> _Checked:
        plan = rules.plan_checks(
            schema, _columns(df), extra_fields=extra_fields, key_columns=key_columns, ignore=ignore
        )
        checks = SqlChecks(plan)
        originals = tuple(c for c in df.columns if c not in ignore)
        outputs: list[tuple[str, str]] = []
        projected = [ident(c) for c in originals]
        for i, fp in enumerate(plan.fields):
            projected.append(f"{checks.value(fp)} AS {_CAST}{i}")
            outputs.append((f"{_CAST}{i}", fp.field.name))
        # Columns outside the schema keep their input order: key columns always, extras if "keep".
        kept = [
            c for c in originals
            if c not in schema and (c in plan.key_columns or (extra_fields == "keep" and c in plan.extras))
        ]  # fmt: skip
        outputs += [(c, c) for c in kept]
        frame = df.selectExpr(*projected, f"{checks.bad()} AS {_BAD}")
        return cls(frame=frame, checks=checks, originals=originals, outputs=tuple(outputs))

    def valid_rows(self, frame: DataFrame | None = None) -> DataFrame:
        return (frame if frame is not None else self.frame).where(f"NOT {_BAD}").selectExpr(
            *[f"{ident(internal)} AS {ident(name)}" for internal, name in self.outputs]
        )

    def observed_valid_rows(self) -> tuple[Any, DataFrame]:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        observation = Observation()
        observed = self.frame.observe(
            observation,
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.col(_BAD).cast("long")).alias("rejected"),
        )
        return observation, self.valid_rows(observed)

    def rejected_rows(self, *, stage: Stage) -> DataFrame:
        rejected = self.frame.where(_BAD).selectExpr(
            *[ident(c) for c in self.originals], f"{self.checks.reasons()} AS {_REASONS}"
        )
        return to_quarantine(rejected, stage=stage, reasons_column=_REASONS, key_columns=self.checks.plan.key_columns)


def _raise_if_rejected(rejected: DataFrame, *, schema: Schema, stage: str) -> None:
    from modelop_spark.jobs.quarantine import REASONS_COLUMN

    examples = rejected.select(REASONS_COLUMN).limit(MAX_EXAMPLES).collect()
    if not examples:
        return
    count = rejected.count() if len(examples) == MAX_EXAMPLES else len(examples)
    shown = "; ".join(", ".join(row[0]) for row in examples)
    what = "input" if stage == "input_schema" else "output"
    raise SchemaError(
        f"{what} schema check ({stage}) failed: {count} row(s) do not match schema {schema.label}; "
        f"first {len(examples)}: {shown}. Fix the data or the schema, or run the job with "
        "quarantine mode to keep the valid rows and set the rejected ones aside"
    )

