"""A snapshot's score function as a column expression, for ``withColumn`` and ``select``.

    predict = ms.udf(snapshot)                        # struct of the output schema's fields
    df.withColumn("score", predict(*feature_columns)).select("score.fraud_probability")
    df.withColumn("p", ms.udf(snapshot, output="fraud_probability")("amount", "hour", ...))

Like ``predict_batch_udf`` and MLflow's ``spark_udf``: one output row per input row, computed in
the Python workers per Arrow batch (init once per worker, through the same model cache as jobs).
The columns given become the model's input columns, by name. The result type is the snapshot's
output schema, or ``result_type``; a record or batch function that does not give exactly one
output per input fails the query with a message saying so (use ``ms.score`` for 0..n outputs,
``ms.score_with_rejects`` to keep failing rows instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from modelop_spark.errors import ModelFunctionError, SnapshotError, SpecError
from modelop_spark.runtime.apply import snapshot_output_schema
from modelop_spark.runtime.conventions import bare_value_column, frame_outputs, record_outputs
from modelop_spark.runtime.functions import ModelFunctions
from modelop_spark.runtime.model_cache import ModelPayload, loaded_model
from modelop_spark.runtime.session import workers_on_runtime_python
from modelop_spark.spark_compat import is_connect

if TYPE_CHECKING:
    from pyspark.sql import Column
    from pyspark.sql.types import StructType

    from modelop_spark.runtime.snapshot import Snapshot

__all__ = ["snapshot_udf"]



def _result_struct(snapshot: Snapshot, result_type: StructType | str | None) -> StructType:
    from pyspark.sql.types import StructType, _parse_datatype_string

    if result_type is None:
        declared = snapshot_output_schema(snapshot)
        if declared is None:
            raise SpecError(
                f"udf: snapshot {snapshot.name} has no output schema, so the result type is unknown; pass "
                "result_type (a StructType or DDL such as 'score double, label int') or add an output schema"
            )
        return declared
    parsed = _parse_datatype_string(result_type) if isinstance(result_type, str) else result_type
    if not isinstance(parsed, StructType):
        raise SpecError(f"udf: result_type must describe the output columns as a struct, found {parsed.simpleString()}")
    return parsed


def score_frame(function: Callable[..., Any], per_record: bool, frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One output row per input row, with exactly ``names`` as columns (pure pandas)."""
    column = bare_value_column(names)  # where a bare value (0.73, "approve") goes
    if per_record:
        outputs = []
        for record in frame.to_dict("records"):
            produced = record_outputs(function(record), column=column)
            if len(produced) != 1:
                raise ModelFunctionError(f"udf: the score function gave {len(produced)} outputs for one record; "
                                         "a column needs exactly one (use ms.score for 0..n outputs per record)")
            outputs.append(produced[0])
        result = pd.DataFrame.from_records(outputs, columns=names) if outputs else pd.DataFrame(columns=names)
    else:
        returned = function(frame)
        result = frame_outputs(returned, column=column)
        if not isinstance(result, pd.DataFrame):
            raise ModelFunctionError(f"udf: the score function returned {type(returned).__name__}, not a pandas DataFrame or Series")
        if len(result) != len(frame):
            raise ModelFunctionError(f"udf: the score function returned {len(result)} rows for {len(frame)}; "
                                     "a column needs one per input row (use ms.score otherwise)")
        result = result.reset_index(drop=True)
    return result.reindex(columns=names)


def snapshot_udf(
    snapshot: Snapshot,
    *,
    result_type: StructType | str | None = None,
    output: str | None = None,
    job: Mapping[str, Any] | None = None,
) -> Callable[..., Column]:
    """A function of columns returning a Column: the output struct, or its field ``output``."""
    from pyspark.sql.types import StructType

    functions = ModelFunctions.resolve(snapshot, job_document=job)  # import/init errors here
    convention = functions.convention("score")
    per_record = convention.per_record
    if not (per_record or convention.one_frame_per_batch):
        raise SnapshotError(f"udf: snapshot {snapshot.name}'s score function has the {convention.name} shape; "
                            f"a column needs a record or batch function (use ms.score)")
    # Nullable fields: pandas hands back nullable Arrow columns, and Spark checks they match.
    struct = StructType([field.__class__(field.name, field.dataType, True) for field in _result_struct(snapshot, result_type)])
    if output is not None and output not in struct.fieldNames():
        raise SpecError(f"udf: output {output!r} is not an output column; they are {', '.join(struct.fieldNames())}")
    payload: ModelPayload = functions.payload_for_tasks()
    names = struct.fieldNames()

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = loaded_model(payload)  # once per Python worker
        function = model.function("score")
        assert function is not None  # resolved on the driver above
        for frame in batches:
            with model.working_directory():
                yield score_frame(function, per_record, frame, names)

    predict.__annotations__ = {"batches": Iterator[pd.DataFrame], "return": Iterator[pd.DataFrame]}

    def columns_to_score(*columns: str | Column) -> Column:
        if not columns:
            raise SpecError("udf: name the input columns, e.g. predict(*df.columns)")
        # Connect Columns need Connect's expressions: pandas_udf follows the process's mode, and
        # a process may hold both kinds of session. Names alone take the process's mode.
        if any(is_connect(c) for c in columns):
            from pyspark.sql.connect import functions as connect_functions
            from pyspark.sql.connect.udf import _create_udf
            from pyspark.util import PythonEvalType

            scorer = _create_udf(predict, struct, PythonEvalType.SQL_SCALAR_PANDAS_ITER_UDF)
            return _field(scorer(connect_functions.struct(*columns)), output)
        from pyspark import SparkContext
        from pyspark.sql import functions as F

        scorer = F.pandas_udf(predict, returnType=struct)  # type: ignore[call-overload]  # iterator UDFs are not in the stubs' overloads
        with workers_on_runtime_python(SparkContext._active_spark_context):  # the UDF's worker is chosen here
            return _field(scorer(F.struct(*columns)), output)

    return columns_to_score


def _field(scored: Column, output: str | None) -> Column:
    return scored.getField(output) if output is not None else scored
