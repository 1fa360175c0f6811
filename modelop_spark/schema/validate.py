"""Per-row validation on Spark, in one pass, with the reasons each rejected row broke the schema.

Every rule is a SQL condition with its reason (:mod:`modelop_spark.schema.sql_rules`); valid rows
only evaluate one boolean flag (compiled by Spark, no Python UDF), and the reasons and record are
built for rejected rows alone. Valid rows come out cast to the schema's Spark types; rejected rows
in the quarantine shape of :mod:`modelop_spark.quarantine`. Three ways to consume a check:
filtered (``valid``/``rejected``, counted by an observation), marked in band (``in_band``, for a
pass that sets rejected rows aside itself), or counted by the caller's own pass
(``rejected_condition``/``valid_given``). Nothing runs until the caller acts on a result, except
in strict mode, which must count the rejects to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from modelop_spark.errors import SchemaError
from modelop_spark.quarantine import (
    REASONS_COLUMN,
    RECORD_COLUMN,
    REJECTED_MARK,
    STAGE_COLUMN,
    Stage,
)
from modelop_spark.schema import rules
from modelop_spark.schema.model import Schema
from modelop_spark.schema.rules import ExtraFields, Mode
from modelop_spark.schema.sql_rules import SqlChecks, ident, sql_literal
from modelop_spark.spark_compat import functions_for, observation_for

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["MAX_EXAMPLES", "EarlierRejects", "Validation", "ValidationCounts", "reasons_column", "validate"]

MAX_EXAMPLES = 20
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
class RawLines:
    """The columns :func:`modelop_spark.schema.reading.parse_json_lines` adds to JSON Lines read
    as text: each line's keys the schema does not name, and the line itself (the record a
    rejected row keeps)."""

    unknown_keys: str
    line: str


@dataclass(frozen=True)
class EarlierRejects:
    """The rows an earlier stage rejected, as SQL over the validated frame's own columns."""

    stage: Stage
    condition: str  # true on a row that stage rejected
    reasons: str  # its reasons, array<string>
    record: str  # its original record, as text


