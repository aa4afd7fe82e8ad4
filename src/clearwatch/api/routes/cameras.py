"""Cameras: list, live view (MJPEG), timeline, playback of recorded segments, export."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from clearwatch.api.export_jobs import ExportJob, ExportJobs
from clearwatch.api.routes.approvals import second_person
from clearwatch.api.security import (
    Principal,
    SeenRecently,
    camera_allowed,
    ctx,
    privacy_masks,
    require,
    unmasked,
)
from clearwatch.errors import ClearwatchError, NoFootageError
from clearwatch.governance import Perm
from clearwatch.recording import export_range
from clearwatch.storage import HoldStore, find_gaps

router = APIRouter(prefix="/api", tags=["cameras"])
seen = SeenRecently()
MJPEG_MAX_FPS = 10.0
MAX_ID = 2**63 - 1  # ids are 64-bit in every database we use


class CameraOut(BaseModel):
    name: str
    state: str
    recording: str
    fps_in: float
    last_frame_at: datetime | None
    last_error: str | None
    live: bool


@router.get("/cameras", response_model=list[CameraOut])
def cameras(request: Request, p: Principal = Depends(require(Perm.EVENTS))) -> list[CameraOut]:
    c = ctx(request)
    return [CameraOut(name=h.camera, state=h.state, recording=h.recording, fps_in=h.fps_in,
                      last_frame_at=h.last_frame_at, last_error=h.last_error, live=c.live.latest(h.camera) is not None)
            for h in c.camera_health(p.cameras(c.cameras))]


@router.get("/cameras/{camera}/live.mjpeg", response_class=StreamingResponse,
            responses={200: {"content": {"multipart/x-mixed-replace": {}}}})
async def live(camera: str, request: Request, fps: float = Query(5.0, gt=0, le=MJPEG_MAX_FPS),
               p: Principal = Depends(require(Perm.LIVE))) -> StreamingResponse:
    """The camera's detect stream as MJPEG; each opening is on the audit trail."""
    c = ctx(request)
    camera_allowed(p, c, camera)
    masked = not unmasked(p, c, camera)
    c.audit.append(p.actor, "footage.live", camera)
    if not masked and privacy_masks(c, camera):
        c.audit.append(p.actor, "footage.unmask", camera, {"live": True})
    interval = 1.0 / fps
    loop = asyncio.get_running_loop()

    async def stream() -> AsyncIterator[bytes]:
        # woken by each new frame and sent at once (polling added half a frame interval of delay on
        # average); frames that come too soon after the last one sent are skipped, to hold about ``fps``
        fresh = asyncio.Event()
        def wake() -> None:
            loop.call_soon_threadsafe(fresh.set)

        unwatch = c.live.watch(camera, wake)
        last_seq, sent = -1, 0.0
        try:
            fresh.set()  # whatever is there now, at once
            while not await request.is_disconnected():
                try:
                    await asyncio.wait_for(fresh.wait(), 1.0)
                except TimeoutError:
                    continue
                fresh.clear()
                if time.monotonic() - sent < 0.75 * interval:  # slack: a camera's frames come with jitter
                    continue
                got = await asyncio.to_thread(c.live.jpeg, camera, 80, masked)
                if got is None or got.seq == last_seq:
                    continue
                last_seq = got.seq
                sent = time.monotonic()
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nX-Frame-Time: " + f"{got.time:.3f}".encode()
                       + b"\r\nContent-Length: " + str(len(got.data)).encode() + b"\r\n\r\n" + got.data + b"\r\n")
        finally:
            unwatch()

    return StreamingResponse(stream(), media_type="multipart/x-mixed-replace; boundary=frame",
                             headers={"Cache-Control": "no-store"})


@router.get("/cameras/{camera}/snapshot.jpg", response_class=StreamingResponse,
            responses={200: {"content": {"image/jpeg": {}}}})
def snapshot(camera: str, request: Request, p: Principal = Depends(require(Perm.LIVE))) -> StreamingResponse:
    c = ctx(request)
    camera_allowed(p, c, camera)
    got = c.live.jpeg(camera, masked=not unmasked(p, c, camera))
    if got is None:
        raise HTTPException(404, "no live picture from this camera yet")
    if seen.first(p.user.name, "live", camera):
        c.audit.append(p.actor, "footage.live", camera, {"snapshot": True})
    return StreamingResponse(iter([got.data]), media_type="image/jpeg", headers={"Cache-Control": "no-store"})


class SegmentOut(BaseModel):
    id: int
    start: datetime
    end: datetime
    duration: float
    bytes: int
    status: str


