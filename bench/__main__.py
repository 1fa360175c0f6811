"""``python -m bench [NAME ...]``: run every ``bench/bench_*.py`` (or the named ones), each in its
own Python process so each gets a fresh SparkSession, and print their figures.

``bench_slow_records``: a small input with a slow model against its limit, records x ms / cores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    failed = []
    for name in names:
        module = name if name.startswith("bench_") else f"bench_{name}"
        print(f"== {module}", flush=True)
        done = subprocess.run([sys.executable, "-m", f"bench.{module}"], cwd=here.parent)
        if done.returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
