"""The one place a SparkSession is created.

Library code takes a session or uses the active one; only the command-line entry points and the
notebook API (when no session is active) come here to create one, and nothing is created at import.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelop_spark._failures import one_line
from modelop_spark.config import conf_dir, spark_settings
from modelop_spark.errors import SessionError

MIN_JAVA = 17

_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def parse_java_major(version_output: str) -> int | None:
    """Major Java version from ``java -version`` output (``1.8.0`` is 8, ``17.0.15`` is 17)."""
    match = _JAVA_VERSION.search(version_output)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def find_java(environ: Mapping[str, str] = os.environ) -> str | None:
    java_home = environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java")


def check_java() -> None:
    """Fail with one clear line when Spark's JVM cannot start: Java missing or too old."""
    java = find_java()
    if java is None:
        where = f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java" if os.environ.get("JAVA_HOME") else "no java on PATH"
        raise SessionError(
            f"Java was not found ({where}): Spark needs Java {MIN_JAVA} or newer; install it "
            f"(Debian: apt-get install openjdk-{MIN_JAVA}-jre-headless) or set JAVA_HOME."
        )
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SessionError(f"Java at {java} does not run ({exc}); set JAVA_HOME to a Java {MIN_JAVA}+ installation.") from exc
    major = parse_java_major(shown.stderr + shown.stdout)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else "an unrecognised Java"
        raise SessionError(
            f"{found} at {java} is too old: Spark 4 needs Java {MIN_JAVA} or newer; "
            f"set JAVA_HOME to a Java {MIN_JAVA}+ installation."
        )


_LOCAL_MASTER = re.compile(r"^local(?:\[(\*|\d+)\])?$")
LOCAL_TASK_ATTEMPTS = 2


def with_task_retries(master: str) -> str:
    """``local``/``local[N]``/``local[*]`` with task retries (``local[N,2]``): Spark's plain local
    master runs each task once, so one killed Python worker would fail the whole job. A master
    that already says how many attempts (``local[N,F]``), and any cluster master, is kept."""
    match = _LOCAL_MASTER.match(master.strip())
    if match is None:
        return master
    return f"local[{match.group(1) or 1},{LOCAL_TASK_ATTEMPTS}]"


def workers_use_this_interpreter(environ: MutableMapping[str, str] = os.environ) -> None:
    """Make Spark's Python workers run this interpreter, unless the user chose one.

    A virtualenv's python is not on the workers' PATH, so without this a session the user builds
    (``SparkSession.builder.master("local[2]").getOrCreate()``) runs its workers on the system
    Python, which lacks the model's libraries. Spark reads PYSPARK_PYTHON when the session's
    context starts, so this runs at import, before any session exists; it creates none.
    ``spark.pyspark.python``, when the user sets it, still wins over the variable."""
    environ.setdefault("PYSPARK_PYTHON", sys.executable)
    environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


_WORKER_PYTHON_LOCK = threading.Lock()


def runtime_worker_python(context: Any, environ: Mapping[str, str] = os.environ) -> str | None:
    """The interpreter the runtime's Python functions must run on when the session's own choice
    would be another: None when the session's choice stands.

    PySpark reads PYSPARK_PYTHON once, when the session's context starts, and gives it to every
    Python function made afterwards (``SparkContext.pythonExec``, Spark's worker executable per
    function); unset, it is ``python3``, whichever one PATH finds first. A session made before
    this package was imported (a notebook kernel's, a first cell's) so runs its workers on
    another interpreter, without the runtime's libraries. On a local master the workers run on
    this machine: they can run the interpreter the runtime means (PYSPARK_PYTHON as it is now,
    set at import to this one unless the user chose), so that one is taken. A cluster master's
    choice stands (the executors' machines have their own interpreters)."""
    chosen = getattr(context, "pythonExec", None)
    master = str(getattr(context, "master", "") or "")
    if chosen is None or not master.startswith("local"):
        return None
    wanted = environ.get("PYSPARK_PYTHON") or sys.executable
    # Paths, not resolved links: a virtualenv's python links to the base one but runs with its packages.
    if chosen == wanted or os.path.abspath(shutil.which(chosen) or chosen) == os.path.abspath(wanted):
        return None
    if not (shutil.which(wanted) or os.access(wanted, os.X_OK)):
        raise SessionError(
            f"Spark's Python workers would run {chosen!r}, not this interpreter, and {wanted!r} does not run here: set "
            f"PYSPARK_PYTHON={sys.executable} before the Spark session starts, so the workers have the runtime's libraries"
        )
    return wanted


