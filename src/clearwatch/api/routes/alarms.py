"""The alarm desk over HTTP: the queue, one alarm with its clip, acknowledge and close (audited), a live stream,
and the schedules with manual arming (audited, with a reason)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from clearwatch.api.routes.events import as_utc, seen
from clearwatch.api.security import Principal, ctx, masked_jpeg, require
from clearwatch.governance import Perm
from clearwatch.storage.alarms import AlarmError, StateFilter
from clearwatch.storage.models import Alarm
from clearwatch.timeparse import json_default

router = APIRouter(prefix="/api", tags=["alarms"])


class ClipOut(BaseModel):
    segment: int
    offset: float  # seconds into the segment where the clip starts
    start: datetime
    end: datetime | None


class AlarmOut(BaseModel):
    id: str
    rule: str
    kind: str
    camera: str | None
    priority: int
    title: str
    state: str
    first_at: datetime
    last_at: datetime
    count: int
    event_id: str | None
    snapshot: bool
    clip_start: datetime | None
    clip_end: datetime | None
    data: dict[str, Any]
    acked_by: str | None
    acked_at: datetime | None
    ack_note: str | None
    closed_by: str | None
    closed_at: datetime | None
    close_note: str | None
    escalated_at: datetime | None
    clip: ClipOut | None = None


def shown_title(p: Principal, kind: str, title: str, camera: str | None) -> str:
    """Who a face alarm is about is biometric, and which plate a plate alarm is about needs the plates
    permission: a role without them sees that it happened, not whom or which."""
    where = f" on {camera}" if camera else ""
    if kind == "face" and not p.can(Perm.PEOPLE):
        return f"Watchlist face{where}"
    if kind == "plate" and not p.can(Perm.PLATES):
        return f"Listed plate{where}"
    return title


def alarm_out(a: Alarm, p: Principal) -> AlarmOut:
    fields = {k: getattr(a, k) for k in AlarmOut.model_fields if k not in ("snapshot", "clip", "title")}
    return AlarmOut(**fields, title=shown_title(p, a.kind, a.title, a.camera), snapshot=bool(a.snapshot))


class Note(BaseModel):
    note: str = Field(default="", max_length=2000, description="What was done or found.")


class ArmRequest(BaseModel):
    why: str = Field(min_length=3, max_length=1000, description="Why, for the audit trail.")
    until: datetime | None = Field(default=None, description="Back to the weekly schedule at this time.")


def _visible(p: Principal, a: Alarm | None) -> Alarm:
    if a is None or (a.camera is not None and not p.sees(a.camera)) or not p.sees_site(a.site):
        raise HTTPException(404, "no such alarm")
    return a


@router.get("/alarms", response_model=list[AlarmOut])
def list_alarms(request: Request, state: StateFilter = "open", limit: int = Query(200, ge=1, le=1000),
                before: datetime | None = None, p: Principal = Depends(require(Perm.ALARMS))) -> list[AlarmOut]:
    """The queue, most urgent first (priority 1 first, then the newest)."""
    c = ctx(request)
    allowed = p.cameras(c.cameras)
    cameras = None if len(allowed) == len(c.cameras) and p.user.cameras is None else allowed
    # at the central node alarms come from sites: a user limited to some sites sees theirs
    return [alarm_out(a, p) for a in c.alarms.store.queue(state, cameras, limit, as_utc(before))
            if p.sees_site(a.site)]


@router.get("/alarms/{alarm_id}", response_model=AlarmOut)
def get_alarm(alarm_id: str, request: Request, p: Principal = Depends(require(Perm.ALARMS))) -> AlarmOut:
    """One alarm, with the recording its clip starts in (play it from ``/api/recordings/{segment}/video``)."""
    c = ctx(request)
    a = _visible(p, c.alarms.store.get(alarm_id))
    out = alarm_out(a, p)
    if a.camera is not None and a.clip_start is not None and p.can(Perm.PLAYBACK):
        segs = c.index.list(a.camera, a.clip_start, a.clip_end or a.last_at)
        if segs:
            s = segs[0]
            out.clip = ClipOut(segment=s.id, offset=max(0.0, (a.clip_start - s.start).total_seconds()),
                               start=a.clip_start, end=a.clip_end)
    return out


@router.get("/alarms/{alarm_id}/snapshot.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def alarm_snapshot(alarm_id: str, request: Request, p: Principal = Depends(require(Perm.ALARMS))) -> Response:
    c = ctx(request)
    a = _visible(p, c.alarms.store.get(alarm_id))
    if not a.snapshot or not (c.snapshots_dir / a.snapshot).is_file():
        raise HTTPException(404, "this alarm has no snapshot (or retention removed it)")
    if seen.first(p.user.name, "alarm-snapshot", alarm_id):
        c.audit.append(p.actor, "footage.snapshot", a.camera or "", {"alarm": alarm_id, "event": a.event_id})
    return masked_jpeg(p, c, a.camera or "", c.snapshots_dir / a.snapshot)


def _act(request: Request, p: Principal, alarm_id: str, what: Literal["ack", "close"], note: str) -> AlarmOut:
    c = ctx(request)
    _visible(p, c.alarms.store.get(alarm_id))
    try:
        a = (c.alarms.acknowledge if what == "ack" else c.alarms.close)(alarm_id, p.actor, note)
    except AlarmError as exc:
        raise HTTPException(409, str(exc)) from None
    return alarm_out(a, p)


@router.post("/alarms/{alarm_id}/ack", response_model=AlarmOut)
def acknowledge(alarm_id: str, body: Note, request: Request,
                p: Principal = Depends(require(Perm.ALARM_HANDLE))) -> AlarmOut:
    """Take the alarm: stops its escalation."""
    return _act(request, p, alarm_id, "ack", body.note)


@router.post("/alarms/{alarm_id}/close", response_model=AlarmOut)
def close(alarm_id: str, body: Note, request: Request,
          p: Principal = Depends(require(Perm.ALARM_HANDLE))) -> AlarmOut:
    return _act(request, p, alarm_id, "close", body.note)


@router.get("/alarms/stream/live", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, p: Principal = Depends(require(Perm.ALARMS))) -> StreamingResponse:
    """Alarms as they are raised, repeat, are acknowledged, escalated or closed (``event: new|repeat|…``)."""
    c = ctx(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=1000)

    def listener(what: str, alarm: dict[str, Any]) -> None:
        cam = alarm.get("camera")
        if cam is None or p.sees(cam):
            loop.call_soon_threadsafe(_offer, queue, (what, alarm))

    c.alarms.listeners.append(listener)

    async def gen() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    what, alarm = await asyncio.wait_for(queue.get(), 15.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                a = {**alarm, "snapshot": bool(alarm.get("snapshot")),
                     "title": shown_title(p, alarm["kind"], alarm["title"], alarm.get("camera"))}
                yield f"event: {what}\ndata: {json.dumps(a, default=json_default)}\n\n"
        finally:
            c.alarms.listeners.remove(listener)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _offer(queue: asyncio.Queue[tuple[str, dict[str, Any]]], item: tuple[str, dict[str, Any]]) -> None:
    if not queue.full():
        queue.put_nowait(item)


class ScheduleOut(BaseModel):
    name: str
    on: bool
    weekly: bool
    manual: str | None
    until: datetime | None
    by: str | None
    reason: str | None
    timezone: str


@router.get("/schedules", response_model=list[ScheduleOut])
def schedules(request: Request, p: Principal = Depends(require(Perm.ALARMS))) -> list[ScheduleOut]:
    """Each schedule: on or off now, by the week or by hand (who, why, until when)."""
    e = ctx(request).alarms
    overrides = e.overrides(fresh=True)
    return [ScheduleOut.model_validate(e.schedules.state(n, overrides)) for n in e.schedules.items]


def _set(request: Request, p: Principal, name: str, mode: Literal["armed", "disarmed", "auto"],
         body: ArmRequest) -> ScheduleOut:
    e = ctx(request).alarms
    if name not in e.schedules.items:
        raise HTTPException(404, f"no schedule {name!r}")
    return ScheduleOut.model_validate(e.set_arming(name, mode, p.actor, body.why, as_utc(body.until)))


@router.post("/schedules/{name}/arm", response_model=ScheduleOut)
def arm(name: str, body: ArmRequest, request: Request, p: Principal = Depends(require(Perm.ARM))) -> ScheduleOut:
    """Force the schedule on (rules on it are armed) until ``until`` or until set back to automatic."""
    return _set(request, p, name, "armed", body)


@router.post("/schedules/{name}/disarm", response_model=ScheduleOut)
def disarm(name: str, body: ArmRequest, request: Request, p: Principal = Depends(require(Perm.ARM))) -> ScheduleOut:
    return _set(request, p, name, "disarmed", body)


@router.post("/schedules/{name}/auto", response_model=ScheduleOut)
def automatic(name: str, body: ArmRequest, request: Request,
              p: Principal = Depends(require(Perm.ARM))) -> ScheduleOut:
    """Back to the weekly schedule."""
    return _set(request, p, name, "auto", body)
