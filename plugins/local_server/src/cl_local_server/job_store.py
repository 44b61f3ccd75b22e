"""The compute database: jobs and the config table (SQLite; every call is one quick statement)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import cast

from cl_local_server.forms import JsonValue

JsonObject = dict[str, JsonValue]

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY,
        task_type TEXT NOT NULL,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        params TEXT NOT NULL,
        task_output TEXT,
        error_message TEXT,
        priority INTEGER NOT NULL DEFAULT 5,
        created_at INTEGER NOT NULL,
        updated_at INTEGER,
        started_at INTEGER,
        completed_at INTEGER
    )
    """,
    "CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (status, task_type, created_at)",
    """
    CREATE TABLE IF NOT EXISTS config (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at INTEGER,
        updated_by TEXT
    )
    """,
)

STATUS_QUEUED = "queued"
STATUS_PROCESSING = "processing"
STATUS_COMPLETED = "completed"
STATUS_ERROR = "error"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class JobStore:
    """Thread-safe job table. Returned records are the exact ``GET /jobs/{id}`` bodies (§4.4)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                self._conn.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _record(row: sqlite3.Row) -> JsonObject:
        output = row["task_output"]
        return {
            "job_id": str(row["job_id"]),
            "task_type": str(row["task_type"]),
            "status": str(row["status"]),
            "progress": int(row["progress"]),
            "params": cast(JsonObject, json.loads(str(row["params"]))),
            "task_output": cast(JsonValue, json.loads(str(output))) if output is not None else None,
            "error_message": row["error_message"],
            "priority": int(row["priority"]),
            "created_at": int(row["created_at"]),
            "updated_at": row["updated_at"],
            "started_at": row["started_at"],
            "completed_at": row["completed_at"],
        }

    def _fetch(self, job_id: str) -> JsonObject | None:
        row = self._conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return self._record(row) if row is not None else None

    def get(self, job_id: str) -> JsonObject | None:
        with self._lock:
            return self._fetch(job_id)

    def all(self) -> list[JsonObject]:
        """Every job record, oldest first (the protocol has no listing; this is for tests and
        ``cl server info``)."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM jobs ORDER BY created_at").fetchall()
        return [self._record(row) for row in rows]

    def create(self, job_id: str, task_type: str, params: JsonObject, priority: int) -> JsonObject:
        created = now_ms()
        with self._lock:
            # updated_at == created_at and is never touched again, as upstream (PROTOCOL B13).
            self._conn.execute(
                "INSERT INTO jobs (job_id, task_type, status, progress, params, priority,"
                " created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
                (job_id, task_type, STATUS_QUEUED, json.dumps(params), priority, created, created),
            )
            record = self._fetch(job_id)
        assert record is not None
        return record

    def delete(self, job_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
        return cur.rowcount > 0

    def claim_next(self, task_types: list[str]) -> JsonObject | None:
        """Atomically move the oldest queued job of one of ``task_types`` to ``processing``."""
        if not task_types:
            return None
        marks = ",".join("?" for _ in task_types)
        with self._lock:
            # Another connection to the same file may claim between our SELECT and UPDATE: the
            # UPDATE only takes a job that is still queued, otherwise try the next candidate.
            while True:
                row = self._conn.execute(
                    f"SELECT job_id FROM jobs WHERE status = ? AND task_type IN ({marks})"  # noqa: S608
                    " ORDER BY created_at, rowid LIMIT 1",
                    (STATUS_QUEUED, *task_types),
                ).fetchone()
                if row is None:
                    return None
                job_id = str(row["job_id"])
                cur = self._conn.execute(
                    "UPDATE jobs SET status = ?, started_at = ? WHERE job_id = ? AND status = ?",
                    (STATUS_PROCESSING, now_ms(), job_id, STATUS_QUEUED),
                )
                if cur.rowcount == 1:
                    return self._fetch(job_id)

    def set_progress(self, job_id: str, progress: int) -> JsonObject | None:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET progress = ? WHERE job_id = ? AND status = ?",
                (progress, job_id, STATUS_PROCESSING),
            )
            return self._fetch(job_id) if cur.rowcount else None

    def complete(self, job_id: str, task_output: JsonObject) -> JsonObject | None:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET status = ?, progress = 100, task_output = ?, completed_at = ?"
                " WHERE job_id = ?",
                (STATUS_COMPLETED, json.dumps(task_output), now_ms(), job_id),
            )
            return self._fetch(job_id) if cur.rowcount else None

    def fail(self, job_id: str, message: str) -> JsonObject | None:
        with self._lock:
            # Progress keeps its last value on error (PROTOCOL §4.4).
            cur = self._conn.execute(
                "UPDATE jobs SET status = ?, error_message = ?, completed_at = ? WHERE job_id = ?",
                (STATUS_ERROR, message, now_ms(), job_id),
            )
            return self._fetch(job_id) if cur.rowcount else None

    def requeue_interrupted(self) -> int:
        """Jobs left ``processing`` by a server that stopped mid-job go back to the queue.

        Only call this while holding the data dir's server lock: otherwise the jobs may belong to
        another server that is running them right now."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET status = ?, progress = 0, started_at = NULL WHERE status = ?",
                (STATUS_QUEUED, STATUS_PROCESSING),
            )
        return cur.rowcount

    def delete_created_before(self, cutoff_ms: int) -> int:
        with self._lock:
            cur = self._conn.execute("DELETE FROM jobs WHERE created_at < ?", (cutoff_ms,))
        return cur.rowcount

    def finished_before(self, cutoff_ms: int) -> list[str]:
        """Jobs that completed or failed before ``cutoff_ms``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT job_id FROM jobs WHERE status IN (?, ?) AND completed_at < ?",
                (STATUS_COMPLETED, STATUS_ERROR, cutoff_ms),
            ).fetchall()
        return [str(row["job_id"]) for row in rows]

    def count_active(self, task_types: list[str]) -> int:
        """Jobs of ``task_types`` that are queued or processing."""
        if not task_types:
            return 0
        marks = ",".join("?" for _ in task_types)
        with self._lock:
            row = self._conn.execute(
                f"SELECT COUNT(*) FROM jobs WHERE status IN (?, ?) AND task_type IN ({marks})",  # noqa: S608
                (STATUS_QUEUED, STATUS_PROCESSING, *task_types),
            ).fetchone()
        return int(row[0])

    # -- config table -------------------------------------------------------------------------

    def get_config(self, key: str) -> tuple[str, int | None, str | None] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT value, updated_at, updated_by FROM config WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return str(row["value"]), row["updated_at"], row["updated_by"]

    def set_config(self, key: str, value: str, updated_by: str | None) -> int:
        stamp = now_ms()
        with self._lock:
            self._conn.execute(
                "INSERT INTO config (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                (key, value, stamp, updated_by),
            )
        return stamp
