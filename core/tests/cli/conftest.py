"""Fixtures of the ``cl`` command tests: isolated config, in-process and subprocess runs,
servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner, Result

from . import echo_plugin

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"

#: Every variable that changes what ``cl`` does; none may leak in from the outside.
CL_VARS = (
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
    "PYTHONPATH",
)

RunCl = Callable[..., Result]


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str


RunSub = Callable[..., Proc]


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No CL_* settings from outside; config, tokens and the embedded server's data in tmp."""
    for name in CL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CL_LOCAL_SERVER_DATA_DIR", str(tmp_path / "local-server"))
    return tmp_path


@pytest.fixture
def cl(isolated: Path) -> RunCl:
    """``cl(*args, input=None, env=None)``: the real ``cl`` app run in-process (CliRunner)."""
    from cl_client.cli.app import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: Mapping[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=dict(env) if env else None)

    return run


def cl_command(python_args: Sequence[str] = ()) -> list[str]:
    """The installed ``cl`` console script run by this Python (``-m cl_client.cli`` without one)."""
    script = Path(sys.executable).parent / "cl"
    target = [str(script)] if script.exists() else ["-m", "cl_client.cli"]
    return [sys.executable, *python_args, *target]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment (already isolated by the fixtures) plus ``extra``."""
    env = dict(os.environ)
    env.update(extra or {})
    return env


@pytest.fixture
def cl_sub(isolated: Path) -> RunSub:
    """``cl_sub(*args, env=None, input=None, timeout=60)``: ``cl`` in a subprocess."""

    def run(
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60,
        python_args: Sequence[str] = (),
    ) -> Proc:
        proc = subprocess.run(
            [*cl_command(python_args), *args],
            env=child_env(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Proc(proc.returncode, proc.stdout, proc.stderr)

    return run


def _start(
    tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: object
) -> Iterator[LocalServer]:
    from cl_local_server.pytest_plugin import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp(name))
    try:
        yield factory.start(**kwargs)  # pyright: ignore[reportArgumentType]
    finally:
        factory.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A no-auth server (built-in executors plus ``cli_echo``; no embedding executor), one per
    test module."""
    executors = {"cli_echo": echo_plugin.echo_executor}
    yield from _start(tmp_path_factory, "cli-server", auth_mode="none", executors=executors)


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A JWT server (guest mode off, admin ``admin`` / the fixture password), one per module."""
    executors = {"cli_echo": echo_plugin.echo_executor}
    yield from _start(tmp_path_factory, "cli-jwt-server", auth_mode="jwt", executors=executors)


@pytest.fixture(scope="session")
def echo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the test plugin ``cl echo-test`` (see echo_plugin.py)."""
    return echo_plugin.install(tmp_path_factory.mktemp("echo-site"))


@pytest.fixture
def echo(echo_site: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The test plugin installed for in-process runs (and on PYTHONPATH for subprocesses)."""
    monkeypatch.syspath_prepend(str(echo_site))  # pyright: ignore[reportUnknownMemberType]
    monkeypatch.setenv("PYTHONPATH", str(echo_site))
    import importlib

    return importlib.import_module(echo_plugin.MODULE)


@pytest.fixture
def server_env(
    server: LocalServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point ``cl`` (in-process and subprocesses) at the no-auth ``server``."""
    env = server.client_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def jwt_env(
    jwt_server: LocalServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point ``cl`` at the JWT ``jwt_server`` (not logged in)."""
    env = jwt_server.client_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
