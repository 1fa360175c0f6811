"""``modelop-spark schema ...`` commands.

    modelop-spark schema infer DATA [--format csv|json|parquet] [--sample N] [--out FILE]
    modelop-spark schema convert SCHEMA [--to avro|json-schema|spark-ddl] [--out FILE]

``add_schema_commands`` registers them on the main parser's subparsers; each sets ``handler``
to a function taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelop_spark.errors import ModelOpSparkError, SchemaError
from modelop_spark.schema.avro import to_avro
from modelop_spark.schema.infer import DEFAULT_SAMPLE, infer_schema
from modelop_spark.schema.json_schema import to_json_schema
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.spark_types import to_ddl

__all__ = ["add_schema_commands", "guess_format"]

DATA_FORMATS = ("csv", "json", "parquet")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet"}


def add_schema_commands(subparsers: Any, *, session: Callable[[], Any]) -> None:
    """``schema infer|convert``; ``session`` makes the SparkSession (the CLI layer owns it)."""
    schema = subparsers.add_parser("schema", help="infer, check and convert model schemas")
    commands = schema.add_subparsers(dest="schema_command", required=True)

    infer = commands.add_parser("infer", help="guess an extended Avro schema (.avsc) from data, to review and edit")
    infer.add_argument("data", help="a CSV, JSON lines or Parquet file or folder")
    infer.add_argument("--format", choices=DATA_FORMATS, help="data format (default: from the file name)")
    infer.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, metavar="N", help=f"rows to sample (default {DEFAULT_SAMPLE})")
    infer.add_argument("--name", default=None, help="record name (default: from the file name)")
    infer.add_argument("--out", metavar="FILE", help="write the .avsc here (default: print it)")
    infer.set_defaults(handler=_infer, session=session)

    convert = commands.add_parser("convert", help="check a schema and print it as Avro, JSON Schema or Spark DDL")
    convert.add_argument("schema", help="an .avsc or JSON Schema file")
    convert.add_argument("--to", choices=("avro", "json-schema", "spark-ddl"), default="avro")
    convert.add_argument("--out", metavar="FILE", help="write here (default: print it)")
    convert.set_defaults(handler=_convert)


def guess_format(path: str) -> str:
    """The data format from a path's suffix; a folder is read as Parquet."""
    p = Path(path)
    if p.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[p.suffix.lower()]
    if p.is_dir():
        return "parquet"
    raise SchemaError(f"cannot tell the format of {path} from its name; pass --format {'|'.join(DATA_FORMATS)}")


def _infer(args: argparse.Namespace) -> int:
    try:
        if args.sample < 1:
            raise SchemaError(f"--sample must be at least 1, found {args.sample}")
        if not Path(args.data).exists():
            raise SchemaError(f"data {args.data} does not exist")
        fmt = args.format or guess_format(args.data)
        spark = args.session()
        reader = spark.read
        if fmt == "csv":
            # Text columns are narrowed from the sample itself: no inference pass over the file.
            reader = reader.options(header="true", inferSchema="false")
        df = reader.format(fmt).load(args.data)
        name = args.name or _record_name(args.data)
        schema = infer_schema(df, sample=args.sample, name=name)
        text = json.dumps(to_avro(schema), indent=2) + "\n"
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except Exception as exc:  # Spark could not read the data: one line, not a JVM trace
        print(f"error: cannot read {args.data} as {args.format or 'its format'}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    _emit(text, args.out)
    return 0


def _convert(args: argparse.Namespace) -> int:
    try:
        schema = load_schema(args.schema)
        if args.to == "avro":
            text = json.dumps(to_avro(schema), indent=2) + "\n"
        elif args.to == "json-schema":
            text = json.dumps(to_json_schema(schema), indent=2) + "\n"
        else:
            text = to_ddl(schema) + "\n"
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    _emit(text, args.out)
    return 0


def _emit(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    target = Path(out)
    staged = target.with_name(f".{target.name}.tmp")
    staged.write_text(text, encoding="utf-8")
    staged.replace(target)  # never leave a half-written schema behind
    print(f"wrote {target}", file=sys.stderr)


def _record_name(path: str) -> str:
    stem = Path(path.rstrip("/")).name.split(".")[0] or "Record"
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"r_{cleaned}"
