"""The transparency report: how much is stored and for how long, who can see what, who looked, whom the registry
holds and on what basis, what was erased, whether retention is kept, and whether the audit trail verifies.

Every number is read from the data itself (the recordings index, the events, the users, the registry, the
audit trail) with aggregate queries, never from counters kept on the side that could drift."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from clearwatch import __version__
from clearwatch.config import Config
from clearwatch.governance.audit import AuditLog
from clearwatch.governance.retention import policies
from clearwatch.storage import Database
from clearwatch.storage.models import AuditRecord, EventRecord, Person, PlateListEntry, Segment, User
from clearwatch.timeparse import iso_z

FORMAT = "clearwatch-transparency/1"
ACCESS_ACTIONS = {
    "footage.live": "live views", "footage.playback": "recordings played", "footage.snapshot": "snapshots viewed",
    "footage.export": "exports", "footage.unmask": "views past privacy masks", "biometric.search": "face searches",
    "biometric.finger_identify": "fingerprint searches", "biometric.video_search": "faces searched in video",
    "biometric.event_search": "events searched by person", "plate.search": "plate searches",
    "biometric.enrol": "people enrolled", "biometric.delete": "people deleted", "biometric.erase": "people erased",
    "report.subject": "subject access requests answered", "alarm.arm": "schedules armed by hand",
    "alarm.disarm": "schedules disarmed by hand",
}




def transparency_report(config: Config, db: Database, since: datetime | None = None, now: datetime | None = None,
                        trusted: set[str] | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    since = since or now - timedelta(days=30)
    # walking the audit chain is the longest part; the counting queries run inside the database without holding
    # the GIL, so they overlap it
    with ThreadPoolExecutor(1) as pool:
        verifying = pool.submit(AuditLog(db).verify, 5, trusted)
        counts = _counts(config, db, since, now)
        verification = verifying.result()
    return {**counts, "audit": {"ok": verification.ok, "records": verification.records,
                                "head": verification.head_id, "problems": verification.problems}}


def _counts(config: Config, db: Database, since: datetime, now: datetime) -> dict[str, Any]:
    cams = config.cameras
    with db.session() as s:
        footage = {r.camera: r for r in s.execute(select(
            Segment.camera, func.sum(Segment.duration).label("seconds"), func.sum(Segment.bytes).label("bytes"),
            func.min(Segment.start).label("oldest"), func.count().label("segments")).group_by(Segment.camera))}
        by_role = Counter({(a, r): n for a, r, n in s.execute(select(
            AuditRecord.action, AuditRecord.role, func.count()).where(
            AuditRecord.ts >= iso_z(since, "seconds"), AuditRecord.action.in_(list(ACCESS_ACTIONS)))
            .group_by(AuditRecord.action, AuditRecord.role))})
        accesses: Counter[str] = Counter()
        for (action, _), n in by_role.items():
            accesses[action] += n
        users = list(s.execute(select(User.role, User.cameras, User.disabled)))
        bases = _pairs(s.execute(select(Person.legal_basis, func.count()).group_by(Person.legal_basis)))
        watchlists: Counter[str] = Counter()
        for (lists,) in s.execute(select(Person.watchlists)):
            watchlists.update(lists or [])
        plate_lists = _pairs(s.execute(select(PlateListEntry.list_name, func.count())
                                       .group_by(PlateListEntry.list_name)))
        events_by_kind = _pairs(s.execute(select(EventRecord.kind, func.count()).group_by(EventRecord.kind)))
        old_unknown_faces = s.scalar(select(func.count()).select_from(EventRecord).where(
            EventRecord.face_snapshot.is_not(None), EventRecord.identity.is_(None),
            EventRecord.start < now - timedelta(seconds=config.retention.unknown_faces))) or 0
        cutoffs = {name: now - timedelta(days=cam.events.retain_days or cam.record.retention_days)
                   for name, cam in cams.items()}
        stale_events: dict[str, int] = {}
        if cutoffs:  # one pass over the events, each camera's own cutoff
            past = case(*((EventRecord.camera == n, EventRecord.end < t) for n, t in cutoffs.items()), else_=False)
            stale_events = _pairs(s.execute(select(EventRecord.camera, func.count()).where(past)
                                            .group_by(EventRecord.camera)))
    camera_rows: list[dict[str, Any]] = []
    over_policy: dict[str, float] = {}
    for name in sorted(set(cams) | set(footage)):
        f = footage.get(name)
        days = cams[name].record.retention_days if name in cams else config.retention.days
        oldest = f.oldest if f is not None else None
        over = max(0.0, (now - oldest).total_seconds() - days * 86400) if oldest is not None else 0.0
        if over > 0:
            over_policy[name] = round(over / 3600, 2)
        camera_rows.append({
            "camera": name, "configured": name in cams, "hours": round(float(f.seconds or 0) / 3600, 2) if f else 0.0,
            "bytes": int(f.bytes or 0) if f else 0, "segments": int(f.segments) if f else 0,
            "oldest": iso_z(oldest, "seconds"),
            "policy_days": days, "over_policy_hours": round(over / 3600, 2),
            "viewers": _who_sees(users, name)})
    return {
        "format": FORMAT, "site": config.site.name, "software": f"clearwatch {__version__}",
        "generated": iso_z(now, "seconds"),
        "period": {"since": iso_z(since, "seconds"), "until": iso_z(now, "seconds")},
        "footage": camera_rows,
        "retention_policies": [{"kind": p.kind, "days": round(p.seconds / 86400, 2) if p.seconds else None,
                                "what": p.what} for p in policies(config)],
        "access": {"users": _user_summary(users), "cameras": {r["camera"]: r["viewers"] for r in camera_rows}},
        "accesses": [{"action": a, "what": w, "count": int(accesses.get(a, 0)),
                      "by_role": {role: n for (act, role), n in by_role.items() if act == a}}
                     for a, w in ACCESS_ACTIONS.items()],
        "registry": {"people": sum(bases.values()), "by_legal_basis": bases, "watchlists": dict(watchlists),
                     "plate_lists": plate_lists},
        "events": events_by_kind,
        "compliance": {"footage_over_policy": over_policy,
                       "events_over_policy": {k: v for k, v in stale_events.items() if v},
                       "unknown_face_pictures_over_policy": int(old_unknown_faces)},
    }


def _pairs(rows: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in rows}


def _who_sees(users: list[Any], camera: str) -> dict[str, int]:
    out: Counter[str] = Counter()
    for role, cameras, disabled in users:
        if not disabled and role != "auditor" and (cameras is None or camera in cameras):
            out[role] += 1
    return dict(out)


def _user_summary(users: list[Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for role, cameras, disabled in users:
        if disabled:
            continue
        row = out.setdefault(role, {"all_cameras": 0, "some_cameras": 0})
        row["all_cameras" if cameras is None else "some_cameras"] += 1
    return out


def bars(rows: list[tuple[str, float]], width: int = 560, unit: str = "") -> str:
    """A small horizontal bar chart as inline SVG (no script, nothing fetched)."""
    from html import escape

    if not rows:
        return ""
    top = max(v for _, v in rows) or 1.0
    h = 22
    parts = [f'<svg class="chart" width="{width}" height="{h * len(rows) + 4}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for i, (label, v) in enumerate(rows):
        w = max(1.0, (width - 250) * v / top)
        y = i * h + 2
        parts.append(f'<text x="0" y="{y + 15}" font-size="12" fill="currentColor">{escape(label)}</text>'
                     f'<rect x="170" y="{y + 3}" width="{w:.1f}" height="{h - 8}" fill="#4fb3ff"/>'
                     f'<text x="{176 + w:.1f}" y="{y + 15}" font-size="12" fill="currentColor">'
                     f'{v:g}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)
