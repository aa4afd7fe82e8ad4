"""``clearwatch fingers``: extract, compare, show, and the registry's fingerprints (enrol, verify, identify)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clearwatch.cli.admin_cmds import audit_quietly, cli_actor
from clearwatch.cli.common import (
    ConfigOption,
    DataOption,
    JsonOption,
    console,
    open_db,
    print_comparisons,
    print_json,
    resolve_config,
)
from clearwatch.errors import ClearwatchError

if TYPE_CHECKING:
    from clearwatch.fingerprints import Template
    from clearwatch.identity.fingers import FingerRegistry


fingers_app = typer.Typer(no_args_is_help=True, help="Fingerprints: templates, matching, the registry.")
DpiOption = typer.Option(None, "--dpi", min=250, max=1500, help="Image resolution (default: the file's, or 500).")


def read_template(path: Path, dpi: float | None = None) -> Template:
    """A template from an ISO 19794-2 / native template file, or extracted from an image."""
    from clearwatch.fingerprints import TemplateError
    from clearwatch.fingerprints.probe import read_probe

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClearwatchError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return read_probe(data, path.name, dpi).template
    except TemplateError as exc:  # an image's errors name the file already
        raise ClearwatchError(f"{path.name}: {exc}") from None


def _registry(config: Path | None, data: Path | None) -> FingerRegistry:
    from clearwatch.identity import Cipher, load_key
    from clearwatch.identity.fingers import FingerRegistry

    cfg = resolve_config(config, data)
    reg = FingerRegistry(open_db(cfg), Cipher(load_key(cfg.identity.key_file, cfg.identity.key_env)))
    reg.start()
    return reg


@fingers_app.command("extract")
def fingers_extract(image: Path, iso: Path = typer.Option(..., "--iso", help="Write the ISO 19794-2 template here."),
                    dpi: float | None = DpiOption, json: bool = JsonOption) -> None:
    """Minutiae of an image, written as an ISO/IEC 19794-2:2005 template."""
    t = read_template(image, dpi)
    iso.write_bytes(t.to_iso())
    if json:
        print_json({"image": str(image), "iso": str(iso), "minutiae": len(t), "width": t.width, "height": t.height})
    else:
        console.print(f"{len(t)} minutiae → {iso}")


@fingers_app.command("compare")
def fingers_compare(probe: Path, gallery: list[Path], dpi: float | None = DpiOption, config: Path | None = ConfigOption,
                    data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Score a probe (image or template) against each gallery item, in gallery order (audited like
    ``faces compare``)."""
    from clearwatch.fingerprints import prepare, score

    p = prepare(read_template(probe, dpi))
    out = []
    for g in gallery:
        try:
            out.append({"gallery": str(g), "score": round(score(p, prepare(read_template(g, dpi))), 5)})
        except ClearwatchError as exc:
            out.append({"gallery": str(g), "score": None, "error": str(exc)})
    audit_quietly(resolve_config(config, data), "biometric.compare", probe.name,
                  {"gallery": len(gallery), "modality": "finger"})
    print_comparisons(out, "score", json)


@fingers_app.command("show")
def fingers_show(image: Path, out: Path, dpi: float | None = DpiOption) -> None:
    """Draw the minutiae (endings green, bifurcations blue) and the skeleton on the image."""
    import cv2
    import numpy as np

    from clearwatch.fingerprints import extract, load_fingerprint

    grey, resolution = load_fingerprint(image, image.name, dpi)
    e = extract(grey, resolution, detail=True)
    base = cv2.resize(grey, (e.skeleton.shape[1], e.skeleton.shape[0])) if grey.shape != e.skeleton.shape else grey
    vis = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
    vis[e.skeleton] = (0, 0, 220)
    t = e.template
    for x, y, a, k in zip(t.x, t.y, t.angle, t.kind, strict=True):
        colour = (0, 200, 0) if k == 1 else (255, 80, 0)
        cv2.circle(vis, (int(x), int(y)), 5, colour, 1)
        cv2.line(vis, (int(x), int(y)), (int(x + 12 * np.cos(a)), int(y - 12 * np.sin(a))), colour, 1)
    if not cv2.imwrite(str(out), vis):
        raise ClearwatchError(f"cannot write {out}")
    console.print(f"{len(t)} minutiae drawn to {out}")


