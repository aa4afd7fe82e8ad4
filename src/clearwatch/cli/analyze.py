"""``clearwatch analyze FILE``: the whole analytics pipeline over a video file, as fast as it decodes."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from clearwatch.cli.common import ConfigOption, DataOption, JsonOption, console, err_console, resolve_config
from clearwatch.errors import ClearwatchError

if TYPE_CHECKING:
    from collections.abc import Callable

    from clearwatch.analytics.offline import CollectingSink
    from clearwatch.config import CameraConfig, Config
    from clearwatch.events.model import Event
    from clearwatch.plates.lists import ListEntry


def camera_for(config: Config, file: Path, camera: str | None, fps: float | None) -> CameraConfig:
    """A configured camera (its zones, lines, machines) reading ``file``, or the site-wide sections alone."""
    if camera is not None:
        if camera not in config.cameras:
            known = ", ".join(config.cameras) or "none"
            raise ClearwatchError(f"camera {camera!r} is not in the config (cameras: {known})")
        cam = config.cameras[camera]
    else:
        if not file.is_file():
            raise ClearwatchError(f"{file}: file not found")
        cam = config.file_camera(file.absolute())
    if fps is not None:
        cam = cam.model_copy(update={"detect": cam.detect.model_copy(update={"fps": fps})})
    return cam


def event_line(ev: Event) -> dict[str, Any]:
    return {
        "camera": ev.camera, "kind": ev.kind, "label": ev.label, "track_id": ev.track_id,
        "start": round(ev.start, 2), "end": round(ev.end, 2) if ev.end is not None else None,
        "score": ev.score, "zones": ev.zones, "crossings": ev.crossings, "snapshot": ev.snapshot,
        **({"identity": ev.identity, "name": ev.identity_name, "similarity": ev.similarity,
            "face_snapshot": ev.face_snapshot} if ev.similarity is not None else {}),
        **({"plate": ev.data["plate"]} if ev.kind == "plate" else {}),
        **({"data": ev.data} if ev.data else {}),
    }


def analyze(
    file: Path = typer.Argument(..., help="Video file to analyse."),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    camera: str | None = typer.Option(None, "--camera", help="Use this configured camera's zones, lines, machines."),
    fps: float | None = typer.Option(None, "--fps", min=0.1, max=60, help="Frames analysed per second of video."),
    snapshots: Path | None = typer.Option(None, "--snapshots", help="Snapshot folder (default: <data>/snapshots)."),
    no_snapshots: bool = typer.Option(False, "--no-snapshots", help="Do not write snapshots."),
    faces: bool | None = typer.Option(None, "--faces/--no-faces",
                                      help="Recognise enrolled people on person tracks (default: the config's)."),
    json_out: bool = JsonOption,
) -> None:
    """Run motion, detection, tracking, zones, lines and machines over FILE and print the events.

    Times are seconds from the start of the file. With --json: one JSON object per event, as events end.
    """
    from clearwatch.analytics import create_detector
    from clearwatch.analytics.offline import CollectingSink, analyze_file

    cfg = resolve_config(config, data)
    if camera is None and config is not None:
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", file.stem)[:64]
        camera = stem if stem in cfg.cameras else None
    cam = camera_for(cfg, file, camera, fps)
    if no_snapshots:  # not even encoded: a JPEG per event start and better sighting, for nothing
        cam = cam.model_copy(update={"events": cam.events.model_copy(update={"snapshots": False})})
    detector = None
    if cam.objects.enabled and not (cam.plates.enabled and cam.plates.dedicated):
        o = cam.objects
        detector = create_detector(o.detector, o.model, o.sha256, o.input_size, o.threads)
    snap_dir = None if no_snapshots else (snapshots or cfg.snapshots_dir)
    recognizer = None
    if faces if faces is not None else cam.faces.enabled:
        from clearwatch.cli.people import open_registry
        from clearwatch.faces.recognizer import FaceRecognizer

        recognizer = FaceRecognizer(open_registry(cfg), cam.faces)
    plates, plate_lists = None, None
    if cam.reads_plates:
        from clearwatch.plates.reader import PlateReader
        from clearwatch.plates.watch import PlateWatcher

        plates = PlateWatcher(cam.plates, PlateReader(cam.plates.format_specs(), min_height=cam.plates.min_height),
                              lost_after=cam.objects.lost_after)
        plate_lists = _plate_lists(cfg)

    def emit(ev: Event) -> None:
        if json_out:
            sys.stdout.write(json.dumps(event_line(ev)) + "\n")
            sys.stdout.flush()

    sink = CollectingSink(snapshots_dir=snap_dir, on_end=emit)
    if err_console.is_terminal:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("analysing {task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task(file.name, total=1.0)
            result = analyze_file(file, cam, detector, sink, faces=recognizer, plates=plates, plate_lists=plate_lists,
                                  progress=lambda t, d: bar.update(task, completed=t / d if d else 0))
    else:
        result = analyze_file(file, cam, detector, sink, faces=recognizer, plates=plates, plate_lists=plate_lists)
    if not json_out:
        _print_table(sink, result.frames, result.video_seconds, result.cpu_per_video_second)
    if result.error is not None:
        raise result.error


def _plate_lists(cfg: Config) -> Callable[[], list[ListEntry]] | None:
    """The plate lists of the data directory's database, when there is one (analysing a file creates none)."""
    if cfg.database.url is None and not (cfg.data_dir / "clearwatch.db").is_file():
        return None
    from clearwatch.cli.common import open_db
    from clearwatch.storage.plate_lists import PlateListStore

    entries = PlateListStore(open_db(cfg)).all_entries()
    return lambda: entries


def _print_table(sink: CollectingSink, frames: int, seconds: float, cpu: float) -> None:
    table = Table("kind", "label", "track", "start s", "end s", "score", "zones", "crossings")
    for ev in sorted(sink.ended, key=lambda e: e.start):
        crossings = ", ".join(f"{c['line']} {c['direction']}" for c in ev.crossings)
        label = ev.label if ev.kind != "machine" else f"{ev.label}: {ev.data.get('state')}"
        table.add_row(ev.kind, label, str(ev.track_id or ""), f"{ev.start:.1f}",
                      f"{ev.end:.1f}" if ev.end is not None else "", f"{ev.score:.2f}", ", ".join(ev.zones), crossings)
    console.print(table)
    for name, (n_in, n_out) in sink.counters.items():
        console.print(f"counter {name}: {n_in} in, {n_out} out")
    console.print(f"{len(sink.ended)} event(s) in {seconds:.1f} s of video ({frames} frames analysed), "
                  f"{cpu:.3f} CPU-s per video-second")
