"""``modelop-spark runtime serve``: register this machine's Spark as a runtime and run its jobs.

Settings come from ``conf/runtime.toml`` (or ``--config FILE``), then the environment
(``MODELOP_URL``, ``MODELOP_TOKEN``), then the arguments.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tomllib
from pathlib import Path
from typing import Any

from modelop_spark._logging import use_json_lines
from modelop_spark.agent.agent import Agent, AgentSettings, split_tags
from modelop_spark.agent.executors import InProcessExecutor, SparkSubmitExecutor
from modelop_spark.commands.arguments import conf_pairs
from modelop_spark.config import conf_dir
from modelop_spark.errors import ModelOpSparkError
from modelop_spark.runtime.session import get_or_create_session


def add_runtime_commands(commands) -> None:
    group = commands.add_parser("runtime", help="run this machine as a tagged Spark runtime of a control plane")
    sub = group.add_subparsers(dest="runtime_command", required=True)
    serve = sub.add_parser("serve", help="register, then claim and run jobs until stopped (Ctrl-C lets running jobs finish)")
    serve.add_argument("--control-plane", help="control plane URL (or MODELOP_URL, or control_plane in the config)")
    serve.add_argument("--name", help="runtime name (default: the host name)")
    serve.add_argument("--tag", action="append", default=None, help="a stage tag (DEV, SIT, UAT, PROD, ...) or a service tag (cc-fraud); repeatable")
    serve.add_argument("--master", help="run each job with spark-submit against this master (spark://..., yarn, k8s://..., local[N]); default: in-process on local[*]")
    serve.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="Spark conf for the jobs (repeatable)")
    serve.add_argument("--max-jobs", type=int, help="jobs run at once (default 1)")
    serve.add_argument("--work-dir", type=Path, help="downloaded snapshots, job files and undelivered results (default ~/.modelop-spark/runtime-NAME)")
    serve.add_argument("--endpoint", help="how people reach this runtime (shown in 'moc runtime list')")
    serve.add_argument("--config", type=Path, help="TOML settings file (default: conf/runtime.toml when present)")
    serve.add_argument("--recover", action="append", type=Path, default=None, metavar="DIR",
                       help="at start, complete or roll back interrupted output commits under DIR (repeatable; as 'modelop-spark recover')")
    serve.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one JSON object per line")
    serve.set_defaults(handler=_serve)


def _config(path: Path | None) -> dict[str, Any]:
    if path is None:
        folder = conf_dir()
        path = folder / "runtime.toml" if folder else None
        if path is None or not path.exists():
            return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelOpSparkError(f"runtime config {path}: {exc}") from exc


def _serve(args: argparse.Namespace) -> int:

    if args.log_format == "json":
        use_json_lines()
    try:
        config = _config(args.config)
        url = args.control_plane or os.environ.get("MODELOP_URL") or config.get("control_plane")
        if not url:
            print("error: say which control plane: --control-plane URL or MODELOP_URL", file=sys.stderr)
            return 2
        name = args.name or config.get("name") or socket.gethostname()
        stages, services = split_tags(list(args.tag if args.tag is not None else config.get("tags", [])))
        master = args.master or config.get("master")
        conf = {**{str(k): str(v) for k, v in (config.get("conf") or {}).items()}, **conf_pairs(args.conf)}
        work = args.work_dir or Path(config.get("work_dir") or Path.home() / ".modelop-spark" / f"runtime-{name}")
        settings = AgentSettings(
            control_plane=url, name=name, work_dir=Path(work).expanduser(), stage_tags=tuple(stages), service_tags=tuple(services),
            max_jobs=int(args.max_jobs or config.get("max_jobs") or 1), endpoint=args.endpoint or config.get("endpoint"),
            recover=tuple(Path(p).expanduser() for p in (args.recover if args.recover is not None else config.get("recover", []))),
        )
        executor = _executor(master, conf)
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    Agent(settings, executor).serve_forever()
    return 0


def _executor(master: str | None, conf: dict[str, str]):
    if master:
        return SparkSubmitExecutor(master, conf=conf)

    return InProcessExecutor(get_or_create_session(conf=conf))
