"""SQL inputs: Spark SQL over catalog views, and JDBC against a real PostgreSQL started on
loopback; JDBC outputs moved in one transaction, never twice for one job id."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from modelop_spark.assets.jdbc import JdbcReader, JdbcSettings, JdbcWriter, default_jars
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.assets.sql import SqlReader, check_read_only
from modelop_spark.errors import AssetError

pytestmark = pytest.mark.postgres
pytest_plugins = ("tests.servers",)  # the postgres fixture


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DELETE FROM t", "expected a query .*found DELETE"),
        ("SELECT 1; DROP TABLE t", "found 2 statements"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "contains DELETE"),
        ("SELECT * INTO copy_t FROM t", "SELECT ... INTO"),
        ("COPY t TO STDOUT", "found COPY"),
        ("", "the SQL query is empty"),
    ],
)
def test_only_queries_pass_the_read_only_check(query, message):
    with pytest.raises(AssetError, match=message):
        check_read_only(query, dialect="postgres", where="asset 'in'")


def test_queries_pass_unchanged_but_for_a_trailing_semicolon():
    assert check_read_only("WITH x AS (SELECT 1 AS a) SELECT a FROM x;", dialect="spark", where="in") == (
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x"
    )


def test_spark_sql_over_a_catalog_view(spark):
    spark.range(10).withColumn("even", F.col("id") % 2 == 0).createOrReplaceTempView("modelop_numbers")
    df = SqlReader().read(spark, AssetSpec.from_dict({"name": "in", "query": "SELECT id FROM modelop_numbers WHERE even"}))
    assert sorted(r.id for r in df.collect()) == [0, 2, 4, 6, 8]
    assert SqlReader().read(spark, AssetSpec.from_dict({"name": "in", "table": "modelop_numbers"})).count() == 10


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"query": "SELECT * FROM modelop_no_such_view"}, "does not exist"),
        ({"query": "INSERT INTO modelop_numbers VALUES (1, true)"}, "read-only"),
        ({"table": "modelop_no_such_table"}, "does not exist"),
    ],
)
def test_bad_spark_sql_is_one_clear_line(spark, data, message):
    with pytest.raises(AssetError, match=message) as error:
        SqlReader().read(spark, AssetSpec.from_dict({"name": "in", **data}))
    assert str(error.value).startswith("asset 'in': ") and "\n" not in str(error.value)


def test_passwords_in_the_job_file_are_refused():
    for options in ({"url": "jdbc:postgresql://h/db", "password": "pw"}, {"url": "jdbc:postgresql://h/db?password=pw"}):
        with pytest.raises(AssetError, match="carries a database password") as error:
            JdbcSettings.from_asset(AssetSpec.from_dict({"name": "in", "query": "SELECT 1", "options": options}))
        assert "pw" not in str(error.value).replace("password", "")


def test_default_jars_prefers_the_environment(tmp_path):
    assert default_jars({"MODELOP_JDBC_JARS": "/a.jar, /b.jar"}) == ["/a.jar", "/b.jar"]


@pytest.fixture
def db(postgres, monkeypatch):
    monkeypatch.setenv("MODELOP_JDBC_PASSWORD", postgres.password)
    with postgres.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS payments, scores, modelop_jdbc_commits")
        connection.execute("CREATE TABLE payments (id int PRIMARY KEY, customer text, amount float8)")
        connection.execute(
            "INSERT INTO payments SELECT g, 'c' || (g % 5), g * 1.5 FROM generate_series(1, 1000) AS g"
        )
    return postgres


def jdbc(pg, **extra) -> AssetSpec:
    options = {"url": pg.jdbc_url, "user": pg.user, **extra.pop("options", {})}
    return AssetSpec.from_dict({"name": "payments", "kind": "jdbc", "options": options, **extra})


def test_jdbc_query_with_partitioned_parallel_read(spark, db):
    asset = jdbc(db, query="SELECT id, amount FROM payments WHERE amount > 150", options={"partitionColumn": "id", "numPartitions": 4})
    df = JdbcReader().read(spark, asset)
    assert df.rdd.getNumPartitions() == 4
    assert df.count() == 900
    assert df.agg(F.min("id")).first()[0] == 101


def test_jdbc_refuses_writes_disguised_as_input(spark, db):
    with pytest.raises(AssetError, match="read-only"):
        JdbcReader().read(spark, jdbc(db, query="UPDATE payments SET amount = 0 RETURNING id"))
    with db.connect() as connection:
        assert connection.execute("SELECT min(amount) FROM payments").fetchone()[0] == 1.5


def test_jdbc_output_is_moved_once_per_job(spark, db):
    rows = spark.createDataFrame([(i, f"c{i}", i * 0.5) for i in range(50)], "id int, customer string, score double")
    target = jdbc(db, table="scores", mode="append")
    JdbcWriter().write(rows, target, job_id="job-1")
    again = JdbcWriter().write(rows, target, job_id="job-1")  # retried job
    assert again.details.get("already_committed") is True
    JdbcWriter().write(rows.limit(5), target, job_id="job-2")
    back = JdbcReader().read(spark, jdbc(db, table="scores"))
    assert back.count() == 55
    JdbcWriter().write(rows.limit(3), jdbc(db, table="scores", mode="overwrite"), job_id="job-3")
    assert_df_equality(
        JdbcReader().read(spark, jdbc(db, table="scores")), rows.limit(3), ignore_row_order=True, ignore_nullable=True, ignore_metadata=True
    )
    with db.connect() as connection:
        names = [r[0] for r in connection.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'scores%'")]
    assert names == ["scores"]  # no staging table left behind


def test_failed_jdbc_job_leaves_the_target_untouched(spark, db):
    rows = spark.createDataFrame([(i, f"c{i}", i * 0.5) for i in range(50)], "id int, customer string, score double")
    JdbcWriter().write(rows, jdbc(db, table="scores"), job_id="job-1")
    boom = F.udf(lambda i: 1 // 0 if i == 30 else i, "int")
    with pytest.raises(AssetError, match="cannot write to"):
        JdbcWriter().write(rows.withColumn("id", boom("id")), jdbc(db, table="scores"), job_id="job-2")
    staged = JdbcWriter().stage(rows.limit(1), jdbc(db, table="scores"), job_id="job-3")
    staged.abort()
    with db.connect() as connection:
        assert connection.execute("SELECT count(*) FROM scores").fetchone()[0] == 50
        tables = [r[0] for r in connection.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'scores%'")]
    assert tables == ["scores"]


def test_jdbc_bad_credentials_and_unreachable_server(spark, db, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("MODELOP_JDBC_PASSWORD", "wrong-password-value")
    with pytest.raises(AssetError, match="password authentication failed") as error:
        JdbcReader().read(spark, jdbc(db, table="payments")).count()
    assert "wrong-password-value" not in str(error.value)
    dead = AssetSpec.from_dict(
        {"name": "payments", "kind": "jdbc", "table": "payments",
         "options": {"url": f"jdbc:postgresql://127.0.0.1:{free_port()}/postgres", "user": "x"}}
    )
    with pytest.raises(AssetError, match="check the host, port"):
        JdbcReader().read(spark, dead)


def test_jdbc_missing_table_is_one_clear_line(spark, db):
    with pytest.raises(AssetError, match=r"asset .payments.: table no_such_table does not exist"):
        JdbcReader().read(spark, jdbc(db, table="no_such_table"))
