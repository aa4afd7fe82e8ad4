"""Who is asking: bearer tokens for machines, cookie sessions (with CSRF protection) for the console."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy import delete
from starlette.requests import HTTPConnection

from clearwatch.api.context import AppContext
from clearwatch.governance import Actor, Perm, can, may_see_camera
from clearwatch.storage.models import User, WebSession

SESSION_COOKIE = "cw_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_HOURS = 12
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class Principal:
    user: User
    via: str  # token | session
    csrf: str | None
    address: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.user.name, self.user.role, self.address)

    def can(self, perm: Perm) -> bool:
        return can(self.user.role, perm)

    def sees(self, camera: str) -> bool:
        return may_see_camera(self.user, camera)

    def cameras(self, all_cameras: list[str]) -> list[str]:
        return [c for c in all_cameras if self.sees(c)]

    def sees_site(self, site: str | None) -> bool:
        """At the central node: a user limited to some sites sees only their rows (None: the node's own)."""
        return self.user.sites is None or site is None or site in self.user.sites

    def sites(self, all_sites: list[str]) -> list[str]:
        return [s for s in all_sites if self.sees_site(s)]


def ctx(request: HTTPConnection) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context


def client_address(request: HTTPConnection) -> str | None:
    return request.client.host if request.client else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(c: AppContext, user: User, address: str | None) -> tuple[str, str]:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    with c.db.session() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < now))
        s.add(WebSession(token_hash=_hash(token), user_id=user.id, csrf=csrf, created_at=now,
                         expires_at=now + timedelta(hours=SESSION_HOURS), address=address))
    return token, csrf


def end_session(c: AppContext, token: str) -> None:
    with c.db.session() as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def session_principal(c: AppContext, request: HTTPConnection) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with c.db.session() as s:
        row = s.get(WebSession, _hash(token))
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        user = s.get(User, row.user_id)
        csrf = row.csrf
    if user is None or user.disabled:
        return None
    return Principal(user, "session", csrf, client_address(request))


def principal(request: Request) -> Principal:
    """The authenticated caller, or 401. Cookie-authenticated changes must carry the CSRF token."""
    c = ctx(request)
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        user = c.users.by_token(auth[7:].strip())
        if user is None:
            raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        return Principal(user, "token", None, client_address(request))
    p = session_principal(c, request)
    if p is None:
        raise HTTPException(401, "not logged in", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not secrets.compare_digest(sent, p.csrf or ""):
            raise HTTPException(403, "missing or wrong CSRF token")
    return p


def ws_principal(c: AppContext, ws: HTTPConnection) -> Principal | None:
    """Who opened a WebSocket: a bearer token, or the console's session — the latter only from this server's own
    pages, since browsers send cookies with a WebSocket opened by any site (no CSRF header to check there)."""
    auth = ws.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        user = c.users.by_token(auth[7:].strip())
        return Principal(user, "token", None, client_address(ws)) if user is not None else None
    origin = ws.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != ws.headers.get("host"):
        return None
    return session_principal(c, ws)


def require(perm: Perm) -> Callable[[Principal], Principal]:
    def check(p: Principal = Depends(principal)) -> Principal:
        if not p.can(perm):
            raise HTTPException(403, f"your role ({p.user.role}) may not {perm.value.replace('_', ' ')}")
        return p
    return check


def camera_allowed(p: Principal, c: AppContext, camera: str) -> None:
    if camera not in c.config.cameras:
        raise HTTPException(404, f"no camera {camera!r}")
    if not p.sees(camera):
        raise HTTPException(403, f"camera {camera!r} is not assigned to you")


def privacy_masks(c: AppContext, camera: str) -> list[list[tuple[float, float]]]:
    cam = c.config.cameras.get(camera)
    return list(cam.privacy_masks) if cam is not None else []


def unmasked(p: Principal, c: AppContext, camera: str) -> bool:
    """Whether ``p`` sees ``camera`` without its privacy masks: it has none, or ``p`` has the unmask permission
    (and, where unmasking needs a second person, an approved request for this camera)."""
    if not privacy_masks(c, camera):
        return True
    if not p.can(Perm.UNMASK):
        return False
    if "unmask" in c.config.governance.dual_authorisation:
        from clearwatch.governance.approvals import Approvals

        return Approvals(c.db).unmasked(p.user.name, camera)
    return True


def masked_jpeg(p: Principal, c: AppContext, camera: str, path: Path) -> Response:
    """A stored picture of ``camera`` as ``p`` may see it; a look past the masks is on the audit trail."""
    data = path.read_bytes()
    polygons = privacy_masks(c, camera)
    if polygons and not unmasked(p, c, camera):
        from clearwatch.governance.masks import mask_jpeg

        data = mask_jpeg(data, polygons)
    elif polygons:
        c.audit.append(p.actor, "footage.unmask", camera, {"picture": path.name})
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


class LoginLimiter:
    """Failed logins: at most ``per_user`` per user name and ``per_address`` per address in ``window`` seconds.

    The address limit is looser: many people may share one address (NAT), but one guesser trying many
    names from it is still stopped.
    """

    def __init__(self, per_user: int = 5, per_address: int = 20, window: float = 300.0):
        self.limits = {"u": per_user, "a": per_address}
        self.window = window
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails[key]
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def _keys(self, address: str | None, name: str) -> list[str]:
        return [f"a:{address}", f"u:{name.lower()}"]

    def blocked(self, address: str | None, name: str) -> float:
        """Seconds to wait, 0 when allowed."""
        now = time.monotonic()
        with self._lock:
            waits = [self.window - (now - q[0]) for key in self._keys(address, name)
                     if len(q := self._recent(key, now)) >= self.limits[key[0]]]
        return max(waits, default=0.0)

    def failed(self, address: str | None, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in self._keys(address, name):
                self._recent(key, now).append(now)

    def succeeded(self, address: str | None, name: str) -> None:
        with self._lock:
            self._fails.pop(f"u:{name.lower()}", None)


class SeenRecently:
    """Audit a repeated look (range requests of one video, thumbnails) once per ``ttl`` seconds."""

    def __init__(self, ttl: float = 600.0):
        self.ttl = ttl
        self._seen: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def first(self, *key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.ttl}
            last = self._seen.get(key)
            if last is not None and now - last < self.ttl:
                return False
            self._seen[key] = now
            return True