class GapOut(BaseModel):
    start: datetime
    end: datetime
    seconds: float


class EventMark(BaseModel):
    id: str
    kind: str
    label: str
    start: datetime
    end: datetime | None


class AlarmMark(BaseModel):
    id: str
    title: str
    priority: int
    state: str
    start: datetime  # first sighting
    end: datetime  # last sighting


class Timeline(BaseModel):
    camera: str
    segments: list[SegmentOut]
    gaps: list[GapOut]
    events: list[EventMark]
    alarms: list[AlarmMark] = Field(default_factory=list, description="Only for users who see the alarm desk.")


def _range(start: datetime | None, end: datetime | None, default_hours: float = 24) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC)
    start = start or datetime.fromtimestamp(end.timestamp() - default_hours * 3600, UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    if end <= start:
        raise HTTPException(422, "end must be after start")
    return start, end


@router.get("/cameras/{camera}/timeline", response_model=Timeline)
def timeline(camera: str, request: Request, start: datetime | None = None, end: datetime | None = None,
             p: Principal = Depends(require(Perm.PLAYBACK))) -> Timeline:
    """Recordings (and the gaps between them), events and alarms of one camera in a time range (default: 24 h)."""
    c = ctx(request)
    camera_allowed(p, c, camera)
    start, end = _range(start, end)
    segs = c.index.list(camera, start, end)
    evs = c.events.list(camera=camera, start=start, end=end, limit=2000)
    return Timeline(
        camera=camera,
        segments=[SegmentOut(id=s.id, start=s.start, end=s.end, duration=s.duration, bytes=s.bytes, status=s.status)
                  for s in segs],
        gaps=[GapOut(start=g.start, end=g.end, seconds=g.seconds) for g in find_gaps(segs)],
        events=[EventMark(id=e.id, kind=e.kind, label=e.label, start=e.start, end=e.end) for e in evs],
        alarms=[AlarmMark(id=a.id, title=a.title, priority=a.priority, state=a.state, start=a.first_at, end=a.last_at)
                for a in (c.alarms.store.on_camera(camera, start, end) if p.can(Perm.ALARMS) else [])],
    )


@router.get("/recordings/{segment_id}/video", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}})
def play(request: Request, segment_id: int = Path(..., ge=1, le=MAX_ID),
         p: Principal = Depends(require(Perm.PLAYBACK))) -> FileResponse:
    """One recorded MP4 segment (range requests work, so the browser can seek)."""
    c = ctx(request)
    seg = c.index.get(segment_id)
    if seg is None:
        raise HTTPException(404, "no such recording")
    camera_allowed(p, c, seg.camera)
    path = c.recordings_dir / seg.path
    if not path.is_file():
        raise HTTPException(410, "the recording's file is gone (retention or disk problem)")
    polygons = privacy_masks(c, seg.camera)
    masked = bool(polygons) and not unmasked(p, c, seg.camera)
    if seen.first(p.user.name, "play", str(segment_id), str(masked)):
        c.audit.append(p.actor, "footage.unmask" if polygons and not masked else "footage.playback", seg.camera,
                       {"segment": segment_id, "start": seg.start.isoformat(), "end": seg.end.isoformat()})
    if masked:  # burned in on the server, once per segment; the recording itself stays as it was
        from clearwatch.governance.redaction import redact_video

        cached = c.config.data_dir / "masked" / seg.camera / f"{segment_id}.mp4"
        if not cached.is_file() or cached.stat().st_mtime < path.stat().st_mtime:
            redact_video(path, cached, set(), polygons, crf=23)
        path = cached
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=600"})


class ExportRequest(BaseModel):
    start: datetime
    end: datetime
    justification: str = Field(min_length=5, max_length=1000, description="Why this footage leaves the system.")
    redact: list[Literal["faces", "people", "plates"]] = Field(
        default_factory=list, description="Blur these on every frame (re-encodes the export).")
    keep: list[str] = Field(default_factory=list, description="Enrolled people (ids) left visible when redacting.")
    approval: str | None = Field(default=None, description="An approved request, where exports need a second "
                                                           "person's approval (governance.dual_authorisation).")


@router.post("/cameras/{camera}/export", response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}},
                              "headers": {"X-Clearwatch-Manifest": {"description": "signed manifest, base64 JSON"}}},
                        202: {"description": "a second person must approve this export first, or (with 'job') it "
                                              "takes longer: ask /api/exports/{job} for it"}})
