"""Spark settings a job asks for: ModelOp's spark-submit flags, read as Spark conf.

ModelOp job files carry spark-submit flags for the runtime that submits them: in
``jobParameters`` (``"--executor-memory": "512MB"``, ``"--total-executor-cores": "10"``,
``"-v": ""``) and in ``targetEngine`` (``sparkConf: {"--master": "yarn"}``, ``executorMemory``).
They are settings of the Spark application, not parameters of the model, so they are taken out
of the model's parameters here and mapped to Spark conf keys. They take effect only when this
runtime starts the application (``modelop-spark run`` with no session running yet); a master
named by the job is used only when the caller allows it, and by default the runtime's own master
wins. Flags with no meaning here are ignored with a debug line. Pure functions over plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelop_spark._redact import redacted_logger

__all__ = ["MASTER", "engine_spark_conf", "session_conf_for_job", "split_job_parameters"]

log = redacted_logger(__name__)

MASTER = "spark.master"

# spark-submit flag -> the Spark conf key it sets (spark-submit's own table, for what applies here)
SUBMIT_FLAGS: dict[str, str] = {
    "--master": MASTER,
    "--name": "spark.app.name",
    "--deploy-mode": "spark.submit.deployMode",
    "--driver-memory": "spark.driver.memory",
    "--driver-cores": "spark.driver.cores",
    "--executor-memory": "spark.executor.memory",
    "--executor-cores": "spark.executor.cores",
    "--total-executor-cores": "spark.cores.max",
    "--num-executors": "spark.executor.instances",
    "--queue": "spark.yarn.queue",
    "--jars": "spark.jars",
    "--py-files": "spark.submit.pyFiles",
    "--files": "spark.files",
}
_WITH_MASTER = {MASTER, "spark.submit.deployMode"}  # meaningful only with the job's own master
# targetEngine fields ModelOp writes -> Spark conf
ENGINE_FIELDS: dict[str, str] = {
    "executorMemory": "spark.executor.memory",
    "executorCores": "spark.executor.cores",
    "driverMemory": "spark.driver.memory",
    "numExecutors": "spark.executor.instances",
}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _conf_pairs(value: Any) -> dict[str, str]:
    """``--conf``'s value: ``"k=v"``, a list of them, or a mapping."""
    if isinstance(value, Mapping):
        return {str(k): _text(v) for k, v in value.items()}
    items = value if isinstance(value, list | tuple) else [value]
    pairs = {}
    for item in items:
        key, sep, setting = str(item).partition("=")
        if sep and key.strip():
            pairs[key.strip()] = setting.strip()
        else:
            log.debug("job: --conf %r is not key=value; ignored", item)
    return pairs


def _flags_to_conf(flags: Mapping[str, Any], *, where: str) -> dict[str, str]:
    conf: dict[str, str] = {}
    for flag, value in flags.items():
        if flag in ("--conf", "-c"):
            conf.update(_conf_pairs(value))
        elif flag in SUBMIT_FLAGS:
            conf[SUBMIT_FLAGS[flag]] = _text(value)
        elif flag.startswith("spark.") and value not in (None, ""):
            conf[flag] = _text(value)
        else:
            log.debug("job: %s %s has no meaning in this runtime; ignored", where, flag)
    return conf


def split_job_parameters(parameters: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """ModelOp ``jobParameters`` -> (the model's parameters, Spark conf from spark-submit flags).

    A key starting with ``-`` is a spark-submit flag: it never reaches the model as a parameter."""
    flags = {k: v for k, v in parameters.items() if str(k).startswith("-")}
    model = {k: v for k, v in parameters.items() if k not in flags}
    return model, _flags_to_conf(flags, where="jobParameters")


def engine_spark_conf(engine: Mapping[str, Any]) -> dict[str, str]:
    """Spark conf from ModelOp's ``targetEngine``: ``sparkConf`` (flags or ``spark.*`` keys) and
    ``executorMemory`` and the like; its other fields (name, tags, engineType) say where a job
    runs, which the control plane decides, and are ignored here."""
    conf = {ENGINE_FIELDS[k]: _text(v) for k, v in engine.items() if k in ENGINE_FIELDS and v not in (None, "")}
    spark_conf = engine.get("sparkConf") or {}
    if isinstance(spark_conf, Mapping):
        conf.update(_flags_to_conf(spark_conf, where="targetEngine.sparkConf"))
    else:
        log.debug("job: targetEngine.sparkConf is not an object; ignored")
    return conf


def session_conf_for_job(
    requested: Mapping[str, str], *, running: bool, use_job_master: bool, runtime_master: str | None
) -> tuple[str | None, dict[str, str]]:
    """(master, conf) to start the Spark application with, given what a job asks for.

    ``running``: a session already exists (or spark-submit started the application), so nothing
    the job asks for can apply. ``runtime_master``: the master the caller chose (None: the
    runtime's default)."""
    if not requested:
        return runtime_master, {}
    settings = ", ".join(f"{k}={v}" for k, v in sorted(requested.items()))
    if running:
        log.info(
            "job asks for %s; the Spark application is already running, so these do not apply "
            "(set them where it starts: spark-submit flags or --conf)", settings,
        )
        return runtime_master, {}
    conf = {k: v for k, v in requested.items() if k not in _WITH_MASTER}
    master = runtime_master
    job_master = requested.get(MASTER)
    if job_master and use_job_master and runtime_master is None:
        master = job_master
        conf.update({k: v for k, v in requested.items() if k in _WITH_MASTER and k != MASTER})
        log.info("job: using the job's Spark master %s", job_master)
    elif job_master and job_master != runtime_master:
        log.warning(
            "job asks for Spark master %s; running on this runtime's master %s instead "
            "(pass --use-job-master to honour the job's)", job_master, runtime_master or "(the default)",
        )
    if conf:
        log.info("job: starting Spark with %s", ", ".join(f"{k}={v}" for k, v in sorted(conf.items())))
    return master, conf
