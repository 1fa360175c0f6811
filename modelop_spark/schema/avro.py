"""ModelOp extended Avro (``.avsc``) <-> the schema model.

fastavro checks that a document is valid Avro (unknown types, bad names, broken unions); this
module then reads the record into the model, keeping ModelOp's extended field attributes
(``role``, ``dataClass``, ``protectedClass``, ``driftCandidate``, ``specialValues``) and the value
checks (``minimum``, ``maximum``, ``pattern``) that Avro itself ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelop_spark.errors import SchemaError
from modelop_spark.schema.model import DataType, Field, Schema

__all__ = ["from_avro", "to_avro"]

_AVRO_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_LOGICAL_KINDS = {
    ("int", "date"): "date",
    ("long", "timestamp-millis"): "timestamp-millis",
    ("long", "timestamp-micros"): "timestamp-micros",
    ("long", "local-timestamp-millis"): "local-timestamp-millis",
    ("long", "local-timestamp-micros"): "local-timestamp-micros",
    ("string", "uuid"): "uuid",
}
_UNDERLYING = {kind: base for (base, _), kind in _LOGICAL_KINDS.items()}

# Avro field attribute -> model attribute; everything else not structural is kept in ``extra``.
_EXTENDED = {
    "role": "role",
    "dataClass": "data_class",
    "protectedClass": "protected_class",
    "driftCandidate": "drift_candidate",
    "specialValues": "special_values",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "pattern": "pattern",
    "guessed": "guessed",
    "doc": "doc",
}
_STRUCTURAL = frozenset({"name", "type", "default"})
_BOOLEAN_ATTRS = frozenset({"protected_class", "drift_candidate", "exclusive_minimum", "exclusive_maximum", "guessed"})


def from_avro(document: Mapping[str, Any], *, source: str | None = None) -> Schema:
    """Read an Avro record schema (a parsed ``.avsc``) into the model."""
    where = source or "the Avro schema"
    if not isinstance(document, Mapping) or document.get("type") != "record":
        found = document.get("type") if isinstance(document, Mapping) else type(document).__name__
        raise SchemaError(f"{where}: expected an Avro record schema at the top level, found type {found!r}")
    _check_with_fastavro(document, where)
    reader = _AvroReader(where)
    record = reader.record(document, path="")
    extra = {k: v for k, v in document.items() if k not in {"type", "name", "namespace", "fields", "doc"}}
    return Schema(
        name=document["name"],
        namespace=document.get("namespace"),
        doc=document.get("doc"),
        fields=record.fields,
        source=source,
        extra=extra,
    )


def _check_with_fastavro(document: Mapping[str, Any], where: str) -> None:
    import fastavro
    from fastavro.schema import SchemaParseException, UnknownType

    try:
        fastavro.parse_schema(dict(document), _write_hint=False)
    except UnknownType as exc:
        raise SchemaError(f"{where}: unknown Avro type {exc.name!r}; use a primitive, a logical type or a named type defined earlier") from exc
    except (SchemaParseException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SchemaError(f"{where}: not a valid Avro schema ({exc})") from exc


class _AvroReader:
    """Walks one document; named types resolve by name and a record may not contain itself."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.named: dict[str, DataType] = {}
        self.in_progress: list[str] = []

    def fail(self, path: str, problem: str) -> SchemaError:
        return SchemaError(f"{self.where}: field {path!r}: {problem}" if path else f"{self.where}: {problem}")

    def record(self, node: Mapping[str, Any], *, path: str) -> DataType:
        name = node["name"]
        self.in_progress.append(name)
        try:
            fields = tuple(self.field(f, parent=path) for f in node.get("fields", ()))
        finally:
            self.in_progress.pop()
        dtype = DataType(kind="record", name=name, fields=fields)
        self._register(node, dtype)
        return dtype

    def _register(self, node: Mapping[str, Any], dtype: DataType) -> None:
        name = node["name"]
        self.named[name] = dtype
        if node.get("namespace"):
            self.named[f"{node['namespace']}.{name}"] = dtype
        self.named[name.rsplit(".", 1)[-1]] = dtype

    def field(self, node: Mapping[str, Any], *, parent: str) -> Field:
        name = node["name"]
        path = f"{parent}.{name}" if parent else name
        dtype, nullable = self.union_or_type(node["type"], path=path)
        attrs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in node.items():
            if key in _STRUCTURAL:
                continue
            if key in _EXTENDED:
                attrs[_EXTENDED[key]] = value
            else:
                extra[key] = value
        for key in _BOOLEAN_ATTRS & attrs.keys():
            attrs[key] = _as_bool(attrs[key])
        for key in ("role", "data_class"):
            if isinstance(attrs.get(key), str):
                attrs[key] = attrs[key].strip().lower()
        if "special_values" in attrs:
            values = attrs["special_values"]
            attrs["special_values"] = tuple(values) if isinstance(values, list | tuple) else (values,)
        try:
            return Field(
                name=name,
                type=dtype,
                nullable=nullable,
                has_default="default" in node,
                default=node.get("default"),
                extra=extra,
                **attrs,
            )
        except SchemaError as exc:
            raise SchemaError(f"{self.where}: {exc.message}") from exc

    def union_or_type(self, node: Any, *, path: str) -> tuple[DataType, bool]:
        if isinstance(node, list):
            branches = [b for b in node if b != "null"]
            if len(branches) != 1:
                shown = ", ".join(b if isinstance(b, str) else str(b.get("type")) for b in node)
                raise self.fail(path, f"union [{shown}] is not supported; use one type, optionally with null")
            return self.type(branches[0], path=path), len(branches) < len(node)
        return self.type(node, path=path), False

    def type(self, node: Any, *, path: str) -> DataType:
        if isinstance(node, str):
            return self.named_or_primitive(node, path=path)
        if isinstance(node, list):
            dtype, _ = self.union_or_type(node, path=path)
            return dtype
        kind = node.get("type")
        logical = node.get("logicalType")
        if logical == "decimal":
            return DataType(kind="decimal", precision=node.get("precision"), scale=node.get("scale", 0))
        if isinstance(kind, str) and (kind, logical) in _LOGICAL_KINDS:
            return DataType(kind=_LOGICAL_KINDS[(kind, logical)])
        if kind == "record":
            if node["name"] in self.in_progress:
                raise self.recursive(node["name"], path)
            return self.record(node, path=path)
        if kind == "enum":
            dtype = DataType(kind="enum", name=node["name"], symbols=tuple(node["symbols"]))
            self._register(node, dtype)
            return dtype
        if kind == "fixed":
            dtype = DataType(kind="fixed", name=node["name"], size=node["size"])
            self._register(node, dtype)
            return dtype
        if kind == "array":
            items, nullable = self.union_or_type(node["items"], path=f"{path}[]")
            return DataType(kind="array", items=items, element_nullable=nullable)
        if kind == "map":
            values, nullable = self.union_or_type(node["values"], path=f"{path}{{}}")
            return DataType(kind="map", values=values, element_nullable=nullable)
        # A primitive spelt as {"type": "long"}, or with a logical type we map to its base type.
        return self.type(kind, path=path)

    def named_or_primitive(self, name: str, *, path: str) -> DataType:
        if name == "null":
            raise self.fail(path, "type is only null; give the field a value type (e.g. [\"null\", \"string\"])")
        if name in _AVRO_PRIMITIVES:
            return DataType(kind=name)
        short = name.rsplit(".", 1)[-1]
        if name in self.in_progress or short in self.in_progress:
            raise self.recursive(short, path)
        if name in self.named:
            return self.named[name]
        raise self.fail(path, f"unknown type {name!r}")

    def recursive(self, name: str, path: str) -> SchemaError:
        return self.fail(
            path,
            f"record {name!r} contains itself; recursive records cannot become Spark columns, "
            "flatten the recursion or store it as a JSON string",
        )


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def to_avro(schema: Schema) -> dict[str, Any]:
    """The model as an Avro record schema dict (ModelOp extended attributes included)."""
    writer = _AvroWriter()
    out: dict[str, Any] = {"type": "record", "name": schema.name}
    if schema.namespace:
        out["namespace"] = schema.namespace
    if schema.doc:
        out["doc"] = schema.doc
    writer.emitted.add(schema.name)
    out["fields"] = [writer.field(f) for f in schema.fields]
    out.update(schema.extra)
    return out


