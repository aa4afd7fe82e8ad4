"""Recording: remux packets into fragmented MP4 segments, index them, keep, export and reconcile them."""

from clearwatch.recording.export import ExportResult, export_range
from clearwatch.recording.index_writer import IndexWriter
from clearwatch.recording.reconcile import ReconcileReport, reconcile
from clearwatch.recording.recorder import Recorder
from clearwatch.recording.repair import probe, repair
from clearwatch.recording.retention import Retention, RetentionPolicy, RetentionReport, RetentionScheduler

__all__ = [
    "ExportResult",
    "IndexWriter",
    "ReconcileReport",
    "Recorder",
    "Retention",
    "RetentionPolicy",
    "RetentionReport",
    "RetentionScheduler",
    "export_range",
    "probe",
    "reconcile",
    "repair",
]
