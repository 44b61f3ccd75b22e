"""Token storage and the session's expiry/refresh decisions.

The decisions are driven by an injected clock (the only fake here): tokens are minted in the test
with an EC key, and a small auth service over real HTTP issues and refreshes them using the same
clock, so "expired" means the same thing on both sides.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import jwt
import pytest
from cl_client.auth import AuthClient, Session, TokenStore, token_expiry
from cl_client.config import Overrides, Settings, resolve_settings
from cl_client.errors import (
    AuthenticationError,
    ConfigError,
    InsecureFileError,
    InvalidInputError,
    SessionExpiredError,
)
from cl_client.transport import ServiceTransport
from corelib_support import AuthServerRoutes, FakeClock, TinyServer, TokenMint

pytestmark = [pytest.mark.usefixtures("cl_isolated"), pytest.mark.timeout(60)]

T = TypeVar("T")
MakeServer = Callable[[Callable[..., object]], TinyServer]


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


# --- token_expiry ---------------------------------------------------------------------------


def test_token_expiry_reads_exp_without_verifying() -> None:
    mint = TokenMint()
    assert token_expiry(mint.token(1_900_000_000)) == 1_900_000_000.0
    assert token_expiry(mint.token(None)) is None
    assert token_expiry("not-a-jwt") is None
    assert token_expiry(jwt.encode({"exp": "soon"}, mint.key, algorithm="ES256")) is None
    assert token_expiry(jwt.encode({"id": 5}, mint.key, algorithm="ES256")) is None


# --- the token store ------------------------------------------------------------------------


def test_store_creates_private_files_and_round_trips(tmp_path: Path) -> None:
    store = TokenStore()
    assert store.directory == tmp_path / "state" / "tokens"
    assert store.load("nas") is None
    store.save("nas", "tok-1", auth_url="http://a:8000", username="pat")
    path = store.path_for("nas")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    record = store.load_record("nas")
    assert record is not None
    assert (record.access_token, record.auth_url, record.username) == (
        "tok-1",
        "http://a:8000",
        "pat",
    )
    assert store.load("nas") == "tok-1"
    assert store.delete("nas") is True
    assert store.delete("nas") is False
    assert store.load("nas") is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_store_refuses_a_file_others_can_access(tmp_path: Path, mode: int) -> None:
    store = TokenStore()
    store.save("nas", "tok-1")
    path = store.path_for("nas")
    path.chmod(mode)
    with pytest.raises(InsecureFileError) as info:
        store.load("nas")
    message = str(info.value)
    assert f"chmod 600 {path}" in message and str(path) in message
    assert "\n" not in message
    path.chmod(0o600)
    assert store.load("nas") == "tok-1"


def test_store_reports_corrupt_files_and_bad_profile_names(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t")
    store.save("nas", "tok")
    store.path_for("nas").write_text("{not json")
    with pytest.raises(ConfigError, match="is corrupt"):
        store.load("nas")
    store.path_for("nas").unlink()
    store.path_for("nas").mkdir()
    store.path_for("nas").chmod(0o700)
    with pytest.raises(ConfigError, match="cannot read token file"):
        store.load("nas")
    with pytest.raises(ConfigError, match="invalid profile name"):
        store.path_for("../escape")


# --- session decisions ----------------------------------------------------------------------


class Rig:
    """A session wired to a test auth service over real HTTP, sharing one fake clock."""

    def __init__(
        self,
        make: MakeServer,
        *,
        env: dict[str, str] | None = None,
        overrides: Overrides | None = None,
        ttl: float = 1800.0,
    ) -> None:
        self.clock = FakeClock()
        self.mint = TokenMint()
        self.routes = AuthServerRoutes(self.mint, self.clock, ttl)
        self.server = make(self.routes)
        self.store = TokenStore()
        base_env = {"CL_AUTH_URL": self.server.url, "CL_COMPUTE_URL": self.server.url}
        self.settings: Settings = resolve_settings(overrides, env={**base_env, **(env or {})})
        self.session, self.transport = self.new_session()

    def new_session(self, settings: Settings | None = None) -> tuple[Session, ServiceTransport]:
        settings = settings or self.settings
        transport = ServiceTransport("auth", settings.auth_url, 5.0, True)
        session = Session(settings, AuthClient(transport), self.store, clock=self.clock)
        transport.session = session
        return session, transport

    def calls(self, path: str) -> int:
        return self.routes.calls(self.server, path)

    def stored(self) -> str | None:
        return self.store.load(self.settings.profile)


def test_login_stores_the_token_and_a_later_session_reuses_it_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        user = await rig.session.login("alice", "secret")
        assert user.username == "alice"
        assert rig.session.token_source == "stored"
        assert rig.session.username == "alice"
        assert rig.stored() == rig.routes.issued[-1]
        claims = rig.session.claims()
        assert claims is not None and claims.id == "7"
        assert rig.session.expires_at == rig.clock() + 1800
        await rig.transport.aclose()

        later, transport = rig.new_session()
        assert later.token_source == "stored"
        response = await transport.request("GET", "/protected")
        assert response.json() == {"ok": True}
        assert rig.server.requests[-1].bearer == rig.routes.issued[-1]
        assert rig.calls("/auth/token") == 1
        await transport.aclose()

    run(scenario())


def test_login_failures_fake_clock(tiny_server_factory: MakeServer) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        with pytest.raises(AuthenticationError, match="login failed: Incorrect username"):
            await rig.session.login("alice", "wrong")
        with pytest.raises(InvalidInputError, match="username and a password"):
            await rig.session.login("alice", None)
        await rig.transport.aclose()

    run(scenario())
    assert rig.stored() is None


def test_far_from_expiry_no_refresh_fake_clock(tiny_server_factory: MakeServer) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        token = rig.stored()
        rig.clock.now += 1800 - 61  # 61 s left: still fine
        assert await rig.session.valid_token() == token
        assert rig.calls("/auth/token/refresh") == 0
        await rig.transport.aclose()

    run(scenario())


def test_within_60s_of_expiry_refreshes_and_saves_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        old = rig.stored()
        rig.clock.now += 1800 - 59
        fresh = await rig.session.valid_token()
        assert fresh != old and fresh == rig.routes.issued[-1]
        assert rig.calls("/auth/token/refresh") == 1
        assert rig.stored() == fresh  # the stored token is replaced
        record = rig.store.load_record(rig.settings.profile)
        assert record is not None and record.username == "alice"
        # the refreshed token is good for another 30 minutes: no second refresh
        assert await rig.session.valid_token() == fresh
        assert rig.calls("/auth/token/refresh") == 1
        await rig.transport.aclose()

    run(scenario())


def test_concurrent_requests_refresh_once_fake_clock(tiny_server_factory: MakeServer) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        rig.clock.now += 1800 - 10
        tokens = await asyncio.gather(*(rig.session.valid_token() for _ in range(5)))
        assert len(set(tokens)) == 1
        assert rig.calls("/auth/token/refresh") == 1
        await rig.transport.aclose()

    run(scenario())


def test_expired_without_credentials_says_log_in_again_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        rig.clock.now += 1801
        with pytest.raises(SessionExpiredError, match=r"session expired — log in again"):
            await rig.session.valid_token()
        assert rig.calls("/auth/token/refresh") == 0  # an expired token cannot be refreshed
        await rig.transport.aclose()

    run(scenario())


def test_expired_with_credentials_in_env_logs_in_again_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory, env={"CL_USERNAME": "alice", "CL_PASSWORD": "secret"})

    async def scenario() -> None:
        await rig.session.login()
        first = rig.stored()
        rig.clock.now += 3600
        token = await rig.session.valid_token()
        assert token != first and token == rig.stored()
        assert rig.calls("/auth/token") == 2
        await rig.transport.aclose()

    run(scenario())


def test_refused_refresh_falls_back_to_login_fake_clock(tiny_server_factory: MakeServer) -> None:
    rig = Rig(tiny_server_factory, env={"CL_USERNAME": "alice", "CL_PASSWORD": "secret"})

    async def scenario() -> None:
        await rig.session.login()
        rig.routes.refresh_works = False  # e.g. the user was deleted and re-created
        rig.clock.now += 1800 - 30
        token = await rig.session.valid_token()
        assert rig.calls("/auth/token/refresh") == 1
        assert rig.calls("/auth/token") == 2
        assert token == rig.stored()
        await rig.transport.aclose()

    run(scenario())


def test_refused_refresh_without_credentials_expires_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        rig.routes.refresh_works = False
        rig.clock.now += 1800 - 30
        with pytest.raises(SessionExpiredError):
            await rig.session.valid_token()
        await rig.transport.aclose()

    run(scenario())


def test_unreachable_refresh_keeps_a_still_valid_token_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        token = rig.stored()
        await rig.transport.aclose()
        rig.server.close()  # the auth service goes away
        rig.clock.now += 1800 - 30
        assert await rig.session.valid_token() == token
        await rig.transport.aclose()

    run(scenario())


def test_token_without_exp_is_never_refreshed_fake_clock(tiny_server_factory: MakeServer) -> None:
    rig = Rig(tiny_server_factory)
    token = rig.mint.token(None)
    rig.store.save(rig.settings.profile, token, auth_url=rig.settings.auth_url)
    session, transport = rig.new_session()

    async def scenario() -> None:
        rig.clock.now += 10**9
        assert await session.valid_token() == token
        assert rig.calls("/auth/token/refresh") == 0
        assert session.expires_at is None
        await transport.aclose()

    run(scenario())


def test_cl_token_beats_the_stored_token_and_is_not_saved_on_refresh_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)
    stored = rig.mint.token(rig.clock() + 1800)
    rig.store.save(rig.settings.profile, stored, auth_url=rig.settings.auth_url)
    env_token = rig.mint.token(rig.clock() + 30)
    settings = replace(rig.settings, token=env_token)
    session, transport = rig.new_session(settings)

    async def scenario() -> None:
        assert session.token_source == "env"
        fresh = await session.valid_token()  # 30 s left: refreshed in memory
        assert fresh not in (env_token, stored)
        assert rig.stored() == stored  # the stored token is untouched
        rig.clock.now += 3600
        with pytest.raises(SessionExpiredError, match="CL_TOKEN"):
            await session.valid_token()
        await transport.aclose()

    run(scenario())


def test_401_triggers_one_refresh_and_one_retry_fake_clock(tiny_server_factory: MakeServer) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        first = rig.stored()
        assert first is not None
        rig.routes.rejected.add(first)
        response = await rig.transport.request("GET", "/protected")
        assert response.json() == {"ok": True}
        assert rig.calls("/protected") == 2
        assert rig.calls("/auth/token/refresh") == 1
        assert rig.server.requests[-1].bearer == rig.stored() != first

        # A token rejected again after the refresh: one retry only, then the 401 is reported.
        rig.routes.reject_all = True
        original = len(rig.routes.issued)
        with pytest.raises(AuthenticationError, match=r"not authenticated: .* run `cl login`"):
            await rig.transport.request("GET", "/protected")
        assert rig.calls("/protected") == 4
        assert len(rig.routes.issued) == original + 1
        await rig.transport.aclose()

    run(scenario())


def test_401_with_refresh_refused_and_credentials_logs_in_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory, env={"CL_USERNAME": "alice", "CL_PASSWORD": "secret"})

    async def scenario() -> None:
        await rig.session.login()
        rig.routes.refresh_works = False
        first = rig.stored()
        assert first is not None
        rig.routes.rejected.add(first)
        assert (await rig.transport.request("GET", "/protected")).json() == {"ok": True}
        assert rig.calls("/auth/token") == 2
        await rig.transport.aclose()

    run(scenario())


def test_refresh_after_401_uses_a_token_another_request_already_replaced_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        await rig.session.login("alice", "secret")
        current = await rig.session.valid_token()
        assert await rig.session.refresh_after_401("an-older-token") == current
        assert rig.calls("/auth/token/refresh") == 0
        rig.session.logout()
        assert await rig.session.refresh_after_401(current) is None
        await rig.transport.aclose()

    run(scenario())


def test_no_auth_mode_sends_no_authorization_header_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory, env={"CL_NO_AUTH": "1", "CL_TOKEN": "would-leak"})

    async def scenario() -> None:
        response = await rig.transport.request("GET", "/open")
        assert response.json() == {"auth": None}
        assert "authorization" not in rig.server.requests[-1].headers
        assert await rig.session.valid_token() is None
        assert await rig.session.refresh_after_401("x") is None
        with pytest.raises(ConfigError, match="auth mode none"):
            await rig.session.login("alice", "secret")
        await rig.transport.aclose()

    run(scenario())


def test_not_logged_in_sends_nothing_and_logout_forgets_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def scenario() -> None:
        assert rig.session.token_source == "none"
        assert rig.session.claims() is None and rig.session.expires_at is None
        assert (await rig.transport.request("GET", "/open")).json() == {"auth": None}
        await rig.session.login("alice", "secret")
        assert rig.session.logout() is True
        assert rig.stored() is None and rig.session.token_source == "none"
        assert (await rig.transport.request("GET", "/open")).json() == {"auth": None}
        assert rig.session.logout() is False
        await rig.transport.aclose()

    run(scenario())


def test_a_stored_token_is_never_sent_to_another_auth_server_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)
    rig.store.save(rig.settings.profile, rig.mint.token(None), auth_url="http://elsewhere:8000")

    async def scenario() -> None:
        session, transport = rig.new_session()
        assert session.token_source == "none"
        # the request goes out as if there were no session: no Authorization header at all
        assert (await transport.request("GET", "/open")).json() == {"auth": None}
        await transport.aclose()

        # with credentials at hand it simply logs in to this server
        creds = replace(rig.settings, username="alice", password="secret")
        session, transport = rig.new_session(creds)
        assert (await transport.request("GET", "/protected")).json() == {"ok": True}
        record = rig.store.load_record(rig.settings.profile)
        assert record is not None and record.auth_url == rig.settings.auth_url
        await transport.aclose()

    run(scenario())


def test_credentials_without_token_log_in_on_first_request_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory, overrides=Overrides(username="alice", password="secret"))

    async def scenario() -> None:
        assert (await rig.transport.request("GET", "/protected")).json() == {"ok": True}
        assert rig.calls("/auth/token") == 1
        assert rig.stored() is not None
        await rig.transport.aclose()

    run(scenario())


def test_a_session_survives_separate_event_loops_fake_clock(
    tiny_server_factory: MakeServer,
) -> None:
    rig = Rig(tiny_server_factory)

    async def first() -> None:
        await rig.session.login("alice", "secret")
        await rig.transport.aclose()

    async def second() -> str | None:
        rig.clock.now += 1790
        token = await rig.session.valid_token()
        await rig.transport.aclose()
        return token

    run(first())
    assert run(second()) == rig.stored()


def test_a_stored_token_record_never_shows_its_token() -> None:
    from cl_client.auth import StoredToken

    record = StoredToken(access_token="eyJ.secret.token", auth_url="http://a:8000", username="al")
    assert "eyJ.secret.token" not in repr(record)
    assert "al" in repr(record)
