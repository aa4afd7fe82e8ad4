"""``clearwatch people``, ``clearwatch faces`` and ``clearwatch keys``: the identity registry from the shell."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

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
from clearwatch.identity.errors import EnrolmentError

if TYPE_CHECKING:
    import numpy as np

    from clearwatch.config import Config
    from clearwatch.faces import FaceEngine, FaceShot
    from clearwatch.identity import FaceRegistry, Photo


people_app = typer.Typer(no_args_is_help=True, help="Enrolled people (the identity registry).")
faces_app = typer.Typer(no_args_is_help=True, help="Face identification, verification and search.")
keys_app = typer.Typer(no_args_is_help=True, help="Keys: the biometric encryption key and the signing key.")


def open_registry(cfg: Config) -> FaceRegistry:
    from clearwatch.identity import open_face_registry

    return open_face_registry(cfg, open_db(cfg))


def _read(path: Path) -> Photo:
    from clearwatch.faces.images import read_bytes
    from clearwatch.identity import Photo

    return Photo(path.name, read_bytes(path))


def _person_dict(p: object, templates: int | None = None) -> dict[str, object]:
    d = {k: getattr(p, k) for k in ("id", "name", "external_ref", "tags", "watchlists", "legal_basis",
                                    "enrolled_by", "created_at")}
    if templates is not None:
        d["templates"] = templates
    return d


# keys ----------------------------------------------------------------------------------------------

@keys_app.command("create")
def keys_create(path: Path = typer.Argument(..., help="Where to write the new key (mode 600).")) -> None:
    """Make a new random AES-256 key. Keep it safe and backed up: without it the templates are unreadable."""
    from clearwatch.identity import create_key_file

    create_key_file(path)
    console.print(f"wrote a new key to {path}; point identity.key_file at it (or put its text in $CLEARWATCH_KEY)")


@keys_app.command("signing")
def keys_signing(path: Path = typer.Argument(..., help="Where to write the new private key (mode 600).")) -> None:
    """Make a new Ed25519 signing key (exports, erasure receipts and audit checkpoints are signed with it).
    Without one configured, Clearwatch makes <data_dir>/signing.key on first use."""
    from clearwatch.governance.signing import create_signing_key

    signer = create_signing_key(path)
    console.print(f"wrote a new signing key to {path} (key id {signer.key_id}); point governance.signing_key at it")


@keys_app.command("public")
def keys_public(json: bool = JsonOption, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """This installation's public signing key and its id: give them to whoever checks your exports."""
    from clearwatch.governance.signing import installation_signer

    signer = installation_signer(resolve_config(config, data))
    if json:
        print_json({"key_id": signer.key_id, "public_key": signer.public_b64, "algorithm": "Ed25519"})
    else:
        console.print(f"key id {signer.key_id}\nEd25519 public key (base64): {signer.public_b64}")


# people --------------------------------------------------------------------------------------------

@people_app.command("enrol")
def people_enrol(
    name: str = typer.Argument(..., help="The person's name."),
    photos: list[Path] = typer.Argument(..., help="One or more photos with their face."),
    basis: str = typer.Option(..., "--basis", help="The legal basis for holding their biometrics (required)."),
    by: str = typer.Option(None, "--by", help="The enrolling operator (default: the current user)."),
    ref: str | None = typer.Option(None, "--ref", help="External reference (employee number, badge…)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag (repeatable)."),
    watchlist: list[str] = typer.Option([], "--watchlist", help="A watchlist to put them on (repeatable)."),
    face: int | None = typer.Option(None, "--face", min=1, help="Which face in photos with several (1 = largest)."),
    config: Path | None = ConfigOption,
    data: Path | None = DataOption,
    json: bool = JsonOption,
) -> None:
    """Enrol a person from photos. All photos are checked first; if any is refused, nothing is stored."""
    from clearwatch.governance import AuditLog

    registry = open_registry(resolve_config(config, data))
    items = [_read(p) for p in photos]
    try:
        person = registry.enrol(name, items, legal_basis=basis, enrolled_by=by or getpass.getuser(),
                                external_ref=ref, tags=tag, watchlists=watchlist, choose=face)
    except EnrolmentError as exc:
        AuditLog(registry.db).append(cli_actor(), "biometric.enrol_refused", name[:64], {"problems": exc.problems})
        raise
    AuditLog(registry.db).append(cli_actor(), "biometric.enrol", person.id,
                                 {"name": person.name, "photos": len(items), "legal_basis": basis})
    if json:
        print_json(_person_dict(person, len(items)))
    else:
        console.print(f"enrolled {person.name} ({person.id}) from {len(items)} photo(s)")


