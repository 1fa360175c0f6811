"""A small corpus of ModelOp Center-style models and job files, written as ModelOp writes them.

``repository/spark_model.py`` is a PySpark model whose score, metrics and train each end with
``SPARK.stop()``, write with Spark's default error-if-exists mode, and check that they get
exactly one input and one output; its metrics returns None. The job files in ``jobs/`` carry
what real ModelOp job files carry: ``repositoryInfo`` on ``modelMetaData`` and/or on the model
asset (with ``importedRepository``), a ``sourceCode`` placeholder beside ``sourceCodeFilePath``,
spark-submit flags in ``jobParameters``, ``targetEngine.sparkConf`` naming YARN, and bookkeeping
fields (dates, ``group``, ``version``, ``fileSize``, ``targetRuntimes``).

More conventions, each in a job of its own (``sources/`` are inline ``sourceCode``):
- ``bare_score``, ``bare_metrics``: a score function that yields a bare number per record (the
  output schema's single field names the column, else ``prediction``; ``score_first``); a
  ``fileFormat`` of ``UNKNOWN`` (the URL's extension decides).
- ``train_to_output``: a ``MODEL_BATCH_TRAINING_JOB`` with inline source whose product is the
  Spark ML model folder it saves to its ``outputData`` (no snapshot version asked for).
- ``refused_*`` (``REFUSED``): jobs refused before Spark, each naming its snapshot in the
  summary: ``fileFormat`` XLSX, source with a syntax error, an output inside the model's folder
  (beside a ``CHANGEME`` placeholder).

``${CORPUS}``, ``${OUT}`` and ``${SOURCE_<name>}`` (a source as JSON string text) in them are
filled in by :func:`render_corpus`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
JOBS = ("train", "score", "metrics", "bare_score", "bare_metrics", "train_to_output")
REFUSED = ("refused_xlsx", "refused_syntax", "refused_location")


def _sources() -> dict[str, str]:
    """``SOURCE_<name>`` for each source, as JSON string text (``broken.py.txt`` does not compile:
    a ``.txt``, so the linters leave it alone)."""
    return {f"SOURCE_{p.name.split('.')[0]}": json.dumps(p.read_text())[1:-1] for p in sorted((HERE / "sources").iterdir())}


def render_corpus(folder: Path) -> dict[str, Path]:
    """Copy the corpus into ``folder`` and write its job files with real paths: name -> job file."""
    corpus = folder / "corpus"
    shutil.copytree(HERE / "repository", corpus / "repository")
    shutil.copytree(HERE / "data", corpus / "data")
    out = folder / "out"
    jobs = {}
    for name in (*JOBS, *REFUSED):
        text = Template((HERE / "jobs" / f"{name}.json").read_text()).substitute(CORPUS=corpus, OUT=out, **_sources())
        jobs[name] = folder / f"{name}.json"
        jobs[name].write_text(text)
    return jobs
