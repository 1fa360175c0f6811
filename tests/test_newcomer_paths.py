"""A newcomer's first hour: a notebook session made before the import, a small input with a slow
model, and a script run from the temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from modelop_spark.cache import DEFAULT_NAME
from modelop_spark.progress import read_progress, rows_scored_counter
from modelop_spark.runtime.partitions import MIN_SPREAD_BYTES, spread_partitions
from modelop_spark.runtime.session import runtime_worker_python
from tests.cluster import spark_env
from tests.snapshots import RECORD_MODEL, make_snapshot

ROOT = Path(__file__).resolve().parent.parent


def _another_python_first_on_path(folder: Path) -> str:
    """A PATH whose first ``python3`` is another interpreter: the base one, without site-packages
    (so without pyarrow or this runtime's other libraries)."""
    folder.mkdir(parents=True)
    shim = folder / "python3"
    shim.write_text(f'#!/bin/sh\nexec {sys._base_executable} -S "$@"\n')  # type: ignore[attr-defined]
    shim.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


SESSION_FIRST = """
from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()  # the kernel's
import modelop_spark as ms

frame = spark.createDataFrame([(1.0,), (2.0,)], "x double")
print(sorted(r.doubled for r in ms.score(frame, {snapshot!r}).collect()))
print(sorted(r.s.doubled for r in frame.select(ms.udf({snapshot!r}, result_type="doubled double")("x").alias("s")).collect()))
print(spark.sparkContext.pythonExec)  # the session's own choice stays for the user's functions
"""


def test_a_session_made_before_the_import_scores_on_the_drivers_interpreter(tmp_path):
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "3"})
    env = {k: v for k, v in spark_env(tmp_path).items() if k not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    env["PATH"] = _another_python_first_on_path(tmp_path / "bin")
    script = tmp_path / "notebook.py"
    script.write_text(SESSION_FIRST.format(snapshot=str(snapshot)))
    run = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == ["[3.0, 6.0]", "[3.0, 6.0]", "python3"]


def test_which_interpreter_the_runtimes_functions_take():
    class Context:
        def __init__(self, master: str, python: str) -> None:
            self.master, self.pythonExec = master, python

    here = {"PYSPARK_PYTHON": sys.executable}
    assert runtime_worker_python(Context("local[2]", "python3"), here) == sys.executable
    assert runtime_worker_python(Context("local[2]", sys.executable), here) is None  # chosen already
    assert runtime_worker_python(Context("yarn", "python3"), here) is None  # the executors' own interpreters
    try:
        runtime_worker_python(Context("local[*]", "python3"), {"PYSPARK_PYTHON": "/nowhere/python"})
    except Exception as exc:  # noqa: BLE001 - the message is the point
        assert str(exc).startswith("Spark's Python workers would run 'python3', not this interpreter")
        assert f"set PYSPARK_PYTHON={sys.executable} before the Spark session starts" in str(exc)
    else:
        raise AssertionError("an interpreter that does not run must be refused")


# -- a small input and a slow model ----------------------------------------------------------------
def test_a_small_input_is_spread_over_the_cores_and_progress_counts_rows_scored(spark, tmp_path):
    assert spread_partitions(1, 2, MIN_SPREAD_BYTES) == 4
    assert spread_partitions(8, 2, 10**9) is None  # a large input with partitions enough: no shuffle
    assert spread_partitions(1, 2, 1000) is None  # a handful of rows
    import modelop_spark as ms

    data = tmp_path / "records.json"
    data.write_text("".join(json.dumps({"x": float(i), "pad": "p" * 40}) + "\n" for i in range(6000)))
    assert data.stat().st_size >= MIN_SPREAD_BYTES
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "2"})
    counter = rows_scored_counter(spark)
    before = counter.value
    scored = ms.score_with_rejects(spark.read.json(str(data)), snapshot)
    assert spark.read.json(str(data)).rdd.getNumPartitions() == 1
    assert scored.combined.rdd.getNumPartitions() == 2 * spark.sparkContext.defaultParallelism
    assert scored.counts()["rows_out"] == 6000
    assert counter.value - before == 6000
    assert "6,000 rows scored" in read_progress(spark, after_stage=-1, started=0.0, scored_before=before).line()


# -- the cache folder and the package --------------------------------------------------------------
FINDER = """
import importlib.machinery, sys

class Editable:  # as setuptools' editable install finds the package: after the path entries
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "modelop_spark":
            return importlib.machinery.PathFinder.find_spec(name, [{root!r}])
        return None

sys.meta_path.append(Editable)
sys.path[:] = [p for p in sys.path if p != {root!r}]
"""


def test_a_script_run_from_the_temporary_folder_imports_the_package_not_the_cache(tmp_path):
    old = tmp_path / "modelop_spark" / "inline" / "abc123"  # what an older runtime left behind
    old.mkdir(parents=True)
    (old / "model.py").write_text("# cached\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("MODELOP_SPARK_CACHE", None)
    finder = FINDER.format(root=str(ROOT))
    first = textwrap.dedent("""
        from modelop_spark.cache import cache_folder
        cache_folder("inline").mkdir(parents=True, exist_ok=True)  # the runtime's first use of its cache
    """)
    script = tmp_path / "score_it.py"  # a newcomer's script, beside the cache
    script.write_text("import modelop_spark as ms\nprint(ms.score.__name__)\n")
    run = subprocess.run([sys.executable, "-c", finder + first], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    run = subprocess.run([sys.executable, "-c", finder + f"exec(open({str(script)!r}).read())"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "score"
    assert not (tmp_path / "modelop_spark").exists()
    assert (tmp_path / DEFAULT_NAME / "inline" / "abc123" / "model.py").read_text() == "# cached\n"  # moved, not lost


def test_importing_the_package_leaves_evaluation_plots_and_connectors_for_first_use():
    """Every Spark Python worker imports the package to run the runtime's UDFs: what it loads is
    paid by each worker before its first row (matplotlib, scipy and delta took 1.7 s a worker)."""
    probe = textwrap.dedent("""
        import sys
        import modelop_spark as ms
        heavy = [m for m in ("matplotlib", "scipy", "sklearn", "modelop_spark.evaluation", "modelop_spark.assets.delta") if m in sys.modules]
        print(heavy)
        print(ms.EvaluationColumns.__name__, ms.MONITORS[0], ms.load_snapshot.__name__)  # still there, on first use
    """)
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == ["[]", "EvaluationColumns data-drift load_snapshot"]


def test_every_api_name_stays_the_api_once_every_module_is_imported():
    """Importing a submodule sets it as an attribute of its package: a submodule named like an API
    function (``explain``) would replace that function once anything imported it."""
    probe = textwrap.dedent("""
        import importlib, pkgutil, types
        import modelop_spark as ms
        for info in pkgutil.walk_packages(ms.__path__, "modelop_spark."):
            if ".migrations" not in info.name:  # alembic scripts, run by alembic only
                importlib.import_module(info.name)
        print([name for name in ms.__all__ if isinstance(getattr(ms, name), types.ModuleType)])
    """)
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1] == "[]"
