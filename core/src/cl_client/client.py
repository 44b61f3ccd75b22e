"""The one entry point for library users and the ``cl`` command.

``Client`` turns settings into the pieces that talk to the server: the auth client and session,
the compute client and the shared MQTT connection. Each is created on first use, with one HTTP
transport per service. A profile with a ``launcher`` (e.g. the built-in ``local`` profile) has its
services brought up by the plugin that owns the launcher while the client is open::

    async with Client(profile="nas") as client:
        created = await client.compute.submit("hash", Path("photo.jpg"))
        job = await client.compute.wait(created.job_id, timeout=30)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from cl_client.config import Overrides, Settings, resolve_settings
from cl_client.errors import ConfigError

if TYPE_CHECKING:
    from types import TracebackType

    from cl_client.auth import AuthClient, Session, TokenStore
    from cl_client.compute import ComputeClient
    from cl_client.models import User
    from cl_client.mqtt import MqttMonitor
    from cl_client.transport import ServiceName, ServiceTransport


#: Seconds a failing idempotent request keeps being retried (default: the transport's).
RETRY_ENV = "CL_RETRY_SECONDS"


def retry_budget(env: Mapping[str, str] | None = None) -> float:
    """The retry budget from ``CL_RETRY_SECONDS``, or the default; ConfigError for a bad value."""
    from cl_client.transport import RETRY_BUDGET

    text = (os.environ if env is None else env).get(RETRY_ENV, "").strip()
    if not text:
        return RETRY_BUDGET
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise ConfigError(f"{RETRY_ENV} must be a number of seconds from 0 to 3600, got {text!r}")
    return value


class Client:
    """Async context manager bundling auth, session, compute and MQTT for one profile."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        profile: str | None = None,
        overrides: Overrides | None = None,
        token_store: TokenStore | None = None,
    ) -> None:
        if settings is None:
            from cl_client.plugins import builtin_profiles

            chosen = overrides or Overrides()
            if profile is not None:
                chosen = replace(chosen, profile=profile)
            settings = resolve_settings(chosen, builtin_profiles=builtin_profiles())
        elif profile is not None or overrides is not None:
            raise ValueError("pass either settings or profile/overrides to Client, not both")
        self.settings: Settings = settings
        self._token_store = token_store
        self._stack = contextlib.ExitStack()
        self._launched = not settings.launcher
        self._transports: dict[str, ServiceTransport] = {}
        self._auth: AuthClient | None = None
        self._session: Session | None = None
        self._compute: ComputeClient | None = None
        self._mqtt: MqttMonitor | None = None

    async def __aenter__(self) -> Client:
        if not self._launched:
            from cl_client.plugins import launch_context

            self.settings = self._stack.enter_context(launch_context(self.settings))
            self._launched = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections, release the MQTT connection and stop launched services."""
        transports, self._transports = self._transports, {}
        try:
            for transport in transports.values():
                await transport.aclose()
        finally:
            if self._mqtt is not None:
                from cl_client.mqtt import release

                monitor, self._mqtt = self._mqtt, None
                release(monitor)
            self._compute = None
            self._stack.close()

    # -- the pieces, created on first use ----------------------------------------------------

    def _check_launched(self) -> None:
        if not self._launched:
            raise ConfigError(
                f"profile {self.settings.profile!r} starts its services with the launcher "
                f"{self.settings.launcher!r}; open the client with `async with Client(...)`"
            )

    def _transport(self, name: ServiceName) -> ServiceTransport:
        self._check_launched()
        transport = self._transports.get(name)
        if transport is None:
            from cl_client.transport import ServiceTransport

            url = self.settings.auth_url if name == "auth" else self.settings.compute_url
            transport = ServiceTransport(
                name,
                url,
                self.settings.timeout,
                self.settings.verify_tls,
                auth=None,
                retry_budget=retry_budget(),
            )
            self._transports[name] = transport
        return transport

    @property
    def session(self) -> Session:
        """The login session of this profile (token storage, refresh, re-login)."""
        if self._session is None:
            from cl_client.auth import AuthClient, Session, TokenStore

            transport = self._transport("auth")
            self._auth = AuthClient(transport)
            store = self._token_store if self._token_store is not None else TokenStore()
            self._session = Session(self.settings, self._auth, store)
            # Admin endpoints of the auth service need the token too.
            transport.session = self._session
        return self._session

    @property
    def auth(self) -> AuthClient:
        """The auth service client."""
        session = self.session
        return session.auth

    @property
    def mqtt(self) -> MqttMonitor:
        """The process-wide MQTT monitor for this profile's broker."""
        self._check_launched()
        if self._mqtt is None:
            from cl_client.mqtt import shared_monitor

            self._mqtt = shared_monitor(
                self.settings.mqtt_url, self.settings.events_topic, self.settings.workers_topic
            )
        return self._mqtt

    @property
    def compute(self) -> ComputeClient:
        """The compute service client."""
        if self._compute is None:
            from cl_client.compute import ComputeClient

            transport = self._transport("compute")
            transport.session = self.session
            launcher = self.settings.launcher
            server_id = f"{launcher}:{self.settings.profile}" if launcher else None
            self._compute = ComputeClient(transport, self.mqtt, server_id=server_id)
        return self._compute

    # -- shortcuts ---------------------------------------------------------------------------

    async def login(self, username: str | None = None, password: str | None = None) -> User:
        """Log in (storing the token for later processes) and return the user."""
        return await self.session.login(username, password)

    def logout(self) -> bool:
        """Forget this profile's stored token; ``True`` if there was one."""
        return self.session.logout()
