"""A small corpus of ModelOp Center-style models and job files, written as ModelOp writes them.

``repository/spark_model.py`` is a PySpark model whose score, metrics and train each end with
``SPARK.stop()``, write with Spark's default error-if-exists mode, and check that they get
exactly one input and one output; its metrics returns None. The job files in ``jobs/`` carry
what real ModelOp job files carry: ``repositoryInfo`` on ``modelMetaData`` and/or on the model
asset (with ``importedRepository``), a ``sourceCode`` placeholder beside ``sourceCodeFilePath``,
spark-submit flags in ``jobParameters``, ``targetEngine.sparkConf`` naming YARN, and bookkeeping
fields (dates, ``group``, ``version``, ``fileSize``, ``targetRuntimes``). ``${CORPUS}`` and
``${OUT}`` in them are filled in by :func:`render_corpus`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
JOBS = ("train", "score", "metrics")


def render_corpus(folder: Path) -> dict[str, Path]:
    """Copy the corpus into ``folder`` and write its job files with real paths: name -> job file."""
    corpus = folder / "corpus"
    shutil.copytree(HERE / "repository", corpus / "repository")
    shutil.copytree(HERE / "data", corpus / "data")
    out = folder / "out"
    jobs = {}
    for name in JOBS:
        text = Template((HERE / "jobs" / f"{name}.json").read_text()).substitute(CORPUS=corpus, OUT=out)
        jobs[name] = folder / f"{name}.json"
        jobs[name].write_text(text)
    return jobs
