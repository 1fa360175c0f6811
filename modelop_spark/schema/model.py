"""The one schema model every format converts to and from.

A :class:`Schema` is a record of :class:`Field` s; each field has a :class:`DataType` (primitive,
logical, enum, array, map or nested record) and ModelOp's extended attributes (role, data class,
protected class, drift candidate, special values) plus the checks JSON Schema adds (minimum,
maximum, pattern). Everything is a frozen value, free of Spark and of file formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from modelop_spark.errors import SchemaError

__all__ = [
    "COMPLEX_KINDS",
    "DATA_CLASSES",
    "KINDS",
    "NUMERIC_KINDS",
    "PRIMITIVE_KINDS",
    "ROLES",
    "DataType",
    "Field",
    "Schema",
]

Role = Literal["predictor", "identifier", "label", "score", "weight", "non-predictor"]
DataClass = Literal["numerical", "categorical"]

ROLES: tuple[str, ...] = ("predictor", "identifier", "label", "score", "weight", "non-predictor")
DATA_CLASSES: tuple[str, ...] = ("numerical", "categorical")

# Avro's names, logical types included, so a kind round-trips to .avsc without a table.
PRIMITIVE_KINDS: tuple[str, ...] = (
    "boolean", "int", "long", "float", "double", "string", "bytes", "fixed", "uuid",
    "date", "timestamp-millis", "timestamp-micros", "local-timestamp-millis",
    "local-timestamp-micros", "decimal",
)  # fmt: skip
COMPLEX_KINDS: tuple[str, ...] = ("enum", "array", "map", "record")
KINDS: tuple[str, ...] = PRIMITIVE_KINDS + COMPLEX_KINDS
NUMERIC_KINDS: frozenset[str] = frozenset({"int", "long", "float", "double", "decimal"})
INTEGRAL_KINDS: frozenset[str] = frozenset({"int", "long"})
TEMPORAL_KINDS: frozenset[str] = frozenset(
    {"date", "timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"}
)


@dataclass(frozen=True)
class DataType:
    """A value's type. Only the attributes of its ``kind`` are set."""

    kind: str
    name: str | None = None  # record, enum and fixed types are named in Avro
    precision: int | None = None  # decimal
    scale: int | None = None  # decimal
    size: int | None = None  # fixed
    symbols: tuple[str, ...] = ()  # enum
    items: DataType | None = None  # array
    values: DataType | None = None  # map (keys are strings, as in Avro and JSON)
    element_nullable: bool = True  # array items / map values may be null
    fields: tuple[Field, ...] = ()  # record

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SchemaError(f"type {self.kind!r} is not supported; expected one of {', '.join(KINDS)}")
        if self.kind == "decimal" and (self.precision is None or self.precision < 1):
            raise SchemaError("decimal type needs a precision >= 1")
        if self.kind == "array" and self.items is None:
            raise SchemaError("array type needs an items type")
        if self.kind == "map" and self.values is None:
            raise SchemaError("map type needs a values type")
        if self.kind == "enum" and not self.symbols:
            raise SchemaError(f"enum {self.name or ''} needs at least one symbol".replace("  ", " "))

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def describe(self) -> str:
        """Short text for messages: ``double``, ``decimal(10,2)``, ``array<string>``."""
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale or 0})"
        if self.kind == "array":
            assert self.items is not None
            return f"array<{self.items.describe()}>"
        if self.kind == "map":
            assert self.values is not None
            return f"map<string,{self.values.describe()}>"
        if self.kind == "record":
            return f"record {self.name}" if self.name else "record"
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for key in ("name", "precision", "scale", "size"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.symbols:
            out["symbols"] = list(self.symbols)
        if self.items is not None:
            out["items"] = self.items.to_dict()
        if self.values is not None:
            out["values"] = self.values.to_dict()
        if self.kind in ("array", "map"):
            out["element_nullable"] = self.element_nullable
        if self.kind == "record":
            out["fields"] = [f.to_dict() for f in self.fields]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataType:
        return cls(
            kind=data["kind"],
            name=data.get("name"),
            precision=data.get("precision"),
            scale=data.get("scale"),
            size=data.get("size"),
            symbols=tuple(data.get("symbols") or ()),
            items=cls.from_dict(data["items"]) if data.get("items") else None,
            values=cls.from_dict(data["values"]) if data.get("values") else None,
            element_nullable=bool(data.get("element_nullable", True)),
            fields=tuple(Field.from_dict(f) for f in data.get("fields") or ()),
        )


@dataclass(frozen=True)
class Field:
    """One column with ModelOp's extended attributes and the value checks."""

    name: str
    type: DataType
    nullable: bool = True
    has_default: bool = False
    default: Any = None
    doc: str | None = None
    role: str | None = None
    data_class: str | None = None
    protected_class: bool = False
    drift_candidate: bool = False
    special_values: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    pattern: str | None = None
    guessed: bool = False  # set by inference: a person should review this field
    # Attributes this model does not know, kept so a schema round-trips without loss.
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise SchemaError("a field has an empty name; every field needs a name")
        if self.role is not None and self.role not in ROLES:
            raise SchemaError(
                f"field {self.name!r}: role {self.role!r} is not valid; expected one of {', '.join(ROLES)}"
            )
        if self.data_class is not None and self.data_class not in DATA_CLASSES:
            raise SchemaError(
                f"field {self.name!r}: dataClass {self.data_class!r} is not valid; "
                f"expected one of {', '.join(DATA_CLASSES)}"
            )
        # On an array or map field, a range applies to the numbers it holds.
        held = self.type
        while held.kind in ("array", "map"):
            held = (held.items if held.kind == "array" else held.values) or held
        if (self.minimum is not None or self.maximum is not None) and not held.is_numeric:
            raise SchemaError(
                f"field {self.name!r}: minimum/maximum need a numeric type, found {self.type.describe()}"
            )

    @property
    def effective_role(self) -> str:
        """ModelOp treats a field without a role as a predictor."""
        return self.role or "predictor"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type.to_dict(), "nullable": self.nullable}
        if self.has_default:
            out["default"] = self.default
        for key in ("doc", "role", "data_class", "minimum", "maximum", "pattern"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        for key in ("protected_class", "drift_candidate", "exclusive_minimum", "exclusive_maximum", "guessed"):
            if getattr(self, key):
                out[key] = True
        if self.special_values:
            out["special_values"] = list(self.special_values)
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Field:
        return cls(
            name=data["name"],
            type=DataType.from_dict(data["type"]),
            nullable=bool(data.get("nullable", True)),
            has_default="default" in data,
            default=data.get("default"),
            doc=data.get("doc"),
            role=data.get("role"),
            data_class=data.get("data_class"),
            protected_class=bool(data.get("protected_class", False)),
            drift_candidate=bool(data.get("drift_candidate", False)),
            special_values=tuple(data.get("special_values") or ()),
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            exclusive_minimum=bool(data.get("exclusive_minimum", False)),
            exclusive_maximum=bool(data.get("exclusive_maximum", False)),
            pattern=data.get("pattern"),
            guessed=bool(data.get("guessed", False)),
            extra=dict(data.get("extra") or {}),
        )

    def with_(self, **changes: Any) -> Field:
        return replace(self, **changes)


@dataclass(frozen=True)
class Schema:
    """A record schema: the columns of an input or output, in order."""

    name: str
    fields: tuple[Field, ...]
    namespace: str | None = None
    doc: str | None = None
    source: str | None = None  # file or document it came from, for messages
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for f in self.fields:
            if f.name in seen:
                raise SchemaError(f"schema {self.label}: field {f.name!r} appears twice; field names must be unique")
            seen.add(f.name)

    @property
    def label(self) -> str:
        return self.source or self.name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise SchemaError(f"schema {self.label} has no field {name!r}; fields are {', '.join(self.names)}")

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.fields)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "fields": [f.to_dict() for f in self.fields]}
        for key in ("namespace", "doc", "source"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        return cls(
            name=data["name"],
            fields=tuple(Field.from_dict(f) for f in data["fields"]),
            namespace=data.get("namespace"),
            doc=data.get("doc"),
            source=data.get("source"),
            extra=dict(data.get("extra") or {}),
        )
