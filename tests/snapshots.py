"""Build small snapshots in a temp folder for tests."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any


def make_snapshot(
    folder: Path,
    source: str,
    *,
    manifest: dict[str, Any] | None = None,
    files: dict[str, str | bytes] | None = None,
    source_name: str = "model.py",
) -> Path:
    """Write ``source`` (dedented), extra ``files`` and an optional manifest into ``folder``.

    Manifest assets given as bare paths get their sha256 filled in."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / source_name).write_text(textwrap.dedent(source))
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if manifest is not None:
        document = dict(manifest)
        document["assets"] = [
            a if isinstance(a, dict) else {"path": a, "sha256": hashlib.sha256((folder / a).read_bytes()).hexdigest()}
            for a in document.get("assets", [])
        ]
        (folder / "snapshot.json").write_text(json.dumps(document))
    return folder


RECORD_MODEL = """
    import os

    # modelop.init
    def begin():
        global FACTOR
        with open("factor.txt") as handle:
            FACTOR = float(handle.read())
        marker = os.environ.get("INIT_MARKER_DIR")
        if marker:
            open(os.path.join(marker, f"init-{os.getpid()}"), "a").write("x")

    # modelop.score
    def action(record):
        if record["x"] < 0:
            raise ValueError("negative x")
        yield {"doubled": record["x"] * FACTOR}
"""
