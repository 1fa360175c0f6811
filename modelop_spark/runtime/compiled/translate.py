"""A fitted scikit-learn model as layers of Spark SQL expressions (pure: no SparkSession).

``orbital`` does the translation: scikit-learn -> ONNX (skl2onnx) -> Ibis -> SQL through
sqlglot. We add only what running that SQL as DataFrame columns needs:

- ibis' PySpark compiler reads ``ibis.options.pyspark``, which only ibis' PySpark *backend*
  registers (and that backend needs packages we do not otherwise use); we register the one
  option it reads, ``treat_nan_as_null``, off: NaN handling is ours (see ``spark_plan``);
- Spark SQL reads a literal such as ``0.25`` as DECIMAL, so model constants would turn the
  arithmetic into slow, bounded-precision decimals: every fractional literal gets Spark's ``D``
  suffix (a DOUBLE);
- the SQL nests one SELECT per step; we unnest it into a list of *layers*, each a list of
  ``(name, expression)`` over the previous layer's names, with table qualifiers removed, so the
  runtime applies them as ``select`` calls on the job's own DataFrame (no temp view, nothing on
  the server but expressions: Spark Connect works too);
- orbital's SQL does what the ONNX graph does, redundant work included (a binary linear model's
  decision function twice): ``simplify`` removes it, exactly, before the layers are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FeatureKind = Literal["double", "string"]
Layer = tuple[tuple[str, str], ...]

LABEL = "output_label"
PROBABILITY_PREFIX = "output_probability."
MAX_EXPRESSION_CHARS = 2_000_000  # beyond this the plan is refused (see README: codegen)


class NotCompilable(Exception):
    """The model cannot be compiled; the message is the fallback reason a user reads."""


@dataclass(frozen=True)
class CompiledModel:
    """What orbital made of one model: layers of Spark SQL and the names of its outputs."""

    features: Mapping[str, FeatureKind]
    layers: tuple[Layer, ...]
    outputs: tuple[str, ...]  # names in the last layer: output_label, output_probability.<c>, variable

    @property
    def size(self) -> int:
        return sum(len(sql) for layer in self.layers for _, sql in layer)

    def output_for(self, mapping: str) -> str:
        """The last-layer name that an output mapping (``label``, ``value``, ``probability:<class>``) reads."""
        if mapping == "label":
            name = LABEL
        elif mapping.startswith("probability:"):
            name = PROBABILITY_PREFIX + mapping.split(":", 1)[1]
        elif mapping == "value":
            values = [o for o in self.outputs if o != LABEL and not o.startswith(PROBABILITY_PREFIX)]
            if len(values) != 1:
                raise NotCompilable(f"the model has no single value output (it has {', '.join(self.outputs)})")
            name = values[0]
        else:
            raise NotCompilable(f"unknown output mapping {mapping!r}: use label, value or probability:<class>")
        if name not in self.outputs:
            raise NotCompilable(f"the compiled model has no {mapping!r} output (it has {', '.join(self.outputs)})")
        return name


def _register_pyspark_option() -> None:
    import ibis

    if getattr(ibis.options, "pyspark", None) is None:

        class PySparkOptions(ibis.config.Config):
            treat_nan_as_null: bool = False

        ibis.options.pyspark = PySparkOptions()


def _as_pipeline(model: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return model if isinstance(model, Pipeline) else Pipeline([("model", model)])


def _orbital_types(features: Mapping[str, FeatureKind]) -> dict[str, Any]:
    import orbital.types as ot

    return {name: ot.DoubleColumnType() if kind == "double" else ot.StringColumnType() for name, kind in features.items()}


def compile_model(model: Any, features: Mapping[str, FeatureKind], *, max_chars: int = MAX_EXPRESSION_CHARS, simplify: bool = True) -> CompiledModel:
    """Translate ``model`` (an estimator or Pipeline fitted on ``features``) into layers of Spark
    SQL; raise ``NotCompilable`` with the reason when orbital cannot, or the result is too big.
    ``simplify=False`` keeps orbital's SQL as it is (to compare with)."""
    import ibis
    import ibis.backends.sql.compilers as compilers
    import orbital

    if any("." in name or "`" in name for name in features):
        raise NotCompilable("a feature name holds '.' or '`', which the SQL translation cannot carry")
    _register_pyspark_option()
    try:
        parsed = orbital.parse_pipeline(_as_pipeline(model), features=_orbital_types(features))
        table = ibis.table({name: "float64" if kind == "double" else "string" for name, kind in features.items()}, name="features")
        expression = orbital.translate(table, parsed)
        select = compilers.pyspark.compiler.to_sqlglot(expression)
    except Exception as exc:  # skl2onnx and orbital raise many types for what they cannot translate
        text = str(exc).strip().splitlines()
        raise NotCompilable(f"{type(model).__name__} cannot be translated ({type(exc).__name__}: {text[0] if text else ''})") from exc
    layers = tuple(unnest_layers(select, list(features), simplify=simplify))
    compiled = CompiledModel(features=dict(features), layers=layers, outputs=tuple(name for name, _ in layers[-1]))
    if compiled.size > max_chars:
        raise NotCompilable(
            f"the compiled expression is too large for Spark's code generation ({compiled.size} characters of SQL, limit {max_chars})"
        )
    return compiled


