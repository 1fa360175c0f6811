"""JDBC assets: a read-only query (or table) from a database, and table outputs moved in one
transaction.

Settings live in ``options``: ``url`` (``jdbc:postgresql://host:port/db``), ``user``, optional
``driver`` (inferred for common databases) and the partitioned-read options
``partitionColumn``/``lowerBound``/``upperBound``/``numPartitions`` (bounds are looked up with
one ``min``/``max`` query when only the column is given). The password never sits in the job
file: it is read from the environment variable named by ``options.password_env`` (default
``MODELOP_JDBC_PASSWORD``); the user may come from ``MODELOP_JDBC_USER``.

The driver jar must be on Spark's classpath (``spark.jars``); Debian's PostgreSQL driver is
``/usr/share/java/postgresql.jar`` (package ``libpostgresql-jdbc-java``); ``MODELOP_JDBC_JARS``
names others (``default_jars``).

Output: Spark writes the rows to a staging table (``<target>__stg_<job>``); then, on the driver,
one database transaction creates the target if needed, clears it (overwrite) and inserts the
staged rows, records the job id in ``modelop_jdbc_commits``, and commits. A failed job leaves
the target as it was; a job id already recorded for the target is not written twice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelop_spark.assets.base import (
    AssetReader,
    AssetSpec,
    AssetWriter,
    StagedOutput,
    WrittenAsset,
)
from modelop_spark.assets.sql import JDBC_DIALECTS, check_read_only, conform_to_schema
from modelop_spark.assets.staging import safe_job_id
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

PASSWORD_ENV = "MODELOP_JDBC_PASSWORD"
USER_ENV = "MODELOP_JDBC_USER"
JARS_ENV = "MODELOP_JDBC_JARS"
DEBIAN_POSTGRES_JAR = "/usr/share/java/postgresql.jar"
COMMITS_TABLE = "modelop_jdbc_commits"
DRIVERS = {
    "postgresql": "org.postgresql.Driver",
    "mysql": "com.mysql.cj.jdbc.Driver",
    "mariadb": "org.mariadb.jdbc.Driver",
    "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    "oracle": "oracle.jdbc.OracleDriver",
    "db2": "com.ibm.db2.jcc.DB2Driver",
    "h2": "org.h2.Driver",
    "sqlite": "org.sqlite.JDBC",
}
_PARTITION_OPTIONS = ("partitionColumn", "lowerBound", "upperBound", "numPartitions")
_SECRET_IN_URL = re.compile(r"(?i)[;?&:](password|pwd)=")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


def default_jars(environ: Mapping[str, str] = os.environ) -> list[str]:
    """JDBC driver jars for ``spark.jars``: ``MODELOP_JDBC_JARS`` (comma separated), else
    Debian's PostgreSQL driver when installed."""
    named = [p.strip() for p in environ.get(JARS_ENV, "").split(",") if p.strip()]
    if named:
        return named
    return [DEBIAN_POSTGRES_JAR] if os.path.exists(DEBIAN_POSTGRES_JAR) else []


@dataclass(frozen=True)
class JdbcSettings:
    url: str
    driver: str
    user: str | None
    password: str | None
    subprotocol: str

    @property
    def dialect(self) -> str | None:
        return JDBC_DIALECTS.get(self.subprotocol)

    def spark_options(self) -> dict[str, str]:
        options = {"url": self.url, "driver": self.driver}
        if self.user:
            options["user"] = self.user
        if self.password:
            options["password"] = self.password
        return options

    @classmethod
    def from_asset(cls, asset: AssetSpec, *, environ: Mapping[str, str] = os.environ) -> JdbcSettings:
        where = f"asset {asset.label!r}"
        options = asset.options
        url = str(options.get("url") or asset.url or "")
        if not url.startswith("jdbc:"):
            raise AssetError(f"{where}: options.url must be a JDBC URL (jdbc:postgresql://host:port/db), found {url!r}")
        if "password" in options or _SECRET_IN_URL.search(url):
            raise AssetError(
                f"{where}: the job file carries a database password; remove it and set {PASSWORD_ENV} "
                "(or the variable named by options.password_env) in the runtime's environment"
            )
        subprotocol = url.split(":", 2)[1].lower()
        driver = str(options.get("driver") or DRIVERS.get(subprotocol) or "")
        if not driver:
            raise AssetError(f"{where}: no known JDBC driver for jdbc:{subprotocol}; set options.driver to its class")
        password_env = str(options.get("password_env") or PASSWORD_ENV)
        return cls(
            url=url,
            driver=driver,
            user=str(options.get("user") or environ.get(USER_ENV) or "") or None,
            password=environ.get(password_env),
            subprotocol=subprotocol,
        )


