"""What every ``moc`` command shares: the API client from the arguments, rich tables, and
``--json`` or a human view of one answer."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from modelop_spark.controlplane.client import Client

EXIT_OK = 0


def client(args: argparse.Namespace) -> Client:
    return Client(args.url)


def console():
    from rich.console import Console

    # piped output: wide enough that ids and times are not folded
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 220)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    found = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        found.add_column(column, overflow="fold")
    for row in rows:
        found.add_row(*("" if v is None else str(v) for v in row))
    console().print(found)


def emit(args: argparse.Namespace, value: Any, show: Callable[[Any], None]) -> int:
    if args.json:
        print(json.dumps(value, indent=2, default=str))
    else:
        show(value)
    return EXIT_OK


__all__ = ["client", "console", "emit", "table"]
