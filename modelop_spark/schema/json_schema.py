"""JSON Schema documents <-> the schema model.

jsonschema checks the document against its meta-schema first, so a malformed document is reported
as such and not as a confusing conversion error. Types map as JSON Schema readers expect:
``integer``/``number`` with an OpenAPI-style ``format`` (int32, int64, float, double) keep Avro's
width; ``format: date`` / ``date-time`` are dates and timestamps; ``enum`` of strings is an enum;
an ``object`` with ``properties`` is a nested record, with ``additionalProperties`` a map.
A property is nullable when it is not ``required`` or its type allows ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelop_spark.errors import SchemaError
from modelop_spark.schema.model import DataType, Field, Schema

__all__ = ["from_json_schema", "looks_like_json_schema", "to_json_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# ModelOp's extended attributes may sit on a property as they do on an Avro field.
_EXTENDED = {
    "role": "role",
    "dataClass": "data_class",
    "protectedClass": "protected_class",
    "driftCandidate": "drift_candidate",
    "specialValues": "special_values",
    "guessed": "guessed",
    "description": "doc",
    "pattern": "pattern",
}
_KNOWN = frozenset(
    {"type", "format", "enum", "items", "properties", "required", "additionalProperties", "default",
     "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "title", "x-decimal", "x-avro-name", "$ref"}
) | _EXTENDED.keys()  # fmt: skip
_VALUE_RULES = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern")
_FORMAT_KINDS = {
    ("integer", "int32"): "int",
    ("integer", "int64"): "long",
    ("integer", None): "long",
    ("number", "float"): "float",
    ("number", "double"): "double",
    ("number", None): "double",
    ("string", "date"): "date",
    ("string", "date-time"): "timestamp-micros",
    ("string", "local-date-time"): "local-timestamp-micros",
    ("string", "uuid"): "uuid",
    ("string", "byte"): "bytes",
    ("string", None): "string",
    ("boolean", None): "boolean",
}
_KIND_FORMATS = {
    "int": ("integer", "int32"),
    "long": ("integer", "int64"),
    "float": ("number", "float"),
    "double": ("number", "double"),
    "date": ("string", "date"),
    "timestamp-millis": ("string", "date-time"),
    "timestamp-micros": ("string", "date-time"),
    "local-timestamp-millis": ("string", "local-date-time"),
    "local-timestamp-micros": ("string", "local-date-time"),
    "uuid": ("string", "uuid"),
    "bytes": ("string", "byte"),
    "fixed": ("string", "byte"),
    "string": ("string", None),
    "boolean": ("boolean", None),
}


def looks_like_json_schema(document: Mapping[str, Any]) -> bool:
    return "$schema" in document or "properties" in document or document.get("type") == "object"


def from_json_schema(document: Mapping[str, Any], *, source: str | None = None) -> Schema:
    """Read a JSON Schema ``object`` document into the model."""
    where = source or "the JSON Schema"
    _check_document(document, where)
    if document.get("type") != "object" or not isinstance(document.get("properties"), Mapping):
        raise SchemaError(f"{where}: expected a JSON Schema with type 'object' and 'properties' at the top level")
    fields = _fields(document, where=where, parent="")
    return Schema(
        name=str(document.get("title") or "Record").replace(" ", "_"),
        fields=fields,
        doc=document.get("description"),
        source=source,
    )


def _check_document(document: Mapping[str, Any], where: str) -> None:
    import jsonschema

    try:
        validator = jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)
        validator.check_schema(document)
    except jsonschema.SchemaError as exc:
        at = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise SchemaError(f"{where}: not a valid JSON Schema at {at}: {exc.message}") from exc


def _fields(node: Mapping[str, Any], *, where: str, parent: str) -> tuple[Field, ...]:
    required = set(node.get("required") or ())
    return tuple(
        _field(name, prop, required=name in required, where=where, parent=parent)
        for name, prop in node["properties"].items()
    )


def _field(name: str, prop: Mapping[str, Any], *, required: bool, where: str, parent: str) -> Field:
    path = f"{parent}.{name}" if parent else name
    if "$ref" in prop:
        raise SchemaError(f"{where}: field {path!r}: $ref is not supported; inline the definition")
    dtype, allows_null = _type(prop, where=where, path=path)
    attrs: dict[str, Any] = {}
    for key, attr in _EXTENDED.items():
        if key in prop:
            attrs[attr] = prop[key]
    if "special_values" in attrs:
        attrs["special_values"] = tuple(attrs["special_values"])
    for key in ("role", "data_class"):
        if isinstance(attrs.get(key), str):
            attrs[key] = attrs[key].strip().lower()
    # Rules on the elements of an array (or map) of scalars apply to each element, which the
    # model says by putting them on the field itself.
    rules = prop
    element = _scalar_elements(prop)
    if element is not None and not any(key in prop for key in _VALUE_RULES):
        rules = element
        if "pattern" in element:
            attrs["pattern"] = element["pattern"]
    minimum, maximum = rules.get("minimum"), rules.get("maximum")
    # Draft 6+: exclusiveMinimum is the bound itself.
    excl_min = isinstance(rules.get("exclusiveMinimum"), int | float) and not isinstance(rules.get("exclusiveMinimum"), bool)
    excl_max = isinstance(rules.get("exclusiveMaximum"), int | float) and not isinstance(rules.get("exclusiveMaximum"), bool)
    if excl_min:
        minimum = rules["exclusiveMinimum"]
    if excl_max:
        maximum = rules["exclusiveMaximum"]
    try:
        return Field(
            name=name,
            type=dtype,
            nullable=allows_null or not required,
            has_default="default" in prop,
            default=prop.get("default"),
            minimum=minimum,
            maximum=maximum,
            exclusive_minimum=excl_min,
            exclusive_maximum=excl_max,
            extra={k: v for k, v in prop.items() if k not in _KNOWN},
            **attrs,
        )
    except SchemaError as exc:
        raise SchemaError(f"{where}: {exc.message}") from exc


def _scalar_elements(prop: Mapping[str, Any]) -> Any:
    """The schema of an array's items or a map's values, when those are scalars (the same
    object, so rules written to it land in ``prop``); None otherwise."""
    element = prop.get("items") if prop.get("type") in ("array", ["array", "null"], ["null", "array"]) else None
    if element is None and "properties" not in prop:
        element = prop.get("additionalProperties")
    if not isinstance(element, Mapping) or "properties" in element or "items" in element:
        return None
    return element


def _type(prop: Mapping[str, Any], *, where: str, path: str) -> tuple[DataType, bool]:
    """A property's type and whether it allows null (``"type": [..., "null"]`` or a None symbol)."""
    declared = prop.get("type")
    types = list(declared) if isinstance(declared, list) else [declared] if declared else []
    allows_null = "null" in types
    if "enum" in prop:
        return _enum(prop, where=where, path=path), allows_null or None in prop["enum"]
    types = [t for t in types if t != "null"]
    if len(types) != 1:
        shown = ", ".join(map(str, types)) or "none"
        raise SchemaError(f"{where}: field {path!r}: expected one type (optionally with null), found {shown}")
    reader = _COMPOSITE_TYPES.get(types[0], _scalar)
    return reader(prop, types[0], where=where, path=path), allows_null


