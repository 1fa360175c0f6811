"""Schema checking inside a scoring job: what the runner calls, in order.

    checks = SchemaChecks.for_job(spec, snapshot)             # driver: schemas loaded, options checked
    inputs = checks.read_input(spark, source, in_band=...)    # read (CSV/JSON with the schema) + input check
    ... apply the model to inputs.valid ...
    outputs = checks.check_output(model_outputs)              # output check, counted by the model pass
    inputs.resolve(), outputs.valid(n), outputs.rejected()    # quarantine frames and counts

Counting, with no extra pass over a clean input:
- ``in_band`` (a model run in Python workers): rows rejected on input are marked, not filtered;
  the model pass sets them aside, so the one pass both scores and quarantines, and counts them.
- otherwise (a Spark model function): Spark observations count the rejected rows while the
  model pass runs; the driver's sample run reads an unobserved copy, and the quarantine reads
  the input again only when a check rejected something.
Output rejections are counted by the model pass too (over the model's outputs, in the same
aggregation), so a clean output is written with no filter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from modelop_spark._redact import redacted_logger
from modelop_spark.assets import read_asset, reads_text_lines
from modelop_spark.assets.files import looks_like_json_array
from modelop_spark.errors import SchemaError
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.model import Schema
from modelop_spark.schema.reading import (
    LINE,
    SCHEMA_READ_FORMATS,
    UNKNOWN_KEYS,
    parse_json_lines,
    read_plan,
    split_malformed,
    split_malformed_unchecked,
)
from modelop_spark.schema.spark_types import to_struct_type
from modelop_spark.schema.validate import MAX_EXAMPLES, RawLines, Validation, validate
from modelop_spark.spark_compat import functions_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["CheckedInput", "CheckedOutput", "SchemaChecks"]

_log = redacted_logger(__name__)


@dataclass(frozen=True)
class CheckedInput:
    """The input after reading and checking, all lazy.

    In band, ``valid`` is every row, the rejected ones marked, and the model pass counts them.
    Otherwise ``valid`` is the valid rows, carrying Spark observations that count the rows each
    stage rejects while the model pass over ``valid`` runs, so a clean input is read once;
    ``sample`` is the same rows without them, for the driver's sample run (an action on ``valid``
    itself would fill the observations with the sample's counts). Call :meth:`resolve` after the
    first action on ``valid``."""

    valid: DataFrame
    sample: DataFrame | None = None
    stages: tuple[tuple[str, Callable[[], DataFrame], Callable[[], int]], ...] = ()  # stage, rows, count

    def resolve(self) -> tuple[dict[str, DataFrame], dict[str, int]]:
        """Quarantine rows and counts per stage, for stages that rejected any (their rows are
        only planned then)."""
        rejected: dict[str, DataFrame] = {}
        counts: dict[str, int] = {}
        for stage, rows, count in self.stages:
            if n := count():
                rejected[stage], counts[stage] = rows(), n
        return rejected, counts


@dataclass(frozen=True)
class CheckedOutput:
    """The output check, planned before the model pass so that pass counts its rejections:
    ``condition`` (SQL over the output columns; None when the check is off) is true on an output
    row that breaks the output schema. Given that count, :meth:`valid` writes the outputs with no
    filter when none broke it, and :meth:`rejected` plans the quarantine rows only when some did."""

    outputs: DataFrame
    mode: str = "off"
    validation: Validation | None = None

    @property
    def condition(self) -> str | None:
        return self.validation.rejected_condition if self.validation is not None else None

    def valid(self, rejected: int) -> DataFrame:
        """The outputs to write; in strict mode, a :class:`SchemaError` when any row broke the schema."""
        if self.validation is None:
            return self.outputs
        if rejected and self.mode == "strict":
            self.validation.raise_for_rejected()
        return self.validation.valid_given(rejected)

    def rejected(self) -> DataFrame:
        """The outputs that broke the schema (call only when the check is on)."""
        assert self.validation is not None
        return _present(self.validation.rejected)


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

    @staticmethod
    def declared_output(spec: Any, snapshot: Any) -> Any:
        """The output schema the job or snapshot declares, as a StructType (None without one)."""
        try:
            schema = _job_schema(spec, snapshot, "output")
        except SchemaError:
            if spec.options.output_schema_check != "off":
                raise
            _log.warning("the output schema cannot be read; output types come from the sample", exc_info=True)
            return None
        return to_struct_type(schema, with_metadata=False) if schema is not None else None

    @property
    def active(self) -> bool:
        return self.input_mode != "off" or self.output_mode != "off"

    def read_input(self, spark: Any, source: Any, *, in_band: bool = False) -> CheckedInput:
        """Read the input asset; with input checking, CSV/JSON files are read with the schema
        (malformed lines quarantined at stage ``read``) and every row is checked.

        ``in_band`` (quarantine mode): instead of filtering, mark each rejected row with its stage,
        reasons and record (:meth:`Validation.in_band`) for a model pass that sets them aside, so
        one pass over the input scores and quarantines; its counts then come from that pass."""
        if self.input_mode == "off" or self.input_schema is None:
            frame = read_asset(spark, source)
            split = split_malformed_unchecked(spark, source, frame, key_columns=self.key_columns)
            if split is None:
                return CheckedInput(valid=frame)
            malformed = ("read", lambda: _with_all_keys(split.malformed, self.key_columns), split.malformed_count)
            return CheckedInput(valid=split.good, sample=split.unobserved, stages=(malformed,))
        in_band = in_band and self.input_mode == "quarantine"
        fmt = (getattr(source, "format", None) or "").lower()
        split, raw_lines = None, None
        if source.kind == "file" and fmt in SCHEMA_READ_FORMATS:
            frame, corrupt_column, raw_lines = self._read_with_schema(spark, source, fmt)
            keys = [k for k in self.key_columns if k in self.input_schema]
            observe = self.input_mode == "quarantine" and not in_band
            split = split_malformed(frame, format=fmt, corrupt_column=corrupt_column, key_columns=keys, observe=observe)
        else:
            frame = read_asset(spark, source)
        if in_band:  # every row, the rejected ones marked: the model pass sets them aside
            rows, ignore, earlier = (split.marked, split.marker_columns, split.as_earlier_stage()) if split else (frame, (), None)
            marked = self._validate(rows, self.input_schema, mode="quarantine", stage="input_schema", ignore=ignore, raw_lines=raw_lines)
            return CheckedInput(valid=marked.in_band(earlier))
        stages: list[tuple[str, Callable[[], DataFrame], Callable[[], int]]] = []
        unobserved = frame
        if split is not None:
            if self.input_mode == "strict":
                if malformed_rows := split.malformed_count():
                    _raise_malformed(split.malformed, malformed_rows, source_label=source.label)
            else:
                stages.append(("read", lambda: _with_all_keys(split.malformed, self.key_columns), split.malformed_count))
            frame, unobserved = split.good, split.unobserved
        checked = self._validate(frame, self.input_schema, mode=self.input_mode, stage="input_schema", observe=True, raw_lines=raw_lines)
        if self.input_mode == "quarantine":
            stages.append(("input_schema", lambda: _present(checked.rejected), lambda: checked.counts().rejected))
        # The driver's sample: the same checks over the unobserved rows.
        sample = checked.unobserved
        if unobserved is not frame:
            sample = self._validate(unobserved, self.input_schema, mode="quarantine", stage="input_schema", raw_lines=raw_lines).valid
        return CheckedInput(valid=checked.valid, sample=sample, stages=tuple(stages))

    def check_output(self, outputs: DataFrame) -> CheckedOutput:
        if self.output_mode == "off" or self.output_schema is None:
            return CheckedOutput(outputs=outputs)
        # Quarantine-shaped in both modes: strict fails later, with examples, once rows are counted.
        checked = self._validate(outputs, self.output_schema, mode="quarantine", stage="output_schema")
        return CheckedOutput(outputs=outputs, mode=self.output_mode, validation=checked)

    def _read_with_schema(self, spark: Any, source: Any, fmt: str) -> tuple[DataFrame, str, RawLines | None]:
        """A CSV/JSON file read with the input schema: the frame, its corrupt-record column, and
        the raw-line columns when JSON Lines are read as text (to see unknown keys)."""
        assert self.input_schema is not None
        header = None
        if fmt == "csv" and str(source.options.get("header", "true")).lower() == "true":
            # The header only: Spark reads the first line when it does not infer types.
            header = read_asset(spark, replace(source, options={**source.options, "inferSchema": "false"})).columns
        plan = read_plan(self.input_schema, format=fmt, options=source.options, columns=header)
        if self._sees_unknown_json_keys(spark, source):
            lines = read_asset(spark, replace(source, format="text", options={}))
            return parse_json_lines(lines, plan, schema=self.input_schema), plan.corrupt_column, RawLines(UNKNOWN_KEYS, LINE)
        frame = read_asset(spark, replace(source, options={**source.options, **plan.options}), schema=plan.struct)
        return frame, plan.corrupt_column, None

    def _sees_unknown_json_keys(self, spark: Any, source: Any) -> bool:
        """Whether to read a JSON input as text lines so ``extra_fields=reject`` sees unknown keys:
        JSON Lines only (a multi-line document has no line per record), through Spark's own file
        sources (the pure-Python S3 path reads data formats, not text)."""
        if self.extra_fields != "reject" or (source.format or "").lower() != "json":
            return False
        multi_line = str(source.options.get("multiLine", "false")).lower() == "true" or looks_like_json_array(source.url or "")
        if multi_line or not reads_text_lines(spark, source):
            _log.warning(
                "input %s: read with the schema, so JSON keys it does not name are not seen by "
                "extra_fields=reject; JSON Lines on a Spark file system has them rejected", source.label
            )
            return False
        return True

    def _validate(
        self,
        df: DataFrame,
        schema: Schema,
        *,
        mode: str,
        stage: str,
        observe: bool = False,
        ignore: Sequence[str] = (),
        raw_lines: RawLines | None = None,
    ) -> Validation:
        return validate(
            df,
            schema,
            mode=mode,  # type: ignore[arg-type]
            stage=stage,  # type: ignore[arg-type]
            extra_fields=self.extra_fields,  # type: ignore[arg-type]
            key_columns=[k for k in self.key_columns if k in df.columns],
            ignore_columns=ignore,
            observe=observe,
            raw_lines=raw_lines,
        )


def _job_schema(spec: Any, snapshot: Any, which: str) -> Schema | None:
    """The job's own schema document wins over the snapshot's file (ModelOp jobs carry the
    model's registered schemas in their metadata)."""
    document = getattr(spec.model, f"{which}_schema", None)
    if document:
        return load_schema(document)
    path = snapshot.schema_path(which)
    return load_schema(path) if path is not None else None


def _present(frame: DataFrame | None) -> DataFrame:
    assert frame is not None  # quarantine mode always plans its rejected rows
    return frame


def _with_all_keys(malformed: DataFrame, key_columns: Sequence[str]) -> DataFrame:
    """Key columns the schema does not name cannot be parsed from a malformed line: null."""
    F = functions_for(malformed)

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
