"""``moc mlc ...``: model life cycles from the command line, each command one API call.

``list [--snapshot ID]``, ``show ID``, ``approve ID [--comment]``, ``reject ID --comment``,
``start PROCESS --model NAME [--data URL]`` and ``processes``; ``--json`` on all.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelop_spark.moc.output import client as _client
from modelop_spark.moc.output import emit as _emit
from modelop_spark.moc.output import table as _table


def _history_rows(instance: dict[str, Any]) -> list[list[Any]]:
    return [[h["at"], h["name"] or h["step"], h["outcome"], ", ".join(h["job_ids"]), h["user"], h["comment"]] for h in instance["history"]]


def _waiting(instance: dict[str, Any]) -> str:
    waiting = instance.get("waiting_for")
    if not waiting:
        return ""
    return f"approval for {waiting['stage']}" + (f" (role {waiting['role']})" if waiting.get("role") else "")


def _show(instance: dict[str, Any]) -> None:
    step = instance.get("current_step") or {}
    _table(f"life cycle {instance['id']}", ["field", "value"], [
        ["process", instance["process"]], ["model", instance["model_name"]], ["snapshot", instance["snapshot_id"]],
        ["state", instance["state"]], ["stage", instance["stage"] or "-"], ["current step", step.get("name")],
        ["waiting for", _waiting(instance)], ["error", instance.get("error")],
    ])
    _table("history", ["at", "step", "outcome", "jobs", "user", "comment"], _history_rows(instance))


def mlc_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.get("/mlc/instances", snapshot=args.snapshot)
    return _emit(args, found, lambda rows: _table(
        "life cycles", ["id", "process", "model", "state", "stage", "current step", "waiting for", "updated"],
        [[i["id"], i["process"], i["model_name"], i["state"], i["stage"], (i.get("current_step") or {}).get("name"), _waiting(i), i["updated_at"]] for i in rows],
    ))


def mlc_show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        instance = client.get(f"/mlc/instances/{args.instance}")
    return _emit(args, instance, _show)


def _decided(instance: dict[str, Any]) -> None:
    last = instance["history"][-1] if instance["history"] else {}
    print(f"life cycle {instance['id']}: {last.get('name')} {last.get('outcome')} by {last.get('user')}; now {instance['state']}"
          + (f" at {(instance.get('current_step') or {}).get('name')}" if instance["state"] in ("RUNNING", "WAITING_APPROVAL") else ""))


def mlc_approve(args: argparse.Namespace) -> int:
    with _client(args) as client:
        instance = client.post(f"/mlc/instances/{args.instance}/approve", {"comment": args.comment})
    return _emit(args, instance, _decided)


def mlc_reject(args: argparse.Namespace) -> int:
    with _client(args) as client:
        instance = client.post(f"/mlc/instances/{args.instance}/reject", {"comment": args.comment})
    return _emit(args, instance, _decided)


def mlc_start(args: argparse.Namespace) -> int:
    data = args.data
    if data and "://" not in data and Path(data).is_file():
        data = Path(data).resolve().as_uri()  # a local file: the runtimes on this machine read it
    with _client(args) as client:
        instance = client.post("/mlc/start", {"process": args.process, "model": args.model, "data": data})
    return _emit(args, instance, lambda i: print(f"life cycle {i['id']} ({i['process']}) started for model {i['model_name']}: {i['state']}"))


def mlc_processes(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.get("/mlc/processes")
    return _emit(args, found, lambda rows: _table(
        "life-cycle processes", ["name", "title", "trigger", "service tags", "model names", "stages", "file"],
        [[p["name"], p.get("title"), p.get("trigger"), ", ".join(p["handles"]["service_tags"]), p["handles"]["model_name_pattern"],
          " -> ".join(p["stages"]), p["file"]] for p in rows],
    ))


def add_mlc_commands(groups, command) -> None:
    mlc = groups.add_parser("mlc", help="model life cycles (BPMN processes): instances, approvals").add_subparsers(dest="command", required=True)
    listing = command(mlc, "list", mlc_list, "life cycles, newest first")
    listing.add_argument("--snapshot", help="only this snapshot's")
    show = command(mlc, "show", mlc_show, "a life cycle: state, stage, current step and history")
    show.add_argument("instance")
    approve = command(mlc, "approve", mlc_approve, "approve the promotion a life cycle waits for")
    approve.add_argument("instance")
    approve.add_argument("--comment")
    reject = command(mlc, "reject", mlc_reject, "reject the promotion a life cycle waits for (ends it REJECTED)")
    reject.add_argument("instance")
    reject.add_argument("--comment", required=True, help="why (goes into the history and the notification)")
    start = command(mlc, "start", mlc_start, "start a process by hand (the re-train) for a model's newest snapshot")
    start.add_argument("process", help="a process name from 'moc mlc processes'")
    start.add_argument("--model", required=True)
    start.add_argument("--data", help="new labeled data: a URL (a local file becomes its file:// URL)")
    command(mlc, "processes", mlc_processes, "the deployed life-cycle processes")


__all__ = ["add_mlc_commands"]
