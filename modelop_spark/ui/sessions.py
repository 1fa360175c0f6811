"""Who is logged in to the Command Center: server-side sessions keyed by a random id.

The browser holds only the session id (an HTTP-only, SameSite=Strict cookie); the bearer token
stays in this process's memory so the pages can call the API as that user, and is never written
to a cookie, a page, a URL or a log. Each session has its own CSRF token, sent back by every form.
Sessions live in memory: a restart of the control plane logs everyone out, and with several
control-plane processes a browser must stick to one of them.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

SESSION_COOKIE = "moc_session"
LOGIN_CSRF_COOKIE = "moc_login_csrf"
DEFAULT_IDLE_SECONDS = 8 * 3600
MAX_SESSIONS = 10_000  # the oldest are dropped beyond this


@dataclass
class Session:
    id: str
    token: str = field(repr=False)
    user: str
    permissions: frozenset[str]
    csrf: str = field(repr=False)
    last_seen: float
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # wizard state by draft id

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, str(sent))


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def secure_cookies_work(scheme: str, host: str | None) -> bool:
    """Whether a browser keeps a ``Secure`` cookie from this address: over HTTPS, or plain HTTP
    to a loopback host (which browsers count as a secure context)."""
    return scheme == "https" or (host or "").lower() in LOOPBACK_HOSTS


class SessionBook:
    """Sessions by id, dropped after ``idle_seconds`` without a request. Thread-safe."""

    def __init__(self, *, idle_seconds: float = DEFAULT_IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, *, token: str, user: str, permissions: frozenset[str], now: float) -> Session:
        session = Session(secrets.token_urlsafe(32), token, user, permissions, secrets.token_urlsafe(32), now)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def find(self, session_id: str | None, *, now: float) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


__all__ = ["LOGIN_CSRF_COOKIE", "SESSION_COOKIE", "Session", "SessionBook", "secure_cookies_work"]
