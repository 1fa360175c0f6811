"""Schema checking inside a scoring job: what the runner calls, in order.

    checks = SchemaChecks.for_job(spec, snapshot)       # driver: schemas loaded, options checked
    inputs = checks.read_input(spark, source)           # read (CSV/JSON with the schema) + input check
    ... apply the model to inputs.valid ...
    outputs = checks.check_output(model_outputs)        # output check
    inputs.rejected_parts() + outputs.rejected_parts()  # quarantine frames (non-empty ones only)

Counting: rows rejected on input are counted by Spark observations while the model pass runs
(no extra pass over a clean input); the driver's sample run reads an unobserved copy. Output
rejections are counted over the runner's cached scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from modelop_spark.errors import SchemaError
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.model import Schema
from modelop_spark.schema.reading import SCHEMA_READ_FORMATS, read_plan, split_malformed
from modelop_spark.schema.validate import MAX_EXAMPLES, Validation, validate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["CheckedInput", "CheckedOutput", "SchemaChecks"]


@dataclass(frozen=True)
class CheckedInput:
    """The input after reading and checking, all lazy.

    ``valid`` carries Spark observations that count the rows each stage rejects while the model
    pass over ``valid`` runs, so a clean input is read once; ``sample`` is the same rows without
    them, for the driver's sample run (an action on ``valid`` itself would fill the observations
    with the sample's counts). Call :meth:`resolve` after the first action on ``valid``."""

    valid: DataFrame
    sample: DataFrame | None = None
    stages: tuple[tuple[str, DataFrame, Callable[[], int]], ...] = ()  # stage, rows, count

    def resolve(self) -> tuple[dict[str, DataFrame], dict[str, int]]:
        """Quarantine rows and counts per stage, for stages that rejected any."""
        rejected: dict[str, DataFrame] = {}
        counts: dict[str, int] = {}
        for stage, rows, count in self.stages:
            if n := count():
                rejected[stage], counts[stage] = rows, n
        return rejected, counts


@dataclass(frozen=True)
class CheckedOutput:
    """Valid outputs (observed: the first write counts the rejected ones) and the rejected rows.
    Call :meth:`rows_rejected` after that write."""

    valid: DataFrame
    rejected: DataFrame | None = None
    count: Callable[[], int] = lambda: 0

    def rows_rejected(self) -> int:
        return self.count()


