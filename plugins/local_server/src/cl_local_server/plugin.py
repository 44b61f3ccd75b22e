"""``cl`` plugin hooks: the ``cl server`` commands, the built-in ``local`` profile and its launcher.

Loaded for every ``cl`` invocation (even ``cl --help``), so it imports nothing heavy: the server is
imported only when a command actually runs under a profile with ``launcher = "local-server"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

from cl_client.hookspecs import RegisterCommand, RegisterProfile, hookimpl

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from cl_client.config import Settings

LAUNCHER = "local-server"
PROFILE_NAME = "local"
#: Overrides where the ``local`` profile's embedded server keeps its data.
DATA_DIR_ENV = "CL_LOCAL_SERVER_DATA_DIR"
#: How long a command's exit waits for the jobs it left queued or running to finish.
DRAIN_SECONDS = 30.0
#: How many days the ``local`` profile keeps finished jobs (uploads and results) by default.
RETENTION_DAYS = 7.0
#: Overrides :data:`RETENTION_DAYS`.
RETENTION_ENV = "CL_LOCAL_SERVER_RETENTION_DAYS"


@hookimpl
def cl_register_commands(register: RegisterCommand) -> None:
    register(
        "server",
        "cl_local_server.cli:app",
        help="Run a local CL-compatible server (auth, compute, MQTT broker, workers).",
    )


@hookimpl
def cl_register_profiles(register: RegisterProfile) -> None:
    from cl_client.config import Profile

    register(PROFILE_NAME, Profile(auth_mode="none", launcher=LAUNCHER))


def embedded_data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from cl_local_server.config import default_data_dir

    return default_data_dir() / "embedded"


def embedded_retention_days() -> float:
    """Days the ``local`` profile keeps finished jobs: :data:`RETENTION_ENV` or the default."""
    import math

    raw = os.environ.get(RETENTION_ENV, "").strip()
    if not raw:
        return RETENTION_DAYS
    try:
        days = float(raw)
    except ValueError:
        days = math.nan
    if not (days > 0 and math.isfinite(days)):
        from cl_client.errors import ConfigError

        raise ConfigError(f"{RETENTION_ENV} must be a number of days above 0, not {raw!r}")
    return days


def _say_waiting() -> None:
    print("cl: waiting for another `cl -p local` command to finish…", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _serve(settings: Settings) -> Generator[Settings]:
    from cl_local_server.config import ServerConfig
    from cl_local_server.server import LocalServer

    retention_days = embedded_retention_days()
    config = ServerConfig(
        auth_port=0,
        compute_port=0,
        mqtt_port=0,
        data_dir=embedded_data_dir(),
        auth_mode="none",
        events_topic=settings.events_topic,
        workers_topic_prefix=settings.workers_topic,
        retention_days=retention_days,
    )
    server = LocalServer(config)
    # One server per data dir: concurrent `cl -p local` commands take turns.
    server.start(on_busy=_say_waiting)
    info = server.info
    # stdout carries the command's results; status goes to stderr.
    print(
        f"cl: local server at {info.compute_url} (data in {info.data_dir};"
        f" finished jobs are kept {retention_days:g} days)",
        file=sys.stderr,
    )
    try:
        yield dataclasses.replace(
            settings,
            auth_url=info.auth_url,
            compute_url=info.compute_url,
            mqtt_url=info.mqtt_url,
            auth_mode="none",
        )
        # Let jobs submitted without waiting finish, so a later `cl -p local job get ID` sees them
        # done; anything still pending is resumed by the next command's server.
        server.wait_idle(DRAIN_SECONDS)
    finally:
        server.stop()


@hookimpl
def cl_launch(launcher: str, settings: Settings) -> AbstractContextManager[Settings] | None:
    if launcher != LAUNCHER:
        return None
    return _serve(settings)
