"""Signed export manifests: what an exported file is (its SHA-256 and size), where and when it comes from, who
took it out and why, what was redacted, and which software made it — signed with the installation's key, and
written beside the file as ``<file>.manifest.json``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearwatch import __version__
from clearwatch.analytics.detectors.models import sha256_file
from clearwatch.governance.signing import Signer, check_document
from clearwatch.timeparse import iso_z

FORMAT = "clearwatch-export/1"
SUFFIX = ".manifest.json"


def manifest_path(video: Path) -> Path:
    return video.with_name(video.name + SUFFIX)




def write_manifest(video: Path, signer: Signer, *, camera: str, start: datetime, end: datetime, exported_by: str,
                   why: str, site: str, redactions: list[str] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sign and write the manifest of ``video``; returns it."""
    doc = {"format": FORMAT, "file": video.name, "bytes": video.stat().st_size, "sha256": sha256_file(video),
           "camera": camera, "start": iso_z(start), "end": iso_z(end), "exported_by": exported_by, "why": why,
           "created": iso_z(datetime.now(UTC)), "redactions": redactions or [], "site": site,
           "software": f"clearwatch {__version__}", **(extra or {})}
    signed = signer.sign_document(doc)
    out = manifest_path(video)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(signed, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    return signed


@dataclass
class ExportCheck:
    file: Path
    manifest: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_export(video: Path, manifest: Path | None = None, trusted: set[str] | None = None) -> ExportCheck:
    """Check a file against its signed manifest; every mismatch is named."""
    mpath = manifest or manifest_path(video)
    check = ExportCheck(video, None)
    try:
        doc = json.loads(mpath.read_text())
    except FileNotFoundError:
        check.problems.append(f"no manifest {mpath} (an export's manifest is written beside it)")
        return check
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        check.problems.append(f"the manifest {mpath} cannot be read: {exc}")
        return check
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        check.problems.append(f"{mpath} is not a Clearwatch export manifest")
        return check
    check.manifest = doc
    check.problems += [f"manifest: {p}" for p in check_document(doc, trusted)]
    if not video.is_file():
        check.problems.append(f"file {video} not found")
        return check
    if doc.get("file") != video.name:
        check.problems.append(f"the manifest is for {doc.get('file')!r}, not {video.name!r}")
    size = video.stat().st_size
    if doc.get("bytes") != size:
        check.problems.append(f"the file has {size} bytes, the manifest says {doc.get('bytes')}")
    if sha256_file(video) != doc.get("sha256"):
        check.problems.append("the file's SHA-256 does not match the manifest's: the file was changed, or the "
                              "manifest belongs to another export")
    return check
