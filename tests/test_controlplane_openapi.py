"""The OpenAPI document is the contract: every ``/api/v1`` body is a named schema, and a
property-based run of the document (schemathesis) against a served control plane (loopback,
SQLite, with the life cycles) finds no 5xx answer and no answer that breaks its declared schema.

Bounded: a few examples per operation, so the whole run costs seconds, not minutes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.servers import free_port, wait_for_port

pytestmark = pytest.mark.controlplane

TOKEN = "openapi-admin-token-9b2e"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("openapi")
    port = free_port()
    command = [
        sys.executable, "-m", "modelop_spark.cli", "control-plane", "serve", "--port", str(port), "--data", str(data / "cp"),
        "--heartbeat-interval", "0.5", "--lease-seconds", "60", "--long-poll-seconds", "0.5",
    ]
    log = (data / "controlplane.log").open("w")
    process = subprocess.Popen(command, env={**os.environ, "MODELOP_TOKEN": TOKEN}, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process=process, timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _api_operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, operations in document["paths"].items():
        if path.startswith("/api/v1"):
            for method, operation in operations.items():
                yield path, method, operation


def test_every_api_body_is_a_named_schema(served):
    document = httpx.get(served + "/openapi.json").json()
    unnamed = []
    for path, method, operation in _api_operations(document):
        body = operation.get("requestBody", {}).get("content", {})
        if method in ("post", "put") and body and not all(_named(c.get("schema", {})) for c in body.values()):
            unnamed.append(f"{method.upper()} {path} request")
        for status, response in operation["responses"].items():
            if status.startswith("2") and status != "204" and not all(_named(c.get("schema", {})) for c in response.get("content", {}).values()):
                unnamed.append(f"{method.upper()} {path} {status}")
    assert unnamed == []


def _named(schema: dict) -> bool:
    """A reference to a component, a list or union of them, or a titled schema (binary, SVG)."""
    if "$ref" in schema or "title" in schema and schema.get("type") == "string":
        return True
    if schema.get("type") == "array":
        return _named(schema.get("items", {}))
    options = schema.get("anyOf") or schema.get("oneOf")
    return bool(options) and all(_named(o) or o.get("type") == "null" for o in options)


def test_the_api_keeps_its_contract(served):
    """Every operation, a few generated requests each: no 5xx, every answer as declared."""
    schema = schemathesis.openapi.from_url(served + "/openapi.json").include(path_regex="^/api/v1")
    broken, tried = {}, []
    for found in schema.get_all_operations():
        operation = found.ok()
        tried.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def keeps_contract(case):
            case.call_and_validate(base_url=served, headers=HEADERS, checks=[not_a_server_error, response_schema_conformance], timeout=30)

        try:
            keeps_contract()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is tried; the report names each that broke
            broken[operation.label] = str(exc).splitlines()[:12]
    assert len(tried) >= 30 and any(label.startswith("POST /api/v1/mlc") for label in tried)  # the control plane's and the life cycles'
    assert broken == {}
