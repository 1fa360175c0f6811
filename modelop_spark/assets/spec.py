"""What an asset is: where data comes from or goes to. Plain values, no Spark."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from modelop_spark.errors import SpecError

AssetKind = Literal["file", "embedded", "delta", "sql", "jdbc"]
WriteMode = Literal["overwrite", "append", "error"]

KINDS: tuple[str, ...] = ("file", "embedded", "delta", "sql", "jdbc")
FILE_FORMATS: tuple[str, ...] = ("csv", "json", "parquet", "avro")
WRITE_MODES: tuple[str, ...] = ("overwrite", "append", "error")

_EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".avro": "avro",
}


def format_from_url(url: str) -> str | None:
    """Guess a file format from a URL's extension (``.csv.gz`` counts as csv)."""
    path = url.lower().rstrip("/")
    for suffix in (".gz", ".bz2", ".snappy", ".zst"):
        path = path.removesuffix(suffix)
    for extension, file_format in _EXTENSIONS.items():
        if path.endswith(extension):
            return file_format
    return None


@dataclass(frozen=True)
class AssetSpec:
    """One input or output of a job.

    ``kind`` says which reader or writer handles it: ``file`` (``url`` + ``format``; any scheme
    Spark's Hadoop FileSystem knows, plus ``s3://``), ``embedded`` (``records`` in the job),
    ``delta`` (``url`` or ``table``), ``sql`` (a Spark SQL ``query`` or ``table``) or ``jdbc``
    (``options.url`` with ``query`` or ``table``). ``options`` go to the reader or writer
    (``header``, ``compression``, ``partitionBy``, ``version``, ...). ``mode`` is for outputs.
    """

    kind: AssetKind
    name: str | None = None
    url: str | None = None
    format: str | None = None
    table: str | None = None
    query: str | None = None
    records: tuple[Mapping[str, Any], ...] | None = None
    mode: WriteMode = "overwrite"
    role: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    repository: Mapping[str, Any] = field(default_factory=dict)

    @property
    def single_file(self) -> bool:
        """``options.single_file``: one data file at ``url`` rather than a folder of parts. The
        one reading of the option for every file writer (``"false"`` is false)."""
        return option_flag(self.options.get("single_file"))

    @property
    def replace_foreign(self) -> bool:
        """``options.replace_foreign``: an overwrite may replace a folder or file this runtime
        did not write (``assets.commit.check_foreign``)."""
        return option_flag(self.options.get("replace_foreign"))

    @property
    def label(self) -> str:
        """How messages name this asset: its name, else its location."""
        return self.name or self.url or self.table or (self.query and "SQL query") or self.kind

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "asset", require_format: bool = True) -> AssetSpec:
        """``require_format=False`` lets a file asset have no data format (a ModelOp asset only
        its PySpark model reads; reading or writing it here is refused then)."""
        kind = data.get("kind") or _infer_kind(data)
        if kind not in KINDS:
            raise SpecError(f"{where}.kind: expected one of {', '.join(KINDS)}, found {kind!r}")
        url = data.get("url")
        file_format = (data.get("format") or "").lower() or None
        if kind == "file":
            if not url:
                raise SpecError(f"{where}.url: a file asset needs a url (a path, file://, hdfs:// or s3:// URL)")
            file_format = file_format or format_from_url(url)
            if file_format not in FILE_FORMATS and (require_format or file_format is not None):
                raise SpecError(
                    f"{where}.format: expected one of {', '.join(FILE_FORMATS)}, found {file_format!r}; "
                    "set format, or give the url a .csv, .json or .parquet extension"
                )
        mode = data.get("mode", "overwrite")
        if mode not in WRITE_MODES:
            raise SpecError(f"{where}.mode: expected one of {', '.join(WRITE_MODES)}, found {mode!r}")
        records = data.get("records")
        if kind == "embedded" and records is not None and not isinstance(records, list | tuple):
            raise SpecError(f"{where}.records: expected a list of records, found {type(records).__name__}")
        return cls(
            kind=kind,  # type: ignore[arg-type]  # checked against KINDS above
            name=data.get("name"),
            url=url,
            format=file_format,
            table=data.get("table"),
            query=data.get("query"),
            records=tuple(records) if records is not None else None,
            mode=mode,
            role=data.get("role"),
            options=dict(data.get("options") or {}),
            repository=dict(data.get("repository") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for key in ("name", "url", "format", "table", "query", "role"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.records is not None:
            out["records"] = list(self.records)
        if self.mode != "overwrite":
            out["mode"] = self.mode
        if self.options:
            out["options"] = dict(self.options)
        if self.repository:
            out["repository"] = dict(self.repository)
        return out


def option_flag(value: Any) -> bool:
    """A yes/no asset option given as JSON true/false, 1/0 or text ("true", "yes", "false")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _infer_kind(data: Mapping[str, Any]) -> str:
    if "records" in data:
        return "embedded"
    if (data.get("format") or "").lower() == "delta":
        return "delta"
    if "query" in data or ("table" in data and "url" not in data):
        return "jdbc" if "url" in (data.get("options") or {}) else "sql"
    return "file"
