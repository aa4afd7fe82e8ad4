"""Users, roles and what each role may do; passwords hashed with argon2id."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from clearwatch.errors import ClearwatchError
from clearwatch.governance.roles import Role
from clearwatch.storage import Database
from clearwatch.storage.database import rowcount
from clearwatch.storage.models import ApiToken, User

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10


class AccessError(ClearwatchError):
    pass


def may_see_camera(user: User, camera: str) -> bool:
    return user.cameras is None or camera in user.cameras


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    def __init__(self, db: Database):
        self.db = db
        self.hasher = PasswordHasher()

    def create(self, name: str, role: str, password: str | None = None,
               cameras: list[str] | None = None, sites: list[str] | None = None) -> tuple[User, str]:
        """A new user; returns it with its password (generated when not given). ``sites``: at the central node,
        the sites they may see (None: all)."""
        if not USER_NAME.match(name):
            raise AccessError(f"user name {name!r}: 1-64 letters, digits, '_', '.', '@' or '-'")
        try:
            Role(role)
        except ValueError:
            raise AccessError(f"unknown role {role!r}: use {', '.join(r.value for r in Role)}") from None
        password = password or secrets.token_urlsafe(15)
        if len(password) < MIN_PASSWORD:
            raise AccessError(f"a password needs at least {MIN_PASSWORD} characters")
        with self.db.session() as s:
            if s.scalar(select(User).where(User.name == name)) is not None:
                raise AccessError(f"user {name!r} already exists")
            user = User(name=name, role=role, password_hash=self.hasher.hash(password), cameras=cameras,
                        sites=sites, disabled=False, created_at=datetime.now(UTC))
            s.add(user)
        return user, password

    def get(self, name: str) -> User | None:
        with self.db.session() as s:
            return s.scalar(select(User).where(User.name == name))

    def by_id(self, user_id: int) -> User | None:
        with self.db.session() as s:
            return s.get(User, user_id)

    def all(self) -> list[User]:
        with self.db.session() as s:
            return list(s.scalars(select(User).order_by(User.name)))

    def check_password(self, name: str, password: str) -> User | None:
        user = self.get(name)
        if user is None or user.disabled:
            self.hasher.hash(password)  # same work either way: no user enumeration by timing
            return None
        try:
            self.hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if self.hasher.check_needs_rehash(user.password_hash):
            self.set_password(name, password)
        return user

    def set_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccessError(f"a password needs at least {MIN_PASSWORD} characters")
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                raise AccessError(f"no user {name!r}")
            user.password_hash = self.hasher.hash(password)

    def update(self, name: str, role: str | None = None, cameras: list[str] | Literal["keep"] | None = "keep",
               disabled: bool | None = None) -> User:
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                raise AccessError(f"no user {name!r}")
            if role is not None:
                user.role = Role(role).value
            if not isinstance(cameras, str):  # "keep": leave them as they are
                user.cameras = cameras
            if disabled is not None:
                user.disabled = disabled
            return user

    SYNCED = ("name", "role", "password_hash", "cameras", "sites", "disabled")

    def export(self) -> list[dict[str, Any]]:
        """Every user as another installation takes them (``sync``): the password as its hash only."""
        return [{k: getattr(u, k) for k in self.SYNCED} for u in self.all()]

    def sync(self, users: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Take users from another installation (the central node): create those missing, bring the others to
        its role, password, cameras and disabled state. Users of this installation it does not name are left
        as they are. Returns (created, updated) names."""
        created, updated = [], []
        with self.db.session() as s:
            for u in users:
                Role(u["role"])  # an unknown role refuses the whole list
                if not USER_NAME.match(str(u["name"])):
                    raise AccessError(f"user name {u['name']!r}: 1-64 letters, digits, '_', '.', '@' or '-'")
            for u in users:
                row = s.scalar(select(User).where(User.name == u["name"]))
                if row is None:
                    s.add(User(name=u["name"], role=u["role"], password_hash=u["password_hash"],
                               cameras=u.get("cameras"), disabled=bool(u.get("disabled")),
                               created_at=datetime.now(UTC)))
                    created.append(u["name"])
                    continue
                values = {"role": u["role"], "password_hash": u["password_hash"], "cameras": u.get("cameras"),
                          "disabled": bool(u.get("disabled"))}
                if any(getattr(row, k) != v for k, v in values.items()):
                    for k, v in values.items():
                        setattr(row, k, v)
                    updated.append(u["name"])
        return created, updated

    def delete(self, name: str) -> bool:
        with self.db.session() as s:
            return bool(rowcount(s.execute(delete(User).where(User.name == name))))

    def create_token(self, user: User, name: str) -> str:
        token = "cw_" + secrets.token_urlsafe(32)
        with self.db.session() as s:
            s.add(ApiToken(user_id=user.id, name=name[:64], token_hash=token_hash(token),
                           created_at=datetime.now(UTC)))
        return token

    def by_token(self, token: str) -> User | None:
        with self.db.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
            if row is None:
                return None
            row.last_used_at = datetime.now(UTC)
            user = s.get(User, row.user_id)
            return None if user is None or user.disabled else user
