"""The auth service client and the per-profile login session.

:class:`AuthClient` covers every auth endpoint (token, refresh, public key, current user and the
admin user endpoints), always with form-encoded bodies. :class:`Session` owns the token of one
profile: it is stored in a private file per profile, reused by later processes, refreshed shortly
before it expires and, when it cannot be refreshed, replaced by a new login if credentials are at
hand. A stored token is only ever sent to the auth server that issued it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from cl_client.config import (
    Settings,
    check_profile_name,
    clean_token,
    file_lock,
    state_dir,
    write_private_file,
)
from cl_client.errors import (
    AuthenticationError,
    ConfigError,
    InsecureFileError,
    InvalidInputError,
    MalformedResponseError,
    ServerError,
    SessionExpiredError,
    TransportError,
)
from cl_client.models import PublicKey, Token, TokenClaims, User
from cl_client.transport import ServiceTransport, decode

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

TokenSource = Literal["env", "stored", "none"]

#: Refresh a token when fewer seconds than this remain before it expires.
REFRESH_MARGIN: Final = 60.0


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (seconds since the epoch), read without verifying the signature.

    ``None`` when the token cannot be decoded or has no numeric ``exp``; such a token is used as it
    is and never refreshed.
    """
    claims = _unverified_claims(token)
    return float(claims.exp) if claims is not None and claims.exp is not None else None


def _unverified_claims(token: str) -> TokenClaims | None:
    import jwt

    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    try:
        return msgspec.convert(payload, TokenClaims)
    except msgspec.ValidationError:
        return None


def _checked_token(token: Token) -> Token:
    """``token`` with its access token trimmed; MalformedResponseError (not showing it) when it
    holds characters no token has, which could never be sent in a header."""
    try:
        cleaned = clean_token(token.access_token, "the auth service's answer")
    except ConfigError:
        cleaned = None
    if cleaned is None:
        raise MalformedResponseError(
            "the auth service answered with an unusable token (empty, or holding control "
            "characters or spaces); it is not shown here"
        )
    return msgspec.structs.replace(token, access_token=cleaned)


def _form_bool(value: bool) -> str:
    return "true" if value else "false"


def _permissions_field(permissions: Sequence[str]) -> str:
    for name in permissions:
        if not name or "," in name or name != name.strip():
            raise InvalidInputError(
                f"invalid permission name {name!r}: no commas, no spaces around, not empty"
            )
    return ",".join(permissions)


def _user_path(user_id: int) -> str:
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidInputError(f"invalid user id {user_id!r}: expected a whole number")
    return f"/users/{user_id}"


class AuthClient:
    """Every endpoint of the auth service. Admin endpoints use the session's token."""

    def __init__(self, transport: ServiceTransport) -> None:
        self.transport = transport

    async def login(self, username: str, password: str) -> Token:
        """``POST /auth/token`` with the OAuth2 password form."""
        try:
            response = await self.transport.request(
                "POST",
                "/auth/token",
                data={"username": username, "password": password},
                authenticated=False,
            )
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"login failed: {exc.detail}",
                status_code=exc.status_code,
                detail=exc.detail,
                url=exc.url,
            ) from None
        return _checked_token(decode(response, Token, service="auth"))

    async def refresh(self, token: str) -> Token:
        """``POST /auth/token/refresh`` with ``token`` (which must still be valid)."""
        response = await self.transport.request(
            "POST",
            "/auth/token/refresh",
            headers={"Authorization": f"Bearer {token}"},
            authenticated=False,
        )
        return _checked_token(decode(response, Token, service="auth"))

    async def public_key(self) -> PublicKey:
        response = await self.transport.request("GET", "/auth/public-key", authenticated=False)
        return decode(response, PublicKey, service="auth")

    async def me(self) -> User:
        return self._user(await self.transport.request("GET", "/users/me"))

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        is_admin: bool = False,
        is_active: bool = True,
        permissions: Sequence[str] = (),
    ) -> User:
        """``POST /users/`` (admin). Permissions travel comma-separated."""
        form = {
            "username": username,
            "password": password,
            "is_admin": _form_bool(is_admin),
            "is_active": _form_bool(is_active),
        }
        if permissions:
            form["permissions"] = _permissions_field(permissions)
        return self._user(await self.transport.request("POST", "/users/", data=form))

    async def list_users(self, *, skip: int = 0, limit: int = 100) -> list[User]:
        response = await self.transport.request(
            "GET", "/users/", params={"skip": skip, "limit": limit}
        )
        return decode(response, list[User], service="auth")

    async def get_user(self, user_id: int) -> User:
        return self._user(await self.transport.request("GET", _user_path(user_id)))

    async def update_user(
        self,
        user_id: int,
        *,
        password: str | None = None,
        permissions: Sequence[str] | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
    ) -> User:
        """``PUT /users/{id}`` (admin); only the given fields change, ``permissions`` replaces all.

        The server treats an empty permission list as "not sent", so clearing every permission is
        impossible; an empty list is refused here instead of being silently ignored.
        """
        form: dict[str, str] = {}
        if password is not None:
            form["password"] = password
        if permissions is not None:
            if not permissions:
                raise InvalidInputError(
                    "the server cannot clear all permissions (an empty list is ignored); "
                    "give at least one permission"
                )
            form["permissions"] = _permissions_field(permissions)
        if is_admin is not None:
            form["is_admin"] = _form_bool(is_admin)
        if is_active is not None:
            form["is_active"] = _form_bool(is_active)
        path = _user_path(user_id)
        return self._user(await self.transport.request("PUT", path, data=form))

    async def delete_user(self, user_id: int) -> None:
        await self.transport.request("DELETE", _user_path(user_id))

    @staticmethod
    def _user(response: httpx.Response) -> User:
        return decode(response, User, service="auth")