@dataclass(frozen=True)
class SchemaChecks:
    input_mode: str = "off"
    output_mode: str = "off"
    input_schema: Schema | None = None
    output_schema: Schema | None = None
    extra_fields: str = "keep"
    key_columns: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def for_job(cls, spec: Any, snapshot: Any) -> SchemaChecks:
        """Load the schemas a job's checks need, before any Spark work; a missing or broken
        schema is a :class:`SchemaError` naming it."""
        options = spec.options
        modes = {"input": options.input_schema_check, "output": options.output_schema_check}
        schemas: dict[str, Schema | None] = {}
        for which, mode in modes.items():
            schemas[which] = _job_schema(spec, snapshot, which) if mode != "off" else None
            if mode != "off" and schemas[which] is None:
                raise SchemaError(
                    f"{which} schema checking is on ({which}_schema_check={mode}) but neither the job nor snapshot "
                    f"{snapshot.name} has an {which} schema; add one (snapshot.json \"schemas\", a "
                    f"'# modelop.schema.{0 if which == 'input' else 1}:' tag, or the job's {which}Schema) or switch the check off"
                )
        return cls(
            input_mode=modes["input"],
            output_mode=modes["output"],
            input_schema=schemas["input"],
            output_schema=schemas["output"],
            extra_fields=options.extra_fields,
            key_columns=tuple(options.key_columns),
        )

    @property
    def active(self) -> bool:
        return self.input_mode != "off" or self.output_mode != "off"

    def read_input(self, spark: Any, source: Any) -> CheckedInput:
        """Read the input asset; with input checking, CSV/JSON files are read with the schema
        (malformed lines quarantined at stage ``read``) and every row is checked."""
        from modelop_spark.assets import read_asset

        if self.input_mode == "off" or self.input_schema is None:
            return CheckedInput(valid=read_asset(spark, source))
        stages: list[tuple[str, DataFrame, Callable[[], int]]] = []
        fmt = (getattr(source, "format", None) or "").lower()
        if source.kind == "file" and fmt in SCHEMA_READ_FORMATS:
            header = None
            if fmt == "csv" and str(source.options.get("header", "true")).lower() == "true":
                # The header only: Spark reads the first line when it does not infer types.
                header = read_asset(spark, replace(source, options={**source.options, "inferSchema": "false"})).columns
            plan = read_plan(self.input_schema, format=fmt, options=source.options, columns=header)
            frame = read_asset(spark, replace(source, options={**source.options, **plan.options}), schema=plan.struct)
            keys = [k for k in self.key_columns if k in self.input_schema]
            split = split_malformed(frame, format=fmt, corrupt_column=plan.corrupt_column, key_columns=keys, observe=self.input_mode != "strict")
            if self.input_mode == "strict":
                if malformed := split.malformed_count():
                    _raise_malformed(split.malformed, malformed, source_label=source.label)
            else:
                stages.append(("read", _with_all_keys(split.malformed, self.key_columns), split.malformed_count))
            unobserved = split_malformed(frame, format=fmt, corrupt_column=plan.corrupt_column, key_columns=keys, observe=False).good
            frame = split.good
        else:
            frame = read_asset(spark, source)
            unobserved = frame
        checked = self._validate(frame, self.input_schema, mode=self.input_mode, stage="input_schema", observe=True)
        if checked.rejected is not None:
            stages.append(("input_schema", checked.rejected, lambda: checked.counts().rejected))
        sample = self._validate(unobserved, self.input_schema, mode="quarantine", stage="input_schema").valid
        return CheckedInput(valid=checked.valid, sample=sample, stages=tuple(stages))

    def check_output(self, outputs: DataFrame) -> CheckedOutput:
        if self.output_mode == "off" or self.output_schema is None:
            return CheckedOutput(valid=outputs)
        checked = self._validate(outputs, self.output_schema, mode=self.output_mode, stage="output_schema", observe=True)
        if checked.rejected is None:
            return CheckedOutput(valid=checked.valid)
        return CheckedOutput(valid=checked.valid, rejected=checked.rejected, count=lambda: checked.counts().rejected)

    def _validate(self, df: DataFrame, schema: Schema, *, mode: str, stage: str, observe: bool = False) -> Validation:
        return validate(
            df,
            schema,
            mode=mode,  # type: ignore[arg-type]
            stage=stage,  # type: ignore[arg-type]
            extra_fields=self.extra_fields,  # type: ignore[arg-type]
            key_columns=[k for k in self.key_columns if k in df.columns],
            observe=observe,
        )


def _job_schema(spec: Any, snapshot: Any, which: str) -> Schema | None:
    """The job's own schema document wins over the snapshot's file (ModelOp jobs carry the
    model's registered schemas in their metadata)."""
    document = getattr(spec.model, f"{which}_schema", None)
    if document:
        return load_schema(document)
    path = snapshot.schema_path(which)
    return load_schema(path) if path is not None else None


def _with_all_keys(malformed: DataFrame, key_columns: Sequence[str]) -> DataFrame:
    """Key columns the schema does not name cannot be parsed from a malformed line: null."""
    from pyspark.sql import functions as F

    missing = [k for k in key_columns if k not in malformed.columns]
    if not missing:
        return malformed
    keyed = malformed.select(*[F.lit(None).cast("string").alias(k) for k in missing], "*")
    ordered = [*key_columns, *[c for c in malformed.columns if c not in key_columns]]
    return keyed.select(*ordered)


def _raise_malformed(malformed: DataFrame, count: int, *, source_label: str) -> None:
    lines = [row["_record"] for row in malformed.select("_record").limit(MAX_EXAMPLES).collect()]
    shown = "; ".join(repr(line) for line in lines)
    raise SchemaError(
        f"input {source_label}: {count} malformed line(s) do not fit the input schema; first {len(lines)}: {shown}. "
        "Fix the file or the schema, or use quarantine mode to set these lines aside"
    )
