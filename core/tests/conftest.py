"""Fixtures shared by the core library tests (none is autouse: the CLI tests have their own)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests import their helpers from corelib_support next to this file (the suite runs with
# --import-mode=importlib, which does not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corelib_support import Route, TinyServer

CL_VARS = (
    "CL_PROFILE",
    "CL_AUTH_URL",
    "CL_COMPUTE_URL",
    "CL_MQTT_URL",
    "CL_USERNAME",
    "CL_PASSWORD",
    "CL_TOKEN",
    "CL_NO_AUTH",
    "CL_CONFIG_DIR",
    "CL_STATE_DIR",
)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No CL_* variables from the outside; config and state in ``tmp_path``."""
    for name in CL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


@pytest.fixture
def tiny_server_factory() -> Iterator[Callable[[Route], TinyServer]]:
    """``make(route) -> TinyServer``; every server is closed at teardown."""
    servers: list[TinyServer] = []

    def make(route: Route) -> TinyServer:
        server = TinyServer(route)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