def unnest_layers(select: Any, features: Sequence[str], *, simplify: bool = True) -> list[Layer]:
    """The nested SELECTs as simplified layers of ``(name, Spark SQL)`` (``simplify``), each over
    the layer below; orbital's own layers, unsimplified, should a tree be too deep to rewrite."""
    # imports sqlglot: only when translating
    from modelop_spark.runtime.compiled.simplify import simplified

    layers = _expression_layers(select)
    try:
        final = simplified(layers, features) if simplify else [list(layer) for layer in layers]
    except RecursionError:
        final = [list(layer) for layer in layers]
    return [tuple((name, body.transform(_double_literal).sql(dialect="spark")) for name, body in layer) for layer in final]


def _expression_layers(select: Any) -> list[Any]:
    """The nested SELECTs, innermost first, as ``(name, sqlglot expression)`` pairs over the layer below."""
    import sqlglot.expressions as exp

    layers = []
    while True:
        layer = []
        for item in select.expressions:
            body = item.this if isinstance(item, exp.Alias) else item
            layer.append((item.alias_or_name, body.copy().transform(_unqualified)))
        layers.append(tuple(layer))
        source = select.args.get("from_") or select.args.get("from")
        inner = source.this if source is not None else None
        if not isinstance(inner, exp.Subquery):
            break
        select = inner.this
    return layers[::-1]


def _unqualified(node: Any) -> Any:
    import sqlglot.expressions as exp

    if isinstance(node, exp.Column):  # `t1`.`x` -> `x`: each layer reads the one below by name
        return exp.column(node.name, quoted=True)
    return node


def _double_literal(node: Any) -> Any:
    import sqlglot.expressions as exp

    if isinstance(node, exp.Literal) and not node.is_string and any(c in node.this for c in ".eE"):
        return exp.Literal(this=f"{node.this}D", is_string=False)  # DOUBLE, not DECIMAL
    return node


def output_names(compiled: CompiledModel, mapping: Mapping[str, str]) -> dict[str, str]:
    """Output field -> last-layer name, for a mapping such as ``{"prediction": "label"}``."""
    return {field: compiled.output_for(source) for field, source in mapping.items()}


def feature_kinds(spark_types: Mapping[str, str], features: Sequence[str]) -> dict[str, FeatureKind]:
    """Feature name -> ``double`` or ``string`` from Spark simple type names; other types cannot compile."""
    numeric = {"double", "float", "int", "bigint", "smallint", "tinyint", "boolean"}
    kinds: dict[str, FeatureKind] = {}
    for name in features:
        kind = spark_types.get(name)
        if kind is None:
            raise NotCompilable(f"feature {name!r} is not a column of the input")
        if kind in numeric or kind.startswith("decimal"):
            kinds[name] = "double"
        elif kind == "string":
            kinds[name] = "string"
        else:
            raise NotCompilable(f"feature {name!r} has type {kind}, which the compiled path does not read")
    return kinds