def _enum(prop: Mapping[str, Any], *, where: str, path: str) -> DataType:
    symbols = [s for s in prop["enum"] if s is not None]
    if not all(isinstance(s, str) for s in symbols):
        raise SchemaError(f"{where}: field {path!r}: only enums of strings are supported, found {symbols!r}")
    return DataType(kind="enum", name=prop.get("x-avro-name"), symbols=tuple(symbols))


def _array(prop: Mapping[str, Any], kind: str, *, where: str, path: str) -> DataType:
    if not isinstance(prop.get("items"), Mapping):
        raise SchemaError(f"{where}: field {path!r}: an array needs an 'items' schema")
    items, items_null = _type(prop["items"], where=where, path=f"{path}[]")
    return DataType(kind="array", items=items, element_nullable=items_null)


def _object_type(prop: Mapping[str, Any], kind: str, *, where: str, path: str) -> DataType:
    """A record (``properties``) or a map (``additionalProperties``)."""
    if isinstance(prop.get("properties"), Mapping):
        return DataType(kind="record", name=prop.get("x-avro-name"), fields=_fields(prop, where=where, parent=path))
    if isinstance(prop.get("additionalProperties"), Mapping):
        values, values_null = _type(prop["additionalProperties"], where=where, path=f"{path}{{}}")
        return DataType(kind="map", values=values, element_nullable=values_null)
    raise SchemaError(f"{where}: field {path!r}: an object needs 'properties' or an 'additionalProperties' schema")


