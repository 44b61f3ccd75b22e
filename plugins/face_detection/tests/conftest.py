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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A no-auth server with the built-in executors (face_detection among them)."""
    from cl_local_server.pytest_plugin import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("face-detection-server"))
    try:
        yield factory.start(auth_mode="none")
    finally:
        factory.close()


@pytest.fixture
def cl(server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunCl:
    """``cl(*args)`` runs the real ``cl`` app against ``server``; returns exit code and streams."""
    from cl_client.cli.app import app

    for name in ("CL_PROFILE", "CL_TOKEN", "CL_USERNAME", "CL_PASSWORD", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run
