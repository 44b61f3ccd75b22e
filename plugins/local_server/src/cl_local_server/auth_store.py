"""The auth service's user table (SQLite, one short-lived statement per call)."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import bcrypt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    hashed_password TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT ''
)
"""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    hashed_password: str
    is_admin: bool
    is_active: bool
    created_at: str
    permissions: list[str]

    def to_json(self) -> dict[str, object]:
        """``UserResponse`` (PROTOCOL §3.1); ``created_at`` has no offset, as with SQLite
        upstream."""
        return {
            "id": self.id,
            "username": self.username,
            "is_admin": self.is_admin,
            "is_active": self.is_active,
            "created_at": self.created_at,
            "permissions": self.permissions,
        }


def split_permissions(stored: str) -> list[str]:
    """Permissions are stored as one comma-joined string."""
    return [p.strip() for p in stored.split(",") if p.strip()]


def parse_create_permissions(raw: str) -> list[str]:
    """Create accepts a JSON array, the Dart list form ``[a, b]``, or ``a,b`` (PROTOCOL §3.3)."""
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed: object = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [str(p).strip() for p in parsed if str(p).strip()]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        return split_permissions(text[1:-1])
    return split_permissions(text)


def parse_update_permissions(raw: str) -> list[str]:
    """Update splits on commas only; a JSON array is stored literally, as upstream does."""
    return split_permissions(raw)


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


class UsernameTakenError(Exception):
    pass


class UserStore:
    """Thread-safe access to the users table. Each call is one quick statement."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            id=int(row["id"]),
            username=str(row["username"]),
            hashed_password=str(row["hashed_password"]),
            is_admin=bool(row["is_admin"]),
            is_active=bool(row["is_active"]),
            created_at=str(row["created_at"]),
            permissions=split_permissions(str(row["permissions"])),
        )

    def count(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM users").fetchone()
        return int(row[0])

    def get(self, user_id: int) -> User | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return self._user(row) if row is not None else None

    def by_name(self, username: str) -> User | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM users WHERE username = ?", (username,)
            ).fetchone()
        return self._user(row) if row is not None else None

    def list(self, skip: int, limit: int) -> list[User]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM users ORDER BY id LIMIT ? OFFSET ?", (limit, skip)
            ).fetchall()
        return [self._user(r) for r in rows]

    def create(
        self,
        username: str,
        hashed_password: str,
        *,
        is_admin: bool,
        is_active: bool,
        permissions: list[str],
    ) -> User:
        created_at = datetime.now().isoformat()
        with self._lock:
            try:
                cur = self._conn.execute(
                    "INSERT INTO users (username, hashed_password, is_admin, is_active, created_at,"
                    " permissions) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        username,
                        hashed_password,
                        int(is_admin),
                        int(is_active),
                        created_at,
                        ",".join(permissions),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise UsernameTakenError(username) from exc
            user_id = cur.lastrowid
        user = self.get(int(user_id or 0))
        assert user is not None
        return user

    def update(
        self,
        user_id: int,
        *,
        hashed_password: str | None = None,
        permissions: list[str] | None = None,
        is_active: bool | None = None,
        is_admin: bool | None = None,
    ) -> User | None:
        sets: list[str] = []
        args: list[object] = []
        if hashed_password is not None:
            sets.append("hashed_password = ?")
            args.append(hashed_password)
        if permissions is not None:
            sets.append("permissions = ?")
            args.append(",".join(permissions))
        if is_active is not None:
            sets.append("is_active = ?")
            args.append(int(is_active))
        if is_admin is not None:
            sets.append("is_admin = ?")
            args.append(int(is_admin))
        if sets:
            with self._lock:
                self._conn.execute(
                    f"UPDATE users SET {', '.join(sets)} WHERE id = ?",  # noqa: S608 - fixed columns
                    (*args, user_id),
                )
        return self.get(user_id)

    def delete(self, user_id: int) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        return cur.rowcount > 0
