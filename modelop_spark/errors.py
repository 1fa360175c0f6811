"""One exception root and a few real subclasses.

Every error carries a stable ``code`` and the ``http_status`` a control plane maps it to. Messages
are one line a person can act on, and are redacted when the error is made, so no credential can
travel in an exception, a log line or a job result. Errors pickle by message, so they cross from
Spark's Python workers back to the driver intact.
"""

from __future__ import annotations

from modelop_spark._redact import redact

__all__ = [
    "AssetError",
    "ControlPlaneError",
    "ModelFunctionError",
    "ModelOpSparkError",
    "RejectLimitExceeded",
    "SchemaError",
    "SessionError",
    "SnapshotError",
    "SpecError",
]


class ModelOpSparkError(Exception):
    """Root of every error this runtime raises on purpose."""

    code = "MODELOP_SPARK_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)

    def __reduce__(self):
        return (type(self), (self.message,))

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class SpecError(ModelOpSparkError):
    """The job file or the call's arguments are invalid."""

    code = "INVALID_JOB"
    http_status = 400


class SnapshotError(ModelOpSparkError):
    """The model snapshot cannot be loaded: missing function, bad source, bad asset, checksum."""

    code = "INVALID_SNAPSHOT"
    http_status = 422


class SchemaError(ModelOpSparkError):
    """A schema is invalid, or data broke it under strict checking."""

    code = "SCHEMA_VIOLATION"
    http_status = 422


class AssetError(ModelOpSparkError):
    """An input or output asset cannot be read or written."""

    code = "ASSET_ERROR"
    http_status = 400


class ModelFunctionError(ModelOpSparkError):
    """The model's own function raised."""

    code = "MODEL_ERROR"
    http_status = 500


class RejectLimitExceeded(ModelOpSparkError):
    """A job rejected more rows than its options.max_rejected allows; nothing was published."""

    code = "TOO_MANY_REJECTED"
    http_status = 422


class SessionError(ModelOpSparkError):
    """Spark cannot start or be reached (Java missing, master unreachable)."""

    code = "SPARK_UNAVAILABLE"
    http_status = 503


class ControlPlaneError(ModelOpSparkError):
    """The control plane refused or could not be reached."""

    code = "CONTROL_PLANE_ERROR"
    http_status = 502
