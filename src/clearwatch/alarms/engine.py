"""The alarm engine: turns what analytics report (events), camera health and the clock into alarms on the desk,
and tells MQTT, webhooks and the console. Rules and schedules come from the config; state lives in the database,
so the CLI and the console act on the same alarms as the service."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from clearwatch.alarms.schedules import Override, Schedules
from clearwatch.config import Config
from clearwatch.config.alarms import AlarmRuleConfig
from clearwatch.events.model import Event, EventUpdate
from clearwatch.federation.messages import site_message
from clearwatch.governance.audit import Actor, AuditLog
from clearwatch.sources.health import HealthSnapshot
from clearwatch.storage import Database, Message, OutboxStore
from clearwatch.storage.alarms import AlarmStore, ArmingStore, Raised, alarm_dict
from clearwatch.storage.models import Alarm
from clearwatch.timeparse import json_default

log = logging.getLogger(__name__)
AlarmListener = Callable[[str, dict[str, Any]], None]  # (what happened: new|repeat|ack|close|escalated, alarm)
DOWN = ("stalled", "reconnecting", "connecting", "stopped", "offline")
OVERRIDES_TTL = 2.0  # seconds a read of the manual arming is trusted (the CLI may change it from outside)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def event_time(ev: Event) -> float:
    """When an update happened: the track's latest position, or the event's start."""
    return max(ev.start, ev.path[-1][0] if ev.path else ev.start, ev.end or ev.start)


def describe(rule_name: str, rule: AlarmRuleConfig, ev: Event) -> str:
    where = f" on {ev.camera}"
    k = rule.kind
    if k == "intrusion":
        place = f"zone {rule.zone}" if rule.zone else f"line {rule.line}"
        return f"Intrusion: {ev.label} in {place}{where}"
    if k == "loitering":
        return f"Loitering: {ev.label} in zone {rule.zone}{where}"
    if k in ("left", "removed"):
        return f"Object {k} in zone {rule.zone}{where}"
    if k == "tamper":
        return f"Camera tampering: {ev.data.get('cause', ev.label)}{where}"
    if k == "machine":
        return f"Machine {ev.label} {ev.data.get('state')}{where}"
    if k == "face":
        return f"Watchlist face: {ev.data.get('name') or ev.identity or 'enrolled person'}{where}"
    if k == "plate":
        return f"Listed plate {ev.data.get('plate')} ({ev.data.get('list')}){where}"
    return f"{rule_name}{where}"


def matches(rule: AlarmRuleConfig, update: EventUpdate) -> bool:
    """Does this event update show what the rule watches for? (Cameras and arming are checked by the engine.)"""
    ev, k = update.event, rule.kind
    if update.type == "end" and k != "intrusion":
        return False
    if k == "intrusion":
        if ev.kind != "object" or ev.label not in rule.objects:
            return False
        if rule.zone is not None:
            return rule.zone in ev.zones
        return any(c.get("line") == rule.line and rule.direction in ("any", c.get("direction"))
                   for c in ev.crossings)
    if update.type != "start":
        return False
    if k == "loitering":
        return ev.kind == "loitering" and rule.zone in ev.zones
    if k in ("left", "removed"):
        return ev.kind == k and ev.data.get("zone") == rule.zone
    if k == "tamper":
        return ev.kind == "tamper" and ev.data.get("cause") in rule.causes
    if k == "machine":
        return ev.kind == "machine" and ev.label == rule.machine and ev.data.get("state") == rule.state
    if k == "face":
        hits = ev.data.get("watchlists") or []
        return ev.kind == "alert" and bool(hits) and (not rule.watchlists or bool(set(hits) & set(rule.watchlists)))
    if k == "plate":
        return ev.kind == "alert" and "plate" in ev.data and (not rule.lists or ev.data.get("list") in rule.lists)
    return False


class AlarmEngine:
    def __init__(self, config: Config, db: Database, *, queue: Callable[[list[Message]], None] | None = None,
                 clock: Callable[[], float] = time.time, audit: AuditLog | None = None):
        self.config = config
        self.audit = audit or AuditLog(db)  # what people do on the desk goes on the trail, whoever calls
        self.store = AlarmStore(db)
        self.arming = ArmingStore(db)
        self.schedules = Schedules(config.schedules, config.site.timezone)
        self.rules = config.alarms.rules
        self.cameras = {name: set(config.alarm_cameras(name)) for name in self.rules}
        self.clock = clock
        self.listeners: list[AlarmListener] = []
        self._outbox = OutboxStore(db)
        self._queue = queue or self._outbox.add
        self._lock = threading.Lock()
        self._overrides: tuple[float, dict[str, Override]] = (-1e18, {})
        self._down_since: dict[str, float] = {}

    # arming ------------------------------------------------------------------------------------------

    def overrides(self, fresh: bool = False) -> dict[str, Override]:
        now = time.monotonic()
        if fresh or now - self._overrides[0] > OVERRIDES_TTL:
            rows = self.arming.all()
            self._overrides = (now, {n: Override(r.mode, r.until, r.set_by, r.reason) for n, r in rows.items()})
        return self._overrides[1]

    def armed(self, rule: AlarmRuleConfig, t: float) -> bool:
        if rule.schedule is not None:
            return self.schedules.on(rule.schedule, t, self.overrides())
        if rule.unless is not None:
            return not self.schedules.on(rule.unless, t, self.overrides())
        return True

    # what raises alarms --------------------------------------------------------------------------------

    def on_update(self, update: EventUpdate) -> None:
        """An event listener (``EventService.listeners``): called after the event is stored."""
        ev = update.event
        for name, rule in self.rules.items():
            if ev.camera not in self.cameras[name] or not matches(rule, update):
                continue
            t = event_time(ev)
            if not self.armed(rule, t):
                continue
            pre = self.config.cameras[ev.camera].record.pre_roll if ev.camera in self.config.cameras else 5.0
            post = self.config.cameras[ev.camera].record.post_roll if ev.camera in self.config.cameras else 10.0
            self.raise_(Raised(
                rule=name, kind=rule.kind, camera=ev.camera, priority=rule.priority,
                title=describe(name, rule, ev), at=_utc(t), event_id=ev.id, snapshot=ev.snapshot,
                clip_start=_utc(ev.clip_start if ev.clip_start is not None else t - pre), clip_end=_utc(t + post),
                data={"event_kind": ev.kind, "label": ev.label, "zones": ev.zones,
                      **{k: v for k, v in ev.data.items() if k in ("cause", "zone", "state", "list", "watchlists")}}))

    def check_health(self, snapshots: list[HealthSnapshot], now: float | None = None) -> None:
        """Offline rules: a camera down (not streaming) for the rule's ``after`` seconds raises one alarm per
        outage."""
        now = self.clock() if now is None else now
        for h in snapshots:
            if h.state in DOWN:
                self._down_since.setdefault(h.camera, h.last_frame_at.timestamp() if h.last_frame_at else now)
            else:
                self._down_since.pop(h.camera, None)
        for name, rule in self.rules.items():
            if rule.kind != "offline":
                continue
            for cam in self.cameras[name]:
                since = self._down_since.get(cam)
                if since is None or now - since < rule.after or not self.armed(rule, now):
                    continue
                snap = next((x for x in snapshots if x.camera == cam), None)
                self.raise_(Raised(
                    rule=name, kind="offline", camera=cam, priority=rule.priority,
                    title=f"Camera {cam} is down ({snap.state if snap else 'offline'})", at=_utc(now),
                    event_id=f"down-{cam}-{int(since)}", clip_start=_utc(since - 10), clip_end=_utc(since + 10),
                    data={"since": _utc(since).isoformat(), "error": snap.last_error if snap else None}),
                    window=max(self.config.alarms.group_window, 10 * 60.0))

    def escalate(self, now: float | None = None) -> int:
        """Raise the priority of new alarms nobody acknowledged in time, and tell their escalation webhooks."""
        now = self.clock() if now is None else now
        default = self.config.alarms.escalate
        shortest = min([default.after, *(r.escalate.after for r in self.rules.values() if r.escalate)])
        done = 0
        for a in self.store.unacknowledged(_utc(now - shortest)):
            rule = self.rules.get(a.rule)
            esc = rule.escalate if rule is not None and rule.escalate is not None else default
            if (_utc(now) - a.first_at).total_seconds() < esc.after:
                continue
            escalated = self.store.escalate(a.id, _utc(now))
            if escalated is not None:
                done += 1
                self._tell("escalated", escalated, esc.notify)
        return done

    # the desk ------------------------------------------------------------------------------------------

    def raise_(self, r: Raised, window: float | None = None) -> Alarm:
        with self._lock:  # two cameras' threads must not both open the same alarm
            what, alarm = self.store.raise_(r, self.config.alarms.group_window if window is None else window)
        if what != "same":
            rule = self.rules.get(r.rule)
            # a rule's pager hears of each new alarm once; repeats go to MQTT, the console and 'alarm' webhooks
            self._tell(what, alarm, rule.notify if rule and what == "new" else [])
        return alarm

    def acknowledge(self, alarm_id: str, actor: Actor, note: str) -> Alarm:
        alarm = self.store.acknowledge(alarm_id, actor.name, note)
        self._done("ack", alarm, actor, note)
        return alarm

    def close(self, alarm_id: str, actor: Actor, note: str) -> Alarm:
        alarm = self.store.close(alarm_id, actor.name, note)
        self._done("close", alarm, actor, note)
        return alarm

    def _done(self, what: str, alarm: Alarm, actor: Actor, note: str) -> None:
        self._tell(what, alarm, [])
        self.audit.append(actor, f"alarm.{what}", alarm.id, {"rule": alarm.rule, "camera": alarm.camera, "note": note})

    def set_arming(self, schedule: str, mode: Literal["armed", "disarmed", "auto"], actor: Actor, why: str,
                   until: datetime | None = None) -> dict[str, object]:
        """Arm or disarm a schedule by hand, or give it back to the week; on the audit trail with the reason.
        Returns the schedule's state now."""
        if mode == "auto":
            self.arming.clear(schedule)
        else:
            self.arming.set(schedule, mode, actor.name, why, until)
        action = {"armed": "alarm.arm", "disarmed": "alarm.disarm", "auto": "alarm.auto"}[mode]
        self.audit.append(actor, action, schedule, {"until": until.isoformat() if until else None},
                          justification=why)
        return self.schedules.state(schedule, self.overrides(fresh=True))

    def _tell(self, what: str, alarm: Alarm, notify: list[str]) -> None:
        data = alarm_dict(alarm)
        body = json.dumps({"type": what, "alarm": data, "site": self.config.site.name},
                          separators=(",", ":"), default=json_default)
        messages = site_message(self.config, "alarm", alarm.id, {"type": what, "alarm": data})
        if self.config.mqtt.enabled:
            messages.append(Message("mqtt", f"{self.config.mqtt.topic_prefix}/alarms", body))
        for name, hook in self.config.webhooks.items():
            if name in notify or "alarm" in hook.kinds:
                messages.append(Message(f"webhook:{name}", "alarms", body))
        if messages:
            try:
                self._queue(messages)
            except Exception as exc:
                log.error("cannot queue alarm messages: %s", exc)
        for listener in self.listeners:
            try:
                listener(what, data)
            except Exception:
                log.exception("alarm listener failed")

