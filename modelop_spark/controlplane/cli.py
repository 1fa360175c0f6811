"""``modelop-spark control-plane serve``: the command-line front of ``server.serve``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from modelop_spark._logging import use_json_lines
from modelop_spark.controlplane.leases import Timing
from modelop_spark.controlplane.server import Extension, ServerSettings, serve
from modelop_spark.controlplane.services.context import MB, Limits
from modelop_spark.errors import ModelOpSparkError

DATABASE_ENV = "MODELOP_DATABASE_URL"


def add_control_plane_commands(commands, *, extensions: Sequence[Extension] = ()) -> None:
    """``control-plane serve``; ``extensions`` (the model life cycles) join the served app."""
    group = commands.add_parser("control-plane", help="the control plane: models, snapshots, runtimes, jobs")
    sub = group.add_subparsers(dest="control_plane_command", required=True)
    serve = sub.add_parser("serve", help="serve the control plane's HTTP API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    serve.add_argument("--data", required=True, type=Path, help="folder for the SQLite database, snapshot archives, job documents and results")
    serve.add_argument("--database", help=f"postgresql://USER@HOST:PORT/DB to share one database between processes (or {DATABASE_ENV}; the password from PGPASSWORD)")
    serve.add_argument("--tokens", type=Path, help="TOML file of users, roles and token digests (besides MODELOP_TOKEN, an admin)")
    serve.add_argument("--webhook", help="POST every notification as JSON to this URL")
    serve.add_argument("--blob-store", metavar="S3_URL", help="keep archives, job documents and results in s3://bucket/prefix (boto3's credentials) instead of under --data")
    serve.add_argument("--heartbeat-interval", type=float, default=10.0, help="seconds between runtime heartbeats (default 10)")
    serve.add_argument("--missed-heartbeats", type=int, default=3, help="a runtime silent this many intervals is DOWN (default 3)")
    serve.add_argument("--lease-seconds", type=float, default=60.0, help="a claimed job's lease, renewed by heartbeats (default 60)")
    serve.add_argument("--long-poll-seconds", type=float, default=20.0, help="longest wait of a runtime's claim request (default 20)")
    serve.add_argument("--max-upload-mb", type=int, default=512, help="largest snapshot archive accepted (default 512)")
    serve.add_argument("--max-job-mb", type=int, default=64, help="largest job document, embedded data included (default 64)")
    serve.add_argument("--mlc-dir", type=Path, help="folder of model life-cycle processes (*.bpmn) and default DMN tables (default: the shipped conf/mlc)")
    serve.add_argument("--mlc-poll-seconds", type=float, default=1.0, help="how often running life cycles look at their jobs (default 1)")
    serve.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one JSON object per line")
    serve.set_defaults(handler=_serve, extensions=tuple(extensions))


def _serve(args: argparse.Namespace) -> int:
    import logging


    if args.log_format == "json":
        use_json_lines()
    logging.getLogger("modelop_spark").setLevel(min(logging.getLogger("modelop_spark").level or logging.INFO, logging.INFO))
    try:
        timing = Timing(
            heartbeat_interval=args.heartbeat_interval, missed_heartbeats=args.missed_heartbeats,
            lease_seconds=args.lease_seconds, long_poll_seconds=args.long_poll_seconds,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = ServerSettings(
        data_dir=args.data, host=args.host, port=args.port, database=args.database or os.environ.get(DATABASE_ENV),
        tokens_file=args.tokens, webhook=args.webhook, blob_store=args.blob_store, timing=timing,
        mlc_dir=args.mlc_dir, mlc_poll_seconds=max(args.mlc_poll_seconds, 0.05),
        limits=Limits(max_snapshot_bytes=args.max_upload_mb * MB, max_job_bytes=args.max_job_mb * MB, max_result_bytes=args.max_job_mb * MB),
    )
    try:
        serve(settings, extensions=args.extensions)
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0
