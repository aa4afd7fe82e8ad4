"""Recording: remux packets into fragmented MP4 segments, index them, keep, export and reconcile them.
Parts load on first use."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.recording.export import ExportResult, export_range
    from clearwatch.recording.index_writer import IndexWriter
    from clearwatch.recording.reconcile import ReconcileReport, reconcile
    from clearwatch.recording.recorder import Recorder
    from clearwatch.recording.repair import probe, repair
    from clearwatch.recording.retention import (
        Retention,
        RetentionPolicy,
        RetentionReport,
        RetentionScheduler,
        retention_policy,
    )

__getattr__, __dir__ = lazy_exports(__name__, {
    "ExportResult": ".export",
    "IndexWriter": ".index_writer",
    "ReconcileReport": ".reconcile",
    "Recorder": ".recorder",
    "Retention": ".retention",
    "RetentionPolicy": ".retention",
    "RetentionReport": ".retention",
    "RetentionScheduler": ".retention",
    "export_range": ".export",
    "probe": ".repair",
    "reconcile": ".reconcile",
    "repair": ".repair",
    "retention_policy": ".retention",
})

__all__ = ["ExportResult", "IndexWriter", "ReconcileReport", "Recorder", "Retention", "RetentionPolicy",
           "RetentionReport", "RetentionScheduler", "export_range", "probe", "reconcile", "repair",
           "retention_policy"]
