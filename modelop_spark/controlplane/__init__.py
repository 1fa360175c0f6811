"""The control plane: models, snapshots, tagged Spark runtimes, jobs and notifications.

Modules, one concern each: ``states`` (job states and their transitions), ``matching`` (which
runtime runs a job), ``leases`` (liveness and lease rules), ``jobrequest`` (a job request -> the
document a runtime runs), ``tables``/``database``/``store`` (SQLAlchemy + Alembic, SQLite or
PostgreSQL), ``blobs`` (archives, job documents and results under the data folder), ``auth``
(tokens, users, roles), ``notifications``, ``service`` (the operations), ``app`` (the FastAPI
routes over them), ``server`` (serving) and ``client`` (the HTTP client ``moc`` and the agent use).
"""
