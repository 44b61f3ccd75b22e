"""The job journal: every submission ``cl`` makes, in a SQLite database in the state folder.

Each batch input gets a row before its upload (``pending``), the job id right after it
(``queued``), and its end (``completed`` with the files saved, ``error``, ``timeout`` while it still
runs on the server, ``uncertain`` when the upload failed after it was sent). It is what lets a
batch resume after Ctrl-C or ``kill -9`` without submitting anything twice, and what ``cl job
list`` shows. It holds paths, sizes, digests, task parameters and job ids, never a token or a
password, and never the userinfo part of a server URL.

SQLite in WAL mode with a busy timeout makes concurrent ``cl`` processes safe: each change is one
short transaction. The database is opened only by the commands that need it, so a damaged
journal never stops ``cl login`` or ``cl profile``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit, urlunsplit

import msgspec

from cl_client.errors import EXIT_USAGE, ClError

#: The journal's file name inside the state folder.
JOURNAL_FILE: Final = "journal.sqlite3"
#: Set to ``1`` to run without a journal (no resume, no history).
NO_JOURNAL_ENV: Final = "CL_NO_JOURNAL"
_SCHEMA_VERSION: Final = 1
_BUSY_TIMEOUT_MS: Final = 10_000

#: Row states. ``queued`` stands for any state on the server before the end.
EntryStatus = Literal[
    "pending", "queued", "completed", "error", "timeout", "uncertain", "collect_failed"
]
#: States after which a rerun re-attaches to the recorded job instead of submitting again.
REATTACH_STATES: Final[frozenset[str]] = frozenset({"queued", "timeout", "collect_failed"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    batch_key TEXT NOT NULL,
    server TEXT NOT NULL,
    task_type TEXT NOT NULL,
    params TEXT NOT NULL,
    input_path TEXT NOT NULL,
    input_size INTEGER NOT NULL,
    input_mtime_ns INTEGER NOT NULL,
    input_digest TEXT,
    job_id TEXT,
    status TEXT NOT NULL,
    error TEXT,
    outputs TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_by_input ON submissions (batch_key, input_path, id);
CREATE INDEX IF NOT EXISTS submissions_by_job ON submissions (job_id);
CREATE INDEX IF NOT EXISTS submissions_by_time ON submissions (created_at);
"""


class JournalError(ClError):
    """The journal cannot be opened or written: damaged, locked for too long, or unwritable."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class InputStat:
    """What identifies an input's content: its absolute path, size, mtime and (once computed)
    SHA-256 digest."""

    path: str
    size: int
    mtime_ns: int
    digest: str | None = None

    @classmethod
    def of(cls, path: Path) -> InputStat:
        st = path.stat()
        return cls(path=str(path.absolute()), size=st.st_size, mtime_ns=st.st_mtime_ns)

    def with_digest(self) -> InputStat:
        if self.digest is not None:
            return self
        return InputStat(self.path, self.size, self.mtime_ns, file_digest(Path(self.path)))


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, in hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One row: one submission of one input."""

    id: int
    batch_key: str
    server: str
    task_type: str
    params: dict[str, str]
    input: InputStat
    job_id: str | None
    status: str
    error: str | None
    outputs: list[str]
    created_at: int  # ms since the epoch
    updated_at: int

    def same_input(self, current: InputStat) -> bool:
        """True if ``current`` has the content this row was submitted with: same size and mtime,
        or (when only the mtime moved) the same digest."""
        if current.size != self.input.size:
            return False
        if current.mtime_ns == self.input.mtime_ns:
            return True
        if self.input.digest is None:
            return False
        return current.with_digest().digest == self.input.digest


