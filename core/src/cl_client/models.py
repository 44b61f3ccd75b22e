"""Wire models of PROTOCOL.md, as msgspec Structs.

Decoding is tolerant: unknown fields are ignored (an old client keeps reading a newer server), and
fields a server may leave out have defaults. Only ``msgspec`` is imported here, so importing the
models is cheap.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

JobStatus = Literal["queued", "processing", "completed", "error"]
#: States after which a job never changes. ``failed`` is not sent by any server but older docs name
#: it.
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"completed", "error", "failed"})
FAILED_STATUSES: Final[frozenset[str]] = frozenset({"error", "failed"})

#: A value sent in a form field. Booleans travel as "true"/"false".
FormValue = str | int | float | bool

#: JSON as decoded with msgspec into builtins.
JsonObject = dict[str, object]


class Model(msgspec.Struct, kw_only=True, omit_defaults=False):
    """Base of all wire models."""

    def to_dict(self) -> JsonObject:
        """The model as JSON-ready builtins (what ``--json`` prints)."""
        out = msgspec.to_builtins(self)
        assert isinstance(out, dict)
        return out  # pyright: ignore[reportUnknownVariableType]


# --- auth (§3) ------------------------------------------------------------------------------


class Token(Model):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class PublicKey(Model):
    public_key: str
    algorithm: str = "ES256"


class User(Model):
    id: int
    username: str
    is_admin: bool = False
    is_active: bool = True
    created_at: str | None = None
    permissions: list[str] = msgspec.field(default_factory=list)


class TokenClaims(Model):
    """The JWT payload (§3.4). ``id`` is a string inside the token."""

    id: str | None = None
    permissions: list[str] = msgspec.field(default_factory=list)
    is_admin: bool = False
    exp: int | float | None = None


# --- compute (§4) ---------------------------------------------------------------------------


class JobCreated(Model):
    job_id: str
    status: str = "queued"
    task_type: str = ""


class Job(Model):
    """The job record of ``GET /jobs/{id}`` (§4.4)."""

    job_id: str
    task_type: str
    status: str
    progress: int | float = 0
    params: JsonObject = msgspec.field(default_factory=dict)
    task_output: JsonObject | None = None
    error_message: str | None = None
    priority: int = 5
    created_at: int | None = None
    updated_at: int | None = None
    started_at: int | None = None
    completed_at: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    @property
    def output_path(self) -> str | None:
        """``params.output_path``: the relative path of the main result file (or folder for HLS)."""
        value = self.params.get("output_path")
        return value if isinstance(value, str) else None


class Capabilities(Model):
    """``GET /capabilities``: task type → number of idle workers. Absent task = no worker offers
    it."""

    num_workers: int = 0
    capabilities: dict[str, int] = msgspec.field(default_factory=dict)

    def offers(self, task_type: str) -> bool:
        return task_type in self.capabilities


class Health(Model):
    """``GET /`` of the compute service."""

    status: str = ""
    service: str = ""
    version: str = ""
    guestMode: str | None = None  # wire name

    @property
    def guest_mode(self) -> bool | None:
        if self.guestMode is None:
            return None
        return self.guestMode == "on"


class GuestConfig(Model):
    """``GET /admin/config`` (or ``/admin/pref``)."""

    guest_mode: bool
    updated_at: int | None = None
    updated_by: str | None = None


class GuestModeUpdate(Model):
    guest_mode: bool
    message: str = ""


class StorageSize(Model):
    total_size: int
    job_count: int


class CleanupResult(Model):
    deleted_count: int
    freed_space: int


# --- MQTT (§7) ------------------------------------------------------------------------------


class JobEvent(Model):
    """One message on the job-event topic. Progress may be int, float or missing."""

    job_id: str
    event_type: str
    timestamp: int | float | None = None
    progress: int | float | None = None

    @property
    def is_terminal(self) -> bool:
        return self.event_type in TERMINAL_STATUSES


class WorkerCapability(Model):
    """One retained message on ``inference/workers/<id>``. Older workers send ``id``."""

    worker_id: str | None = None
    id: str | None = None
    capabilities: list[str] = msgspec.field(default_factory=list)
    idle_count: int = 0
    timestamp: int | float | None = None


class JobProgress(Model):
    """What a progress callback receives, whether it came from MQTT or from polling."""

    job_id: str
    status: str
    progress: float = 0.0
    source: Literal["mqtt", "http"] = "http"
