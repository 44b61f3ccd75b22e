"""Fixtures: identities (config + token folders) pointed at the local server's fixtures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The tests import their helpers from user_admin_support next to this file (the suite runs with
# --import-mode=importlib, which does not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from user_admin_support import Identity, MakeIdentity

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer


@pytest.fixture(autouse=True)
def _no_outside_settings(cl_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # cl_isolated is the backstop: nothing a test forgets to isolate reaches the developer's own
    # config. Each identity has folders of its own.
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def identity(tmp_path: Path) -> MakeIdentity:
    def make(server: LocalServer, name: str) -> Identity:
        env = dict(server.client_env())
        env["CL_CONFIG_DIR"] = str(tmp_path / name / "config")
        env["CL_STATE_DIR"] = str(tmp_path / name / "state")
        return Identity(env)

    return make


@pytest.fixture
def admin(cl_server_jwt: LocalServer, identity: MakeIdentity) -> Identity:
    """The server's admin, logged in."""
    me = identity(cl_server_jwt, "admin")
    info = cl_server_jwt.info
    assert info.admin_password is not None
    result = me.login(info.admin_username, info.admin_password)
    assert result.exit_code == 0, result.stderr
    return me
