"""Helpers for testing ``cl`` commands and plugins: settings isolated from the user's, ``cl`` run
in-process, a library client against given services, and a check that ``--help`` stays light.

``cl-local-server`` builds its pytest fixtures (``cl_isolated``, ``cl_offline``, ``cl_against``,
``cl_run``) on these helpers; without it::

    def test_refuses_an_unknown_algorithm(tmp_path, monkeypatch):
        isolate(monkeypatch, tmp_path)
        photo = tmp_path / "photo.jpg"
        photo.write_bytes(b"...")
        result = ClRunner(OFFLINE_ENV)("hash", "compute", str(photo), "--algorithm", "sha1")
        assert result.exit_code == 2

Only the standard library and ``typer.testing`` are imported here; the ``cl`` app and the client
are imported when used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from typer.testing import CliRunner, Result

if TYPE_CHECKING:
    from cl_client.compute import ComputeClient

__all__ = [
    "CLIENT_ENV_VARS",
    "HEAVY_MODULES",
    "OFFLINE_ENV",
    "ClRunner",
    "EnvPatcher",
    "heavy_imports",
    "isolate",
    "run_with_compute",
]

T = TypeVar("T")

#: Every environment variable that changes what ``cl`` does; :func:`isolate` unsets them all.
CLIENT_ENV_VARS: Final = (
    "CL_PROFILE",
    "CL_AUTH_URL",
    "CL_COMPUTE_URL",
    "CL_MQTT_URL",
    "CL_USERNAME",
    "CL_PASSWORD",
    "CL_TOKEN",
    "CL_NO_AUTH",
    "CL_DISABLE_PLUGINS",
    "CL_DISABLE_PLUGIN_AUTOLOAD",
    "CL_STRICT_PLUGINS",
    "NO_COLOR",
)

#: Services at a port where nothing listens (the discard port). Anything sent fails with exit 5,
#: so a command that exits 2 there refused its input before sending a request.
OFFLINE_ENV: Final[Mapping[str, str]] = {
    "CL_AUTH_URL": "http://127.0.0.1:9",
    "CL_COMPUTE_URL": "http://127.0.0.1:9",
    "CL_MQTT_URL": "mqtt://127.0.0.1:9",
    "CL_NO_AUTH": "1",
}

#: Modules ``cl --help`` and ``cl <plugin> --help`` must not import: each slows every start.
HEAVY_MODULES: Final = ("httpx", "paho", "numpy", "PIL", "rich.progress")


class EnvPatcher(Protocol):
    """What :func:`isolate` needs to change the environment: pytest's ``monkeypatch`` fixture
    (which undoes the changes after the test) has both methods."""

    def setenv(self, name: str, value: str) -> None: ...

    def delenv(self, name: str, raising: bool = ...) -> None: ...


def isolate(env: EnvPatcher, home: Path) -> Path:
    """Unset every :data:`CLIENT_ENV_VARS` variable and keep profiles (``CL_CONFIG_DIR``) and
    tokens (``CL_STATE_DIR``) in ``home/config`` and ``home/state``, so a test neither reads nor
    changes the user's own. Returns ``home``."""
    for name in CLIENT_ENV_VARS:
        env.delenv(name, raising=False)
    env.setenv("CL_CONFIG_DIR", str(home / "config"))
    env.setenv("CL_STATE_DIR", str(home / "state"))
    return home


class ClRunner:
    """``runner(*args, input=None, env=None) -> Result``: the real ``cl`` app run in-process with
    Typer's ``CliRunner``, with ``env`` (given here, then per call) added to the environment for
    that run only. ``Result`` has ``exit_code``, ``stdout`` and ``stderr``."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: dict[str, str] = dict(env or {})

    def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        from cl_client.cli.app import app

        return CliRunner().invoke(app, list(args), input=input, env={**self.env, **(env or {})})


def run_with_compute(env: Mapping[str, str], fn: Callable[[ComputeClient], Awaitable[T]]) -> T:
    """Run ``fn`` with the :class:`~cl_client.compute.ComputeClient` of a
    :class:`~cl_client.client.Client` set up as ``cl`` would be with ``env`` added to the
    environment (a ``LocalServer.client_env()``, or :data:`OFFLINE_ENV`), and return its result.
    Isolate the settings first (:func:`isolate`), so no profile of the user's is read.

    With :data:`OFFLINE_ENV` it checks a task client's checks: a bad value they let through fails
    with ServiceUnreachableError instead of InvalidInputError::

        with pytest.raises(InvalidInputError, match="algorithm"):
            run_with_compute(
                OFFLINE_ENV, lambda compute: HashClient(compute).submit(file, algorithm="crc32")
            )
    """
    import asyncio

    from cl_client.client import Client
    from cl_client.config import resolve_settings

    settings = resolve_settings(env={**os.environ, **env})

    async def go() -> T:
        async with Client(settings) as client:
            return await fn(client.compute)

    return asyncio.run(go())


_PROBE = """
import json, sys
from typer.testing import CliRunner
from cl_client.cli.app import app
result = CliRunner().invoke(app, sys.argv[2:])
modules = json.loads(sys.argv[1])
print(json.dumps([result.exit_code, result.output, [m for m in modules if m in sys.modules]]))
"""


def heavy_imports(*args: str, also: tuple[str, ...] = ()) -> list[str]:
    """Run ``cl ARGS`` in a fresh interpreter; which of :data:`HEAVY_MODULES` and ``also`` (e.g.
    the plugin's client module) it imported. ``[]`` is what ``cl <plugin> --help`` must give.
    Raises AssertionError when the command fails or prints no usage."""
    modules = json.dumps([*HEAVY_MODULES, *also])
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, modules, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"probe of cl {' '.join(args)} failed: {proc.stderr}")
    exit_code, output, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    if exit_code != 0 or "Usage: " not in output:
        raise AssertionError(f"cl {' '.join(args)} exited {exit_code}: {output}")
    return sorted(loaded)
