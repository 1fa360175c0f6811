"""Creation safe to retry: a client that did not get the answer to a ``POST`` (the control plane
was killed after the write, a proxy dropped the connection) sends it again with the same
``Idempotency-Key`` header and gets what the first request created, not a second one.

The key is written in the same transaction as what it creates (``Store._add_key``), so there is
never one without the other: a retry finds the key and returns its resource; two requests with
one key racing to create, one wins and the other finds the winner's. Keys are per user and per
kind of resource; the same key with a different request is refused. Keys are kept for a day
(``KEEP_SECONDS``), far past any client's retries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from modelop_spark.controlplane.store import Conflict, Idempotent, Store

KEEP_SECONDS = 24 * 3600
HEADER = "Idempotency-Key"


def fingerprint(request: Any) -> str:
    """A digest of what a creation was asked to do (its body and parameters)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def create_once(
    store: Store, key: Idempotent | None, *, create: Callable[[Idempotent | None], dict[str, Any]], existing: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """``create(key)`` (which writes ``key`` with what it creates) once per key; ``existing(id)``
    for every request after the first."""
    if key is None:
        return create(None)
    made = store.key_holder(key)
    if made is not None:
        return existing(made)
    try:
        return create(key)
    except Conflict:
        made = store.key_holder(key)  # a request with the same key, beside this one, was first
        if made is None:
            raise
        return existing(made)


__all__ = ["HEADER", "KEEP_SECONDS", "Idempotent", "create_once", "fingerprint"]
