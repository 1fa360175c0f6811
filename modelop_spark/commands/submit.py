"""``modelop-spark-submit``: spark-submit with this environment, nothing to activate first.

    .venv/bin/modelop-spark-submit [spark-submit options] submit/run_job.py JOB.json [--result FILE] [--json]

PySpark's own ``spark-submit`` script finds SPARK_HOME and the driver's Python through whatever
``python3`` is on PATH, so outside an activated virtualenv it fails (``Could not find valid
SPARK_HOME``) or runs the driver on a Python without this package. This wrapper sets, unless the
caller already has them: SPARK_HOME (the installed PySpark), PYSPARK_PYTHON and
PYSPARK_DRIVER_PYTHON (this interpreter), and the runtime's quiet ``log4j2.properties`` for the
driver JVM (not when the caller passes driver Java options or a SPARK_CONF_DIR). The arguments are
spark-submit's own, passed through unchanged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from modelop_spark.config import conf_dir

__all__ = ["main", "submit_command"]

_JAVA_OPTION_FLAGS = ("--driver-java-options", "spark.driver.extraJavaOptions")


def submit_command(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str],
    python: str,
    spark_home: str,
    log_config: Path | None,
) -> tuple[list[str], dict[str, str]]:
    """The spark-submit command line and environment (pure)."""
    env = dict(environ)
    env.setdefault("SPARK_HOME", spark_home)
    env.setdefault("PYSPARK_PYTHON", python)
    env.setdefault("PYSPARK_DRIVER_PYTHON", python)
    args = list(argv)
    caller_chose_logging = "SPARK_CONF_DIR" in environ or any(flag in arg for arg in args for flag in _JAVA_OPTION_FLAGS)
    if log_config is not None and log_config.is_file() and not caller_chose_logging:
        args = ["--driver-java-options", f"-Dlog4j2.configurationFile=file:{log_config.resolve()}", *args]
    return [str(Path(env["SPARK_HOME"]) / "bin" / "spark-submit"), *args], env


def main(argv: Sequence[str] | None = None) -> int:
    from pyspark.find_spark_home import _find_spark_home


    directory = conf_dir()
    command, env = submit_command(
        sys.argv[1:] if argv is None else argv,
        environ=os.environ,
        python=sys.executable,
        spark_home=_find_spark_home(),
        log_config=directory / "log4j2.properties" if directory else None,
    )
    os.execve(command[0], command, env)  # spark-submit's exit code is ours


if __name__ == "__main__":
    sys.exit(main())