@dataclass(frozen=True)
class Validation:
    """Valid rows (cast to the schema) and, in quarantine mode, the rejected rows in the
    quarantine shape. Both are lazy DataFrames over the same input.

    ``valid`` carries a Spark observation: while the first action on it runs (the output write),
    Spark also counts the rows checked and rejected, so :meth:`counts` and :meth:`rejected_if_any`
    need no extra pass over the data, and a clean input is never scanned a second time for a
    quarantine that would be empty. ``rejected`` and ``unobserved`` are planned on first use:
    a clean job never pays for planning a quarantine it does not write.
    """

    valid: DataFrame
    mode: str
    stage: str
    observation: Any = field(default=None, compare=False, repr=False)
    checked: _Checked | None = field(default=None, compare=False, repr=False)

    @cached_property
    def rejected(self) -> DataFrame | None:
        """The rejected rows in the quarantine shape; None unless the mode is ``quarantine``."""
        if self.mode != "quarantine" or self.checked is None:
            return None
        return self.checked.rejected_rows(stage=self.stage)  # type: ignore[arg-type]

    @cached_property
    def unobserved(self) -> DataFrame:
        """``valid`` without the observation, for a sample or preview that must not fill it."""
        if self.observation is None or self.checked is None:
            return self.valid
        return self.checked.valid_rows()

    def in_band(self, earlier: EarlierRejects | None = None) -> DataFrame:
        """Every row, for a pass that sets the rejected ones aside itself (the scoring job's model
        pass): the valid rows' columns plus REJECTED_MARK (:mod:`modelop_spark.quarantine`),
        null on a valid row and, on a rejected one, its stage, reasons and original record. One
        pass over the input then both scores and quarantines. ``earlier`` folds in the rows an
        earlier stage rejected (malformed lines at ``read``)."""
        if self.mode != "quarantine" or self.checked is None:
            raise SchemaError(f"in_band() needs quarantine mode, not {self.mode!r}")
        return self.checked.in_band_rows(stage=self.stage, earlier=earlier)  # type: ignore[arg-type]

    @property
    def rejected_condition(self) -> str:
        """SQL over the checked frame's columns, true on a row this validation rejects: for a
        pass that counts the rejected rows itself (see :meth:`valid_given`)."""
        if self.checked is None:
            raise SchemaError(f"rejected_condition needs quarantine mode, not {self.mode!r}")
        return self.checked.bad

    def valid_given(self, rejected: int) -> DataFrame:
        """The valid rows, once a pass has counted with :attr:`rejected_condition` how many rows
        break the schema: with none, the cast rows go on unfiltered (no filter, no observation)."""
        if self.checked is None:
            return self.valid
        return self.checked.cast_rows() if rejected == 0 else self.checked.valid_rows()

    def raise_for_rejected(self) -> None:
        """Strict mode's failure, for a caller that counted the rejected rows itself: the count
        and the first examples in one :class:`SchemaError` (no-op when no row is rejected)."""
        if self.checked is not None:
            rejected = self.checked.rejected_rows(stage=self.stage)  # type: ignore[arg-type]
            _raise_if_rejected(rejected, schema_label=self.checked.schema_label, stage=self.stage)

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
    raw_lines: RawLines | None = None,
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
    ``raw_lines``: the input is JSON Lines read as text; ``extra_fields="reject"`` then rejects a
    line with a key the schema does not name, and a rejected row's record is its raw line.
    ``observe`` attaches the counting observation to ``valid``: Spark fills it from the *first*
    action on ``valid``, so switch it off when that action may not read every row (a ``limit``
    sample); :meth:`Validation.counts` then counts with Spark jobs.
    """
    rules.check_options(mode=mode, extra_fields=extra_fields, stage=stage)
    if mode == "off":
        return Validation(valid=df, mode=mode, stage=stage)
    checked = _Checked.of(df, schema, extra_fields=extra_fields, key_columns=key_columns, ignore=ignore_columns, raw_lines=raw_lines)
    if mode == "strict":
        _raise_if_rejected(checked.rejected_rows(stage=stage), schema_label=schema.label, stage=stage)
        return Validation(valid=checked.valid_rows(), mode=mode, stage=stage)
    if not observe:
        return Validation(valid=checked.valid_rows(), mode=mode, stage=stage, checked=checked)
    observation, valid = checked.observed_valid_rows()
    return Validation(valid=valid, mode=mode, stage=stage, observation=observation, checked=checked)


def reasons_column(df: DataFrame, schema: Schema, *, extra_fields: ExtraFields = "keep") -> Column:
    """The array<string> of reasons for each row of ``df`` (empty when the row is valid)."""
    F = functions_for(df)

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
    check; the reasons and the record are only built for rejected rows.
    """

    frame: DataFrame
    checks: SqlChecks
    originals: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...]  # (internal column, output name)
    bad: str  # SQL: the row breaks a rule
    reasons: str  # SQL: array<string> of the rules it breaks
    record: str  # SQL: the original record, as text
    schema_label: str = ""
    unchanged: DataFrame | None = None  # the input itself, when casting changes no column

    @classmethod
    def of(
        cls,
        df: DataFrame,
        schema: Schema,
        *,
        extra_fields: ExtraFields,
        key_columns: Sequence[str],
        ignore: Sequence[str],
        raw_lines: RawLines | None = None,
    ) -> _Checked:
        if raw_lines is not None:
            ignore = (*ignore, raw_lines.unknown_keys, raw_lines.line)
        plan = rules.plan_checks(
            schema, _columns(df), extra_fields=extra_fields, key_columns=key_columns, ignore=ignore
        )
        checks = SqlChecks(plan)
        originals = tuple(c for c in df.columns if c not in ignore)
        bad, reasons = checks.bad(), checks.reasons()
        record = f"to_json(struct({', '.join(ident(c) for c in originals)}))"
        if raw_lines is not None:
            record = ident(raw_lines.line)
            if extra_fields == "reject":
                keys = ident(raw_lines.unknown_keys)
                suffix = sql_literal(rules.extra_reason(""))
                bad = f"({bad} OR coalesce(size({keys}) > 0, false))"
                reasons = f"concat({reasons}, coalesce(transform({keys}, k -> concat(k, {suffix})), array()))"
        outputs: list[tuple[str, str]] = []
        projected = [ident(c) for c in df.columns]  # ignored ones too: an earlier stage's markers
        for i, fp in enumerate(plan.fields):
            projected.append(f"{checks.value(fp)} AS {_CAST}{i}")
            outputs.append((f"{_CAST}{i}", fp.field.name))
        # Columns outside the schema keep their input order: key columns always, extras if "keep".
        kept = [
            c for c in originals
            if c not in schema and (c in plan.key_columns or (extra_fields == "keep" and c in plan.extras))
        ]  # fmt: skip
        outputs += [(c, c) for c in kept]
        frame = df.selectExpr(*projected, f"{bad} AS {_BAD}")
        as_is = all(fp.present and checks.value(fp) == ident(fp.field.name) for fp in plan.fields)
        unchanged = df if as_is and [name for _, name in outputs] == list(df.columns) else None
        return cls(
            frame=frame, checks=checks, originals=originals, outputs=tuple(outputs),
            bad=bad, reasons=reasons, record=record, schema_label=schema.label, unchanged=unchanged,
        )  # fmt: skip

    def cast_rows(self) -> DataFrame:
        """Every row cast to the schema, unfiltered: for when a pass already found none rejected
        (the input itself when the cast changes nothing: a smaller plan to write)."""
        if self.unchanged is not None:
            return self.unchanged
        return self.frame.selectExpr(*[f"{ident(internal)} AS {ident(name)}" for internal, name in self.outputs])

    def valid_rows(self, frame: DataFrame | None = None) -> DataFrame:
        return (frame if frame is not None else self.frame).where(f"NOT {_BAD}").selectExpr(
            *[f"{ident(internal)} AS {ident(name)}" for internal, name in self.outputs]
        )

    def observed_valid_rows(self) -> tuple[Any, DataFrame]:
        F = functions_for(self.frame)
        observation = observation_for(self.frame)
        observed = self.frame.observe(
            observation,
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.col(_BAD).cast("long")).alias("rejected"),
        )
        return observation, self.valid_rows(observed)

    def in_band_rows(self, *, stage: Stage, earlier: EarlierRejects | None = None) -> DataFrame:
        # Only a rejected row pays for its reasons and record: CASE evaluates them for it alone.
        cases = [(_BAD, stage, self.reasons, self.record)]
        if earlier is not None:
            cases.insert(0, (earlier.condition, earlier.stage, earlier.reasons, earlier.record))
        mark = " ".join(
            f"WHEN {condition} THEN to_json(named_struct('stage', {sql_literal(name)}, 'reasons', {reasons}, 'record', {text}))"
            for condition, name, reasons, text in cases
        )
        return self.frame.selectExpr(
            *[f"{ident(internal)} AS {ident(name)}" for internal, name in self.outputs],
            f"CASE {mark} END AS {ident(REJECTED_MARK)}",
        )

    def rejected_rows(self, *, stage: Stage) -> DataFrame:
        """The rejected rows in the one quarantine shape (:mod:`modelop_spark.quarantine`)."""
        return self.frame.where(_BAD).selectExpr(
            *[ident(k) for k in self.checks.plan.key_columns],
            f"{sql_literal(stage)} AS {STAGE_COLUMN}",
            f"CAST({self.reasons} AS array<string>) AS {REASONS_COLUMN}",
            f"{self.record} AS {RECORD_COLUMN}",
        )


def _raise_if_rejected(rejected: DataFrame, *, schema_label: str, stage: str) -> None:
    examples = rejected.select(REASONS_COLUMN).limit(MAX_EXAMPLES).collect()
    if not examples:
        return
    count = rejected.count() if len(examples) == MAX_EXAMPLES else len(examples)
    shown = "; ".join(", ".join(row[0]) for row in examples)
    what = "input" if stage == "input_schema" else "output"
    raise SchemaError(
        f"{what} schema check ({stage}) failed: {count} row(s) do not match schema {schema_label}; "
        f"first {len(examples)}: {shown}. Fix the data or the schema, or run the job with "
        "quarantine mode to keep the valid rows and set the rejected ones aside"
    )

