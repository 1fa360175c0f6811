"""The runtime agent: registers this machine's Spark with a control plane and runs its jobs.

``agent`` (register, heartbeat, claim, run, report), ``executors`` (in-process or one
spark-submit per job), ``submit`` (the spark-submit command line), ``outbox`` (results kept on
disk until delivered), ``cli`` (``modelop-spark runtime serve``).
"""