class _AvroWriter:
    def __init__(self) -> None:
        self.emitted: set[str] = set()

    def field(self, f: Field) -> dict[str, Any]:
        dtype = self.type(f.type, hint=f.name)
        if f.nullable:
            # Avro checks a default against the union's first branch.
            dtype = [dtype, "null"] if f.has_default and f.default is not None else ["null", dtype]
        out: dict[str, Any] = {"name": f.name, "type": dtype}
        if f.has_default:
            out["default"] = f.default
        for avro_key, attr in _EXTENDED.items():
            value = getattr(f, attr)
            if attr in _BOOLEAN_ATTRS:
                if value or (attr in ("protected_class", "drift_candidate") and f.role is not None):
                    out[avro_key] = bool(value)
            elif attr == "special_values":
                if value:
                    out[avro_key] = list(value)
            elif value is not None:
                out[avro_key] = value
        out.update(f.extra)
        return out

    def type(self, t: DataType, *, hint: str) -> Any:
        if t.kind in _UNDERLYING:
            return {"type": _UNDERLYING[t.kind], "logicalType": t.kind}
        if t.kind == "decimal":
            return {"type": "bytes", "logicalType": "decimal", "precision": t.precision, "scale": t.scale or 0}
        if t.kind == "array":
            assert t.items is not None
            items = self.type(t.items, hint=f"{hint}_item")
            return {"type": "array", "items": ["null", items] if t.element_nullable else items}
        if t.kind == "map":
            assert t.values is not None
            values = self.type(t.values, hint=f"{hint}_value")
            return {"type": "map", "values": ["null", values] if t.element_nullable else values}
        if t.kind in ("record", "enum", "fixed"):
            name = t.name or f"{hint}_{t.kind}"
            if name in self.emitted:
                return name  # Avro defines a named type once; later uses refer to it
            self.emitted.add(name)
            if t.kind == "enum":
                return {"type": "enum", "name": name, "symbols": list(t.symbols)}
            if t.kind == "fixed":
                return {"type": "fixed", "name": name, "size": t.size}
            return {"type": "record", "name": name, "fields": [self.field(f) for f in t.fields]}
        return t.kind
