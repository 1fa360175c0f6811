"""``modelop-spark``: run jobs from the command line.

    modelop-spark run JOB.json [JOB.json ...] [--param k=v ...] [--master URL] [--use-job-master]
                      [--conf key=value ...] [--result FILE] [--json] [--quiet]
    modelop-spark score SNAPSHOT INPUT OUTPUT [--param k=v ...] [--key-column C ...]
    modelop-spark snapshot build DIR [--version V] [--name N]
    modelop-spark recover [DIR ...]
    modelop-spark schema ... | control-plane serve ... | runtime serve ...
    modelop-spark --version

Exit code 0 when the job is COMPLETE, 1 on ERROR, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modelop_spark import __version__
from modelop_spark._logging import configure_logging
from modelop_spark.agent.cli import add_runtime_commands
from modelop_spark.commands.recover import add_recover_command
from modelop_spark.commands.run import add_run_commands
from modelop_spark.commands.snapshot import add_snapshot_commands
from modelop_spark.controlplane.cli import add_control_plane_commands
from modelop_spark.mlc.cli import add_mlc_commands
from modelop_spark.mlc.server import install as install_life_cycles
from modelop_spark.runtime.session import get_or_create_session
from modelop_spark.schema.cli import add_schema_commands
from modelop_spark.ui import install as install_command_center


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelop-spark", description="Run ModelOp model snapshots as batch jobs on Spark.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens, with tracebacks")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_run_commands(commands)
    add_snapshot_commands(commands)
    add_recover_command(commands)
    add_schema_commands(commands, session=get_or_create_session)
    add_control_plane_commands(commands, extensions=(install_life_cycles, install_command_center))
    add_runtime_commands(commands)
    add_mlc_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
