"""Engines and migrations: SQLite under the data folder by default, PostgreSQL when given.

``upgrade`` brings any database to the newest schema with Alembic; the migration scripts ship
inside the package (``modelop_spark/controlplane/migrations``), so an installed control plane
migrates itself at start. Several control-plane processes may share one PostgreSQL database:
Alembic's version table makes the upgrade idempotent, and every state change is a guarded
``UPDATE ... WHERE status = ...`` so two processes never both win.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from modelop_spark.errors import ControlPlaneError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
POOL_SIZE = 20


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'controlplane.db').resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; ``postgresql://`` URLs use psycopg 3."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ControlPlaneError(f"--database: not a database URL ({type(exc).__name__}); expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # pragma: no cover - driver hook
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ControlPlaneError(f"--database: {parsed.get_backend_name()} is not supported; use SQLite (the default) or postgresql://")
    # Connections kept between requests: opening one costs PostgreSQL a process and a SCRAM
    # handshake, so the pool keeps enough for the request threads that reach the database at once
    # (three processes stay under PostgreSQL's default 100 connections). No ping before each use
    # (it doubles the transactions); a connection the database dropped fails its request and the
    # pool starts afresh.
    return create_engine(parsed, pool_size=POOL_SIZE, max_overflow=10, pool_recycle=3600)


def alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision."""
    from alembic import command

    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # one process migrates at a time when several start together
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(716016)")
            # "heads": revisions added by parallel features (life cycles, the pages) each branch
            # from an earlier one; every branch is applied
            command.upgrade(alembic_config(connection), "heads")
    except ControlPlaneError:
        raise
    except Exception as exc:
        raise ControlPlaneError(f"the control-plane database could not be migrated: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc


__all__ = ["default_url", "make_engine", "upgrade"]
