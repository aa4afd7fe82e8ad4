"""Users, the audit trail, machines, the system page, and Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from clearwatch.api.security import Principal, ctx, require
from clearwatch.governance import AccessError, Perm, Role
from clearwatch.storage import OutboxStore, StatsStore, StorageUsage
from clearwatch.storage.events import STAT_FIELDS

router = APIRouter(prefix="/api", tags=["admin"])
metrics_router = APIRouter(tags=["system"])


class UserOut(BaseModel):
    name: str
    role: str
    cameras: list[str] | None
    disabled: bool
    created_at: datetime


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str | None = Field(default=None, min_length=10, max_length=1024)
    cameras: list[str] | None = None


class UserCreated(UserOut):
    password: str


class UserPatch(BaseModel):
    role: Role | None = None
    cameras: list[str] | None = None
    all_cameras: bool = False
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=1024)


def user_out(u: object) -> UserOut:
    return UserOut(**{k: getattr(u, k) for k in ("name", "role", "cameras", "disabled", "created_at")})


@router.get("/users", response_model=list[UserOut])
def users(request: Request, p: Principal = Depends(require(Perm.USERS))) -> list[UserOut]:
    return [user_out(u) for u in ctx(request).users.all()]


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(body: UserIn, request: Request, p: Principal = Depends(require(Perm.USERS))) -> UserCreated:
    c = ctx(request)
    unknown = [cam for cam in body.cameras or [] if cam not in c.config.cameras]
    if unknown:
        raise HTTPException(422, f"unknown camera(s): {', '.join(unknown)}")
    try:
        user, password = c.users.create(body.name, body.role.value, body.password, body.cameras)
    except AccessError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None
    c.audit.append(p.actor, "user.create", user.name, {"role": user.role, "cameras": user.cameras})
    return UserCreated(**user_out(user).model_dump(), password=password)


@router.patch("/users/{name}", response_model=UserOut)
def update_user(name: str, body: UserPatch, request: Request,
                p: Principal = Depends(require(Perm.USERS))) -> UserOut:
    c = ctx(request)
    try:
        cams: list[str] | Literal["keep"] | None = "keep"
        if body.all_cameras:
            cams = None
        elif body.cameras is not None:
            cams = body.cameras
        user = c.users.update(name, body.role.value if body.role else None, cams, body.disabled)
        if body.password:
            c.users.set_password(name, body.password)
    except AccessError as exc:
        raise HTTPException(404, str(exc)) from None
    c.audit.append(p.actor, "user.update", name, body.model_dump(exclude={"password"}, mode="json")
                   | {"password_changed": bool(body.password)})
    return user_out(user)


@router.delete("/users/{name}", status_code=204)
def delete_user(name: str, request: Request, p: Principal = Depends(require(Perm.USERS))) -> Response:
    c = ctx(request)
    if name == p.user.name:
        raise HTTPException(409, "you cannot delete yourself")
    if not c.users.delete(name):
        raise HTTPException(404, f"no user {name!r}")
    c.audit.append(p.actor, "user.delete", name)
    return Response(status_code=204)


class AuditOut(BaseModel):
    id: int
    ts: str
    actor: str
    role: str
    action: str
    target: str
    detail: str
    justification: str | None
    address: str | None
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    records: int
    problems: list[str]


@router.get("/audit", response_model=list[AuditOut], tags=["audit"])
def audit(request: Request, limit: int = Query(100, ge=1, le=1000),
          before: int | None = Query(None, ge=1, le=2**63 - 1),
          actor: str | None = None, action: str | None = None,
          p: Principal = Depends(require(Perm.AUDIT))) -> list[AuditOut]:
    """The audit trail, newest first. Read-only: nothing in the API can change it."""
    rows = ctx(request).audit.list(limit, before, actor, action)
    return [AuditOut(**{k: getattr(r, k) for k in AuditOut.model_fields}) for r in rows]


@router.get("/audit/verify", response_model=VerifyOut, tags=["audit"])
def audit_verify(request: Request, p: Principal = Depends(require(Perm.AUDIT))) -> VerifyOut:
    from clearwatch.governance.signing import verification_keys

    c = ctx(request)
    v = c.audit.verify(trusted=verification_keys(c.config))
    c.audit.append(p.actor, "audit.verify", "audit_log", {"ok": v.ok, "records": v.records})
    return VerifyOut(ok=v.ok, records=v.records, problems=v.problems)


class MachineOut(BaseModel):
    camera: str
    name: str
    state: str | None
    running_s_24h: float
    idle_s_24h: float
    stopped_s_24h: float
    starts_24h: int
    stops_24h: int


class CounterOut(BaseModel):
    camera: str
    name: str
    in_24h: int
    out_24h: int


class MachinesOut(BaseModel):
    machines: list[MachineOut]
    counters: list[CounterOut]


@router.get("/machines", response_model=MachinesOut, tags=["machines"])
def machines(request: Request, p: Principal = Depends(require(Perm.MACHINES))) -> MachinesOut:
    c = ctx(request)
    live = c.analytics_summary()
    since = datetime.now(UTC) - timedelta(hours=24)
    totals: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in StatsStore(c.db).hours(start=since):
        if not p.sees(row.camera):
            continue
        t = totals.setdefault((row.kind, row.camera, row.name), dict.fromkeys(STAT_FIELDS, 0.0))
        for k in t:
            t[k] += getattr(row, k)
    for cam in p.cameras(c.cameras):  # configured ones show even before their first statistics
        for kind, names in (("machine", c.config.cameras[cam].machines), ("counter", c.config.cameras[cam].counters)):
            for name in names:
                totals.setdefault((kind, cam, name), dict.fromkeys(STAT_FIELDS, 0.0))
    out_m, out_c = [], []
    for (kind, cam, name), t in sorted(totals.items()):
        if kind == "machine":
            state = live[cam].machines.get(name) if cam in live else None
            out_m.append(MachineOut(camera=cam, name=name, state=state, running_s_24h=t["running_s"],
                                    idle_s_24h=t["idle_s"], stopped_s_24h=t["stopped_s"], starts_24h=int(t["starts"]),
                                    stops_24h=int(t["stops"])))
        else:
            out_c.append(CounterOut(camera=cam, name=name, in_24h=int(t["count_in"]), out_24h=int(t["count_out"])))
    return MachinesOut(machines=out_m, counters=out_c)


class CameraHealthOut(BaseModel):
    camera: str
    state: str
    recording: str
    fps_in: float
    reconnects: int
    last_error: str | None
    sound: str | None = None
    stored_bytes: int
    segments: int


class SystemOut(BaseModel):
    cameras: list[CameraHealthOut]
    retention_days: float
    max_size: int | None
    min_free: int
    outbox: dict[str, int]
    registry: bool


@router.get("/system", response_model=SystemOut, tags=["system"])
def system(request: Request, p: Principal = Depends(require(Perm.SYSTEM))) -> SystemOut:
    c = ctx(request)
    usage = c.index.usage()
    cams = []
    for h in c.camera_health(p.cameras(c.cameras)):
        used = usage.get(h.camera, StorageUsage())
        cams.append(CameraHealthOut(camera=h.camera, state=h.state, recording=h.recording, fps_in=h.fps_in,
                                    reconnects=h.reconnects, last_error=h.last_error, sound=h.sound,
                                    stored_bytes=used.bytes,
                                    segments=used.segments))
    outbox = {f"{t}:{s}": n for (t, s), n in OutboxStore(c.db).counts().items()}
    return SystemOut(cameras=cams, retention_days=c.config.retention.days, max_size=c.config.storage.max_size,
                     min_free=c.config.storage.min_free, outbox=outbox, registry=c.registry is not None)


def _prom(name: str, help_: str, kind: str, samples: list[tuple[dict[str, str], float]]) -> str:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")
    return "\n".join(lines)


@metrics_router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, p: Principal = Depends(require(Perm.SYSTEM))) -> PlainTextResponse:
    """Prometheus text format; needs a token or session with the system permission."""
    c = ctx(request)
    health = c.health()
    usage = c.index.usage()
    extra: dict[str, Any] = c.metrics()
    parts = [
        _prom("clearwatch_camera_fps", "Frames per second received", "gauge",
              [({"camera": h.camera}, round(h.fps_in, 3)) for h in health]),
        _prom("clearwatch_camera_up", "1 when the camera streams", "gauge",
              [({"camera": h.camera}, 1.0 if h.state == "streaming" else 0.0) for h in health]),
        _prom("clearwatch_camera_reconnects_total", "Reconnections", "counter",
              [({"camera": h.camera}, h.reconnects) for h in health]),
        _prom("clearwatch_storage_bytes", "Recorded bytes per camera", "gauge",
              [({"camera": cam}, used.bytes) for cam, used in usage.items()]),
    ]
    for key, (help_, kind) in {
        "detector_seconds_total": ("CPU seconds spent in object detection", "counter"),
        "analysed_frames_total": ("Frames analysed", "counter"),
        "analytics_queue_depth": ("Packets waiting for the analytics decoder", "gauge"),
        "analytics_dropped_total": ("Packets dropped by analytics under load", "counter"),
        "outbox_pending": ("Messages waiting for delivery", "gauge"),
    }.items():
        if key in extra:
            parts.append(_prom(f"clearwatch_{key}", help_, kind,
                               [(labels, value) for labels, value in extra[key]]))
    return PlainTextResponse("\n".join(parts) + "\n", media_type="text/plain; version=0.0.4")
