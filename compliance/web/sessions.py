"""Sessions and CSRF tokens of the review app.

A session lives on the server (in this process's memory); the browser holds only its
random id in a signed, HttpOnly, SameSite=Lax cookie (`Secure` over https). Signing out
forgets the session on the server, so a copied cookie is worthless afterwards; a session
also ends after `max_age` (absolute) or `idle` (no request), and when the server
restarts. Each session has its own CSRF token (synchroniser token), which every form
that changes something carries; the sign-in form, before any session exists, carries a
token bound to a signed pre-session cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "granskning"
LOGIN_COOKIE = "granskning_inloggning"


@dataclass
class Session:
    id: str
    user: str
    csrf: str
    address: str | None
    created: float
    seen: float


class Sessions:
    """The open sessions, by id; thread-safe (handlers run in a thread pool)."""

    def __init__(self, secret: bytes, max_age: float = 8 * 3600, idle: float = 3600) -> None:
        self.max_age = max_age
        self.idle = idle
        self._signer = URLSafeTimedSerializer(secret, salt="granskning-session")
        self._login_signer = URLSafeTimedSerializer(secret, salt="granskning-inloggning")
        self._secret = secret
        self._open: dict[str, Session] = {}
        self._lock = threading.Lock()

    # --- sessions ------------------------------------------------------------------------

    def start(self, user: str, address: str | None) -> tuple[Session, str]:
        """A new session for a signed-in user; the session and its cookie value."""
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), address, now, now)
        with self._lock:
            self._expire_locked()
            self._open[session.id] = session
        return session, self._signer.dumps(session.id)

    def find(self, cookie: str | None) -> Session | None:
        """The session a cookie names, if it is signed by us and still open."""
        if not cookie:
            return None
        try:
            sid = self._signer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._open.get(sid)
            if session is None:
                return None
            if now - session.created > self.max_age or now - session.seen > self.idle:
                del self._open[sid]
                return None
            session.seen = now
            return session

    def end(self, session: Session) -> None:
        with self._lock:
            self._open.pop(session.id, None)

    def end_user(self, user: str) -> None:
        """Every session of a user (disabled, or signed in under another name by the proxy)."""
        with self._lock:
            for sid in [s.id for s in self._open.values() if s.user == user]:
                del self._open[sid]

    def _expire_locked(self) -> None:
        now = time.monotonic()
        for sid in [s.id for s in self._open.values()
                    if now - s.created > self.max_age or now - s.seen > self.idle]:
            del self._open[sid]

    # --- CSRF ----------------------------------------------------------------------------

    @staticmethod
    def csrf_ok(session: Session | None, token: str | None) -> bool:
        return bool(session and token) and hmac.compare_digest(session.csrf, str(token))

    def login_token(self) -> tuple[str, str]:
        """For the sign-in form: (cookie value, form token), bound to each other."""
        nonce = secrets.token_urlsafe(24)
        return self._login_signer.dumps(nonce), self._login_form_token(nonce)

    def login_token_ok(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            nonce = self._login_signer.loads(cookie, max_age=3600)
        except BadSignature:
            return False
        return hmac.compare_digest(self._login_form_token(nonce), str(token))

    def _login_form_token(self, nonce: str) -> str:
        return hmac.new(self._secret, b"login:" + nonce.encode(), "sha256").hexdigest()