# --- token storage --------------------------------------------------------------------------


class StoredToken(msgspec.Struct, kw_only=True):
    """One stored token: the token, and who it was issued to and by."""

    access_token: str
    auth_url: str | None = None
    username: str | None = None
    saved_at: float | None = None

    def __repr__(self) -> str:
        # Never the token itself: a debug line or a failed assert must not leak it.
        return f"StoredToken(auth_url={self.auth_url!r}, username={self.username!r}, token=***)"


class _Entry(msgspec.Struct, kw_only=True):
    access_token: str
    username: str | None = None
    saved_at: float | None = None


class _TokenFile(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A profile's token file: one token per auth server. Files written before tokens were kept
    per server hold one token at the top level (``access_token``, ``auth_url``, …)."""

    tokens: dict[str, _Entry] = msgspec.field(default_factory=dict[str, _Entry])
    access_token: str | None = None
    auth_url: str | None = None
    username: str | None = None
    saved_at: float | None = None


#: The key of a token saved without naming its auth server: it is never sent anywhere.
_UNKNOWN_ISSUER: Final = ""


class TokenStore:
    """One private file per profile (``<state dir>/tokens/<profile>.json``, mode 0600), holding a
    token per auth server, as ``gh`` keeps one per host: logging in to another server with the
    same profile (``cl --auth-url … login``) keeps the profile's own token. Changes are
    read-modify-writes under a lock (``tokens/.lock``)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory: Path = directory if directory is not None else state_dir() / "tokens"

    def path_for(self, profile: str) -> Path:
        return self.directory / f"{check_profile_name(profile)}.json"

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.directory / ".lock", f"the token files in {self.directory}")

    def records(self, profile: str) -> dict[str, StoredToken]:
        """Every stored token of ``profile``, by the auth server that issued it ("" = unknown).
        Refuses a file that group or others can access."""
        path = self.path_for(profile)
        try:
            info = path.stat()
        except FileNotFoundError:
            return {}
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise InsecureFileError(
                f"refusing to use token file {path}: it is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}) — fix it with `chmod 600 {path}`"
            )
        try:
            data = msgspec.json.decode(path.read_bytes(), type=_TokenFile)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise self._corrupt(path) from None
        except OSError as exc:
            raise ConfigError(f"cannot read token file {path}: {exc.strerror}") from None
        entries = dict(data.tokens)
        if data.access_token is not None:
            key = data.auth_url or _UNKNOWN_ISSUER
            entries.setdefault(
                key,
                _Entry(
                    access_token=data.access_token, username=data.username, saved_at=data.saved_at
                ),
            )
        records: dict[str, StoredToken] = {}
        for url, entry in entries.items():
            try:
                token = clean_token(entry.access_token, f"token file {path}")
            except ConfigError:
                raise self._corrupt(path) from None
            if token is None:
                raise self._corrupt(path)
            records[url] = StoredToken(
                access_token=token,
                auth_url=url or None,
                username=entry.username,
                saved_at=entry.saved_at,
            )
        return records

    @staticmethod
    def _corrupt(path: Path) -> ConfigError:
        return ConfigError(
            f"token file {path} is corrupt — remove it (`cl logout`) and log in again"
        )

    def load_record(self, profile: str, auth_url: str | None = None) -> StoredToken | None:
        """The token ``auth_url`` issued to ``profile``; without ``auth_url``, the one saved
        last. ``None`` when there is none."""
        records = self.records(profile)
        if auth_url is not None:
            return records.get(auth_url)
        return max(records.values(), key=lambda r: r.saved_at or 0.0, default=None)

    def load(self, profile: str, auth_url: str | None = None) -> str | None:
        record = self.load_record(profile, auth_url)
        return record.access_token if record is not None else None

    def save(
        self,
        profile: str,
        token: str,
        *,
        auth_url: str | None = None,
        username: str | None = None,
    ) -> None:
        """Keep ``token`` as the one ``auth_url`` issued to ``profile`` (the tokens of other
        servers stay), atomically with mode 0600 (the folder is created 0700)."""
        path = self.path_for(profile)
        cleaned = clean_token(token, "the token to store")
        if cleaned is None:
            raise ConfigError("refusing to store an empty token")
        with self._lock():
            records = self.records(profile)
            records[auth_url or _UNKNOWN_ISSUER] = StoredToken(
                access_token=cleaned, auth_url=auth_url, username=username, saved_at=time.time()
            )
            self._write(path, records)

    def delete(self, profile: str, auth_url: str | None = None) -> bool:
        """Forget the token ``auth_url`` issued to ``profile``, or without ``auth_url`` every
        token of the profile; ``True`` if there was one."""
        path = self.path_for(profile)
        with self._lock():
            if auth_url is None:
                try:
                    path.unlink()
                except FileNotFoundError:
                    return False
                return True
            records = self.records(profile)
            if records.pop(auth_url, None) is None:
                return False
            if records:
                self._write(path, records)
            else:
                path.unlink()
            return True

    @staticmethod
    def _write(path: Path, records: Mapping[str, StoredToken]) -> None:
        data = _TokenFile(
            tokens={
                url: _Entry(access_token=r.access_token, username=r.username, saved_at=r.saved_at)
                for url, r in records.items()
            }
        )
        write_private_file(path, msgspec.json.encode(data))


