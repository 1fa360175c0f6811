"""``modelop-spark mlc check|diagram``: for whoever draws life-cycle processes, before deploying.

``check DIR`` loads a processes folder as the control plane will (schemas, topics, properties,
schedules) and lists what it found; ``diagram FILE`` writes the SVG picture of a BPMN file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelop_spark.errors import ModelOpSparkError
from modelop_spark.mlc.diagram import render_svg
from modelop_spark.mlc.processes import DEFAULT_FOLDER, Catalog


def add_mlc_commands(commands) -> None:
    group = commands.add_parser("mlc", help="model life-cycle processes: check a folder, draw a BPMN file")
    sub = group.add_subparsers(dest="mlc_command", required=True)
    check = sub.add_parser("check", help="load a processes folder as the control plane will, and list its processes and schedules")
    check.add_argument("folder", type=Path, nargs="?", help="default: the shipped conf/mlc")
    check.set_defaults(handler=_check)
    diagram = sub.add_parser("diagram", help="the SVG picture of a BPMN file, drawn from its diagram (BPMN DI)")
    diagram.add_argument("file", type=Path)
    diagram.add_argument("--highlight", metavar="ELEMENT_ID", help="mark this element (class 'current')")
    diagram.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    diagram.set_defaults(handler=_diagram)


def _check(args: argparse.Namespace) -> int:
    try:
        catalog = Catalog.load(args.folder or DEFAULT_FOLDER)
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    for process in catalog.processes.values():
        handles = ", ".join(process.service_tags) or "*"
        print(f"{process.name}: {process.title} ({process.file}); trigger {process.trigger}; service tags {handles}; "
              f"model names {process.model_name_pattern}; stages {' -> '.join(process.stages) or '-'}")
    for schedule in catalog.schedules:
        print(f"schedule {schedule.name}: {schedule.process} for {schedule.model} at '{schedule.cron}'")
    return 0


def _diagram(args: argparse.Namespace) -> int:
    try:
        svg = render_svg(args.file.read_bytes(), args.highlight)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except ModelOpSparkError as exc:
        print(f"error: {args.file}: {exc.message}", file=sys.stderr)
        return 2
    if args.output:
        args.output.write_text(svg, encoding="utf-8")
    else:
        sys.stdout.write(svg)
    return 0


__all__ = ["add_mlc_commands"]
