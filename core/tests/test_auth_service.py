"""Auth client and sessions against the real local server in JWT mode (real tokens, real expiry)."""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
from cl_client.auth import AuthClient, Session, TokenStore, token_expiry
from cl_client.client import Client
from cl_client.compute import ComputeClient
from cl_client.config import ConfigStore, Settings, resolve_settings
from cl_client.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SessionExpiredError,
)
from cl_client.transport import ServiceTransport
from corelib_support import MEDIA

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from cl_local_server.server import LocalServer

pytestmark = [pytest.mark.usefixtures("cl_isolated"), pytest.mark.timeout(90)]

T = TypeVar("T")


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


def settings_for(server: LocalServer, tmp_path: Path, **env: str) -> Settings:
    return resolve_settings(
        env={**server.client_env(), **env}, store=ConfigStore(tmp_path / "cfg.toml")
    )


def admin_password(server: LocalServer) -> str:
    password = server.info.admin_password
    assert password is not None
    return password


def test_login_stores_a_private_token_that_later_clients_reuse(
    cl_server_jwt: LocalServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with Client(settings_for(cl_server_jwt, tmp_path)) as first:
            user = await first.login("admin", admin_password(cl_server_jwt))
            assert user.is_admin and user.username == "admin"
            claims = first.session.claims()
            assert claims is not None and claims.is_admin and claims.id == str(user.id)
        path = TokenStore().path_for("default")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        async with Client(settings_for(cl_server_jwt, tmp_path)) as later:
            assert later.session.token_source == "stored"
            assert later.session.username == "admin"
            assert (await later.auth.me()).username == "admin"
            assert later.logout() is True
            assert not path.exists()
            with pytest.raises(AuthenticationError, match="not authenticated: Not authenticated"):
                await later.auth.me()

    run(scenario())


def test_wrong_password_and_missing_token(cl_server_jwt: LocalServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Client(settings_for(cl_server_jwt, tmp_path)) as client:
            with pytest.raises(AuthenticationError) as info:
                await client.login("admin", "wrong")
            assert str(info.value) == "login failed: Incorrect username or password"
            assert info.value.exit_code == 3
            with pytest.raises(AuthenticationError, match="run `cl login`"):
                await client.auth.list_users()
            key = await client.auth.public_key()
            assert key.algorithm == "ES256" and "BEGIN PUBLIC KEY" in key.public_key

    run(scenario())


def test_short_tokens_refresh_expire_and_log_in_again(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    # Tokens live 3 s: always inside the 60 s refresh margin, so every request refreshes them
    # for real, and a short sleep lets one expire for real.
    server = cl_server_factory.start(auth_mode="jwt", token_expire_minutes=0.05)
    password = admin_password(server)

    async def scenario() -> None:
        async with Client(settings_for(server, tmp_path)) as client:
            await client.login("admin", password)
            logged_in = TokenStore().load("default")
            assert (await client.auth.me()).username == "admin"
            refreshed = TokenStore().load("default")
            assert refreshed is not None and refreshed != logged_in  # refreshed and saved
            job = await client.compute.submit("hash", MEDIA / "astronaut.jpg")
            assert (await client.compute.wait(job.job_id, timeout=30)).status == "completed"

        stored = TokenStore().load("default")
        assert stored is not None
        expiry = token_expiry(stored)
        assert expiry is not None
        await asyncio.sleep(max(0.0, expiry - time.time()) + 0.5)

        async with Client(settings_for(server, tmp_path)) as expired:
            with pytest.raises(SessionExpiredError) as info:
                await expired.auth.me()
            assert str(info.value) == "session expired — log in again with `cl login`"

        creds = {"CL_USERNAME": "admin", "CL_PASSWORD": password}
        async with Client(settings_for(server, tmp_path, **creds)) as again:
            assert (await again.auth.me()).username == "admin"  # logged in again by itself
            assert TokenStore().load("default") not in (None, stored)

    run(scenario())


def test_401_from_compute_refreshes_once_and_retries_fake_clock(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    # The only fake is the client's clock, 10 s behind: it believes an expired token is still
    # good, so the server's 401 ("JWT token has expired") drives the refresh-and-retry path.
    server = cl_server_factory.start(auth_mode="jwt", token_expire_minutes=0.02)
    password = admin_password(server)

    def lagging() -> float:
        return time.time() - 10

    async def attempt(settings: Settings) -> str:
        auth_transport = ServiceTransport("auth", settings.auth_url, 5.0, True)
        session = Session(
            settings, AuthClient(auth_transport), TokenStore(), clock=lagging, refresh_margin=0
        )
        auth_transport.session = session
        compute_transport = ServiceTransport("compute", settings.compute_url, 5.0, True, session)
        try:
            job = await ComputeClient(compute_transport).submit("hash", MEDIA / "astronaut.jpg")
            return job.job_id
        finally:
            await auth_transport.aclose()
            await compute_transport.aclose()

    async def scenario() -> None:
        async with Client(settings_for(server, tmp_path)) as client:
            await client.login("admin", password)
        stored = TokenStore().load("default")
        assert stored is not None
        expiry = token_expiry(stored)
        assert expiry is not None
        await asyncio.sleep(max(0.0, expiry - time.time()) + 0.3)

        with pytest.raises(AuthenticationError) as info:
            await attempt(settings_for(server, tmp_path))
        assert str(info.value) == "not authenticated: JWT token has expired — run `cl login`"

        creds = {"CL_USERNAME": "admin", "CL_PASSWORD": password}
        assert await attempt(settings_for(server, tmp_path, **creds))
        assert TokenStore().load("default") != stored

    run(scenario())


def test_user_administration(cl_server_jwt: LocalServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Client(settings_for(cl_server_jwt, tmp_path / "a")) as admin:
            await admin.login("admin", admin_password(cl_server_jwt))
            auth = admin.auth
            alice = await auth.create_user(
                "alice", "pw-1", permissions=["ai_inference_support", "media_store_read"]
            )
            assert alice.permissions == ["ai_inference_support", "media_store_read"]
            assert not alice.is_admin and alice.is_active
            bob = await auth.create_user("bob", "pw-2", is_admin=True, is_active=False)
            assert bob.is_admin and not bob.is_active
            with pytest.raises(BadRequestError) as dup:
                await auth.create_user("alice", "x")
            assert str(dup.value) == "bad request: Username already registered"
            assert dup.value.exit_code == 2

            names = [u.username for u in await auth.list_users()]
            assert names[:3] == ["admin", "alice", "bob"]
            assert [u.username for u in await auth.list_users(skip=1, limit=1)] == ["alice"]
            assert (await auth.get_user(alice.id)).username == "alice"

            changed = await auth.update_user(
                alice.id, password="pw-new", permissions=["media_store_write"], is_active=False
            )
            assert changed.permissions == ["media_store_write"] and not changed.is_active
            assert (await auth.update_user(alice.id, is_admin=True)).is_admin
            with pytest.raises(InvalidInputError, match="cannot clear all permissions"):
                await auth.update_user(alice.id, permissions=[])
            with pytest.raises(InvalidInputError, match="invalid permission name"):
                await auth.create_user("carol", "pw", permissions=["a,b"])
            with pytest.raises(InvalidInputError, match="invalid user id"):
                await auth.get_user(-1)

            await auth.delete_user(bob.id)
            with pytest.raises(NotFoundError, match="not found: User not found"):
                await auth.get_user(bob.id)
            with pytest.raises(NotFoundError):
                await auth.delete_user(bob.id)

        async with Client(settings_for(cl_server_jwt, tmp_path / "alice")) as alice_client:
            user = await alice_client.login("alice", "pw-new")
            assert user.permissions == ["media_store_write"]

        async with Client(settings_for(cl_server_jwt, tmp_path / "a")) as admin:
            await admin.auth.update_user(alice.id, is_admin=False)
        async with Client(settings_for(cl_server_jwt, tmp_path / "alice")) as alice_client:
            await alice_client.login("alice", "pw-new")
            with pytest.raises(PermissionDeniedError) as denied:
                await alice_client.auth.list_users()
            assert str(denied.value) == (
                "permission denied: The user doesn't have enough privileges"
            )

    run(scenario())


def test_a_profile_pointing_elsewhere_does_not_send_the_stored_token(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    one = cl_server_factory.start(auth_mode="jwt")
    two = cl_server_factory.start(auth_mode="jwt")

    async def scenario() -> None:
        async with Client(settings_for(one, tmp_path)) as client:
            await client.login("admin", admin_password(one))
        async with Client(settings_for(two, tmp_path)) as other:
            # No header at all reaches server two ("Not authenticated"), not server one's token
            # (which server two would answer with "Could not validate credentials").
            with pytest.raises(AuthenticationError, match="Not authenticated"):
                await other.auth.me()

    run(scenario())


def test_guest_compute_with_jwt_profile_and_no_login(
    cl_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = cl_server_factory.start(auth_mode="jwt", guest_mode=True)

    async def scenario() -> str:
        async with Client(settings_for(server, tmp_path)) as client:
            assert client.session.token_source == "none"
            created = await client.compute.submit("hash", MEDIA / "astronaut.jpg")
            return (await client.compute.wait(created.job_id, timeout=30)).status

    assert run(scenario()) == "completed"
