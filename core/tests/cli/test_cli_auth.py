"""``cl login``, ``cl whoami``, ``cl logout`` (JWT and no-auth mode) and the admin commands."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import stat
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import RunCl, child_env, cl_command

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(90)


def _admin_password(server: LocalServer) -> str:
    password = server.info.admin_password
    assert password
    return password


def _login(cl: RunCl, server: LocalServer, *extra: str) -> None:
    result = cl(
        "login",
        "--username",
        "admin",
        "--password-stdin",
        *extra,
        input=_admin_password(server) + "\n",
    )
    assert result.exit_code == 0, result.output


def test_login_whoami_logout_cycle(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str], isolated: Path
) -> None:
    # not logged in yet: whoami says so and exits 3, still telling the guest mode
    before = cl("whoami")
    assert before.exit_code == 3
    assert "not logged in" in before.stdout
    assert "guest mode off" in before.stdout
    assert before.stderr.strip().splitlines() == [
        "error: not logged in (profile default) — run `cl login`"
    ]

    result = cl(
        "login", "-u", "admin", "--password-stdin", input=_admin_password(jwt_server) + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "logged in as admin (admin)" in result.stderr
    assert _admin_password(jwt_server) not in result.output

    token_file = isolated / "state" / "tokens" / "default.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    who = cl("whoami")
    assert who.exit_code == 0, who.output
    assert "admin (id 1)" in who.stdout
    assert "stored by `cl login`" in who.stdout
    assert "guest mode off" in who.stdout

    doc = json.loads(cl("whoami", "--json").stdout)
    assert doc["profile"] == "default"
    assert doc["auth_mode"] == "jwt"
    assert doc["user"]["username"] == "admin"
    assert doc["user"]["is_admin"] is True
    assert doc["user"]["permissions"] == ["*"]
    assert doc["token"]["source"] == "stored"
    assert doc["token"]["expired"] is False
    # integer milliseconds, like every other timestamp of `cl`'s JSON
    expires_at = doc["token"]["expires_at"]
    assert isinstance(expires_at, int)
    assert (time.time() + 60) * 1000 < expires_at < (time.time() + 86400) * 1000
    assert doc["compute"] == {"reachable": True, "guest_mode": False, "error": None}
    # the token itself is never printed
    stored = _stored_token(isolated)
    assert stored not in json.dumps(doc)

    out = cl("logout")
    assert out.exit_code == 0
    assert "stored token removed" in out.stderr
    assert not token_file.exists()
    again = cl("logout", "--json")
    assert json.loads(again.stdout) == {"profile": "default", "removed": False}
    assert cl("whoami").exit_code == 3


def _stored_token(home: Path) -> str:
    from cl_client.auth import TokenStore

    token = TokenStore(home / "state" / "tokens").load("default")
    assert token is not None
    return token


def test_cl_token_beats_the_stored_token(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str], isolated: Path
) -> None:
    _login(cl, jwt_server)
    token = _stored_token(isolated)
    cl("logout")
    doc = json.loads(cl("whoami", "--json", env={"CL_TOKEN": token}).stdout)
    assert doc["token"]["source"] == "env"
    assert doc["user"]["username"] == "admin"
    warned = cl("logout", env={"CL_TOKEN": token})
    assert "CL_TOKEN is set" in warned.stderr


def test_login_failures(cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str]) -> None:
    wrong = cl("login", "-u", "admin", "--password-stdin", input="not-the-password\n")
    assert wrong.exit_code == 3
    [line] = wrong.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "not-the-password" not in wrong.output

    no_password = cl("login", "-u", "admin")  # stdin is no terminal: no prompt
    assert no_password.exit_code == 2
    assert "--password-stdin or CL_PASSWORD" in no_password.stderr

    empty = cl("login", "-u", "admin", "--password-stdin", input="")
    assert empty.exit_code == 2

    from_env = cl("login", env={"CL_USERNAME": "admin", "CL_PASSWORD": _admin_password(jwt_server)})
    assert from_env.exit_code == 0, from_env.output
    assert json.loads(cl("whoami", "--json").stdout)["user"]["username"] == "admin"


def test_admin_commands_and_permissions(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str]
) -> None:
    # without a token the compute server refuses: exit 3
    refused = cl("admin", "storage")
    assert refused.exit_code == 3
    assert "Traceback" not in refused.output

    _login(cl, jwt_server)
    storage = json.loads(cl("admin", "storage", "--json").stdout)
    assert set(storage) == {"total_size", "job_count"}
    assert "jobs:" in cl("admin", "storage").stdout
    shown = json.loads(cl("admin", "guest-mode", "--json").stdout)
    assert shown["guest_mode"] is False
    cleaned = json.loads(cl("admin", "cleanup", "--days", "30", "--yes", "--json").stdout)
    assert {"deleted_count", "freed_space"} <= set(cleaned)
    assert cl("admin", "cleanup").exit_code == 2  # --days is required

    # a user without admin rights gets a permission error (exit 3)
    async def make_user() -> None:
        from cl_client.client import Client

        async with Client() as client:
            await client.auth.create_user(
                "bob", "bob-password", permissions=["ai_inference_support"]
            )

    asyncio.run(make_user())
    cl("logout")
    bob = cl("login", "-u", "bob", "--password-stdin", input="bob-password\n")
    assert bob.exit_code == 0, bob.output
    who = json.loads(cl("whoami", "--json").stdout)
    assert who["user"]["is_admin"] is False
    assert who["user"]["permissions"] == ["ai_inference_support"]
    denied = cl("admin", "storage")
    assert denied.exit_code == 3
    [line] = denied.stderr.strip().splitlines()
    assert line.startswith("error: permission denied")


def test_guest_mode_switch_shows_in_whoami(
    cl: RunCl, jwt_server: LocalServer, jwt_env: dict[str, str]
) -> None:
    _login(cl, jwt_server)
    try:
        on = cl("admin", "guest-mode", "on")
        assert on.exit_code == 0, on.output
        assert "guest mode is now on" in on.stderr
        cl("logout")
        who = cl("whoami")
        assert "guest mode on: jobs need no login" in who.stdout
        # in guest mode jobs run without a login
        assert cl("capabilities", "--json").exit_code == 0
    finally:
        _login(cl, jwt_server)
        assert cl("admin", "guest-mode", "off").exit_code == 0
    assert json.loads(cl("admin", "guest-mode", "--json").stdout)["guest_mode"] is False


def test_no_auth_mode_says_so_instead_of_failing(
    cl: RunCl, server: LocalServer, server_env: dict[str, str]
) -> None:
    who = cl("whoami")
    assert who.exit_code == 0, who.output
    assert "this profile uses no authentication" in who.stdout
    doc = json.loads(cl("whoami", "--json").stdout)
    assert doc["auth_mode"] == "none"
    assert doc["user"] is None
    assert doc["token"] is None
    assert doc["compute"]["guest_mode"] is True

    login = cl("login", "-u", "admin", "--password-stdin", input="x\n")
    assert login.exit_code == 2
    assert "nothing to log in to" in login.stderr


def _read_until(fd: int, needle: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    assert needle in seen, seen
    return seen


def test_login_prompts_on_a_terminal_without_echoing_the_password(
    jwt_server: LocalServer, jwt_env: dict[str, str], isolated: Path
) -> None:
    password = _admin_password(jwt_server)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*cl_command(), "login"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env({"NO_COLOR": "1"}),
        start_new_session=True,
    )
    os.close(slave)
    try:
        transcript = _read_until(master, b"Username:")
        os.write(master, b"admin\n")
        # the space after "Password:" comes from getpass once echo is off (typing earlier would
        # be echoed, then flushed)
        transcript += _read_until(master, b"Password: ")
        os.write(master, password.encode() + b"\n")
        transcript += _read_until(master, b"logged in as admin")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == 0
    assert password.encode() not in transcript
    assert (isolated / "state" / "tokens" / "default.json").exists()
