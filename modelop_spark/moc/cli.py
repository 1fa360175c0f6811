"""``moc``: the control plane from the command line. Every command is one or two API calls.

URL from ``--url`` or ``MODELOP_URL``; token from ``MODELOP_TOKEN``. Tables by default, ``--json``
for scripts (for ``create``, the new object with its ``id``).

Exit codes: 0 done (``job watch``: the job is COMPLETE); 1 the job ended ERROR or CANCELLED
(``job watch``, ``job result``); 2 bad arguments or input; 3 the control plane refused (a wrong
token, an unknown id, a conflict); 4 the control plane cannot be reached; 5 ``job watch
--timeout`` ran out before the job ended.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelop_spark.controlplane.client import ApiError, Unreachable
from modelop_spark.errors import ModelOpSparkError, SpecError
from modelop_spark.moc.assets import input_asset, output_asset
from modelop_spark.moc.mlc import add_mlc_commands
from modelop_spark.moc.output import client as _client
from modelop_spark.moc.output import console as _console
from modelop_spark.moc.output import emit as _emit
from modelop_spark.moc.output import table as _table
from modelop_spark.runtime.archive import pack_folder
from modelop_spark.vocabulary import (
    DEFAULT_ARCHIVE_SUFFIX,
    FINISHED_STATES,
    JOB_STATES,
    JOB_WORDS,
    is_snapshot_archive,
)

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5


# -- models and snapshots ----------------------------------------------------------------------

def model_create(args: argparse.Namespace) -> int:
    with _client(args) as client:
        model = client.create_model(args.name, args.description or "")
    return _emit(args, model, lambda m: print(f"model {m['name']} created: {m['id']}"))


def model_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = client.get("/models")
    return _emit(args, models, lambda ms: _table("models", ["id", "name", "description", "created"], [[m["id"], m["name"], m["description"], m["created_at"]] for m in ms]))


def snapshot_create(args: argparse.Namespace) -> int:
    test_data, extra = _test_data(args.test_data)
    if "://" in args.path:  # a snapshot the runtimes fetch themselves (s3://, hdfs://, file://)
        if extra:
            raise SpecError(f"--test-data {args.test_data}: a snapshot given by URL needs its test data as a URL too (s3://, hdfs://, file://)")
        with _client(args) as client:
            snapshot = client.post_snapshot_location(
                args.path, model=args.model, service_tags=args.service_tag or (), version=args.version,
                description=args.description, runtimes=args.runtime or (), test_data=test_data,
            )
        return _emit(args, snapshot, lambda s: print(f"snapshot {s['id']} created: model {s['model']} version {s['version']} at {s['location']}"))
    path = Path(args.path)
    if path.is_dir():
        data, filename = pack_folder(path, extra=extra), path.name + DEFAULT_ARCHIVE_SUFFIX
    elif extra:
        raise SpecError(f"--test-data {args.test_data}: a local test-data file is added to a snapshot folder; for a .tar.gz or .zip put it inside, or give a URL")
    elif path.is_file() and is_snapshot_archive(path.name):
        data, filename = path.read_bytes(), path.name
    else:
        raise SpecError(f"PATH {args.path}: expected a snapshot folder, .tar.gz or .zip")
    with _client(args) as client:
        snapshot = client.upload_snapshot(
            data, model=args.model, filename=filename, sha256=hashlib.sha256(data).hexdigest(),
            service_tags=args.service_tag or (), version=args.version, description=args.description, runtimes=args.runtime or (),
            test_data=test_data,
        )
    return _emit(args, snapshot, lambda s: print(
        f"snapshot {s['id']} created: model {s['model']} version {s['version']}, service tags {', '.join(s['service_tags']) or '-'}, "
        f"{s['archive']['size']} bytes sha256 {s['archive']['sha256'][:12]}"
    ))


def _test_data(argument: str | None) -> tuple[str | None, dict[str, Path]]:
    """--test-data: a URL as it is, or a local file uploaded inside the snapshot under test_data/."""
    if not argument:
        return None, {}
    if "://" in argument:
        return argument, {}
    path = Path(argument)
    if not path.is_file():
        raise SpecError(f"--test-data {argument}: not a file here, nor a URL (s3://, hdfs://, file://)")
    return f"test_data/{path.name}", {f"test_data/{path.name}": path}


def snapshot_show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        snapshot = client.get(f"/snapshots/{args.snapshot}")
        cycles = [] if args.json else client.get("/mlc/instances", snapshot=snapshot["id"])

    def show(s: dict[str, Any]) -> None:
        _table(f"snapshot {s['id']}", ["field", "value"], [
            ["model", s["model"]], ["version", s["version"]], ["stage", s.get("stage") or "-"], ["service tags", ", ".join(s["service_tags"])],
            ["test data", (s.get("test_data") or {}).get("url") or (s.get("test_data") or {}).get("path")], ["parent", s.get("parent_id")],
            ["description", s["description"]], ["created", s["created_at"]],
        ])
        if cycles:
            _table("life cycles", ["id", "process", "state", "current step", "updated"],
                   [[c["id"], c["process"], c["state"], (c.get("current_step") or {}).get("name"), c["updated_at"]] for c in cycles])

    return _emit(args, snapshot, show)


def snapshot_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        snapshots = client.get("/snapshots", model=args.model)
    return _emit(args, snapshots, lambda ss: _table(
        "snapshots", ["id", "model", "version", "stage", "service tags", "description", "created"],
        [[s["id"], s["model"], s["version"], s.get("stage"), ", ".join(s["service_tags"]), s["description"], s["created_at"]] for s in ss],
    ))


def runtime_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        runtimes = client.get("/runtimes")
    return _emit(args, runtimes, lambda rs: _table(
        "runtimes", ["name", "status", "type", "stage tags", "service tags", "jobs", "mode", "last heartbeat", "id"],
        [[r["name"], r["status"], r["type"], ", ".join(r["stage_tags"]), ", ".join(r["service_tags"]),
          f"{r['jobs_running']}/{r['capacity']}", (r["details"] or {}).get("mode"), r["last_heartbeat"], r["id"]] for r in rs],
    ))


def runtime_tags(args: argparse.Namespace) -> int:
    with _client(args) as client:
        runtime = next((r for r in client.get("/runtimes") if args.runtime in (r["name"], r["id"])), None)
        if runtime is None:
            print(f"error: no runtime {args.runtime}; 'moc runtime list' shows them", file=sys.stderr)
            return EXIT_USAGE
        body = {
            "stage_tags": runtime["stage_tags"] if args.stage_tag is None else args.stage_tag,
            "service_tags": runtime["service_tags"] if args.service_tag is None else args.service_tag,
        }
        changed = client.request("PUT", f"/runtimes/{runtime['id']}/tags", json=body).json()
    return _emit(args, changed, lambda r: print(f"runtime {r['name']}: stage tags {', '.join(r['stage_tags']) or '-'}; service tags {', '.join(r['service_tags']) or '-'}"))


def notifications(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if getattr(args, "action", None) == "dismiss":
            done = client.post(f"/notifications/{args.notification_id}/dismiss")
            return _emit(args, done, lambda n: print(f"notification {n['id']} dismissed"))
        found = client.get("/notifications", limit=args.limit, job=args.job, include_dismissed=not args.undismissed)
    return _emit(args, found, lambda ns: _table(
        "notifications", ["id", "at", "severity", "kind", "message", "dismissed"],
        [[n["id"], n["at"], n["severity"], n["kind"], n["message"], "yes" if n.get("dismissed_at") else ""] for n in ns],
    ))


# -- jobs --------------------------------------------------------------------------------------

def job_create(args: argparse.Namespace) -> int:
    request = {
        "job_type": args.job_type,
        "snapshot": args.snapshot,
        "inputs": [input_asset(args.input)],
        "outputs": [output_asset(args.output)],
        "stage": args.stage,
        "runtime": args.runtime,
        "schema_check": args.schema_check,
        "parameters": dict(_pairs(args.param)),
    }
    with _client(args) as client:
        job = client.create_job(request)
    return _emit(args, job, _show_created)


def job_submit(args: argparse.Namespace) -> int:
    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(f"job file {args.file}: {exc}") from exc
    with _client(args) as client:
        job = client.create_job(document, stage=args.stage, runtime=args.runtime)
    return _emit(args, job, _show_created)


def _show_created(job: dict[str, Any]) -> None:
    where = f"runtime {job['runtime']}" if job["runtime"] else "no runtime yet (see 'moc notifications')"
    print(f"job {job['id']} created: {job['job_type']}, {job['status']}, {where}")


def _pairs(values: Sequence[str]) -> list[tuple[str, Any]]:
    out = []
    for value in values or ():
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise SpecError(f"--param expects key=value, found {value!r}")
        try:
            out.append((key, json.loads(text)))
        except json.JSONDecodeError:
            out.append((key, text))
    return out


def _job_rows(jobs: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [[j["id"], j["job_type"], j["status"], j["model"], j["stage"], j["runtime"], _progress_text(j), j["created_at"]] for j in jobs]


_JOB_COLUMNS = ["id", "type", "status", "model", "stage", "runtime", "progress", "created"]


def _progress_text(job: dict[str, Any]) -> str:
    progress = job.get("progress") or {}
    parts = []
    if progress.get("tasks_total"):
        parts.append(f"tasks {progress.get('tasks_done', 0)}/{progress['tasks_total']}")
    rows = progress.get("rows") or {}
    if rows.get("in") is not None:
        parts.append(f"rows in {rows['in']}, scored {rows.get('scored')}, rejected {rows.get('rejected')}")
    return "; ".join(parts)


def job_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.get(f"/jobs/{args.job_id}")

    def show(j: dict[str, Any]) -> None:
        _table(f"job {j['id']}", ["field", "value"], [
            ["type", j["job_type"]], ["status", j["status"]], ["model", j["model"]], ["snapshot", j["snapshot_id"]],
            ["stage", j["stage"]], ["service tags", ", ".join(j["service_tags"])], ["runtime", j["runtime"] or j["runtime_requested"]],
            ["attempt", j["attempt"]], ["progress", _progress_text(j)], ["created", j["created_at"]], ["started", j["started_at"]],
            ["ended", j["ended_at"]], ["error", (j["error"] or {}).get("message")],
        ])

    return _emit(args, job, show)


def job_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        jobs = client.get("/jobs", status=args.status, limit=args.limit, offset=args.offset, type=args.type, model=args.model, stage=args.stage, runtime=args.runtime)
    return _emit(args, jobs, lambda js: _table("jobs", _JOB_COLUMNS, _job_rows(js)))


def job_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.post(f"/jobs/{args.job_id}/cancel")
    return _emit(args, job, lambda j: print(f"job {j['id']}: {'cancel requested' if j['status'] == 'RUNNING' else j['status']}"))


def job_logs(args: argparse.Namespace) -> int:
    with _client(args) as client:
        lines = client.get(f"/jobs/{args.job_id}/logs", tail=args.tail)
    return _emit(args, lines, lambda ls: print("\n".join(line["line"] for line in ls)))


def job_result(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.get(f"/jobs/{args.job_id}/result")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_result(result)
    return EXIT_OK if result.get("status") == "COMPLETE" else EXIT_JOB_FAILED


def print_result(result: dict[str, Any]) -> None:
    """Embedded records as JSON lines on stdout; where external outputs went (a link for S3)."""
    if result.get("status") != "COMPLETE":
        error = result.get("error") or {}
        print(f"job {result.get('job_id')} ended {result.get('status')}: {error.get('code', '')} {error.get('message', '')}".rstrip(), file=sys.stderr)
        return
    printed = False
    for output in result.get("outputs") or ():
        if output.get("records") is not None:
            for record in output["records"]:
                print(json.dumps(record, default=str))
        else:
            print(output.get("link") or output.get("location"))
        printed = True
    rejected = result.get("rejected_output")
    if rejected and rejected.get("rows"):
        print(f"{rejected['rows']} rejected row(s): {rejected.get('link') or rejected.get('location') or 'embedded (moc job result --json)'}", file=sys.stderr)
    registered = (result.get("details") or {}).get("registered_snapshot")
    if registered:
        print(f"new snapshot {registered['id']} (model {registered['model']} version {registered['version']})")
        printed = True
    if not printed and result.get("metrics") is not None:
        print(json.dumps(result["metrics"], indent=2, default=str))


def job_watch(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    finished = FINISHED_STATES
    deadline = time.monotonic() + args.timeout if args.timeout else None
    with _client(args) as client, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("tasks"), TimeElapsedColumn(),
        console=_console() if not args.json else None, disable=args.json, transient=False,
    ) as bar:
        task = bar.add_task("", total=None)
        while True:
            job = client.get(f"/jobs/{args.job_id}")
            progress = job.get("progress") or {}
            total = progress.get("tasks_total") or None
            bar.update(task, description=f"job {job['id'][:8]} {job['status']:<9}", total=total, completed=progress.get("tasks_done", 0))
            if job["status"] in finished:
                break
            if deadline is not None and time.monotonic() > deadline:
                print(f"job {job['id']} is still {job['status']} after {args.timeout:g}s", file=sys.stderr)
                return EXIT_TIMEOUT
            time.sleep(args.interval)
    if args.json:
        print(json.dumps(job, indent=2, default=str))
    else:
        tail = f": {(job['error'] or {}).get('message')}" if job["status"] != "COMPLETE" and job.get("error") else ""
        print(f"job {job['id']} {job['status']}{tail}")
    return EXIT_OK if job["status"] == "COMPLETE" else EXIT_JOB_FAILED


# -- the parser --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given before or after the command, an option is not reset by the other level
    common.add_argument("--url", default=argparse.SUPPRESS, help="control plane URL (default: MODELOP_URL)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON instead of tables")

    parser = argparse.ArgumentParser(prog="moc", description="Models, snapshots, runtimes and jobs on a modelop_spark control plane.", parents=[common])
    groups = parser.add_subparsers(dest="group", required=True)

    def command(sub, name: str, handler, help_text: str):
        found = sub.add_parser(name, help=help_text, parents=[common])
        found.set_defaults(handler=handler)
        return found

    models = groups.add_parser("model", help="registered models").add_subparsers(dest="command", required=True)
    create = command(models, "create", model_create, "register a model")
    create.add_argument("name")
    create.add_argument("--description")
    command(models, "list", model_list, "list models")

    snapshots = groups.add_parser("snapshot", help="model snapshots (versions)").add_subparsers(dest="command", required=True)
    create = command(snapshots, "create", snapshot_create, "upload a snapshot folder, .tar.gz or .zip, or register a snapshot URL")
    create.add_argument("path")
    create.add_argument("--model", required=True, help="the registered model's name")
    create.add_argument("--service-tag", action="append", help="service tag runtimes are matched on (repeatable; default: snapshot.json tags)")
    create.add_argument("--version", help="default: snapshot.json's version, else the next number")
    create.add_argument("--description")
    create.add_argument("--runtime", action="append", help="suggested runtime name (repeatable)")
    create.add_argument("--test-data", metavar="FILE_OR_URL", help="the life cycle's test data: a local file (uploaded inside the snapshot) or a URL")
    listing = command(snapshots, "list", snapshot_list, "list snapshots, newest first")
    listing.add_argument("--model")
    show = command(snapshots, "show", snapshot_show, "a snapshot with its stage, test data and parent")
    show.add_argument("snapshot", help="snapshot uuid, or a model name (its newest snapshot)")

    add_mlc_commands(groups, command)

    runtimes = groups.add_parser("runtime", help="Spark runtimes").add_subparsers(dest="command", required=True)
    command(runtimes, "list", runtime_list, "list runtimes with status and tags")
    tags = command(runtimes, "tags", runtime_tags, "set a runtime's stage and service tags (admin; kept when its agent registers again)")
    tags.add_argument("runtime", help="runtime name or id")
    tags.add_argument("--stage-tag", action="append", help="stage tag (repeatable; replaces the stage tags)")
    tags.add_argument("--service-tag", action="append", help="service tag (repeatable; replaces the service tags)")

    note = command(groups, "notifications", notifications, "job errors, unmatched jobs, DOWN runtimes (newest first); 'dismiss ID' hides one")
    note.add_argument("--limit", type=int, default=50)
    note.add_argument("--job", help="only this job's")
    note.add_argument("--undismissed", action="store_true", help="leave out dismissed notifications")
    dismiss = note.add_subparsers(dest="action").add_parser("dismiss", help="dismiss a notification", parents=[common])
    dismiss.add_argument("notification_id", type=int)

    _add_job_commands(groups, command)
    return parser


def _add_job_commands(groups: Any, command: Any) -> None:
    jobs = groups.add_parser("job", help="batch jobs").add_subparsers(dest="command", required=True)
    create = command(jobs, "create", job_create, "create a batch, test or training job")
    create.add_argument("job_type", choices=tuple(JOB_WORDS))
    create.add_argument("snapshot", help="snapshot uuid, or a model name (its newest snapshot)")
    create.add_argument("input", help="a local data file (embedded), a URL (s3://, hdfs://, file://), a .json asset description, or sql:SELECT ...")
    create.add_argument("output", help="a file name (embedded output, in the result) or a URL")
    create.add_argument("--stage", help="stage tag the runtime must carry (DEV, SIT, UAT, PROD)")
    create.add_argument("--runtime", help="run on this runtime (by name) instead of matching tags")
    create.add_argument("--schema-check", action=argparse.BooleanOptionalAction, default=False, help="check input and output against the snapshot's schemas (rows that break them are rejected)")
    create.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a job parameter (JSON values allowed; repeatable)")
    submit = command(jobs, "submit", job_submit, "submit a ModelOp job JSON file as it is")
    submit.add_argument("file")
    submit.add_argument("--stage")
    submit.add_argument("--runtime")
    for name, handler, text in (("status", job_status, "a job's status and progress"), ("result", job_result, "a job's output: embedded records as JSON lines, or where it went"),
                                ("cancel", job_cancel, "cancel a job"), ("logs", job_logs, "a job's log lines"), ("watch", job_watch, "follow a job to its end with a progress bar")):
        found = command(jobs, name, handler, text)
        found.add_argument("job_id")
        if name == "logs":
            found.add_argument("--tail", type=int, help="only the last N lines")
        if name == "watch":
            found.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
            found.add_argument("--timeout", type=float, help="give up after this many seconds (exit 5)")
    listing = command(jobs, "list", job_list, "list jobs, newest first")
    listing.add_argument("--status", choices=JOB_STATES)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0, help="skip this many (paging)")
    listing.add_argument("--type", choices=tuple(JOB_WORDS))
    listing.add_argument("--model", help="model name")
    listing.add_argument("--stage")
    listing.add_argument("--runtime", help="runtime name")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.url, args.json = getattr(args, "url", None), getattr(args, "json", False)
    try:
        return args.handler(args)
    except Unreachable as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE if exc.status in (400, 413, 422) else EXIT_REFUSED
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
