"""Log in and out; who am I; API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from clearwatch.api.security import (
    SESSION_COOKIE,
    SESSION_HOURS,
    LoginLimiter,
    Principal,
    client_address,
    create_session,
    ctx,
    end_session,
    principal,
)
from clearwatch.governance import Actor, Perm, can

router = APIRouter(prefix="/api", tags=["auth"])
limiter = LoginLimiter()


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    name: str
    role: str
    cameras: list[str]
    permissions: list[str]
    csrf: str | None = None


def me_of(p: Principal, cameras: list[str]) -> Me:
    return Me(name=p.user.name, role=p.user.role, cameras=p.cameras(cameras),
              permissions=[perm.value for perm in Perm if can(p.user.role, perm)], csrf=p.csrf)


def do_login(request: Request, response: Response, username: str, password: str) -> Me:
    c = ctx(request)
    address = client_address(request)
    wait = limiter.blocked(address, username)
    if wait:
        c.audit.append(Actor(username[:64], "-", address), "auth.login_blocked", username[:64])
        raise HTTPException(429, f"too many failed logins: try again in {wait:.0f} s",
                            headers={"Retry-After": str(int(wait) + 1)})
    user = c.users.check_password(username, password)
    if user is None:
        limiter.failed(address, username)
        c.audit.append(Actor(username[:64], "-", address), "auth.login_failed", username[:64])
        raise HTTPException(401, "wrong user name or password")
    limiter.succeeded(address, username)
    token, csrf = create_session(c, user, address)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict",
                        secure=secure, path="/")
    p = Principal(user, "session", csrf, address)
    c.audit.append(p.actor, "auth.login", user.name)
    return me_of(p, c.cameras)


@router.post("/auth/login", response_model=Me)
def login(body: Login, request: Request, response: Response) -> Me:
    """Start a console session (sets an HttpOnly cookie; send the returned csrf in X-CSRF-Token)."""
    return do_login(request, response, body.username, body.password)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, p: Principal = Depends(principal)) -> Response:
    c = ctx(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(c, token)
    c.audit.append(p.actor, "auth.logout", p.user.name)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=Me)
def me(request: Request, p: Principal = Depends(principal)) -> Me:
    return me_of(p, ctx(request).cameras)


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)


class TokenOut(BaseModel):
    token: str
    name: str


@router.post("/auth/tokens", response_model=TokenOut, status_code=201)
def create_token(body: TokenRequest, request: Request, p: Principal = Depends(principal)) -> TokenOut:
    """A bearer token acting as you (shown once; only its hash is kept)."""
    c = ctx(request)
    token = c.users.create_token(p.user, body.name)
    c.audit.append(p.actor, "auth.token_created", p.user.name, {"name": body.name})
    return TokenOut(token=token, name=body.name)


class Health(BaseModel):
    status: str


@router.get("/health", response_model=Health, tags=["system"])
def health() -> Health:
    """Liveness, without authentication."""
    return Health(status="ok")


__all__ = ["do_login", "router"]