def _check_driver(spark: SparkSession, settings: JdbcSettings, where: str) -> None:
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        jvm.java.lang.Class.forName(settings.driver, True, jvm.Thread.currentThread().getContextClassLoader())
    except Exception:
        raise AssetError(
            f"{where}: the JDBC driver {settings.driver} is not on Spark's classpath; add its jar with spark.jars "
            f"(PostgreSQL on Debian: {DEBIAN_POSTGRES_JAR}) or {JARS_ENV}"
        ) from None


def jdbc_cause(exc: BaseException) -> str:
    """The database's own reason, first line, without the JVM stack."""
    text = str(exc)
    for marker in ("PSQLException: ", "SQLException: ", "SQLTransientConnectionException: ", "Exception: "):
        if marker in text:
            text = text.split(marker, 1)[1]
            break
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    if "Connection to" in first and "refused" in first:
        return first + "; check the host, port and that the database is running"
    if "password authentication failed" in first:
        return first + f"; check the user and {PASSWORD_ENV}"
    return first[:300]


class JdbcReader(AssetReader):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "jdbc"

    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        where = f"asset {asset.label!r}"
        settings = JdbcSettings.from_asset(asset)
        _check_driver(spark, settings, where)
        if asset.query:
            relation = f"({check_read_only(asset.query, dialect=settings.dialect, where=where)}) modelop_q"
        elif asset.table:
            _check_identifier(asset.table, where)
            relation = asset.table
        else:
            raise AssetError(f"{where}: a jdbc asset needs query (a SELECT statement) or table")
        with _Connection(spark, settings, where) as connection:  # reachable, credentials good, table there
            if asset.table and not connection.table_exists(asset.table):
                raise AssetError(f"{where}: table {asset.table} does not exist in {_public_url(settings.url)}; check the name")
        options = settings.spark_options() | {"dbtable": relation}
        options |= _partition_options(spark, asset, settings, relation, where)
        for key in ("fetchsize", "queryTimeout", "sessionInitStatement"):
            if key in asset.options:
                options[key] = str(asset.options[key])
        try:
            df = spark.read.format("jdbc").options(**options).load()
        except Exception as exc:
            raise AssetError(f"{where}: cannot read from {settings.url}: {jdbc_cause(exc)}") from exc
        return conform_to_schema(df, schema, where=where)


def _partition_options(spark, asset: AssetSpec, settings: JdbcSettings, relation: str, where: str) -> dict[str, str]:
    given = {k: asset.options[k] for k in _PARTITION_OPTIONS if k in asset.options}
    if "partitionColumn" not in given:
        return {}
    column = str(given["partitionColumn"])
    _check_identifier(column, where)
    options = {"partitionColumn": column, "numPartitions": str(given.get("numPartitions", spark.sparkContext.defaultParallelism))}
    if "lowerBound" in given and "upperBound" in given:
        return options | {"lowerBound": str(given["lowerBound"]), "upperBound": str(given["upperBound"])}
    bounds_query = f"(SELECT MIN({column}) AS lo, MAX({column}) AS hi FROM {relation}) modelop_bounds"
    try:
        row = spark.read.format("jdbc").options(**settings.spark_options(), dbtable=bounds_query).load().first()
    except Exception as exc:
        raise AssetError(f"{where}: cannot read from {settings.url}: {jdbc_cause(exc)}") from exc
    if row is None or row["lo"] is None:
        return {}  # no rows: one partition reads the nothing there is
    return options | {"lowerBound": str(row["lo"]), "upperBound": str(row["hi"])}


def _check_identifier(name: str, where: str) -> None:
    if not _IDENTIFIER.match(name):
        raise AssetError(f"{where}: {name!r} is not a plain table or column name (letters, digits, _ and one schema dot)")


