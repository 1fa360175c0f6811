"""``modelop-spark run`` (a job file) and ``modelop-spark score`` (a one-liner without one).

    modelop-spark run JOB.json [JOB.json ...] [--param k=v ...] [--master URL] [--use-job-master]
                      [--conf k=v ...] [--result FILE] [--json] [--quiet]
    modelop-spark score SNAPSHOT INPUT OUTPUT [--param k=v ...] [--key-column C ...] [same options]

Every outcome, a job that fails validation or a bad ``--conf`` included, is a JobResult: printed
as a summary (or whole with ``--json``), written where ``--result`` asks, exit code 0 when
COMPLETE and 1 on ERROR. Several job files run one after another in one Spark application, which
starts with the first job's Spark settings (ModelOp's spark-submit flags).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelop_spark._logging import log_file
from modelop_spark.commands.arguments import conf_pairs, job_with_parameters, parameter_pairs
from modelop_spark.errors import ModelOpSparkError
from modelop_spark.jobs.result import JobResult, utc_now
from modelop_spark.jobs.runner import (
    check_job,
    coerce_spec,
    refused_result,
    run_job,
    session_for_job,
)
from modelop_spark.jobs.spec import JobSpec, read_job_document
from modelop_spark.progress import choose_mode, watch_progress
from modelop_spark.runtime.session import ship_package, under_spark_submit

__all__ = ["add_run_commands", "failed_result", "score_job"]

DEFAULT_PROGRESS_EVERY = 30.0


def add_run_commands(commands: Any) -> None:
    run = commands.add_parser("run", help="run a job file (this runtime's own or a ModelOp job JSON)")
    run.add_argument("job", nargs="+", help="path to the job JSON (several run one after another in one Spark application)")
    run.add_argument("--use-job-master", action="store_true",
                     help="use the Spark master a ModelOp job names (targetEngine.sparkConf, jobParameters) when no --master is given")
    _common_options(run)
    run.set_defaults(handler=_run)

    score = commands.add_parser("score", help="score a file with a snapshot, without a job file")
    score.add_argument("snapshot", help="snapshot folder, .zip/.tar.gz, MLflow model, or models:/NAME/VERSION")
    score.add_argument("input", help="input file or folder (csv, json lines, parquet; from the extension)")
    score.add_argument("output", help="output folder or file (format from the extension; parquet by default)")
    score.add_argument("--key-column", action="append", default=[], metavar="COLUMN", help="input column passed through to the output (repeatable)")
    score.add_argument("--job-id", help="job identity for rerun safety (default: derived from the arguments)")
    _common_options(score)
    score.set_defaults(handler=_score)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="set a job parameter (repeatable; JSON values, else text)")
    parser.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark conf (repeatable)")
    parser.add_argument("--result", metavar="FILE", help="also write the JobResult JSON to FILE (on failure too)")
    parser.add_argument("--json", action="store_true", help="print the whole JobResult JSON instead of a summary")
    parser.add_argument("--quiet", action="store_true", help="no progress and no summary: only errors (and --json's JSON)")
    parser.add_argument("--progress-every", type=float, default=DEFAULT_PROGRESS_EVERY, metavar="SECONDS",
                        help=f"when not on a terminal, log progress every SECONDS (default {DEFAULT_PROGRESS_EVERY:g})")


def failed_result(error: ModelOpSparkError, *, job_id: str = "unknown", job_type: str = "unknown") -> JobResult:
    """The JobResult of a job that failed before it could run (bad job file, bad arguments)."""
    now = utc_now()
    return JobResult(job_id=job_id, job_type=job_type, status="ERROR", started_at=now, ended_at=now, error=error.to_dict())


def score_job(snapshot: str, input_url: str, output_url: str, *, key_columns: list[str], parameters: dict[str, Any],
              job_id: str | None = None) -> dict[str, Any]:
    """The job document ``modelop-spark score`` runs (pure)."""
    job: dict[str, Any] = {
        "job_type": "scoring",
        "snapshot": snapshot,
        "inputs": [{"kind": "file", "name": Path(input_url.rstrip("/")).stem or "input", "url": input_url}],
        "outputs": [{"kind": "file", "name": "scores", "url": output_url, **({} if Path(output_url).suffix else {"format": "parquet"})}],
    }
    if key_columns:
        job["options"] = {"key_columns": key_columns}
    if parameters:
        job["parameters"] = parameters
    if job_id:
        job["job_id"] = job_id
    return job


def _run(args: argparse.Namespace) -> int:
    return _execute(args, lambda: [read_job_document(path) for path in args.job])


def _score(args: argparse.Namespace) -> int:
    return _execute(args, lambda: [score_job(args.snapshot, args.input, args.output, key_columns=args.key_column,
                                             parameters={}, job_id=args.job_id)])


def _execute(args: argparse.Namespace, read_jobs: Callable[[], list[dict[str, Any]]]) -> int:
    batch = _Batch()
    try:
        batch.read(read_jobs, args)
        spark = batch.start_spark(args)
    except ModelOpSparkError as exc:
        return report(args, [batch.failed(exc)])
    results = []
    for spec in batch.specs:
        if (result := batch.refused[id(spec)]) is not None:
            results.append(result)
            continue
        if spec is not batch.runnable[0]:  # Spark runs already: a later job's settings are logged, not applied
            spark = session_for_job(spec, master=args.master)
        with watch_progress(spark, mode=choose_mode(quiet=args.quiet), every=args.progress_every):
            results.append(run_job(spec, spark=spark))
    return report(args, results)


@dataclass
class _Batch:
    """The jobs of one command, as far as they were read: documents, specs, each one's refusal."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    specs: list[JobSpec] = field(default_factory=list)
    refused: dict[int, JobResult | None] = field(default_factory=dict)
    conf: dict[str, str] = field(default_factory=dict)  # --conf

    def read(self, read_jobs: Callable[[], list[dict[str, Any]]], args: argparse.Namespace) -> None:
        self.documents = read_jobs()
        parameters, self.conf = parameter_pairs(args.param), conf_pairs(args.conf)
        self.documents = [job_with_parameters(document, parameters) for document in self.documents]
        self.specs = [coerce_spec(document) for document in self.documents]  # a bad job fails here, before Spark starts
        # Each job's own checks too: a job they refuse is reported without ever starting the JVM.
        self.refused = {id(spec): refusal(spec) for spec in self.specs}

    @property
    def runnable(self) -> list[JobSpec]:
        return [spec for spec in self.specs if self.refused.get(id(spec)) is None]

    def start_spark(self, args: argparse.Namespace) -> Any:
        """The session for the runnable jobs (None when every job was refused): the first job's
        Spark settings (ModelOp's spark-submit flags) apply when Spark starts here."""
        if not self.runnable:
            return None
        spark = session_for_job(self.runnable[0], master=args.master, conf=self.conf, use_job_master=getattr(args, "use_job_master", False))
        quiet_spark_logs(spark)
        ship_package(spark)
        return spark

    def failed(self, error: ModelOpSparkError) -> JobResult:
        """The result of a batch stopped before its jobs ran, naming the job as far as it could
        be read, so a scheduler can match the result to it."""
        if self.specs and len(self.specs) == len(self.documents):  # Spark did not start for a job ready to run
            return refused_result((self.runnable or self.specs)[0], error)
        document = self.documents[len(self.specs)] if len(self.specs) < len(self.documents) else {}
        job_id = str(document.get("job_id") or document.get("id") or "unknown")
        job_type = str(document.get("job_type") or document.get("jobType") or "unknown")
        return failed_result(error, job_id=job_id, job_type=job_type)


