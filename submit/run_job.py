"""spark-submit entry point: ``spark-submit submit/run_job.py job.json [--result FILE] [--json]``.

spark-submit's --master and --conf apply; the job runs in the session spark-submit started.
"""

import sys

from modelop_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