@contextmanager
def workers_on_runtime_python(spark: Any) -> Iterator[None]:
    """Make the Python functions created inside the block run on the runtime's interpreter
    (:func:`runtime_worker_python`); the session's own choice is back after it, for the user's
    functions. ``spark``: a classic session or its SparkContext; Spark Connect sessions have no
    context here (the server chooses)."""
    context = getattr(spark, "_sc", spark)
    wanted = runtime_worker_python(context) if context is not None else None
    if wanted is None:
        yield
        return
    with _WORKER_PYTHON_LOCK:
        previous = context.pythonExec
        context.pythonExec = wanted
        try:
            yield
        finally:
            context.pythonExec = previous


def standalone_masters(master: str) -> list[tuple[str, int]]:
    """(host, port) of each master in a standalone URL (``spark://h1:7077,h2:7077``); [] for
    any other kind of master."""
    if not master.startswith("spark://"):
        return []
    hosts = []
    for part in master.removeprefix("spark://").split(","):
        host, _, port = part.strip().rpartition(":")
        hosts.append((host or part, int(port) if port.isdigit() else 7077))
    return hosts


def check_master_reachable(master: str, *, timeout: float = 5.0) -> None:
    """A standalone master that cannot be reached fails here in seconds, with the cause, rather
    than after Spark's own retries (a minute of Java stack traces)."""
    masters = standalone_masters(master)
    causes = []
    for host, port in masters:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except socket.gaierror:
            causes.append(f"host {host} does not resolve")
        except OSError as exc:
            causes.append(f"{host}:{port} refuses or does not answer ({exc.strerror or type(exc).__name__})")
    if masters:
        raise SessionError(f"Spark master {master} is unreachable: {'; '.join(causes)}; check --master (or MODELOP_SPARK_MASTER)")



def under_spark_submit() -> bool:
    """spark-submit starts the JVM first and tells Python its gateway port."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def active_session():
    """The active session (classic or Connect), or None."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def get_or_create_session(
    *,
    master: str | None = None,
    app_name: str = "modelop-spark",
    conf: Mapping[str, str] | None = None,
):
    """Return the active session, or create the embedded default one.

    An active session is returned as it is: we never reconfigure or stop a caller's session.
    """
    session = active_session()
    if session is not None:
        return session
    from pyspark.sql import SparkSession

    # imported here, not at the top: every Python worker imports this module, and none needs assets
    from modelop_spark.assets.jdbc import default_jars

    submitted = under_spark_submit()
    if not submitted:
        check_java()
    workers_use_this_interpreter()
    settings = spark_settings(master=master, overrides=conf, directory=conf_dir(), under_spark_submit=submitted)
    # JDBC drivers must be on the classpath when the JVM starts
    if "spark.jars" not in settings and (jars := default_jars()):
        settings["spark.jars"] = ",".join(jars)
    if "spark.master" in settings:
        settings["spark.master"] = with_task_retries(settings["spark.master"])
    if not submitted:
        check_master_reachable(settings.get("spark.master", ""))
    if settings.get("spark.master", "").startswith("local"):
        # One machine: bind to loopback rather than whatever the hostname resolves to.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start or the master is unreachable
        raise SessionError(f"Spark could not start with master {settings.get('spark.master', '(from spark-submit)')}: {one_line(exc)}") from exc


def ship_package(spark) -> None:
    """On a cluster, send this package to the executors (they may not have it installed).

    Local masters share this machine's environment, so nothing is shipped there."""
    import tempfile
    import zipfile

    master = spark.conf.get("spark.master", "local")
    if master.startswith("local") or getattr(spark, "sparkContext", None) is None:
        return
    package = Path(__file__).resolve().parent.parent
    bundle = Path(tempfile.mkdtemp(prefix="modelop-spark-")) / "modelop_spark.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, str(path.relative_to(package.parent)))
    spark.sparkContext.addPyFile(str(bundle))
