"""What a built-in monitor compares, read from the base model's extended input schema.

No column list is typed by hand: ``driftCandidate`` fields are compared by data drift, their
``dataClass`` (else their type) says numerical or categorical, ``specialValues`` are taken out of
a numerical distribution and counted apart, a ``scoringOptional`` field may be absent from the
comparator, ``role: score`` / ``role: label`` feed concept drift and performance, a
``protectedClass`` field is a bias group, ``positiveClassLabel`` (on any field, usually the
label) is the positive class, and ``isAmountField`` fields are listed for amount-weighted
monitors. Pure: a ``Schema`` in, a frozen ``MonitorConfig`` out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from modelop_spark.errors import SpecError
from modelop_spark.schema.model import Field, Schema

__all__ = ["MonitorConfig", "config_from_schema", "special_values_of"]


@dataclass(frozen=True)
class MonitorConfig:
    numerical: tuple[str, ...] = ()  # drift candidates compared as distributions over bins
    categorical: tuple[str, ...] = ()  # drift candidates compared as category counts
    score: str | None = None
    label: str | None = None
    label_categorical: bool = True  # a class label (else a regression target)
    protected: tuple[str, ...] = ()
    positive_label: Any = 1
    special_values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    optional: tuple[str, ...] = ()  # scoringOptional: may be absent from a side
    amount_fields: tuple[str, ...] = ()

    def with_overrides(self, **changes: Any) -> MonitorConfig:
        """The job's or caller's own choices win over the schema's (None/empty keeps the schema's)."""
        given: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in changes.items() if v not in (None, (), [])}
        unknown = sorted(set(given) - set(self.__dataclass_fields__))
        if unknown:
            raise SpecError(f"monitor: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(self.__dataclass_fields__)}")
        return replace(self, **given)

    def to_dict(self) -> dict[str, Any]:
        return {
            "numerical": list(self.numerical), "categorical": list(self.categorical),
            "score": self.score, "label": self.label, "protected": list(self.protected),
            "positive_label": self.positive_label,
            "special_values": {k: list(v) for k, v in self.special_values.items()},
            "optional": list(self.optional), "amount_fields": list(self.amount_fields),
        }


def special_values_of(f: Field) -> tuple[Any, ...]:
    """ModelOp writes ``specialValues`` as plain values or as ``{"values": [...], "purpose": ...}``."""
    out: list[Any] = []
    for item in f.special_values:
        if isinstance(item, Mapping):
            values = item.get("values", item.get("value", []))
            out.extend(values if isinstance(values, list) else [values])
        else:
            out.append(item)
    return tuple(out)


def _is_categorical(f: Field) -> bool:
    if f.data_class:
        return f.data_class == "categorical"
    return not f.type.is_numeric


def _flag(f: Field, key: str) -> bool:
    return f.extra.get(key) in (True, "true", "True")


def config_from_schema(*schemas: Schema) -> MonitorConfig:
    """The monitor settings of one or more schemas (input, and output: the score is often there)."""
    fields = _distinct_fields(schemas)
    drift = [f for f in fields if f.drift_candidate]
    label = _only(fields, "label")
    positives = [f.extra["positiveClassLabel"] for f in fields if f.extra.get("positiveClassLabel") is not None]
    return MonitorConfig(
        numerical=_names(drift, lambda f: not _is_categorical(f)),
        categorical=_names(drift, _is_categorical),
        score=_only(fields, "score"),
        label=label,
        label_categorical=_label_is_categorical(fields, label),
        protected=_names(fields, lambda f: f.protected_class),
        positive_label=positives[0] if positives else 1,
        special_values={f.name: special_values_of(f) for f in fields if special_values_of(f)},
        optional=_names(fields, lambda f: _flag(f, "scoringOptional")),
        amount_fields=_names(fields, lambda f: _flag(f, "isAmountField")),
    )


def _distinct_fields(schemas: Sequence[Schema]) -> list[Field]:
    """Every schema's fields, a name met twice kept from the first schema."""
    fields: dict[str, Field] = {}
    for schema in schemas:
        for f in schema.fields:
            fields.setdefault(f.name, f)
    return list(fields.values())


def _names(fields: Sequence[Field], wanted: Callable[[Field], Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields if wanted(f))


def _label_is_categorical(fields: Sequence[Field], label: str | None) -> bool:
    """A class label unless the schema says otherwise: a categorical, integer or boolean label
    (or none found) is a class; a numeric one is a regression target."""
    found = next((f for f in fields if f.name == label), None)
    return found is None or _is_categorical(found) or found.type.kind in ("int", "long", "boolean")


def _only(fields: Sequence[Field], role: str) -> str | None:
    """The one field with ``role``. Among several (a probability and a predicted class, both
    marked score), the one numerical field; still ambiguous: None, for the caller to name."""
    found = [f for f in fields if f.role == role]
    if len(found) > 1:
        found = [f for f in found if not _is_categorical(f)]
    return found[0].name if len(found) == 1 else None
