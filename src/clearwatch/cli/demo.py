"""``clearwatch demo``: a real clip looped as a live camera, recorded under ./clearwatch-data."""

from __future__ import annotations

from pathlib import Path

from rich.live import Live
from rich.progress import Progress
from rich.table import Table

from clearwatch.cli.app import run_until_signalled
from clearwatch.cli.common import console
from clearwatch.config import parse_config
from clearwatch.config.units import format_size
from clearwatch.media import find_demo_clip, test_pattern, transcode_h264
from clearwatch.service import Service


def prepare_clip(data: Path) -> tuple[Path, str]:
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
    table = Table("camera", "state", "recording", "fps in", "segments", "stored")
    usage = service.index.usage()
    for h in service.health():
        size, count = usage.get(h.camera, (0, 0))
        table.add_row(h.camera, h.state, h.recording, f"{h.fps_in:.1f}", str(count), format_size(size))
    return table


def run_demo(duration: float, data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    clip, what = prepare_clip(data)
    config = parse_config(
        f"data_dir: {data}\n"
        "retention: {days: 1}\n"
        "storage: {max_size: 2GB, min_free: 500MB}\n"
        f"cameras:\n  demo:\n    url: {clip}\n    loop: true\n",
        source="<demo>",
    )
    console.print(f"[bold]Clearwatch demo[/bold]: {what}")
    console.print(f"  recordings: {config.recordings_dir}")
    console.print(f"  database:   {config.database_url}")
    console.print("  while it runs, in another shell:  clearwatch cameras · clearwatch recordings list")
    console.print("  stop with Ctrl-C" + (f" (or it stops by itself after {duration:.0f} s)" if duration else ""))
    service = Service(config)
    service.start()
    with Live(_status(service), console=console, refresh_per_second=1, transient=False) as live:
        run_until_signalled(service, duration or None, on_tick=lambda: live.update(_status(service)))
    segs = service.index.list("demo")
    console.print(f"recorded {len(segs)} segment(s) of camera 'demo' in {config.recordings_dir}/demo")
    if segs:
        console.print(
            "export the last minute:  clearwatch export demo -1m now demo.mp4 --data " + str(data)
        )