# --- the session ----------------------------------------------------------------------------


class Session:
    """The login state of one profile: which token to send, and keeping it fresh."""

    def __init__(
        self,
        settings: Settings,
        auth: AuthClient,
        store: TokenStore,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = REFRESH_MARGIN,
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.store = store
        self._clock = clock
        self._margin = refresh_margin
        self._token: str | None = None
        self._source: TokenSource = "none"
        self._record: StoredToken | None = None
        self._foreign_issuer: str | None = None
        self._loaded = False
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    # -- state -------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.settings.auth_mode == "none":
            return
        if self.settings.token:
            self._token, self._source = self.settings.token, "env"
            return
        # Only the token this auth server issued: a token is never sent anywhere else.
        records = self.store.records(self.settings.profile)
        record = records.get(self.settings.auth_url)
        if record is None:
            self._foreign_issuer = next((url for url in records if url), None)
            return
        self._record = record
        self._token, self._source = record.access_token, "stored"

    @property
    def token_source(self) -> TokenSource:
        """``env`` (CL_TOKEN or an explicit token), ``stored`` (from ``cl login``) or ``none``."""
        self._load()
        return self._source

    @property
    def username(self) -> str | None:
        """The user the stored token was issued to, else the configured username."""
        self._load()
        if self._source == "stored" and self._record is not None and self._record.username:
            return self._record.username
        return self.settings.username

    @property
    def expires_at(self) -> float | None:
        """When the current token expires (seconds since the epoch), if known."""
        self._load()
        return token_expiry(self._token) if self._token is not None else None

    def claims(self) -> TokenClaims | None:
        """The current token's claims, read without verification (``None`` without a token)."""
        self._load()
        return _unverified_claims(self._token) if self._token is not None else None

    def _has_credentials(self) -> bool:
        return bool(self.settings.username and self.settings.password)

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {k: v for k, v in self._locks.items() if not k.is_closed()}
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    # -- login / logout ----------------------------------------------------------------------

    async def login(self, username: str | None = None, password: str | None = None) -> User:
        """Log in, store the token for later processes, and return the logged-in user."""
        if self.settings.auth_mode == "none":
            raise ConfigError(
                f"profile {self.settings.profile!r} uses no authentication (auth mode none), "
                "so there is nothing to log in to — set auth_mode to jwt to use accounts"
            )
        user = username or self.settings.username
        secret = password or self.settings.password
        if not user or not secret:
            raise InvalidInputError(
                "logging in needs a username and a password (CL_USERNAME / CL_PASSWORD)"
            )
        self._load()
        async with self._lock():
            await self._login_with(user, secret)
        return await self.auth.me()

    def logout(self) -> bool:
        """Forget the token this profile keeps for its auth server (the server has no logout);
        ``True`` if there was one. Tokens of other auth servers stay."""
        removed = self.store.delete(self.settings.profile, self.settings.auth_url)
        self._load()
        if self._source == "stored":
            self._token, self._source, self._record = None, "none", None
        return removed

    async def _login_with(self, username: str, password: str) -> str:
        token = (await self.auth.login(username, password)).access_token
        self.store.save(
            self.settings.profile, token, auth_url=self.settings.auth_url, username=username
        )
        self._token, self._source = token, "stored"
        self._record = StoredToken(
            access_token=token, auth_url=self.settings.auth_url, username=username
        )
        self._foreign_issuer = None
        return token

    async def _refresh(self, token: str) -> str:
        fresh = (await self.auth.refresh(token)).access_token
        self._token = fresh
        if self._source == "stored":
            username = self._record.username if self._record is not None else None
            self.store.save(
                self.settings.profile, fresh, auth_url=self.settings.auth_url, username=username
            )
        log.debug("token of profile %s refreshed", self.settings.profile)
        return fresh

    def _expired_error(self) -> SessionExpiredError:
        if self._source == "env":
            return SessionExpiredError(
                "the token given in CL_TOKEN has expired — set a fresh one, or unset CL_TOKEN "
                "and log in with `cl login`"
            )
        return SessionExpiredError("session expired — log in again with `cl login`")

    def unauthorized_hint(self) -> str | None:
        """What to do about a 401 to a request that sent this session's token, when `cl login`
        is not it; ``None`` when logging in is the answer."""
        settings = self.settings
        if settings.auth_mode == "none":
            source = settings.sources.get("auth_mode")
            kind = source.kind if source is not None else "default"
            if kind == "argument":
                change = "drop --no-auth"
            elif kind == "env":
                change = "unset CL_NO_AUTH"
            else:
                change = f"`cl profile set {settings.profile} auth_mode jwt`"
            return (
                f"profile {settings.profile!r} sends no token (auth mode none) but the server "
                f"wants one: {change}, then log in with `cl login`"
            )
        self._load()
        if self._source == "env":
            return (
                "the server rejected the token in CL_TOKEN — set a valid one, or unset CL_TOKEN "
                "to use the login stored by `cl login`"
            )
        return None

    # -- tokens for requests -----------------------------------------------------------------

    async def valid_token(self) -> str | None:
        """The token to send now, refreshed or renewed when needed; ``None`` to send none.

        With no token at all this returns ``None`` (a compute server in guest mode needs none; one
        that needs auth answers 401), unless credentials are configured, which log in.
        """
        if self.settings.auth_mode == "none":
            return None
        self._load()
        async with self._lock():
            token = self._token
            if token is None:
                if self._has_credentials():
                    return await self._login_again()
                if self._foreign_issuer is not None:
                    # Never sent elsewhere; like no session at all, so a guest-mode server works.
                    log.debug(
                        "stored token of profile %r was issued by %s, not %s: not sent",
                        self.settings.profile,
                        self._foreign_issuer,
                        self.settings.auth_url,
                    )
                return None
            expires = token_expiry(token)
            if expires is None:
                return token
            remaining = expires - self._clock()
            if remaining > self._margin:
                return token
            if remaining > 0:
                try:
                    return await self._refresh(token)
                except AuthenticationError:
                    log.debug("refresh refused; token of %s unusable", self.settings.profile)
                except (TransportError, ServerError) as exc:
                    # Still valid for a few seconds: use it and try refreshing next time.
                    log.debug("refresh failed (%s); keeping the current token", exc)
                    return token
            if self._has_credentials():
                return await self._login_again()
            raise self._expired_error()

    async def refresh_after_401(self, rejected: str | None = None) -> str | None:
        """A replacement for a token a server just rejected, or ``None`` if there is none.

        The transport calls this at most once per request. If another request already replaced
        ``rejected``, the current token is returned without asking the server again.
        """
        if self.settings.auth_mode == "none":
            return None
        self._load()
        async with self._lock():
            current = self._token
            if current is not None and rejected is not None and current != rejected:
                return current
            if current is not None:
                with contextlib.suppress(AuthenticationError):
                    return await self._refresh(current)
            if self._has_credentials():
                return await self._login_again()
            return None

    async def _login_again(self) -> str:
        username, password = self.settings.username, self.settings.password
        assert username is not None
        assert password is not None
        log.debug("logging in again as %s for profile %s", username, self.settings.profile)
        return await self._login_with(username, password)
