"""``clearwatch demo``: a real clip looped as a live camera, recorded under ./clearwatch-data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from rich.live import Live
from rich.progress import Progress
from rich.table import Table

from clearwatch.cli.common import console
from clearwatch.cli.running import run_until_signalled
from clearwatch.units import format_size

if TYPE_CHECKING:
    from clearwatch.service import Service



def prepare_clip(data: Path) -> tuple[Path, str]:
    from clearwatch.media import find_demo_clip, test_pattern, transcode_h264

    cache = data / "demo"
    src = find_demo_clip()
    if src is None:
        clip = cache / "test-pattern.mp4"
        if not clip.exists():
            test_pattern(clip)
        return clip, "no vtest.avi found: using a generated test pattern"
    clip = cache / "vtest-h264.mp4"
    if not clip.exists() or clip.stat().st_mtime < src.stat().st_mtime:
        # vtest.avi is MS-MPEG4, which MP4 cannot hold and browsers cannot play: make an H.264 copy once
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"transcoding {src.name} to H.264", total=1.0)
            transcode_h264(src, clip, progress=lambda f: bar.update(task, completed=f))
    return clip, f"looping {src} as a live camera"


def _status(service: Service) -> Table:
    from clearwatch.storage import EventStore, StorageUsage

    table = Table("camera", "state", "recording", "fps in", "segments", "stored", "events", "in view now",
                  "line 'path' in/out")
    usage = service.index.usage()
    store = EventStore(service.db)
    for h in service.health():
        used = usage.get(h.camera, StorageUsage())
        analytics = service.units[h.camera].analytics
        seen = counts = ""
        if analytics is not None:
            info = analytics.summary()
            seen = ", ".join(f"{n} {label}" for label, n in info.active.items()) or "-"
            path = info.lines.get("path")
            counts = f"{path['in']}/{path['out']}" if path else ""
        table.add_row(h.camera, h.state, h.recording, f"{h.fps_in:.1f}", str(used.segments), format_size(used.bytes),
                      str(store.count(h.camera)), seen, counts)
    return table


def _admin(service: Service) -> None:
    from clearwatch.governance import Actor, AuditLog, Users

    users = Users(service.db)
    url = f"http://{service.config.web.host}:{service.web_port}/"
    if not users.all():
        _, password = users.create("admin", "admin")
        AuditLog(service.db).append(Actor("demo", "system", "local"), "user.create", "admin", {"role": "admin"})
        console.print(f"  console:    {url}  user [bold]admin[/bold], password [bold]{password}[/bold] "
                      "(shown once; change it with: clearwatch users passwd admin)")
    else:
        console.print(f"  console:    {url}")


def run_demo(duration: float, data: Path) -> None:
    from clearwatch.media import find_shared_models
    from clearwatch.service import Service
    from clearwatch.storage import EventStore

    data.mkdir(parents=True, exist_ok=True)
    clip, what = prepare_clip(data)
    from clearwatch.config import parse_config

    config = parse_config(
        f"data_dir: {data}\n"
        "retention: {days: 1}\n"
        "storage: {max_size: 2GB, min_free: 500MB}\n"
        # the alarm desk: people on the footpath after hours, loiterers, tampering, the camera going down
        "schedules:\n  after_hours: {mon-fri: ['18:00-07:00'], sat-sun: ['00:00-24:00']}\n"
        "alarms:\n  rules:\n"
        "    footpath_after_hours: {kind: intrusion, zone: footpath, schedule: after_hours, priority: 2}\n"
        "    loiterer: {kind: loitering, zone: footpath, priority: 3}\n"
        "    tampering: {kind: tamper, priority: 1}\n"
        "    camera_down: {kind: offline, after: 30s, priority: 2}\n"
        f"cameras:\n  demo:\n    url: {clip}\n    loop: true\n"
        # a line across the footpath and the path itself as a zone, in fractions of the picture
        "    lines:\n      path: {points: [[0.78, 0.2], [0.78, 0.8]]}\n"
        "    zones:\n      footpath: {points: [[0.0, 0.25], [1.0, 0.25], [1.0, 0.75], [0.0, 0.75]], loiter: 20s}\n",
        source="<demo>",
    )
    models = find_shared_models()
    if models is not None and not os.environ.get("CLEARWATCH_MODELS"):
        os.environ["CLEARWATCH_MODELS"] = str(models)  # the demo's stand-in for an installed model folder
    console.print(f"[bold]Clearwatch demo[/bold]: {what}")
    console.print(f"  recordings: {config.recordings_dir}")
    console.print(f"  database:   {config.database_url}")
    console.print(f"  snapshots:  {config.data_dir / 'snapshots'}")
    console.print("  while it runs, in another shell:  clearwatch cameras · clearwatch events list · "
                  "clearwatch recordings list · clearwatch alarms list")
    console.print("  stop with Ctrl-C" + (f" (or it stops by itself after {duration:.0f} s)" if duration else ""))
    service = Service(config)
    try:
        service.start()
    except OSError:  # 8080 is taken: any free port will do for a demo
        config = config.model_copy(update={"web": config.web.model_copy(update={"port": 0})})
        service = Service(config)
        service.start()
    _admin(service)
    with Live(_status(service), console=console, refresh_per_second=1, transient=False) as live:
        run_until_signalled(service, duration or None, on_tick=lambda: live.update(_status(service)))
    console.print()
    if service.model_errors:
        console.print("[yellow]object detection was off[/yellow]: " + "; ".join(service.model_errors.values()))
    events = EventStore(service.db).list(camera="demo", limit=10_000)
    people = [e for e in events if e.label == "person"]
    console.print(f"{len(events)} event(s), {len(people)} of them people; list them with:  "
                  f"clearwatch events list --data {data}")
    segs = service.index.list("demo")
    console.print(f"recorded {len(segs)} segment(s) of camera 'demo' in {config.recordings_dir}/demo")
    if segs:
        console.print(
            "export the last minute:  clearwatch export demo -1m now demo.mp4 --data " + str(data)
        )
