"""Exports that are re-encoded (redacted, or masked for a role that may not see past the masks) take as long as
the footage, or longer: each runs in its own thread, the request waits a few seconds for it, and a longer one is
handed back as a job to ask after (``/api/exports/{id}``) instead of holding the connection open."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WAIT = 10.0  # seconds a request waits for its export before answering with the job
KEEP = 50  # finished jobs remembered (their files stay under the exports retention either way)


@dataclass
class ExportJob:
    camera: str
    user: str
    file: Path
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = "running"  # running | done | failed
    error: str | None = None
    manifest: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def status(self) -> dict[str, Any]:
        return {"job": self.id, "state": self.state, "camera": self.camera, "created": self.created,
                "error": self.error, "url": f"/api/exports/{self.id}"}


class ExportJobs:
    def __init__(self) -> None:
        self._jobs: dict[str, ExportJob] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # the work checks it, so a stopping service does not wait for an hour

    def close(self, timeout: float = 10.0) -> None:
        """Stop what is still running (its job fails as cancelled) and wait for it."""
        self.stopping.set()
        for t in self._threads:
            t.join(timeout)

    def run(self, job: ExportJob, work: Callable[[], dict[str, Any]], wait: float | None = None) -> ExportJob:
        """Start ``work`` (which returns the export's manifest) and wait up to ``wait`` seconds for it."""
        def target() -> None:
            try:
                job.manifest = work()
                job.state = "done"
            except Exception as exc:
                job.state, job.error = "failed", str(exc) or type(exc).__name__
            finally:
                job.done.set()

        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.done.is_set()]
            for old in sorted(finished, key=lambda j: j.created)[:max(0, len(finished) - KEEP)]:
                del self._jobs[old.id]
        thread = threading.Thread(target=target, name=f"export-{job.id}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        job.done.wait(WAIT if wait is None else wait)
        return job

    def get(self, job_id: str, user: str) -> ExportJob | None:
        """A job, to the user who asked for it only."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.user == user else None
