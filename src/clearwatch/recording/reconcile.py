"""Start-up reconciliation: make the index and the files on disk agree."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from clearwatch.recording.layout import parse_segment_path
from clearwatch.recording.repair import probe, repair
from clearwatch.storage import RECORDING, SegmentIndex

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    repaired: list[str] = field(default_factory=list)
    indexed_orphans: list[str] = field(default_factory=list)
    dropped_rows: list[str] = field(default_factory=list)
    removed_unplayable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.repaired)} repaired, {len(self.indexed_orphans)} orphan files indexed, "
            f"{len(self.dropped_rows)} missing files dropped, {len(self.removed_unplayable)} unplayable removed"
        )


def reconcile(root: Path, index: SegmentIndex) -> ReconcileReport:
    """Run before recording starts (nothing may be writing segments while it runs)."""
    report = ReconcileReport()
    rows = index.paths()
    for rel, seg in rows.items():
        path = root / rel
        if not path.is_file():
            index.delete_ids([seg.id])
            report.dropped_rows.append(rel)
            continue
        if seg.status == RECORDING:
            repair(path)
            found = probe(path)
            if found is None:
                path.unlink(missing_ok=True)
                index.delete_ids([seg.id])
                report.removed_unplayable.append(rel)
                continue
            index.update(seg.id, end=seg.start + timedelta(seconds=found.duration), duration=found.duration,
                         bytes=found.size, status="complete")
            report.repaired.append(rel)
    if root.is_dir():
        for path in sorted(root.glob("*/*/*/*.mp4")):
            rel = path.relative_to(root).as_posix()
            if rel in rows:
                continue
            parsed = parse_segment_path(rel)
            if parsed is None:
                continue
            camera, path_start = parsed
            repaired = repair(path)
            found = probe(path)
            if found is None:
                path.unlink(missing_ok=True)
                report.removed_unplayable.append(rel)
                continue
            start = found.start or path_start
            index.add_complete(camera, start, start + timedelta(seconds=found.duration), rel, found.size,
                               found.codec, found.width, found.height)
            report.indexed_orphans.append(rel)
            if repaired:
                report.repaired.append(rel)
    if any((report.repaired, report.indexed_orphans, report.dropped_rows, report.removed_unplayable)):
        log.info("reconciled recordings: %s", report.summary())
    return report