@fingers_app.command("enrol")
def fingers_enrol(person: str, finger: int = typer.Argument(..., min=1, max=10, help="ISO position 1-10."),
                  source: Path = typer.Argument(..., help="Image or ISO template."), dpi: float | None = DpiOption,
                  keep_image: bool = typer.Option(False, "--keep-image", help="Store the image too (encrypted)."),
                  config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Add a fingerprint to an enrolled person."""
    import cv2

    from clearwatch.fingerprints import load_fingerprint
    from clearwatch.fingerprints.probe import TEMPLATE_SUFFIXES
    from clearwatch.governance import AuditLog
    from clearwatch.identity.fingers import FINGERS

    reg = _registry(config, data)
    t = read_template(source, dpi)
    png = None
    if keep_image and not source.name.lower().endswith(TEMPLATE_SUFFIXES):
        grey, _ = load_fingerprint(source, source.name, dpi)
        png = cv2.imencode(".png", grey)[1].tobytes()
    tid = reg.enrol(person, finger, t, source.name, png)
    AuditLog(reg.db).append(cli_actor(), "biometric.finger_enrol", person, {"finger": finger, "minutiae": len(t)})
    if json:
        print_json({"template_id": tid, "person": person, "finger": finger, "minutiae": len(t)})
    else:
        console.print(f"enrolled {FINGERS[finger]} ({len(t)} minutiae) for {person}")


@fingers_app.command("verify")
def fingers_verify(person: str, source: Path, finger: int | None = typer.Option(None, "--finger", min=1, max=10),
                   dpi: float | None = DpiOption, config: Path | None = ConfigOption, data: Path | None = DataOption,
                   json: bool = JsonOption) -> None:
    """1:1 — is this the person's finger?"""
    from clearwatch.governance import AuditLog
    from clearwatch.identity.fingers import estimated_fmr

    reg = _registry(config, data)
    s = reg.verify(person, read_template(source, dpi), finger)
    AuditLog(reg.db).append(cli_actor(), "biometric.finger_verify", person, {"score": round(s, 4)})
    if json:
        print_json({"person": person, "score": round(s, 5), "fmr": estimated_fmr(s), "threshold": reg.threshold,
                    "match": s >= reg.threshold})
    else:
        console.print(f"{'match' if s >= reg.threshold else 'no match'}: score {s:.3f} (threshold {reg.threshold}; "
                      f"impostors score this high at a rate of {estimated_fmr(s):.0e})")


@fingers_app.command("identify")
def fingers_identify(source: Path, top: int = typer.Option(5, "--top", min=1, max=100), dpi: float | None = DpiOption,
                     config: Path | None = ConfigOption, data: Path | None = DataOption,
                     json: bool = JsonOption) -> None:
    """1:N — whose finger is this? The best candidates."""
    from clearwatch.governance import AuditLog
    from clearwatch.identity.fingers import estimated_fmr

    reg = _registry(config, data)
    cands = reg.identify(read_template(source, dpi), top)
    AuditLog(reg.db).append(cli_actor(), "biometric.finger_identify", source.name,
                            {"matches": [c.person_id for c in cands if c.score >= reg.threshold]})
    rows = [{"person_id": c.person_id, "name": c.name, "finger": c.finger, "score": round(c.score, 5),
             "fmr": estimated_fmr(c.score), "match": c.score >= reg.threshold} for c in cands]
    if json:
        print_json({"threshold": reg.threshold, "candidates": rows})
        return
    for r in rows:
        console.print(f"{'MATCH ' if r['match'] else '      '}{r['name']} finger {r['finger']}: {r['score']:.3f}")
