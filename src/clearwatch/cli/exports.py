"""``clearwatch export``: a camera's footage over a time range as one MP4 with a signed manifest beside it, and
``clearwatch export verify FILE``, which checks a file against its manifest."""

from __future__ import annotations

from pathlib import Path

import typer

from clearwatch.cli.admin_cmds import cli_actor
from clearwatch.cli.approvals import second_person
from clearwatch.cli.common import (
    ConfigOption,
    DataOption,
    JsonOption,
    console,
    err_console,
    justification,
    open_db,
    print_json,
    resolve_config,
)
from clearwatch.errors import ClearwatchError
from clearwatch.timeparse import fmt_time, parse_time
from clearwatch.units import format_size

VERIFY = "verify"  # `clearwatch export verify FILE`: a word no camera may be named


def export(
    camera: str = typer.Argument(..., help="Camera name (or 'verify' to check an exported file)."),
    start: str = typer.Argument(..., help="Start: ISO time (UTC if no offset), 'now' or relative like -10m; "
                                          "with verify: the exported file."),
    end: str | None = typer.Argument(None, help="End: ISO time, 'now' or relative."),
    out: Path | None = typer.Argument(None, help="Output .mp4 file."),
    why: str | None = typer.Option(None, "--why", help="Why this footage leaves the system (on the audit trail)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="verify: the manifest (FILE.manifest.json)."),
    redact: str = typer.Option("", "--redact", help="Blur these on every frame: faces,people,plates."),
    keep: list[str] = typer.Option([], "--keep", help="An enrolled person (id) left visible (repeatable)."),
    approval: str | None = typer.Option(None, "--approval", help="An approved request (dual authorisation)."),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    json: bool = JsonOption,
) -> None:
    """Join a camera's recordings over a time range into one MP4 (no re-encoding), with a signed manifest
    beside it (FILE.manifest.json). `clearwatch export verify FILE` checks a file against its manifest."""
    if camera == VERIFY:
        _verify(Path(start), manifest, config, data, json)
        return
    if end is None or out is None:
        raise ClearwatchError("export needs CAMERA START END OUT.mp4 --why TEXT")
    if why is None:
        raise ClearwatchError("--why is required: why this footage leaves the system (it goes on the audit trail)")
    kinds = sorted({k.strip() for k in redact.split(",") if k.strip()})
    _export(camera, start, end, out, justification(why), config, data, json, kinds, keep, approval)


def _export(camera: str, start: str, end: str, out: Path, why: str, config: Path | None, data: Path | None,
            json: bool, redact: list[str], keep: list[str], approval: str | None) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from clearwatch.governance import AuditLog
    from clearwatch.governance.manifest import manifest_path, write_manifest
    from clearwatch.governance.redaction import KINDS
    from clearwatch.governance.signing import installation_signer
    from clearwatch.recording import export_range
    from clearwatch.storage import HoldStore, SegmentIndex

    unknown = [k for k in redact if k not in KINDS]
    if unknown:
        raise ClearwatchError(f"--redact {','.join(unknown)}: use faces, people, plates")
    cfg = resolve_config(config, data)
    signer = installation_signer(cfg)  # before any work: a missing key is found first
    db = open_db(cfg)
    t0, t1 = parse_time(start), parse_time(end)
    actor = cli_actor()
    second_person(cfg, db, "export", {"camera": camera, "start": t0.isoformat(), "end": t1.isoformat(),
                                      "redact": redact, "keep": sorted(keep)}, why, approval)
    target = out.with_name("raw-" + out.name) if redact else out
    with Progress(TextColumn("exporting"), BarColumn(), TextColumn("{task.completed}/{task.total} segments"),
                  TimeRemainingColumn(), console=console, transient=True, disable=json) as bar:
        task = bar.add_task("export", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = export_range(cfg.recordings_dir, SegmentIndex(db), HoldStore(db), camera, t0, t1, target,
                              progress=step)
    if redact:
        from clearwatch.governance.redaction import redact_video

        registry = None
        if keep:
            from clearwatch.identity import open_face_registry

            registry = open_face_registry(cfg, db)
        with console.status(f"redacting {', '.join(redact)} on every frame", spinner="dots"):
            try:
                redact_video(target, out, set(redact), keep=keep, registry=registry)
            finally:
                target.unlink(missing_ok=True)
    sound = result.audio_packets > 0 and not redact  # a redacted copy is re-encoded without it
    signed = write_manifest(out, signer, camera=camera, start=result.start, end=result.end,
                            exported_by=actor.name, why=why, site=cfg.site.name, redactions=redact,
                            extra={"kept_visible": sorted(keep)} if keep else None)
    cam = cfg.cameras.get(camera)
    if cam is not None and cam.privacy_masks:  # the command line is an administrator's: past the masks, on record
        AuditLog(db).append(actor, "footage.unmask", camera, {"export": str(out)})
    AuditLog(db).append(actor, "footage.export", camera, {
        "start": result.start.isoformat(), "end": result.end.isoformat(), "bytes": out.stat().st_size,
        "path": str(out), "sha256": signed["sha256"], "key_id": signer.key_id, "redactions": redact,
        "approval": approval, "sound": sound}, justification=why)
    if json:
        print_json({"path": out, "manifest": manifest_path(out), "sha256": signed["sha256"],
                    "start": result.start, "end": result.end, "segments": result.segments,
                    "packets": result.packets, "bytes": result.bytes, "gap_seconds": result.gaps, "sound": sound})
        return
    console.print(f"[green]exported[/green] {out}: {fmt_time(result.start)} → {fmt_time(result.end)} "
                  f"({result.duration:.1f} s from {result.segments} segment(s), {format_size(result.bytes)}"
                  + (", with sound)" if sound else ")")
                  + (f", [yellow]{result.gaps:.1f} s of gaps[/yellow]" if result.gaps else ""))
    console.print(f"  signed manifest: {manifest_path(out)} (key {signer.key_id})"
                  + (f"; redacted: {', '.join(redact)}" if redact else ""))


def _verify(file: Path, manifest: Path | None, config: Path | None, data: Path | None, json: bool) -> None:
    from clearwatch.governance.manifest import verify_export
    from clearwatch.governance.signing import verification_keys

    trusted = verification_keys(resolve_config(config, data))
    check = verify_export(file, manifest, trusted)
    if json:
        print_json({"file": file, "ok": check.ok, "problems": check.problems,
                    "manifest": check.manifest, "trusted_keys": sorted(trusted) if trusted else None})
    elif check.ok:
        m = check.manifest or {}
        console.print(f"[green]verified[/green] {file}: {m.get('camera')} {m.get('start')} → {m.get('end')}, "
                      f"exported by {m.get('exported_by')} ({m.get('why')!r}) on {m.get('created')}, "
                      f"signed with key {m.get('signed', {}).get('key_id')}"
                      + ("" if trusted else " (not checked against this installation's key: none here)"))
    if not check.ok:
        if not json:
            err_console.print(f"[red]NOT verified[/red] {file}:")
            for p in check.problems:
                err_console.print(f"  {p}", markup=False, highlight=False)
        raise typer.Exit(1)