def refusal(spec: JobSpec) -> JobResult | None:
    """The ERROR result of a job its checks refuse (no Spark needed to tell), else None."""
    try:
        check_job(spec)
    except Exception as exc:  # every refusal is a result, like run_job's
        return refused_result(spec, exc)
    return None


def report(args: argparse.Namespace, results: list[JobResult]) -> int:
    """Write ``--result``, print each summary or ``--json``, errors on stderr; the exit code."""
    text = results[0].to_json() if len(results) == 1 else "[" + ",\n".join(r.to_json() for r in results) + "]"
    if args.result:
        try:
            Path(args.result).parent.mkdir(parents=True, exist_ok=True)
            Path(args.result).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write the JobResult to --result {args.result}: {exc.strerror or exc}", file=sys.stderr)
    for result in results:
        if args.json:
            print(result.to_json())
        elif not args.quiet:
            print(result.summary())
        if not result.ok and not args.json:
            print(f"error: {(result.error or {}).get('message')} (details in {log_file()})", file=sys.stderr)
    return max(result.exit_code for result in results)


def quiet_spark_logs(spark: Any) -> None:
    """Under spark-submit the JVM started before us, so our log4j2.properties could not apply:
    lower Spark's own level to WARN, unless the user gave Spark a log configuration."""
    if not under_spark_submit() or getattr(spark, "_sc", None) is None:
        return
    java_options = spark._sc.getConf().get("spark.driver.extraJavaOptions", "") or ""
    conf_dir = os.environ.get("SPARK_CONF_DIR") or os.path.join(os.environ.get("SPARK_HOME", ""), "conf")
    if "log4j2.configurationFile" in java_options or os.path.isfile(os.path.join(conf_dir, "log4j2.properties")):
        return
    spark._sc.setLogLevel("WARN")
