"""Which columns play which part, read from a schema's ModelOp roles.

Metrics, fairness and drift jobs call these instead of asking for column configuration. A field
without a role is a predictor, as in ModelOp Center.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelop_spark.errors import SchemaError
from modelop_spark.schema.model import Schema

__all__ = [
    "Roles",
    "drift_candidate_columns",
    "identifier_columns",
    "label_column",
    "predictor_columns",
    "protected_columns",
    "roles_of",
    "score_column",
    "weight_column",
]


def _with_role(schema: Schema, role: str) -> tuple[str, ...]:
    return tuple(f.name for f in schema.fields if f.effective_role == role)


def _one(schema: Schema, role: str, *, required: bool) -> str | None:
    found = _with_role(schema, role)
    if len(found) > 1:
        raise SchemaError(
            f"schema {schema.label}: {len(found)} fields have role {role!r} ({', '.join(found)}); "
            "mark exactly one, or name the column in the job"
        )
    if not found and required:
        raise SchemaError(
            f"schema {schema.label}: no field has role {role!r}; add \"role\": \"{role}\" to one field, "
            "or name the column in the job"
        )
    return found[0] if found else None


def label_column(schema: Schema, *, required: bool = True) -> str | None:
    return _one(schema, "label", required=required)


def score_column(schema: Schema, *, required: bool = True) -> str | None:
    return _one(schema, "score", required=required)


def weight_column(schema: Schema) -> str | None:
    return _one(schema, "weight", required=False)


def identifier_columns(schema: Schema) -> tuple[str, ...]:
    return _with_role(schema, "identifier")


def predictor_columns(schema: Schema) -> tuple[str, ...]:
    return _with_role(schema, "predictor")


def protected_columns(schema: Schema) -> tuple[str, ...]:
    return tuple(f.name for f in schema.fields if f.protected_class)


def drift_candidate_columns(schema: Schema) -> tuple[str, ...]:
    return tuple(f.name for f in schema.fields if f.drift_candidate)


@dataclass(frozen=True)
class Roles:
    """Every role of a schema at once; ``label``/``score`` are None when the schema has none."""

    label: str | None
    score: str | None
    weight: str | None
    identifiers: tuple[str, ...]
    predictors: tuple[str, ...]
    protected: tuple[str, ...]
    drift_candidates: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "score": self.score,
            "weight": self.weight,
            "identifiers": list(self.identifiers),
            "predictors": list(self.predictors),
            "protected": list(self.protected),
            "drift_candidates": list(self.drift_candidates),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Roles:
        def names(key: str) -> tuple[str, ...]:
            return tuple(data.get(key) or ())  # type: ignore[arg-type]

        return cls(
            label=data.get("label"),  # type: ignore[arg-type]
            score=data.get("score"),  # type: ignore[arg-type]
            weight=data.get("weight"),  # type: ignore[arg-type]
            identifiers=names("identifiers"),
            predictors=names("predictors"),
            protected=names("protected"),
            drift_candidates=names("drift_candidates"),
        )


def roles_of(*schemas: Schema) -> Roles:
    """Roles across schemas (e.g. input and output: the label is often in one, the score in the
    other). A role found in two schemas must name the same column."""
    if not schemas:
        raise SchemaError("roles_of needs at least one schema")

    def single(role: str) -> str | None:
        found = {c for s in schemas if (c := _one(s, role, required=False))}
        if len(found) > 1:
            raise SchemaError(f"the schemas disagree on the {role} column: {', '.join(sorted(found))}")
        return found.pop() if found else None

    def union(names_of) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for s in schemas for n in names_of(s)))

    return Roles(
        label=single("label"),
        score=single("score"),
        weight=single("weight"),
        identifiers=union(identifier_columns),
        predictors=union(predictor_columns),
        protected=union(protected_columns),
        drift_candidates=union(drift_candidate_columns),
    )
