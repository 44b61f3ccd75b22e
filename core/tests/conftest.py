"""Fixtures shared by the core library tests (none is autouse: the CLI tests have their own).

Isolation from the user's settings is the local server's ``cl_isolated`` fixture."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests import their helpers from corelib_support next to this file (the suite runs with
# --import-mode=importlib, which does not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corelib_support import Route, TinyServer


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
