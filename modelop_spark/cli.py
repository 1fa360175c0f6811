"""``modelop-spark``: run jobs from the command line.

    modelop-spark run JOB.json [--master URL] [--conf key=value ...] [--result FILE] [--json]

Exit code 0 when the job is COMPLETE, 1 on ERROR, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modelop_spark._logging import configure_logging
from modelop_spark.errors import ModelOpSparkError


def _conf_pairs(values: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--conf expects key=value, found {value!r}")
        pairs[key.strip()] = setting.strip()
    return pairs


def _run(args: argparse.Namespace) -> int:
    from modelop_spark.jobs.runner import coerce_spec, run_job
    from modelop_spark.runtime.session import get_or_create_session, ship_package

    try:
        spec = coerce_spec(args.job)  # a bad job file fails here, before Spark starts
        spark = get_or_create_session(master=args.master, conf=_conf_pairs(args.conf))
        ship_package(spark)
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    result = run_job(spec, spark=spark)
    text = result.to_json()
    if args.result:
        with open(args.result, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text if args.json else result.summary())
    if not result.ok and not args.json:
        print(f"error: {result.error['message']}", file=sys.stderr)
    return result.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelop-spark", description="Run ModelOp model snapshots as batch jobs on Spark.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens, with tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a job file (this runtime's own or a ModelOp job JSON)")
    run.add_argument("job", help="path to the job JSON")
    run.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    run.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark conf (repeatable)")
    run.add_argument("--result", metavar="FILE", help="also write the JobResult JSON to FILE")
    run.add_argument("--json", action="store_true", help="print the whole JobResult JSON instead of a summary")
    run.set_defaults(handler=_run)
    from modelop_spark.agent.cli import add_runtime_commands
    from modelop_spark.controlplane.cli import add_control_plane_commands
    from modelop_spark.mlc.cli import add_mlc_commands

    add_control_plane_commands(commands)
    add_runtime_commands(commands)
    add_mlc_commands(commands)
    try:
        from modelop_spark.schema.cli import add_schema_commands
    except ImportError:
        pass
    else:
        add_schema_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