def export(camera: str, body: ExportRequest, request: Request,
           p: Principal = Depends(require(Perm.EXPORT))) -> Response:
    """One MP4 of a time range, joined without re-encoding (re-encoded only to redact, or to burn in privacy
    masks the user may not see past), with a signed manifest (file SHA-256, camera, range, who, why, when,
    redactions; header ``X-Clearwatch-Manifest``). Needs a justification, which is audited; where exports need
    dual authorisation, the first call makes a request (202) and the approved one runs. A re-encoded export not
    done within a few seconds answers 202 with a job to ask after. The file stays on the server for the exports
    retention."""
    from clearwatch.governance.manifest import write_manifest
    from clearwatch.governance.signing import installation_signer

    c = ctx(request)
    camera_allowed(p, c, camera)
    start, end = _range(body.start, body.end)
    params = {"camera": camera, "start": start.isoformat(), "end": end.isoformat(),
              "redact": sorted(body.redact), "keep": sorted(body.keep)}
    waiting = second_person(request, p, "export", params, body.justification, body.approval)
    if waiting is not None:
        return waiting
    signer = installation_signer(c.config)
    folder = c.config.exports_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{camera}-{start:%Y%m%dT%H%M%S}.mp4"
    polygons = privacy_masks(c, camera)
    masked = bool(polygons) and not unmasked(p, c, camera)
    raw = out.with_name("raw-" + out.name) if masked or body.redact else out
    try:
        result = export_range(c.recordings_dir, c.index, HoldStore(c.db), camera, start, end, raw,
                              requested_by=p.user.name)
    except NoFootageError as exc:
        raw.unlink(missing_ok=True)
        folder.rmdir()
        raise HTTPException(404, str(exc)) from None
    redactions = (["privacy_masks"] if masked else []) + sorted(body.redact)
    jobs = _jobs(request)

    def finish() -> dict[str, Any]:
        """Re-encode where needed, sign the manifest, put the export on the record; returns the manifest."""
        if raw != out:
            from clearwatch.governance.redaction import redact_video

            try:
                redact_video(raw, out, set(body.redact), polygons if masked else [], keep=body.keep,
                             registry=c.registry, cancel=jobs.stopping)
            except ClearwatchError:
                out.unlink(missing_ok=True)
                raise
            finally:
                raw.unlink(missing_ok=True)
        manifest = write_manifest(out, signer, camera=camera, start=result.start, end=result.end,
                                  exported_by=p.user.name, why=body.justification, site=c.config.site.name,
                                  redactions=redactions,
                                  extra={"kept_visible": sorted(body.keep)} if body.keep else None)
        if polygons and not masked:
            c.audit.append(p.actor, "footage.unmask", camera, {"export": f"{folder.name}/{out.name}"})
        c.audit.append(p.actor, "footage.export", camera, {
            "start": start.isoformat(), "end": end.isoformat(), "bytes": out.stat().st_size,
            "sha256": manifest["sha256"], "export": f"{folder.name}/{out.name}", "redactions": redactions,
            "approval": body.approval, "sound": result.audio_packets > 0 and raw == out},
            justification=body.justification)
        return manifest

    if raw == out:  # a copy without re-encoding: as quick as the disk
        return _export_file(out, finish(), folder.name)
    job = jobs.run(ExportJob(camera, p.user.name, out), finish)
    if job.state == "running":
        return JSONResponse(jsonable_encoder(job.status()), 202)
    return _job_file(job)


def _jobs(request: Request) -> ExportJobs:
    jobs: ExportJobs = request.app.state.export_jobs
    return jobs


def _job_file(job: ExportJob) -> Response:
    if job.state == "failed":
        raise HTTPException(422, job.error or "the export failed")
    if job.state == "running":
        raise HTTPException(409, "the export is still being made: ask again")
    assert job.manifest is not None
    return _export_file(job.file, job.manifest, job.file.parent.name)


@router.get("/exports/{job_id}", responses={200: {"content": {"video/mp4": {}}}})
def export_job(job_id: str, request: Request, p: Principal = Depends(require(Perm.EXPORT))) -> Response:
    """A long export (re-encoded to redact or mask) handed back as a job: its state while it runs, the file
    (with its manifest header) once it is done. Only the user who asked for it sees it."""
    job = _jobs(request).get(job_id, p.user.name)
    if job is None:
        raise HTTPException(404, "no such export job")
    if job.state == "running":
        return JSONResponse(jsonable_encoder(job.status()))
    return _job_file(job)


def _export_file(out: FilePath, manifest: dict[str, Any], folder: str) -> Response:
    header = base64.b64encode(json.dumps(manifest, separators=(",", ":")).encode()).decode()
    return FileResponse(out, media_type="video/mp4", filename=out.name,
                        headers={"X-Clearwatch-Manifest": header, "X-Clearwatch-Export": folder})
