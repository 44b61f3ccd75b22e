"""One local server per test module, and ``cl`` run in-process against it with isolated config."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner, Result

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

RunCl = Callable[..., Result]
_CLIENT_VARS = ("CL_PROFILE", "CL_TOKEN", "CL_USERNAME", "CL_PASSWORD", "NO_COLOR")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A no-auth server with the built-in executors, shared by the tests of one module."""
    from cl_local_server.pytest_plugin import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("hash-server"))
    try:
        yield factory.start(auth_mode="none")
    finally:
        factory.close()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No CL_* settings from outside; config and tokens in ``tmp_path``."""
    for name in _CLIENT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


@pytest.fixture
def cl(server: LocalServer, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> RunCl:
    """``cl(*args)`` runs the real ``cl`` app against ``server``."""
    from cl_client.cli.app import app

    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run


@pytest.fixture
def cl_offline(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> RunCl:
    """``cl`` pointed at ports where nothing listens: anything sent would fail with exit 5, so
    an exit 2 proves the input was refused before any request."""
    from cl_client.cli.app import app

    monkeypatch.setenv("CL_AUTH_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CL_COMPUTE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CL_MQTT_URL", "mqtt://127.0.0.1:9")
    monkeypatch.setenv("CL_NO_AUTH", "1")
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run