@people_app.command("list")
def people_list(config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Everyone enrolled."""
    registry = open_registry(resolve_config(config, data))
    rows = registry.people()
    if json:
        print_json([_person_dict(p, n) for p, n in rows])
        return
    table = Table("id", "name", "ref", "templates", "watchlists", "legal basis", "enrolled by", "enrolled")
    for p, n in rows:
        table.add_row(p.id[:12], p.name, p.external_ref or "", str(n), ", ".join(p.watchlists), p.legal_basis,
                      p.enrolled_by, p.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table if rows else "nobody is enrolled")


@people_app.command("show")
def people_show(person: str = typer.Argument(..., help="Person id (or external reference)."),
                config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """One person and their templates (quality, source photo)."""
    from clearwatch.governance import AuditLog

    registry = open_registry(resolve_config(config, data))
    p = registry.get(person)
    templates = registry.templates(p.id)
    AuditLog(registry.db).append(cli_actor(), "biometric.view", p.id)
    info = _person_dict(p, len(templates))
    if json:
        print_json(info | {"face_templates": [
            {"id": t.id, "quality": t.quality, "source": t.source, "model": t.model, "created_at": t.created_at}
            for t in templates]})
        return
    for k, v in info.items():
        console.print(f"{k}: {v}")
    for t in templates:
        console.print(f"  template {t.id}: quality {t.quality:.2f} from {t.source}")


@people_app.command("delete")
def people_delete(person: str = typer.Argument(..., help="Person id (or external reference)."),
                  config: Path | None = ConfigOption, data: Path | None = DataOption,
                  json: bool = JsonOption) -> None:
    """Erase a person like 'people erase' does (templates, pictures, fingerprints, their identity in past
    events), without a receipt."""
    from clearwatch.governance import AuditLog
    from clearwatch.governance.signing import installation_signer
    from clearwatch.governance.subjects import erase_person, receipt_summary

    cfg = resolve_config(config, data)
    registry = open_registry(cfg)
    p = registry.get(person)
    receipt = erase_person(cfg, registry.db, registry, installation_signer(cfg), p.id, cli_actor().name, "deleted")
    AuditLog(registry.db).append(cli_actor(), "biometric.delete", p.id, receipt_summary(receipt))
    if json:
        print_json({"deleted": p.id, "name": p.name})
    else:
        console.print(f"deleted {p.name} ({p.id}) and their templates")


@people_app.command("erase")
def people_erase(person: str = typer.Argument(..., help="Person id (or external reference)."),
                 why: str = typer.Option(..., "--why", help="Why (an erasure request, its reference)."),
                 receipt: Path | None = typer.Option(None, "--receipt", help="Write the signed receipt here."),
                 config: Path | None = ConfigOption, data: Path | None = DataOption, json: bool = JsonOption) -> None:
    """Erase everything held about a person — templates, face pictures, fingerprints, their identity in past
    events (the events stay, anonymous) — and give a signed receipt of what was removed and where."""
    from clearwatch.governance import AuditLog
    from clearwatch.governance.signing import installation_signer
    from clearwatch.governance.subjects import erase_person, receipt_summary, write_json

    if len(why.strip()) < 5:
        raise ClearwatchError("--why needs a real reason (at least 5 characters): it goes on the audit trail")
    cfg = resolve_config(config, data)
    signer = installation_signer(cfg)
    registry = open_registry(cfg)
    doc = erase_person(cfg, registry.db, registry, signer, person, cli_actor().name, why.strip())
    AuditLog(registry.db).append(cli_actor(), "biometric.erase", doc["person_id"], receipt_summary(doc),
                                 justification=why.strip())
    if receipt is not None:
        write_json(receipt, doc)
    if json:
        print_json(doc)
        return
    r = doc["removed"]
    console.print(f"erased {doc['person_id']}: {r['face_templates']} face template(s), {len(r['fingerprints'])} "
                  f"finger(s), identity removed from {r['event_identity_links']} event(s), "
                  f"{len(r['event_face_pictures'])} face picture(s) deleted"
                  + (f"; signed receipt in {receipt}" if receipt else ""))


# faces ---------------------------------------------------------------------------------------------

def _shot(engine: FaceEngine, path: Path) -> FaceShot:
    from clearwatch.faces import load_image
    from clearwatch.identity import main_face

    image = load_image(path, path.name)
    shot = main_face(engine.analyse(image))
    if shot is None:
        raise ClearwatchError(f"{path.name}: no face found")
    return shot


def _embedding(shot: FaceShot, path: Path) -> np.ndarray:
    if shot.embedding is None:
        raise ClearwatchError(f"{path.name}: the face could not be embedded")
    return shot.embedding


@faces_app.command("identify")
def faces_identify(photo: Path = typer.Argument(..., help="Photo of the person to look up."),
                   top: int = typer.Option(5, "--top", min=1, max=100),
                   why: str = typer.Option("", "--why", help="Why you search (kept on the audit trail)."),
                   approval: str | None = typer.Option(None, "--approval",
                                                       help="An approved request (dual authorisation)."),
                   config: Path | None = ConfigOption, data: Path | None = DataOption,
                   json: bool = JsonOption) -> None:
    """Who is this? The most similar enrolled people for the photo's main face."""
    import hashlib

    from clearwatch.cli.approvals import second_person
    from clearwatch.governance import AuditLog

    cfg = resolve_config(config, data)
    registry = open_registry(cfg)
    if "face_search" in cfg.governance.dual_authorisation:
        if len(why.strip()) < 5:
            raise ClearwatchError("face searches need a second person's approval here: give --why (5+ characters)")
        second_person(cfg, registry.db, "face_search",
                      {"photo_sha256": hashlib.sha256(photo.read_bytes()).hexdigest(), "top": top}, why.strip(),
                      approval)
    shot = _shot(registry.engine, photo)
    cands = registry.identify(_embedding(shot, photo), top)
    AuditLog(registry.db).append(cli_actor(), "biometric.search", photo.name,
                                 {"matches": [c.person_id for c in cands if c.similarity >= registry.threshold],
                                  "approval": approval}, justification=why.strip() or None)
    if json:
        print_json({"threshold": registry.threshold, "quality": shot.quality.score, "candidates": [
            {"person_id": c.person_id, "name": c.name, "similarity": round(c.similarity, 4),
             "match": c.similarity >= registry.threshold, "watchlists": c.watchlists} for c in cands]})
        return
    if not cands or cands[0].similarity < registry.threshold:
        console.print(f"no enrolled person matches (threshold {registry.threshold})")
    for c in cands:
        console.print(f"{'MATCH ' if c.similarity >= registry.threshold else '      '}{c.name} ({c.person_id[:12]}) "
                      f"similarity {round(c.similarity, 4):.3f}")


@faces_app.command("verify")
def faces_verify(a: Path = typer.Argument(..., help="First photo."),
                 b: Path = typer.Argument(..., help="Second photo."),
                 config: Path | None = ConfigOption, data: Path | None = DataOption,
                 json: bool = JsonOption) -> None:
    """Are these two photos of the same person? (1:1, main face of each.)"""
    from clearwatch.faces import FaceEngine
    from clearwatch.identity import threshold

    cfg = resolve_config(config, data)
    engine = FaceEngine()
    sa, sb = _shot(engine, a), _shot(engine, b)
    sim = float(_embedding(sa, a) @ _embedding(sb, b))
    thr = threshold(cfg.identity.operating_point)
    audit_quietly(cfg, "biometric.verify", f"{a.name} vs {b.name}", {"similarity": round(sim, 4)})
    if json:
        print_json({"similarity": round(sim, 4), "threshold": thr, "same": sim >= thr})
    else:
        console.print(f"{'same person' if sim >= thr else 'different people'}: similarity {sim:.3f} "
                      f"(threshold {thr} at FAR {cfg.identity.operating_point})")


@faces_app.command("compare")
def faces_compare(probe: Path = typer.Argument(..., help="Probe photo."),
                  gallery: list[Path] = typer.Argument(..., help="Gallery photos."),
                  config: Path | None = ConfigOption, data: Path | None = DataOption,
                  json: bool = JsonOption) -> None:
    """Similarity of the probe's largest face to each gallery photo's largest face (for evaluation)."""
    from clearwatch.faces import FaceEngine, load_image

    engine = FaceEngine()

    def largest(path: Path) -> np.ndarray:
        shot = engine.largest(load_image(path, path.name))
        if shot is None:
            raise ClearwatchError(f"{path.name}: no face found")
        return _embedding(shot, path)

    p = largest(probe)
    out = []
    for g in gallery:
        try:
            sim: float | None = float(p @ largest(g))
            err = None
        except ClearwatchError as exc:
            sim, err = None, str(exc)
        out.append({"gallery": str(g), "similarity": None if sim is None else round(sim, 5),
                    **({"error": err} if err else {})})
    audit_quietly(resolve_config(config, data), "biometric.compare", probe.name, {"gallery": len(gallery)})
    print_comparisons(out, "similarity", json)


@faces_app.command("search-video")
def faces_search_video(file: Path = typer.Argument(..., help="Video file."),
                       fps: float = typer.Option(2.0, "--fps", min=0.1, max=30, help="Frames looked at per second."),
                       config: Path | None = ConfigOption, data: Path | None = DataOption,
                       json: bool = JsonOption) -> None:
    """Which enrolled people appear in FILE, and when (seconds from its start)."""
    from clearwatch.faces.video import search_video
    from clearwatch.governance import AuditLog

    cfg = resolve_config(config, data)
    registry = open_registry(cfg)
    result = search_video(file, registry, fps=fps, min_quality=cfg.faces.min_quality)
    AuditLog(registry.db).append(cli_actor(), "biometric.video_search", file.name,
                                 {"found": [a.person_id for a in result.appearances]})
    rows = [{"person_id": a.person_id, "name": a.name, "start": round(a.start, 2), "end": round(a.end, 2),
             "similarity": round(a.best_similarity, 4), "sightings": a.sightings, "watchlists": a.watchlists}
            for a in result.appearances]
    if json:
        print_json({"appearances": rows, "frames": result.frames, "faces_seen": result.faces_seen,
                    "unknown_faces": result.unknown, "threshold": registry.threshold})
        return
    if not rows:
        console.print(f"no enrolled person found ({result.faces_seen} face(s) seen in {result.frames} frames)")
    for r in rows:
        console.print(f"{r['name']}: {r['start']:.1f}–{r['end']:.1f} s, best similarity {r['similarity']:.3f}")


__all__ = ["EnrolmentError", "faces_app", "keys_app", "people_app"]