class JdbcWriter(AssetWriter):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "jdbc"

    def stage(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
        where = f"asset {asset.label!r}"
        if not asset.table:
            raise AssetError(f"{where}: a jdbc output needs table (the target table's name)")
        _check_identifier(asset.table, where)
        spark = df.sparkSession
        settings = JdbcSettings.from_asset(asset)
        _check_driver(spark, settings, where)
        staging_table = f"{asset.table}__stg_{safe_job_id(job_id).lower().replace('-', '_')}"[:63]
        details: dict[str, Any] = {"job_id": job_id}
        written = WrittenAsset(name=asset.name, kind="jdbc", location=f"{_public_url(settings.url)}#{asset.table}", details=details)
        with _Connection(spark, settings, where) as connection:
            if asset.mode == "error" and connection.table_exists(asset.table):
                raise AssetError(f"{where}: table {asset.table} exists and mode is 'error'; choose overwrite or append")
            if connection.already_committed(asset.table, job_id):
                details["already_committed"] = True
                return StagedOutput(written=written)
            connection.execute(f"DROP TABLE IF EXISTS {staging_table}")
            connection.commit()
        try:
            df.write.format("jdbc").options(**settings.spark_options(), dbtable=staging_table).mode("overwrite").save()
        except Exception as exc:
            _drop_quietly(spark, settings, where, staging_table)
            raise AssetError(f"{where}: cannot write to {settings.url}: {jdbc_cause(exc)}") from exc
        columns = list(df.columns)

        def commit() -> None:
            with _Connection(spark, settings, where) as connection:
                try:
                    details["rows"] = connection.move_rows(
                        staging_table, asset.table or "", columns, mode=asset.mode, job_id=job_id
                    )
                except AssetError:
                    raise
                except Exception as exc:
                    connection.rollback()
                    raise AssetError(f"{where}: cannot commit to table {asset.table}: {jdbc_cause(exc)}") from exc

        return StagedOutput(
            written=written, commit=commit, abort=lambda: _drop_quietly(spark, settings, where, staging_table)
        )


def _public_url(url: str) -> str:
    return url.split("?", 1)[0].split(";", 1)[0]


def _drop_quietly(spark, settings: JdbcSettings, where: str, table: str) -> None:
    try:
        with _Connection(spark, settings, where) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
            connection.commit()
    except Exception:
        pass  # best effort: a leftover staging table is dropped by the next attempt


class _Connection:
    """A driver-side JDBC connection through Spark's JVM, so any driver jar Spark loads works."""

    def __init__(self, spark, settings: JdbcSettings, where: str) -> None:
        self._spark = spark
        self._settings = settings
        self._where = where

    def __enter__(self) -> _Connection:
        jvm = self._spark.sparkContext._jvm
        # Spark's registry makes drivers from spark.jars visible to java.sql.DriverManager.
        jvm.org.apache.spark.sql.execution.datasources.jdbc.DriverRegistry.register(self._settings.driver)
        properties = jvm.java.util.Properties()
        if self._settings.user:
            properties.setProperty("user", self._settings.user)
        if self._settings.password:
            properties.setProperty("password", self._settings.password)
        try:
            self._conn = jvm.java.sql.DriverManager.getConnection(self._settings.url, properties)
        except Exception as exc:
            raise AssetError(f"{self._where}: cannot connect to {_public_url(self._settings.url)}: {jdbc_cause(exc)}") from exc
        self._conn.setAutoCommit(False)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if exc_info[0] is not None:
                self._conn.rollback()
        finally:
            self._conn.close()

    def execute(self, sql: str, *params: str) -> int:
        statement = self._conn.prepareStatement(sql)
        try:
            for index, value in enumerate(params, start=1):
                statement.setString(index, value)
            return statement.executeUpdate()
        finally:
            statement.close()

    def query_one(self, sql: str, *params: str):
        statement = self._conn.prepareStatement(sql)
        try:
            for index, value in enumerate(params, start=1):
                statement.setString(index, value)
            result = statement.executeQuery()
            return result.getObject(1) if result.next() else None
        finally:
            statement.close()

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def table_exists(self, table: str) -> bool:
        schema, _, name = table.rpartition(".")
        meta = self._conn.getMetaData()
        for candidate in (name, name.lower(), name.upper()):
            result = meta.getTables(None, schema or None, candidate, None)
            if result.next():
                return True
        return False

    def _ensure_commits_table(self) -> None:
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {COMMITS_TABLE} (target_table VARCHAR(255) NOT NULL, "
            "job_id VARCHAR(255) NOT NULL, committed_at TIMESTAMP NOT NULL, PRIMARY KEY (target_table, job_id))"
        )

    def already_committed(self, table: str, job_id: str) -> bool:
        if not self.table_exists(COMMITS_TABLE):
            return False
        return self.query_one(
            f"SELECT 1 FROM {COMMITS_TABLE} WHERE target_table = ? AND job_id = ?", table, job_id
        ) is not None

    def move_rows(self, staging_table: str, table: str, columns: list[str], *, mode: str, job_id: str) -> int:
        """One transaction: (create,) clear or keep, insert, record the job; then drop staging."""
        self._ensure_commits_table()
        self.commit()  # DDL on some databases commits implicitly: keep it out of the move itself
        quoted = ", ".join(self._quote(c) for c in columns)
        if not self.table_exists(table):
            self.execute(f"CREATE TABLE {table} AS SELECT {quoted} FROM {staging_table} WHERE 1 = 0")
        if self.query_one(f"SELECT 1 FROM {COMMITS_TABLE} WHERE target_table = ? AND job_id = ?", table, job_id):
            self.rollback()
            return 0  # an earlier attempt of this job committed meanwhile
        if mode in ("overwrite", "error"):
            self.execute(f"DELETE FROM {table}")
        rows = self.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {staging_table}")
        self.execute(
            f"INSERT INTO {COMMITS_TABLE} (target_table, job_id, committed_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
            table, job_id,
        )
        self.commit()
        self.execute(f"DROP TABLE IF EXISTS {staging_table}")
        self.commit()
        return rows

    def _quote(self, column: str) -> str:
        quote = self._conn.getMetaData().getIdentifierQuoteString().strip() or '"'
        return f"{quote}{column.replace(quote, quote + quote)}{quote}"
