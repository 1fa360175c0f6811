"""``modelop-spark control-plane serve``: build the control plane from settings and serve it.

Packages above the control plane (the model life cycles) join through ``extensions``: callables
given the built app, the ``ControlPlane`` and the settings, which mount their routers and
companions, so this package never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from modelop_spark.controlplane.app import create_app
from modelop_spark.controlplane.auth import TokenBook
from modelop_spark.controlplane.blobs import BlobStore, S3BlobStore
from modelop_spark.controlplane.database import default_url, make_engine, upgrade
from modelop_spark.controlplane.leases import Timing
from modelop_spark.controlplane.notifications import Notifier
from modelop_spark.controlplane.service import ControlPlane, Limits
from modelop_spark.controlplane.store import Store


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8090
    database: str | None = None  # default: SQLite under data_dir
    tokens_file: Path | None = None
    webhook: str | None = None
    blob_store: str | None = None  # s3://bucket/prefix; default: files under data_dir/blobs
    timing: Timing = field(default_factory=Timing)
    limits: Limits = field(default_factory=Limits)
    mlc_dir: Path | None = None  # life-cycle processes (*.bpmn, *.dmn); default conf/mlc
    mlc_poll_seconds: float = 1.0


Extension = Callable[[FastAPI, ControlPlane, "ServerSettings"], None]


def build_app(settings: ServerSettings, *, routers: tuple = (), extensions: Sequence[Extension] = ()) -> FastAPI:
    """The FastAPI app over a migrated database; raises ControlPlaneError with one clear line."""

    tokens = TokenBook.load(tokens_file=settings.tokens_file)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database or default_url(settings.data_dir))
    upgrade(engine)
    store = Store(engine)
    blobs = S3BlobStore(settings.data_dir / "blobs", settings.blob_store) if settings.blob_store else BlobStore(settings.data_dir / "blobs")
    plane = ControlPlane(
        store, blobs, timing=settings.timing,
        notifier=Notifier(store, webhook=settings.webhook), limits=settings.limits,
    )
    app = create_app(plane, tokens, routers=routers)
    for extend in extensions:
        extend(app, plane, settings)
    return app


def serve(settings: ServerSettings, *, extensions: Sequence[Extension] = ()) -> None:
    import uvicorn

    app = build_app(settings, extensions=extensions)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run()


__all__ = ["Extension", "ServerSettings", "build_app", "serve"]
