"""SQL inputs: a Spark SQL statement over catalog tables and views, or a catalog table by name.

Inputs are read-only: a statement is parsed with sqlglot and refused unless it is one query
(SELECT, WITH ... SELECT, UNION, VALUES) with no data-changing part anywhere in it. The same
check guards JDBC queries (``jdbc.py``), in the database's own dialect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelop_spark.assets.base import AssetReader, AssetSpec
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

# sqlglot dialect names per JDBC subprotocol (jdbc:<subprotocol>:...).
JDBC_DIALECTS = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlserver": "tsql",
    "oracle": "oracle",
    "db2": "db2",
    "snowflake": "snowflake",
    "redshift": "redshift",
    "sqlite": "sqlite",
    "h2": None,
}


def _statement_types():
    from sqlglot import exp

    return (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command,
            exp.Copy, exp.Set, exp.Use, exp.Describe, exp.Pragma, exp.Transaction, exp.Commit, exp.Grant)


def check_read_only(query: str, *, dialect: str | None, where: str) -> str:
    """Return ``query`` stripped of a trailing ``;`` when it is one read-only query; else raise."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    text = (query or "").strip().rstrip(";").strip()
    if not text:
        raise AssetError(f"{where}: the SQL query is empty; give a SELECT statement")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as exc:
        detail = str(exc).splitlines()[0][:200]
        raise AssetError(f"{where}: the SQL query does not parse ({detail}); give one SELECT statement") from None
    if len(statements) != 1:
        raise AssetError(f"{where}: expected one SQL query, found {len(statements)} statements; inputs are read-only")
    statement = statements[0]
    statement_types = _statement_types()
    if not isinstance(statement, exp.Query | exp.Values):
        kind = statement.key.upper() if isinstance(statement, statement_types) else f"{text[:40]!r}, which is not a query"
        raise AssetError(f"{where}: SQL inputs are read-only: expected a query (SELECT ...), found {kind}")
    found = next(statement.find_all(*statement_types), None)
    if found is not None:
        raise AssetError(
            f"{where}: SQL inputs are read-only: the query contains {found.key.upper()}; remove it"
        )
    if statement.args.get("into") is not None or next(statement.find_all(exp.Into), None) is not None:
        raise AssetError(f"{where}: SQL inputs are read-only: SELECT ... INTO creates a table; remove INTO")
    return text


class SqlReader(AssetReader):
    """``kind: sql``: ``query`` (Spark SQL) or ``table`` (a catalog table or view)."""

    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "sql"

    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        where = f"asset {asset.label!r}"
        try:
            if asset.query:
                df = spark.sql(check_read_only(asset.query, dialect="spark", where=where))
            elif asset.table:
                df = spark.table(asset.table)
            else:
                raise AssetError(f"{where}: a sql asset needs query (a SELECT statement) or table (a catalog name)")
        except AssetError:
            raise
        except Exception as exc:
            raise AssetError(f"{where}: {_spark_sql_cause(exc)}") from exc
        return conform_to_schema(df, schema, where=where)


def _spark_sql_cause(exc: Exception) -> str:
    text = str(exc)
    condition = getattr(exc, "getCondition", lambda: None)() or ""
    if "TABLE_OR_VIEW_NOT_FOUND" in (condition or text):
        return "a table or view in the query does not exist: " + _first(text) + "; create it or fix the name"
    if "UNRESOLVED_COLUMN" in (condition or text):
        return "a column in the query does not exist: " + _first(text)
    if "PARSE_SYNTAX_ERROR" in (condition or text):
        return "Spark SQL cannot parse the query: " + _first(text)
    return _first(text)


def _first(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "unknown error")[:300]


def conform_to_schema(df: DataFrame, schema: StructType | None, *, where: str) -> DataFrame:
    """A query's result with the input schema's columns, cast to its types (no schema: as is)."""
    if schema is None:
        return df
    from pyspark.sql import functions as F

    missing = [f.name for f in schema.fields if f.name not in df.columns]
    if missing:
        raise AssetError(f"{where}: the query returns no column {', '.join(missing)} that the input schema needs")
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])
