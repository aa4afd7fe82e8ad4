"""Long exports become jobs: a quick one answers at once, a slow one is handed back running and finishes later,
a failure keeps its reason, and only the user who asked sees the job."""

from __future__ import annotations

import threading
from pathlib import Path

from clearwatch.api.export_jobs import ExportJob, ExportJobs


def test_quick_slow_failed_and_private(tmp_path: Path) -> None:
    jobs = ExportJobs()
    quick = jobs.run(ExportJob("gate", "oscar", tmp_path / "a.mp4"), lambda: {"sha256": "a"}, wait=5)
    assert quick.state == "done" and quick.manifest == {"sha256": "a"}

    release = threading.Event()

    def slow() -> dict[str, str]:
        release.wait(5)
        return {"sha256": "b"}

    job = jobs.run(ExportJob("gate", "oscar", tmp_path / "b.mp4"), slow, wait=0.05)
    assert job.state == "running" and job.status()["url"] == f"/api/exports/{job.id}"
    assert jobs.get(job.id, "vera") is None and jobs.get(job.id, "oscar") is job
    release.set()
    assert job.done.wait(5) and job.state == "done" and job.manifest == {"sha256": "b"}

    def broken() -> dict[str, str]:
        raise ValueError("cannot decode the recording")

    failed = jobs.run(ExportJob("gate", "oscar", tmp_path / "c.mp4"), broken, wait=5)
    assert failed.state == "failed" and failed.error == "cannot decode the recording"
