"""Server configuration: one dataclass, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

AuthMode = Literal["jwt", "none"]
Compat = Literal["current", "legacy"]

AUTH_MODES: tuple[AuthMode, ...] = ("jwt", "none")
COMPATS: tuple[Compat, ...] = ("current", "legacy")


def default_data_dir() -> Path:
    """Where a server keeps its keys, databases and job files unless told otherwise."""
    # Imported here so that importing this module (e.g. from the CLI's option parsing) stays cheap.
    from platformdirs import user_data_dir

    return Path(user_data_dir("cl-local-server"))


@dataclass
class ServerConfig:
    """Everything a :class:`~cl_local_server.server.LocalServer` needs. Port 0 picks a free port."""

    host: str = "127.0.0.1"
    auth_port: int = 8000
    compute_port: int = 8002
    #: Port of the embedded broker; ignored when ``mqtt_url`` names an external broker.
    mqtt_port: int = 1883
    #: ``None`` runs the embedded amqtt broker; otherwise ``mqtt://host:port`` of an external one.
    mqtt_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    #: ``"none"`` behaves like a compute server started with ``--no-auth``: always open.
    auth_mode: AuthMode = "jwt"
    #: Guest mode written on first start in jwt mode. Off writes the ``auth_enabled`` key as true,
    #: so the server requires tokens; on leaves the key absent (PROTOCOL: absent = guest mode).
    guest_mode: bool = False
    admin_username: str = "admin"
    #: ``None`` generates a random password when the admin is first created (reported once).
    admin_password: str | None = None
    token_expire_minutes: float = 30.0
    workers: int = 2
    heartbeat_seconds: float = 10.0
    poll_interval: float = 0.1
    compat: Compat = "current"
    events_topic: str = "inference/events"
    workers_topic_prefix: str = "inference/workers"
    #: Jobs that finished more than this many days ago are deleted (rows and files) at start and
    #: then every hour; ``None`` keeps every job, as upstream does.
    retention_days: float | None = None
    #: bcrypt cost; 12 like the reference server. Tests lower it to keep logins fast.
    bcrypt_rounds: int = 12

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        if self.auth_mode not in AUTH_MODES:
            raise ValueError(f"auth_mode must be one of {AUTH_MODES}, not {self.auth_mode!r}")
        if self.compat not in COMPATS:
            raise ValueError(f"compat must be one of {COMPATS}, not {self.compat!r}")
        if self.workers < 0:
            raise ValueError("workers must be >= 0")
        if self.token_expire_minutes <= 0:
            raise ValueError("token_expire_minutes must be > 0")
        if not 4 <= self.bcrypt_rounds <= 31:
            raise ValueError("bcrypt_rounds must be between 4 and 31")
        if self.mqtt_url is not None:
            parse_mqtt_url(self.mqtt_url)
        if self.retention_days is not None and not self.retention_days > 0:
            raise ValueError("retention_days must be > 0 (or None to keep every job)")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def private_key_path(self) -> Path:
        return self.keys_dir / "private_key.pem"

    @property
    def public_key_path(self) -> Path:
        return self.keys_dir / "public_key.pem"

    @property
    def admin_password_path(self) -> Path:
        """Where a generated admin password is kept (mode 0600) until the admin changes it."""
        return self.data_dir / "admin-password"

    @property
    def auth_db_path(self) -> Path:
        return self.data_dir / "auth.db"

    @property
    def compute_dir(self) -> Path:
        return self.data_dir / "compute"

    @property
    def jobs_dir(self) -> Path:
        return self.compute_dir / "jobs"

    @property
    def compute_db_path(self) -> Path:
        return self.compute_dir / "compute.db"


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """Split ``mqtt://host:port`` (PROTOCOL §7.1: only the ``mqtt`` scheme; port defaults to
    1883)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"Unsupported MQTT URL scheme in {url!r}: only mqtt:// is supported")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r} has no host")
    return parts.hostname, parts.port or 1883
