"""Real servers on loopback for tests: an S3-compatible store (moto's server) and PostgreSQL.

Each binds 127.0.0.1 on a port chosen at run time, lives under a temp dir and is stopped by its
fixture, so runs in parallel never collide. Import the fixtures into a test module
(``from tests.servers import moto_s3, postgres``) or call the context managers directly.

moto runs in its own process with IAM checks on (``INITIAL_NO_AUTH_ACTION_COUNT``): the first few
calls create a user and its key, after which wrong credentials are refused as on real S3.
PostgreSQL is Debian's (``/usr/lib/postgresql/*/bin``), run as the ``postgres`` user when the
tests run as root (initdb refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

JDBC_JAR = "/usr/share/java/postgresql.jar"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with {process.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f}s")


def stop_process(process: subprocess.Popen, *, timeout: float = 10) -> None:
    """Ask a server process to stop; kill it when it has not after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    region: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """What a runtime reads from its environment to reach this store."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


@contextlib.contextmanager
def s3_server(*, check_credentials: bool = True) -> Iterator[S3Server]:
    """moto's S3; ``check_credentials=False`` for presigned links, which moto's IAM checks
    cannot verify (it reads only the Authorization header)."""
    import boto3

    port = free_port()
    env = dict(os.environ)
    if check_credentials:
        # Three unauthenticated calls create the user, its policy and its key; then checks start.
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    else:
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    with tempfile.TemporaryDirectory(prefix="moto-") as workdir:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process=process)
            endpoint = f"http://127.0.0.1:{port}"
            iam = boto3.client(
                "iam", endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap",
            )
            iam.create_user(UserName="modelop-tests")
            iam.put_user_policy(
                UserName="modelop-tests",
                PolicyName="all",
                PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                ),
            )
            key = iam.create_access_key(UserName="modelop-tests")["AccessKey"]
            yield S3Server(endpoint, "us-east-1", key["AccessKeyId"], key["SecretAccessKey"])
        finally:
            stop_process(process)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def moto_s3_open() -> Iterator[S3Server]:
    """A second store that accepts any credentials (for presigned-link downloads)."""
    with s3_server(check_credentials=False) as server:
        yield server


@pytest.fixture
def s3_env(moto_s3: S3Server, monkeypatch) -> S3Server:
    """The moto store's endpoint and credentials in this process's environment (boto3's chain)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in moto_s3.env().items():
        monkeypatch.setenv(name, value)
    return moto_s3


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    database: str
    user: str
    password: str
    jar: str = JDBC_JAR

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def connect(self):
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password,
            autocommit=True,
        )


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return Path(found[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    binaries = postgres_bin()
    port = free_port()
    password = "modelop-test-pw"
    workdir = tempfile.mkdtemp(prefix="pg-")
    data = Path(workdir) / "data"
    pwfile = Path(workdir) / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    process = None
    try:
        subprocess.run(
            _as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "modelop", "--pwfile", str(pwfile),
                          "-A", "scram-sha-256", "--no-sync", "-E", "UTF8"]),
            check=True, capture_output=True,
        )
        process = subprocess.Popen(
            _as_postgres([str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
                          "-k", workdir, "-c", "fsync=off", "-c", "full_page_writes=off"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(port, process=process)
        server = PostgresServer("127.0.0.1", port, "postgres", "modelop", password)
        for _ in range(50):  # listening is not yet accepting logins
            try:
                server.connect().close()
                break
            except Exception:
                time.sleep(0.2)
        yield server
    finally:
        if process is not None:
            stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """An HTTP URL on loopback that accepts connections and never answers: a hung endpoint."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
