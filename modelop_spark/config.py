"""Runtime settings: defaults in code, then ``conf/`` files, then environment, then arguments.

Pure functions over plain values; the session factory and the CLI wire them to Spark.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

DEFAULT_MASTER = "local[*]"

# What the embedded default needs even when no conf file is found.
DEFAULT_SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.python.worker.reuse": "true",
    # Arrow batches to the model: at most 10,000 rows and 32 MiB, so wide rows (long strings,
    # many columns) make smaller batches and a worker's memory stays bounded whatever the width.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "10000",
    "spark.sql.execution.arrow.maxBytesPerBatch": str(32 * 1024 * 1024),
    "spark.ui.showConsoleProgress": "false",
}

# One model call (a record, a batch) may take this long unless the job says otherwise (0: no
# limit); peers bound it too (SageMaker Batch Transform 600 s, Azure ML batch endpoints 60 s).
MODEL_TIMEOUT_CONF = "spark.modelop.modelTimeoutSeconds"
DEFAULT_MODEL_TIMEOUT_SECONDS = 600.0


def model_call_timeout(job_value: float | None, conf_value: str | None) -> float | None:
    """Seconds one model call may take: the job's value, else the session's conf (from conf/),
    else the default; 0 (or less) means none (None)."""
    chosen = job_value if job_value is not None else float(conf_value) if conf_value else DEFAULT_MODEL_TIMEOUT_SECONDS
    return chosen if chosen > 0 else None


ENV_CONF_DIR = "MODELOP_SPARK_CONF_DIR"
ENV_MASTER = "MODELOP_SPARK_MASTER"


def conf_dir() -> Path | None:
    """The folder holding spark-defaults.conf and log4j2.properties, if there is one."""
    explicit = os.environ.get(ENV_CONF_DIR)
    if explicit:
        return Path(explicit)
    bundled = Path(__file__).resolve().parent.parent / "conf"
    return bundled if bundled.is_dir() else None


def parse_spark_defaults(text: str) -> dict[str, str]:
    """Parse Spark's ``spark-defaults.conf`` format: ``key value`` per line, ``#`` comments."""
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s+", line, maxsplit=1)
        key, value = parts[0], parts[1] if len(parts) > 1 else ""
        if "=" in key and not value:
            key, _, value = key.partition("=")
        settings[key.strip()] = value.strip()
    return settings


def spark_settings(
    *,
    master: str | None,
    overrides: Mapping[str, str] | None = None,
    directory: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    under_spark_submit: bool = False,
) -> dict[str, str]:
    """The Spark configuration a new session is built with.

    spark-submit's own master and conf win over our defaults: under spark-submit we only set
    a master that the caller names explicitly.
    """
    settings = dict(DEFAULT_SPARK_CONF)
    if directory is not None:
        defaults_file = directory / "spark-defaults.conf"
        if defaults_file.is_file():
            settings.update(parse_spark_defaults(defaults_file.read_text()))
        log_file = directory / "log4j2.properties"
        if log_file.is_file() and "spark.driver.extraJavaOptions" not in settings:
            settings["spark.driver.extraJavaOptions"] = (
                f"-Dlog4j2.configurationFile=file:{log_file.resolve()}"
            )
    chosen_master = master or environ.get(ENV_MASTER)
    if chosen_master:
        settings["spark.master"] = chosen_master
    elif not under_spark_submit:
        settings.setdefault("spark.master", DEFAULT_MASTER)
    if under_spark_submit:
        # spark-submit already launched the JVM: these would be silently ignored, so omit them.
        settings.pop("spark.driver.extraJavaOptions", None)
    settings.update(overrides or {})
    return settings
