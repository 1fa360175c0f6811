"""Bearer tokens, users and roles.

Tokens come from the environment (``MODELOP_TOKEN``: one token for an ``admin`` user) and from an
optional tokens file (TOML), never from a job, a log or a result::

    [[user]]
    name = "alice"
    roles = ["operator"]
    token_sha256 = "9f86d08..."     # sha256 of the token (preferred), or
    # token = "..."                 # the token itself

    [[user]]
    name = "runtime-dev"
    roles = ["runtime"]
    token_sha256 = "..."

Roles grant permissions; a route asks for a permission, not a role, so new roles (an
``approver`` for model life-cycle approvals) are one line in ``ROLE_PERMISSIONS``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from modelop_spark.errors import ControlPlaneError

TOKEN_ENV = "MODELOP_TOKEN"

# permission names used by the routes
READ, WRITE, RUN, APPROVE, ADMIN = "read", "write", "run", "approve", "admin"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({READ, WRITE, RUN, APPROVE, ADMIN}),
    "operator": frozenset({READ, WRITE}),  # models, snapshots, jobs
    "viewer": frozenset({READ}),
    "runtime": frozenset({READ, RUN}),  # a runtime agent: register, claim, report
    "approver": frozenset({READ, APPROVE}),  # model life-cycle approvals
}


class AuthError(ControlPlaneError):
    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(ControlPlaneError):
    code = "FORBIDDEN"
    http_status = 403


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset().union(*(ROLE_PERMISSIONS.get(role, frozenset()) for role in self.roles))

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenBook:
    """Who a bearer token belongs to. Tokens are kept as sha256 digests and compared in constant
    time, so neither the book nor a timing difference gives one away."""

    def __init__(self, entries: Iterable[tuple[str, Principal]] = ()) -> None:
        self._entries = list(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def load(cls, *, tokens_file: Path | None = None, environ: Mapping[str, str] = os.environ) -> TokenBook:
        entries: list[tuple[str, Principal]] = []
        if environ.get(TOKEN_ENV):
            entries.append((_digest(environ[TOKEN_ENV]), Principal("admin", frozenset({"admin"}))))
        if tokens_file is not None:
            entries.extend(_read_tokens_file(tokens_file))
        if not entries:
            raise AuthError(f"no tokens configured ({TOKEN_ENV} is not set and no --tokens FILE was given), so every request would be refused")
        return cls(entries)

    def identify(self, authorization: str | None) -> Principal:
        if not authorization:
            raise AuthError("missing Authorization header: send 'Authorization: Bearer <token>' (moc reads MODELOP_TOKEN)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        digest = _digest(token.strip())
        found = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):
                found = principal
        if found is None:
            raise AuthError("the token is not valid for this control plane")
        return found


def _read_tokens_file(path: Path) -> list[tuple[str, Principal]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AuthError(f"tokens file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AuthError(f"tokens file {path} is not valid TOML: {exc}") from exc
    entries = []
    for index, user in enumerate(document.get("user", [])):
        where = f"user[{index}] in tokens file {path},"
        name = user.get("name")
        roles = frozenset(user.get("roles") or ())
        unknown = sorted(roles - set(ROLE_PERMISSIONS))
        if not name or not roles:
            raise AuthError(f"{where} needs a name and roles")
        if unknown:
            raise AuthError(f"{where} has unknown role(s) {', '.join(unknown)}; known: {', '.join(sorted(ROLE_PERMISSIONS))}")
        digest = user.get("token_sha256") or (_digest(user["token"]) if user.get("token") else None)
        if not digest or len(digest) != 64:
            raise AuthError(f"{where} needs token_sha256 (64 hex characters) or token")
        entries.append((digest.lower(), Principal(name, roles)))
    return entries


__all__ = ["ROLE_PERMISSIONS", "TOKEN_ENV", "AuthError", "Forbidden", "Principal", "TokenBook"]
