"""``modelop-spark recover [DIR]``: complete or roll back every interrupted commit under DIR.

    modelop-spark recover [DIR ...]     (default: the working directory)

A job killed while publishing its outputs leaves a journal beside them
(``.modelop-staging/_jobs/<job>.commit.json``); the next run of that job repairs it, and this
command does so without the job: a ``prepared`` commit is rolled back (every output's previous
copy back), a ``committed`` one forward. A job whose lock is held (running now) is left alone.
The runtime agent runs it over its ``--recover`` folders when it starts.
"""

from __future__ import annotations

import argparse
from typing import Any

from modelop_spark.assets.commit import recover_under

__all__ = ["add_recover_command", "recover_folders"]


def add_recover_command(commands: Any) -> None:
    recover = commands.add_parser("recover", help="complete or roll back every interrupted output commit under DIR")
    recover.add_argument("folders", metavar="DIR", nargs="*", default=["."], help="where to look (default: .)")
    recover.set_defaults(handler=_recover)


def recover_folders(folders: list[str]) -> list[str]:
    return [line for folder in folders for line in recover_under(folder)]


def _recover(args: argparse.Namespace) -> int:
    done = recover_folders(args.folders)
    for line in done:
        print(line)
    if not done:
        print(f"no interrupted commit under {', '.join(args.folders)}")
    return 0