def public_url(url: str) -> str:
    """``url`` without userinfo, for storing and showing."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def batch_key(server: str, task_type: str, params: Mapping[str, str]) -> str:
    """What makes two runs "the same batch": server, task type and every form field."""
    blob = json.dumps(
        [public_url(server).rstrip("/"), task_type, sorted(params.items())], separators=(",", ":")
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _now_ms() -> int:
    return int(time.time() * 1000)


def default_path() -> Path:
    from cl_client.config import state_dir

    return state_dir() / JOURNAL_FILE


def journal_disabled(env: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if env is None else env).get(NO_JOURNAL_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


class Journal:
    """The job journal database (see the module docstring). Use as a context manager, or
    :meth:`close` it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_path()
        self._db = self._open()

    def _fail(self, exc: sqlite3.Error, doing: str) -> JournalError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = "another cl process holds it; try again"
        else:
            hint = f"move it away to start a new one, or set {NO_JOURNAL_ENV}=1"
        return JournalError(f"job journal {self.path} {doing} failed ({text}) — {hint}")

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fresh = not self.path.exists()
            if fresh:
                # Created owner-only: it lists the user's files.
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
        except OSError as exc:
            raise JournalError(
                f"cannot create the job journal {self.path}: {exc.strerror or exc}"
            ) from None
        try:
            db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._fail(exc, "open") from None
        try:
            db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version < _SCHEMA_VERSION:
                db.executescript(
                    f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version = {_SCHEMA_VERSION};COMMIT;"
                )
            elif version > _SCHEMA_VERSION:
                db.close()
                raise JournalError(
                    f"job journal {self.path} was written by a newer cl (schema {version}); "
                    f"upgrade cl, or set {NO_JOURNAL_ENV}=1"
                )
        except sqlite3.Error as exc:
            db.close()
            raise self._fail(exc, "open") from None
        return db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, sql: str, args: Sequence[object]) -> int:
        try:
            cursor = self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise self._fail(exc, "write") from None
        return cursor.lastrowid or 0

    def _read(self, sql: str, args: Sequence[object]) -> list[tuple[object, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc, "read") from None

    # -- writing ----------------------------------------------------------------------------

    def record_pending(
        self, key: str, server: str, task_type: str, params: Mapping[str, str], stat: InputStat
    ) -> int:
        """A row for an upload about to start; returns its id."""
        now = _now_ms()
        return self._write(
            "INSERT INTO submissions (batch_key, server, task_type, params, input_path, "
            "input_size, input_mtime_ns, input_digest, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (
                key,
                public_url(server),
                task_type,
                json.dumps(dict(params), sort_keys=True),
                stat.path,
                stat.size,
                stat.mtime_ns,
                stat.digest,
                now,
                now,
            ),
        )

    def record_job(self, row: int, job_id: str) -> None:
        """The server created the job."""
        self._write(
            "UPDATE submissions SET job_id = ?, status = 'queued', updated_at = ? WHERE id = ?",
            (job_id, _now_ms(), row),
        )

    def record_status(
        self,
        row: int,
        status: EntryStatus,
        *,
        error: str | None = None,
        outputs: Sequence[Path | str] | None = None,
    ) -> None:
        if outputs is None:
            self._write(
                "UPDATE submissions SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status, error, _now_ms(), row),
            )
        else:
            self._write(
                "UPDATE submissions SET status = ?, error = ?, outputs = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    status,
                    error,
                    json.dumps([str(Path(p).absolute()) for p in outputs]),
                    _now_ms(),
                    row,
                ),
            )

    # -- reading ----------------------------------------------------------------------------

    _COLUMNS = (
        "id, batch_key, server, task_type, params, input_path, input_size, input_mtime_ns, "
        "input_digest, job_id, status, error, outputs, created_at, updated_at"
    )

    @staticmethod
    def _entry(row: tuple[object, ...]) -> JournalEntry:
        (
            rid, key, server, task_type, params, path, size, mtime, digest, job_id, status,
            error, outputs, created, updated,
        ) = row  # fmt: skip
        return JournalEntry(
            id=int(str(rid)),
            batch_key=str(key),
            server=str(server),
            task_type=str(task_type),
            params=_str_dict(str(params)),
            input=InputStat(
                str(path), int(str(size)), int(str(mtime)), None if digest is None else str(digest)
            ),
            job_id=None if job_id is None else str(job_id),
            status=str(status),
            error=None if error is None else str(error),
            outputs=_str_list(str(outputs)),
            created_at=int(str(created)),
            updated_at=int(str(updated)),
        )

    def latest(self, key: str, input_path: str) -> JournalEntry | None:
        """The newest row of ``input_path`` in batch ``key``."""
        rows = self._read(
            f"SELECT {self._COLUMNS} FROM submissions WHERE batch_key = ? AND input_path = ? "  # noqa: S608 - constant columns
            "ORDER BY id DESC LIMIT 1",
            (key, input_path),
        )
        return self._entry(rows[0]) if rows else None

    def has_batch(self, key: str) -> bool:
        """Whether any submission of batch ``key`` was ever recorded."""
        return bool(self._read("SELECT 1 FROM submissions WHERE batch_key = ? LIMIT 1", (key,)))

    def history(
        self,
        *,
        status: str | None = None,
        task_type: str | None = None,
        since_ms: int | None = None,
        limit: int | None = 50,
    ) -> Iterator[JournalEntry]:
        """Rows newest first, filtered."""
        where: list[str] = []
        args: list[object] = []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if task_type is not None:
            where.append("task_type = ?")
            args.append(task_type)
        if since_ms is not None:
            where.append("created_at >= ?")
            args.append(since_ms)
        sql = f"SELECT {self._COLUMNS} FROM submissions"  # noqa: S608 - constant columns
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        for row in self._read(sql, args):
            yield self._entry(row)

    def job_ids(self, prefix: str = "", limit: int = 200) -> list[str]:
        """Recent job ids starting with ``prefix`` (for shell completion)."""
        rows = self._read(
            "SELECT job_id FROM submissions WHERE job_id IS NOT NULL AND job_id LIKE ? "
            "GROUP BY job_id ORDER BY MAX(id) DESC LIMIT ?",
            (prefix.replace("%", "").replace("_", "\\_") + "%", limit),
        )
        return [str(r[0]) for r in rows]


def _str_dict(text: str) -> dict[str, str]:
    try:
        return msgspec.json.decode(text, type=dict[str, str])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return {}


def _str_list(text: str) -> list[str]:
    try:
        return msgspec.json.decode(text, type=list[str])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return []


__all__ = [
    "JOURNAL_FILE",
    "NO_JOURNAL_ENV",
    "REATTACH_STATES",
    "EntryStatus",
    "InputStat",
    "Journal",
    "JournalEntry",
    "JournalError",
    "batch_key",
    "file_digest",
    "journal_disabled",
    "public_url",
]
