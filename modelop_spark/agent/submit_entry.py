"""spark-submit entry for the runtime agent's jobs: ``submit_entry.py JOB.json --result FILE``.

Kept free of imports from this folder: spark-submit puts the script's folder first on sys.path.
"""

import sys

from modelop_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
