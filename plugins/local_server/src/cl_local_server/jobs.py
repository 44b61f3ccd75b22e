"""The job life-cycle (PROTOCOL §6) and the events it publishes (§7.3).

Every state change and its event happen under one lock, so events leave in the same order as the
database changes (a worker cannot publish ``processing`` before the ``queued`` of the same job).
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from cl_local_server.config import Compat
from cl_local_server.job_store import (
    STATUS_COMPLETED,
    STATUS_ERROR,
    STATUS_PROCESSING,
    STATUS_QUEUED,
    JobStore,
    JsonObject,
)

EventSink = Callable[[str, str, int], None]
"""``(job_id, event_type, progress)`` → publish one job event."""


def _no_events(_job_id: str, _event: str, _progress: int) -> None:
    return None


class JobQueue:
    def __init__(
        self, store: JobStore, jobs_dir: Path, compat: Compat, events: EventSink = _no_events
    ) -> None:
        self.store = store
        self.jobs_dir = jobs_dir
        self.compat = compat
        self._events = events
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._delete_listeners: list[Callable[[str], None]] = []

    def on_new_job(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def on_delete(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(job_id)`` after a job's row is deleted (to stop its running work)."""
        self._delete_listeners.append(listener)

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def _publish(self, record: JsonObject | None, event_type: str) -> None:
        if record is None:
            return
        progress = record.get("progress")
        self._events(
            str(record["job_id"]), event_type, progress if isinstance(progress, int) else 0
        )

    def create(self, job_id: str, task_type: str, params: JsonObject, priority: int) -> JsonObject:
        with self._lock:
            record = self.store.create(job_id, task_type, params, priority)
            self._publish(record, STATUS_QUEUED)
        for listener in list(self._listeners):
            listener()
        return record

    def claim(self, task_types: list[str]) -> JsonObject | None:
        with self._lock:
            record = self._safe(lambda: self.store.claim_next(task_types))
            self._publish(record, STATUS_PROCESSING)
            return record

    def progress(self, job_id: str, percent: int) -> None:
        with self._lock:
            record = self._safe(lambda: self.store.set_progress(job_id, min(99, max(0, percent))))
            # Older servers published nothing for progress-only updates.
            if self.compat == "current":
                self._publish(record, STATUS_PROCESSING)

    def complete(self, job_id: str, task_output: JsonObject) -> None:
        with self._lock:
            record = self._safe(lambda: self.store.complete(job_id, task_output))
            self._publish(record, STATUS_COMPLETED)

    def fail(self, job_id: str, message: str) -> None:
        with self._lock:
            record = self._safe(lambda: self.store.fail(job_id, message))
            # Older servers set only the status on failure and so published no terminal event.
            if self.compat == "current":
                self._publish(record, STATUS_ERROR)

    def delete(self, job_id: str) -> bool:
        """Remove the row and the job directory; no event (PROTOCOL §4.5)."""
        with self._lock:
            existed = self.store.delete(job_id)
        for listener in list(self._delete_listeners):
            listener(job_id)
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        return existed

    def expire(self, cutoff_ms: int) -> int:
        """Delete the jobs that finished before ``cutoff_ms``, rows and folders; how many."""
        expired = self.store.finished_before(cutoff_ms)
        for job_id in expired:
            self.delete(job_id)
        return len(expired)

    def exists(self, job_id: str) -> bool:
        return self._safe(lambda: self.store.get(job_id)) is not None

    @staticmethod
    def _safe(action: Callable[[], JsonObject | None]) -> JsonObject | None:
        # A worker thread may outlive a server stop; its late updates are dropped.
        try:
            return action()
        except sqlite3.ProgrammingError:
            return None