def _scalar(prop: Mapping[str, Any], kind: str, *, where: str, path: str) -> DataType:
    """A scalar by type and format; a decimal's precision and scale come from ``x-decimal``."""
    fmt = prop.get("format")
    if kind == "number" and fmt == "decimal":
        spec = prop.get("x-decimal") or {}
        return DataType(kind="decimal", precision=spec.get("precision", 38), scale=spec.get("scale", 0))
    found = _FORMAT_KINDS.get((kind, fmt)) or _FORMAT_KINDS.get((kind, None))
    if found is None:
        raise SchemaError(f"{where}: field {path!r}: type {kind!r} is not supported")
    return DataType(kind=found)


# The JSON Schema types that hold other types; every other type is a scalar.
_COMPOSITE_TYPES = {"array": _array, "object": _object_type}


def to_json_schema(schema: Schema) -> dict[str, Any]:
    """The model as a JSON Schema (2020-12) document."""
    out: dict[str, Any] = {"$schema": DRAFT, "title": schema.name, "type": "object"}
    if schema.doc:
        out["description"] = schema.doc
    out.update(_object(schema.fields))
    return out


def _object(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {
        "properties": {f.name: _property(f) for f in fields},
        "required": [f.name for f in fields if not f.nullable],
    }


def _property(f: Field) -> dict[str, Any]:
    out = _type_json(f.type, nullable=f.nullable)
    if f.has_default:
        out["default"] = f.default
    for key, attr in _EXTENDED.items():
        value = getattr(f, attr)
        if attr == "special_values":
            if value:
                out[key] = list(value)
        elif isinstance(value, bool):
            if value:
                out[key] = True
        elif value is not None and attr != "pattern":
            out[key] = value
    # A value rule on an array or map of scalars is about each element: JSON Schema says so in
    # its items / additionalProperties.
    element = _scalar_elements(out)
    rules = element if element is not None else out
    if f.pattern is not None:
        rules["pattern"] = f.pattern
    if f.minimum is not None:
        rules["exclusiveMinimum" if f.exclusive_minimum else "minimum"] = f.minimum
    if f.maximum is not None:
        rules["exclusiveMaximum" if f.exclusive_maximum else "maximum"] = f.maximum
    out.update(f.extra)
    return out


def _type_json(t: DataType, *, nullable: bool) -> dict[str, Any]:
    out: dict[str, Any]
    if t.kind == "enum":
        out = {"type": ["string", "null"] if nullable else "string", "enum": [*t.symbols, *([None] if nullable else [])]}
        if t.name:
            out["x-avro-name"] = t.name
        return out
    if t.kind == "decimal":
        out = {"type": "number", "format": "decimal", "x-decimal": {"precision": t.precision, "scale": t.scale or 0}}
    elif t.kind == "array":
        assert t.items is not None
        out = {"type": "array", "items": _type_json(t.items, nullable=t.element_nullable)}
    elif t.kind == "map":
        assert t.values is not None
        out = {"type": "object", "additionalProperties": _type_json(t.values, nullable=t.element_nullable)}
    elif t.kind == "record":
        out = {"type": "object", **_object(t.fields)}
        if t.name:
            out["x-avro-name"] = t.name
    else:
        json_type, fmt = _KIND_FORMATS[t.kind]
        out = {"type": json_type}
        if fmt:
            out["format"] = fmt
    if nullable:
        out["type"] = [out["type"], "null"]
    return out
